#!/usr/bin/env bash
# Configures and builds colony into ./build (Release). Used by test.sh and demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${COLONY_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
