#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs the Debian 12 packages that zigzag's tests or benchmarks need.
#   scripts/install-deps.sh test    compilers, CMake, cmocka, valgrind, sanitizer runtimes
#   scripts/install-deps.sh bench   the above plus the allocators the benchmark compares against
#   scripts/install-deps.sh all     both
# Only missing packages are installed, so a second run touches nothing and
# needs neither root nor the network.
set -euo pipefail

usage() {
    echo "usage: $0 [test|bench|all]" >&2
    exit 2
}

what=${1:-test}
test_pkgs=(cmake gcc g++ clang clang-format make pkg-config libcmocka-dev valgrind libclang-rt-14-dev)
bench_pkgs=(python3 libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev libck-dev libdpdk-dev gnuplot-nox)

case "$what" in
test) wanted=("${test_pkgs[@]}") ;;
bench | all) wanted=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
-h | --help) usage ;;
*) usage ;;
esac

installed() {
    # "install ok installed" is the only status that means usable; a removed
    # package keeps its config files and still shows up in dpkg-query.
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: dpkg-query not found: this script knows Debian only." >&2
    echo "install-deps: install these by hand: ${wanted[*]}" >&2
    exit 1
fi

missing=()
for p in "${wanted[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#wanted[@]} packages for '$what' are installed"
    exit 0
fi
echo "install-deps: missing for '$what': ${missing[*]}"

fail() {
    echo "install-deps: $1" >&2
    echo "install-deps: cannot install: ${missing[*]}" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "not root and sudo not found; rerun as root"
    sudo=(sudo)
    # -n: fail at once rather than wait for a password nobody will type (CI).
    [ -t 0 ] || sudo=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update || fail "apt-get update failed (network?)"
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
    fail "apt-get install failed"

still=()
for p in "${missing[@]}"; do
    installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    missing=("${still[@]}")
    fail "apt-get reported success but these are still missing"
fi
echo "install-deps: installed ${missing[*]}"
