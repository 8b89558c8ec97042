#!/usr/bin/env bash
# Installs every Debian package that colony's build, tests and demo need.
# Idempotent: returns at once when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git
  libcaf-dev
  libtorch-dev
  # Debian's LibTorch otherwise runs on the reference BLAS (~50x slower).
  # Not libopenblas0-pthread: it ignores torch's thread setting.
  libopenblas0-openmp
  libcapnp-dev capnproto
  libboost-dev
  libspdlog-dev
  libgtest-dev libgmock-dev
  libtomlplusplus-dev
  libsodium-dev
  libssl-dev
  libcli11-dev
  dataset-fashion-mnist
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
