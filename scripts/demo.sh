#!/usr/bin/env bash
# The main job: installs dependencies if missing, builds, and runs a local
# swarm on loopback. For now the swarm is a bootstrap node plus peers that
# join through it and measure round trips; DMoE training on Fashion-MNIST
# replaces this body once the expert server and trainer land.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
colony=build/colony
peers=${COLONY_DEMO_PEERS:-3}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== starting bootstrap node (configs/node.toml)"
"$colony" run configs/node.toml --address-file "$work/boot.addr" \
  >"$work/boot.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/boot.addr" ] && break; sleep 0.1; done
boot=$(cat "$work/boot.addr")
echo "   bootstrap listening on $boot"

for i in $(seq "$peers"); do
  "$colony" run configs/node.toml --set "node.initial_peers=[\"$boot\"]" \
    --address-file "$work/peer$i.addr" >"$work/peer$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq "$peers"); do
  for _ in $(seq 100); do [ -s "$work/peer$i.addr" ] && break; sleep 0.1; done
  echo "   peer $i listening on $(cat "$work/peer$i.addr")"
done
sleep 0.5
echo "== each peer greeted the bootstrap node:"
grep -h "initial peer" "$work"/peer*.log || true
echo "== round trips to every node (colony ping):"
for f in "$work"/boot.addr "$work"/peer*.addr; do
  "$colony" ping "$(cat "$f")" --count 5 --interval 0.05 | tail -n 1
done
echo "== stopping the swarm (SIGTERM)"
