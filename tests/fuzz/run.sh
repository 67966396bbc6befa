#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzzes the pool for a bounded time:
#   tests/fuzz/run.sh BUILD_DIR SECONDS [libFuzzer options...]
# BUILD_DIR holds a build with pool_fuzz (the "fuzz" preset). New inputs
# accumulate in BUILD_DIR/fuzz-run/corpus, seeded from tests/fuzz/corpus
# (never written); crash files go to BUILD_DIR/fuzz-run/artifacts; the whole
# log is BUILD_DIR/fuzz-run/pool_fuzz.log. One process: fine on two cores.
# Prints one summary line; exits non-zero on any crash, leak or timeout.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [libFuzzer options...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

fuzzer=${POOL_FUZZ:-}
if [ -z "$fuzzer" ]; then
    for f in "$build/tests/fuzz/pool_fuzz" "$build/fuzz/pool_fuzz"; do
        if [ -x "$f" ]; then
            fuzzer=$f
            break
        fi
    done
fi
if [ -z "$fuzzer" ]; then
    fuzzer=$(find "$build" -name pool_fuzz -type f -perm -u+x 2>/dev/null | head -n 1)
fi
if [ -z "$fuzzer" ] || [ ! -x "$fuzzer" ]; then
    echo "$0: no pool_fuzz under $build (configure with the fuzz preset and build it)" >&2
    exit 2
fi

run=$build/fuzz-run
mkdir -p "$run/corpus" "$run/artifacts"
cp "$here"/corpus/* "$run/corpus/"
log=$run/pool_fuzz.log

# Every sanitizer report is fatal; libFuzzer then writes the input that did it.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

# Crash files newer than this mark are this run's.
mark=$run/.started
touch "$mark"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$run/artifacts/" "$@" "$run/corpus" "$here/corpus" >"$log" 2>&1 || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
crash=$(find "$run/artifacts" -type f -newer "$mark" | head -n 1)

if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
    what=$(grep -m 1 -E 'check failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' \
        "$log" || true)
    echo "pool_fuzz: FAILED after ${runs:-?} runs (${speed:-?} exec/s), cov ${cov:-?}:" \
        "${what:-exit $status}; input: ${crash:-none}; log: $log"
    [ "$status" -ne 0 ] || status=1
    exit "$status"
fi
echo "pool_fuzz: ok, ${runs:-?} runs in ${seconds}s (${speed:-?} exec/s), cov ${cov:-?}," \
    "ft ${ft:-?}, corpus ${corp:-?}; no crash (log: $log)"
