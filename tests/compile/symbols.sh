#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The symbol test (CTest label "compile"): the shared library exports exactly
# the public API. Every defined dynamic symbol must start with zz_ (and not
# zz__, the prefix of internals, which -fvisibility=hidden must keep inside),
# and every function declared ZZ_API in include/ must be exported.
#
# usage: symbols.sh <nm> <libzigzag.so> <include dir>
set -euo pipefail

nm=$1
lib=$2
inc=$3

exported=$("$nm" -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
[ -n "$exported" ] || { echo "symbols: $lib exports nothing" >&2; exit 1; }

bad=$(printf '%s\n' "$exported" | grep -vE '^zz_[A-Za-z0-9]' || true)
if [ -n "$bad" ]; then
    echo "symbols: $lib exports symbols outside the zz_ API:" >&2
    printf '%s\n' "$bad" | sed 's/^/  /' >&2
    exit 1
fi

declared=$(grep -rhoE 'ZZ_API[^;(]*[^A-Za-z0-9_]zz_[A-Za-z0-9_]+\(' "$inc" |
    grep -oE 'zz_[A-Za-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
if [ -n "$missing" ]; then
    echo "symbols: declared ZZ_API in $inc but not exported by $lib:" >&2
    printf '%s\n' "$missing" | sed 's/^/  /' >&2
    exit 1
fi

echo "symbols: $(printf '%s\n' "$exported" | wc -l) exported, all zz_; all $(printf '%s\n' "$declared" | wc -l) ZZ_API functions present"
echo "symbols: ok"
