#!/usr/bin/env bash
# The main job: installs dependencies if missing, builds, and runs a local
# swarm on loopback. For now the swarm is a bootstrap node plus peers that
# join its DHT, store and find values, measure round trips, and two expert
# servers whose experts are found through the DHT and listed; DMoE training
# on Fashion-MNIST replaces this body once the trainer lands.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
colony=build/colony
peers=${COLONY_DEMO_PEERS:-4}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

echo "== starting the bootstrap node (configs/node.toml, DHT on)"
"$colony" run configs/node.toml --set dht.enabled=true \
  --address-file "$work/boot.addr" >"$work/boot.log" 2>&1 &
pids+=($!)
wait_file "$work/boot.addr"
boot=$(cat "$work/boot.addr")
echo "   bootstrap listening on $boot"

for i in $(seq "$peers"); do
  "$colony" run configs/node.toml --set dht.enabled=true \
    --set "node.initial_peers=[\"$boot\"]" \
    --address-file "$work/peer$i.addr" >"$work/peer$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq "$peers"); do
  wait_file "$work/peer$i.addr"
  echo "   peer $i listening on $(cat "$work/peer$i.addr")"
done
grep -h "joined the DHT" "$work"/peer*.log || true

echo "== storing a value through the bootstrap node, reading it via the last peer"
"$colony" dht-store --initial-peers "$boot" greeting "hello from colony" --expiration 60
"$colony" dht-get --initial-peers "$(cat "$work/peer$peers.addr")" greeting --json

echo "== round trips to every node (colony ping):"
for f in "$work"/boot.addr "$work"/peer*.addr; do
  "$colony" ping "$(cat "$f")" --count 5 --interval 0.05 | tail -n 1
done
echo "== two expert servers, 4 ffn experts each, sampled from ffn.[0:4].[0:4]"
for i in 1 2; do
  "$colony" server --expert-pattern 'ffn.[0:4].[0:4]' --num-experts 4 \
    --hidden-dim 64 --initial-peers "$boot" \
    --address-file "$work/server$i.addr" >"$work/server$i.log" 2>&1 &
  pids+=($!)
  wait_file "$work/server$i.addr" || { cat "$work/server$i.log"; exit 1; }
  grep -h "ready:" "$work/server$i.log" | sed 's/^/   /'
done
echo "== experts found in the DHT under ffn.:"
"$colony" experts --initial-peers "$boot" ffn.
echo "== what the first server hosts (colony info):"
"$colony" info "$(cat "$work/server1.addr")"
echo "== stopping the swarm (SIGTERM)"
