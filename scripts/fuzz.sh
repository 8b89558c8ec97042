#!/usr/bin/env bash
# Fuzzes colony's decoders under ASan and UBSan (tests/fuzz, docs/fuzzing.md):
# each target gets RUNS inputs (default 1,000,000), starting from its built-in
# seeds. Coverage-guided with libFuzzer when clang can link it (Debian:
# clang and libclang-rt-dev), else the deterministic mutation driver (g++).
#
#   scripts/fuzz.sh [RUNS] [TARGET...]     TARGET: frame handshake tensor dht
#
# Builds into build-fuzz/ (COLONY_FUZZ_BUILD_DIR), only the fuzz targets.
# Corpora stay in build-fuzz/tests/fuzz/corpus/TARGET (COLONY_FUZZ_FRESH=1
# starts from the seeds alone); a crashing input is saved as
# build-fuzz/tests/fuzz/artifacts/TARGET-crash-*; replay it with
# `build-fuzz/tests/fuzz/colony_fuzz_TARGET FILE`. Exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame handshake tensor dht)
build_dir=${COLONY_FUZZ_BUILD_DIR:-build-fuzz}

compilers=()
if command -v clang++ >/dev/null && command -v clang >/dev/null; then
  compilers=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${compilers[@]}" \
  -DCOLONY_BUILD_EXAMPLES=OFF -DCOLONY_FUZZ_ENGINE=auto >/dev/null
engine=$(grep -q '^COLONY_HAVE_LIBFUZZER:INTERNAL=1' "$build_dir/CMakeCache.txt" &&
  echo libfuzzer || echo driver)
cmake --build "$build_dir" -j "$(nproc)" \
  --target "${targets[@]/#/colony_fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
dir="$build_dir/tests/fuzz"
mkdir -p "$dir/artifacts" "$dir/logs"
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  [ "${COLONY_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
  regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions=("tests/fuzz/regressions/$t")
  log="$dir/logs/$t.log"
  echo "== $t: $runs inputs ($engine), log in $log"
  start=$(date +%s)
  "$dir/colony_fuzz_$t" "--write-seeds=$corpus" "$corpus" "${regressions[@]}" \
    "-runs=$runs" \
    -seed=1 -print_final_stats=1 "-artifact_prefix=$dir/artifacts/$t-" \
    >"$log" 2>&1 || {
    tail -n 40 "$log"
    echo "== $t: FINDING (see $log and $dir/artifacts)"
    exit 1
  }
  end=$(date +%s)
  grep -E '^(Done|stat::number_of_executed_units|#[0-9]+ +DONE|outcomes)' \
    "$log" || true
  echo "== $t: no finding, $((end - start)) s"
done
