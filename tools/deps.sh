#!/usr/bin/env bash
# Installs the Debian packages Troupe needs to build, test and run, and only
# those that are missing, so it is cheap to run before every build.
# Uses sudo only when not root.
set -euo pipefail

packages=(
  build-essential make pkg-config cmake git ca-certificates procps
  clang libclang-rt-14-dev
  libuv1-dev libmsgpack-cxx-dev libwebsockets-dev libwebsockets-evlib-uv libssl-dev openssl
  libhiredis-dev cpputest redis-server redis-tools
  python3 python3-websockets clang-format time
  nlohmann-json3-dev
)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
