#!/usr/bin/env bash
# The main job: installs dependencies if missing, builds, and trains a
# mixture of experts on Fashion-MNIST over a local swarm on loopback
# (configs/swarm.toml): a DHT bootstrap node, two expert servers hosting
# two 4x4 grids of ffn experts, and two trainers that find the experts
# through the DHT and train through them at the same time. Shows a progress
# bar per trainer (plain lines when stdout is not a terminal), then each
# trainer's test accuracy; metrics CSVs, node logs and the learning curve
# (PNG, with gnuplot) go to swarm-out/ (or $COLONY_OUT). Extra arguments go
# to `colony swarm`, e.g. `--set trainer:trainer.max_time=600`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${COLONY_BUILD_DIR:-build}/colony" swarm configs/swarm.toml --out "${COLONY_OUT:-swarm-out}" "$@"
