# SPDX-License-Identifier: MIT
#
# A thin driver over the CMake presets (CMakePresets.json): every build lives
# in $(BUILD_ROOT)/<preset>, and CMake stays the only build system.
#
#   make test          install test deps, then release, asan, tsan and memcheck: configure,
#                      build, ctest; then fuzz the pool for FUZZ_SECONDS, over the library
#                      with ASan (fuzz) and without (fuzz-fast), with clang
#   make test-<preset> one of them: test-release test-debug test-asan test-tsan test-memcheck ...
#   make bench         install bench deps, then scripts/bench.sh
#   make install PREFIX=/usr/local
#   make format | lint | clean

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_ROOT ?= build
PREFIX ?= /usr/local
CMAKE ?= cmake
CTEST ?= ctest

PRESETS := release debug asan tsan clang-release memcheck fuzz fuzz-fast
# The presets `make test` runs, in this order; it stops at the first failure.
TEST_PRESETS := release asan tsan memcheck
# Seconds of fuzzing in `make test`, for each of the two fuzz presets (clang).
FUZZ_SECONDS ?= 60
FORMAT_DIRS := src include tests examples bench

# TSan maps its shadow memory at fixed addresses; with high mmap ASLR entropy
# (vm.mmap_rnd_bits above 28) its runtime aborts with "unexpected memory
# mapping". Running without address randomisation avoids that; where setarch
# cannot do that (some containers) the tests run as they are.
TSAN_WRAP := $(shell setarch "$$(uname -m)" -R true >/dev/null 2>&1 && echo 'setarch "$$(uname -m)" -R')

.PHONY: all build test bench install format lint clean deps-test deps-bench help \
	$(addprefix test-,$(PRESETS)) $(addprefix build-,$(PRESETS)) $(addprefix check-,$(PRESETS))

all: build

help:
	@sed -n '3,12s/^# \{0,1\}//p' Makefile

build: build-release

deps-test:
	scripts/install-deps.sh test

deps-bench:
	scripts/install-deps.sh bench

# configure + build one preset.
$(addprefix build-,$(PRESETS)): build-%:
	$(CMAKE) --preset $* -B $(BUILD_ROOT)/$*
	$(CMAKE) --build $(BUILD_ROOT)/$* -j $(JOBS)

# Sanitizer options for the test runs, as in CMakePresets.json's test presets
# (which `ctest --preset` uses; ctest cannot be pointed at another build
# directory with a preset, so BUILD_ROOT needs them spelled out here).
# Values already in the environment win.
ASAN_OPTIONS ?= detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1
RUN_ENV_asan = ASAN_OPTIONS='$(ASAN_OPTIONS)' UBSAN_OPTIONS='$(UBSAN_OPTIONS)'
RUN_ENV_tsan = TSAN_OPTIONS='$(TSAN_OPTIONS)' $(TSAN_WRAP)
CTEST_ARGS ?= --output-on-failure --no-tests=error --timeout 600 -j $(JOBS)
# The memcheck build is there for the tools tests (memcheck must see the
# planted bugs); the fuzz builds for their corpus and the timed run.
CTEST_SELECT_memcheck = -L tools
CTEST_SELECT_fuzz = -L fuzz
CTEST_SELECT_fuzz-fast = -L fuzz
RUN_ENV_fuzz = $(RUN_ENV_asan)
RUN_ENV_fuzz-fast = $(RUN_ENV_asan)

# build + ctest of one preset, without the dependency check.
$(addprefix check-,$(filter-out fuzz fuzz-fast,$(PRESETS))): check-%: build-%
	cd $(BUILD_ROOT)/$* && $(RUN_ENV_$*) $(CTEST) $(CTEST_ARGS) $(CTEST_SELECT_$*)

# The fuzzer: replay the seed corpus, then fuzz for FUZZ_SECONDS. Twice:
# `fuzz` runs the library under ASan, whose hooks send every operation
# through the slow paths; `fuzz-fast` runs it without, so the cache fast
# paths are fuzzed too.
check-fuzz check-fuzz-fast: check-%: build-%
	cd $(BUILD_ROOT)/$* && $(RUN_ENV_$*) $(CTEST) $(CTEST_ARGS) $(CTEST_SELECT_$*)
	$(RUN_ENV_$*) tests/fuzz/run.sh $(BUILD_ROOT)/$* $(FUZZ_SECONDS)

$(addprefix test-,$(PRESETS)): test-%: deps-test
	$(MAKE) --no-print-directory check-$*

# One sub-make per preset, in order, so that `make -j test` cannot interleave
# them and the first failure stops the rest.
test: deps-test
	@set -e; for p in $(TEST_PRESETS); do \
		echo "==== make test: $$p ===="; \
		$(MAKE) --no-print-directory check-$$p; \
	done; \
	if command -v clang >/dev/null 2>&1; then \
		for p in fuzz fuzz-fast; do \
			echo "==== make test: $$p ($(FUZZ_SECONDS) s) ===="; \
			$(MAKE) --no-print-directory check-$$p; \
		done; \
	else \
		echo "==== make test: no clang, no fuzzing ===="; \
	fi; \
	echo "==== make test: passed ===="

bench: deps-bench
	scripts/bench.sh

install: build-release
	$(CMAKE) --install $(BUILD_ROOT)/release --prefix "$(PREFIX)"

format:
	find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) \
		-print0 2>/dev/null | xargs -0 -r clang-format -i

lint:
	tools/lint.sh

clean:
	rm -rf $(BUILD_ROOT)
