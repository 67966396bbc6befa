#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Cheap checks that keep the tree in one shape; `make lint` runs it, and CI.
#   1. atomics only through src/platform/atomic.h: no <stdatomic.h>, no
#      __atomic_* builtins and no order-less atomic_load/atomic_store (or other
#      seq_cst-by-default C11 calls) anywhere else, so every atomic in the
#      library names its memory order at the call site;
#   2. every C/C++ source opens with an SPDX licence line;
#   3. clang-format --dry-run -Werror agrees with .clang-format (skipped,
#      with a note, when clang-format is not installed).
# Exits 1 when anything is wrong, listing each file and line.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

dirs=()
for d in src include tests examples bench; do
    [ -d "$d" ] && dirs+=("$d")
done
mapfile -d '' files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) \
    -print0 | sort -z)

atomic_home=src/platform/atomic.h
bad=0
report() {
    echo "lint: $1" >&2
    bad=1
}

# Lines that are comments are skipped: explaining a rule may name what it forbids.
code_grep() {
    grep -nE "$1" "$2" | grep -vE '^[0-9]+:[[:space:]]*(/\*|\*|//)'
}

forbidden='#[[:space:]]*include[[:space:]]*<stdatomic\.h>|__atomic_|(^|[^A-Za-z0-9_])atomic_(load|store|exchange|fetch_[a-z]+|compare_exchange_(weak|strong))[[:space:]]*\('
for f in "${files[@]}"; do
    [ "$f" = "$atomic_home" ] && continue
    while IFS= read -r hit; do
        report "$f:${hit%%:*}: atomics go through $atomic_home: ${hit#*:}"
    done < <(code_grep "$forbidden" "$f")
done

for f in "${files[@]}"; do
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier:' ||
        report "$f: no SPDX-License-Identifier line at the top"
done

if command -v clang-format >/dev/null 2>&1; then
    for f in "${files[@]}"; do
        if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
            report "$f: not clang-formatted (clang-format -i $f, or make format)"
        fi
    done
else
    echo "lint: clang-format not found; formatting not checked" >&2
fi

if [ "$bad" -ne 0 ]; then
    echo "lint: FAILED" >&2
    exit 1
fi
echo "lint: ${#files[@]} files clean"
