/* SPDX-License-Identifier: MIT */
/*
 * A test allocator that wraps another and fails on purpose, for failure
 * injection (as Zig's std.testing.FailingAllocator): run a scenario once
 * with no failure to count its allocation calls, then once per call with
 * that call failing, and check each time that the failure was reported and
 * nothing leaked (wrap a zz_counting around the inner allocator).
 *
 * Not thread-safe: one scenario, one thread.
 */
#ifndef ZZ_TEST_FAILING_ALLOCATOR_H
#define ZZ_TEST_FAILING_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "zigzag.h"

/* Never fail: the value of fail_at that disables failures. */
#define ZZ_FAILING_NEVER ((size_t)-1)

typedef struct zz_failing {
    zz_allocator inner;
    size_t fail_at;     /* index (from 0) of the first alloc call to fail */
    bool fail_after;    /* true: every call from fail_at on fails; false: only that one */
    size_t alloc_calls; /* alloc calls seen, failed ones and invalid requests included */
    size_t free_calls;  /* free calls seen with a non-NULL pointer */
    size_t failures;    /* alloc calls this wrapper made fail on purpose */
} zz_failing;

/* Prepares f to forward to inner, failing the call with index fail_at (0 is
 * the first call) and, when fail_after is true, every call after it too.
 * ZZ_FAILING_NEVER as fail_at only counts. */
void zz_failing_init(zz_failing *f, zz_allocator inner, size_t fail_at, bool fail_after);

/* The zz_allocator view of f. */
zz_allocator zz_failing_allocator(zz_failing *f);

/* Starts over with a new failure point; counters return to 0. */
void zz_failing_rearm(zz_failing *f, size_t fail_at, bool fail_after);

/* A scenario for zz_failing_check_all: allocate everything it needs from a,
 * free it all again, and return 0; or, when an allocation failed, free what
 * it holds and return non-zero (e.g. the ZZ_ENOMEM it got). */
typedef int (*zz_failing_scenario)(zz_allocator a, void *arg);

/* Zig's checkAllAllocationFailures. Runs scenario once over inner with no
 * failure and counts its allocation calls, n; then n times more, the i-th
 * time with call i failing. Asserts (cmocka) that the clean run returns 0,
 * that every run with an injected failure returns non-zero, and that after
 * every run nothing allocated from inner is still live. Returns n. */
size_t zz_failing_check_all(zz_allocator inner, zz_failing_scenario scenario, void *arg);

#endif
