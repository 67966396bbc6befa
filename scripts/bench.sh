#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The allocator comparison behind `make bench`: configures and builds a
# Release tree with the benchmarks (build/bench), then runs bench/driver.py,
# which runs every candidate on every workload and prints the tables; a full
# run also rewrites docs/benchmarks.md and docs/benchmarks.svg.
#
#   scripts/bench.sh [--build-dir DIR] [--no-build] [driver options]
#   scripts/bench.sh --quick                  # a smoke run, about 30 s; docs untouched
#   scripts/bench.sh --workloads w1,w3 --candidates zigzag,jemalloc --reps 3
#   scripts/bench.sh --update-baseline        # rewrite bench/baseline/callgrind_w1.txt
#   scripts/bench.sh --help                   # every driver option
#
# Needs cmake, a C compiler, python3, libck-dev; uses libdpdk-dev, jemalloc,
# mimalloc, tcmalloc, valgrind and gnuplot when installed
# (scripts/install-deps.sh bench installs them all).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/bench"
do_build=1
# The command as the user typed it, recorded in docs/benchmarks.md.
cmd="scripts/bench.sh"
for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_,./=:+-]+$ ]]; then
        cmd+=" $arg"
    else
        cmd+=" $(printf '%q' "$arg")"
    fi
done
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir)
        [ $# -ge 2 ] || { echo "bench.sh: --build-dir needs a value" >&2; exit 2; }
        build=$(realpath -m "$2")
        shift 2
        ;;
    --build-dir=*)
        build=$(realpath -m "${1#*=}")
        shift
        ;;
    --no-build)
        do_build=0
        shift
        ;;
    -h | --help)
        sed -n '4,17s/^# \{0,1\}//p' "$0"
        echo
        exec python3 "$root/bench/driver.py" --help
        ;;
    *)
        pass+=("$1")
        shift
        ;;
    esac
done

command -v python3 >/dev/null || { echo "bench.sh: python3 is needed" >&2; exit 2; }

if [ "$do_build" -eq 1 ]; then
    echo "bench.sh: building $build" >&2
    mkdir -p "$build"
    cmake -S "$root" -B "$build" -DZZ_BUILD_BENCH=ON -DZZ_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=Release >"$build/configure.log" 2>&1 ||
        { cat "$build/configure.log" >&2; exit 1; }
    targets=(--target zzbench)
    if grep -q '^ZZB_VALGRIND_INCLUDE:PATH=/' "$build/CMakeCache.txt"; then
        targets+=(--target zzb_perf_w1)
    fi
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" "${targets[@]}" >&2
fi

exec python3 "$root/bench/driver.py" --build-dir "$build" --command "$cmd" ${pass[@]+"${pass[@]}"}
