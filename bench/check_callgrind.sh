#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The test perf.callgrind_w1: counts zigzag's W1 instructions per pair under
# callgrind with perf_w1 and fails when the count exceeds the committed
# baseline (bench/baseline/callgrind_w1.txt, line "zigzag N") by more than
# 10%. Instruction counts depend on the compiler and flags, so the test is
# skipped (exit 77) unless compiler, build type and ZZ_DEBUG match the
# baseline's header; scripts/bench.sh --update-baseline rewrites it.
#
#   check_callgrind.sh PERF_W1 BASELINE "COMPILER_ID VERSION" BUILD_TYPE ZZ_DEBUG
set -eu

[ $# -eq 5 ] || { echo "usage: $0 PERF_W1 BASELINE COMPILER BUILD_TYPE ZZ_DEBUG" >&2; exit 2; }
exe=$1 baseline=$2 compiler=$3 build=$4 debug=$5
pairs=100000
tolerance=1.10

command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not installed"; exit 77; }
[ -r "$baseline" ] || { echo "FAIL: no baseline $baseline"; exit 1; }

header() {
    sed -n "s/^# $1: //p" "$baseline" | head -n 1
}
for pair in "compiler|$compiler" "build|$build" "zz_debug|$debug"; do
    key=${pair%%|*} have=${pair#*|}
    want=$(header "$key")
    if [ "$want" != "$have" ]; then
        echo "SKIP: baseline measured with $key '$want', this build has '$have'"
        exit 77
    fi
done

want=$(awk '$1 == "zigzag" { print $2 }' "$baseline")
[ -n "$want" ] || { echo "FAIL: no zigzag line in $baseline"; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out" \
    "$exe" "$pairs" >/dev/null 2>&1 || { echo "FAIL: $exe under callgrind failed"; exit 1; }
total=$(awk '$1 == "totals:" { print $2 }' "$out")
[ -n "$total" ] || { echo "FAIL: no totals in the callgrind output"; exit 1; }

awk -v total="$total" -v pairs="$pairs" -v want="$want" -v tol="$tolerance" 'BEGIN {
    have = total / pairs
    limit = want * tol
    printf "zigzag W1: %.2f instructions/pair, baseline %.2f, limit %.2f (+%d%%)\n",
        have, want, limit, (tol - 1) * 100 + 0.5
    if (have > limit) {
        print "FAIL: instruction count regressed; if intended, rerun the baseline:"
        print "      scripts/bench.sh --update-baseline"
        exit 1
    }
    if (have < want / tol)
        print "note: well below the baseline; scripts/bench.sh --update-baseline would tighten it"
    exit 0
}'
