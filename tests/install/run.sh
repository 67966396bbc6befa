#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The install test (CTest label "install"): installs a finished build into a
# temporary prefix, moves the prefix (the package must be relocatable),
# checks the files API.md promises, then builds tests/install/consumer.c
# against it with pkg-config and with CMake's find_package and runs each.
# Then builds the library once more with a Debian-style multiarch libdir
# (lib/x86_64-linux-gnu), installs it, and builds the consumer through
# pkg-config there: zigzag.pc must find the prefix from any libdir depth.
#
# usage: run.sh <build dir> <source dir> <C compiler> <ZZ_SANITIZE value> [cmake]
# Exits 77 (CTest SKIP_RETURN_CODE) in sanitizer builds: the installed
# library then needs the sanitizer runtime, which plain consumers lack.
set -euo pipefail

build=$1
src=$2
cc=$3
sanitize=$4
cmake=${5:-cmake}

if [ -n "$sanitize" ]; then
    echo "install test: skipped under ZZ_SANITIZE=$sanitize"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zigzag-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "install test: FAIL: $*" >&2
    exit 1
}

step() {
    echo "install test: $*"
}

step "cmake --install $build --prefix $tmp/stage"
"$cmake" --install "$build" --prefix "$tmp/stage" >"$tmp/install.log" ||
    { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
mv "$tmp/stage" "$tmp/prefix"
prefix=$tmp/prefix

for f in include/zigzag.h lib/libzigzag.a lib/libzigzag.so lib/pkgconfig/zigzag.pc \
    lib/cmake/zigzag/zigzagConfig.cmake; do
    [ -e "$prefix/$f" ] || fail "missing $f in the installed tree"
done

# Run a consumer (against the libraries in $2, by default $prefix/lib) and insist on its last line.
run_consumer() {
    local exe=$1 libdir=${2:-$prefix/lib} out
    out=$(LD_LIBRARY_PATH="$libdir" "$exe") || fail "$exe exited with $?"
    printf '%s\n' "$out"
    [ "$(printf '%s\n' "$out" | tail -n 1)" = "consumer: ok" ] || fail "$exe did not print 'consumer: ok'"
}

step "pkg-config build"
command -v pkg-config >/dev/null 2>&1 || fail "pkg-config not found"
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs zigzag) ||
    fail "pkg-config does not find zigzag.pc"
# shellcheck disable=SC2086 # flags are words on purpose
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_app" "$src/tests/install/consumer.c" $flags ||
    fail "pkg-config build failed (flags: $flags)"
if command -v ldd >/dev/null 2>&1; then
    # Captured first: grep -q would close the pipe early, and pipefail then fails on ldd's SIGPIPE.
    deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/pc_app")
    [[ $deps == *"$prefix/lib/libzigzag.so"* ]] || fail "pc_app does not load $prefix/lib/libzigzag.so"
fi
run_consumer "$tmp/pc_app"

step "CMake find_package build"
"$cmake" -S "$src/tests/install/cmake_consumer" -B "$tmp/cmake" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; fail "configuring the CMake consumer failed"; }
grep 'found zigzag' "$tmp/cmake.log" || true
"$cmake" --build "$tmp/cmake" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log" >&2; fail "building the CMake consumer failed"; }
run_consumer "$tmp/cmake/app"
run_consumer "$tmp/cmake/app_static"

step "multiarch libdir: build, install, pkg-config build"
multi=lib/x86_64-linux-gnu
"$cmake" -S "$src" -B "$tmp/multi-build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
    -DZZ_BUILD_TESTS=OFF -DZZ_BUILD_EXAMPLES=OFF "-DCMAKE_INSTALL_LIBDIR:PATH=$multi" \
    >"$tmp/multi.log" 2>&1 && "$cmake" --build "$tmp/multi-build" >>"$tmp/multi.log" 2>&1 &&
    "$cmake" --install "$tmp/multi-build" --prefix "$tmp/multi" >>"$tmp/multi.log" 2>&1 ||
    { cat "$tmp/multi.log" >&2; fail "building or installing with libdir $multi failed"; }
prefix=$tmp/multi-moved
mv "$tmp/multi" "$prefix"
flags=$(PKG_CONFIG_PATH="$prefix/$multi/pkgconfig" pkg-config --cflags --libs zigzag) ||
    fail "pkg-config does not find $multi/pkgconfig/zigzag.pc"
# shellcheck disable=SC2086 # flags are words on purpose
"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/multi_app" "$src/tests/install/consumer.c" $flags ||
    fail "pkg-config build with libdir $multi failed (flags: $flags)"
run_consumer "$tmp/multi_app" "$prefix/$multi"

echo "install test: ok"
