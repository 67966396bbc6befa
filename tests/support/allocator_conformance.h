/* SPDX-License-Identifier: MIT */
/*
 * One conformance suite for every zz_allocator, as Zig's
 * std.heap.testAllocator: the shared rules of include/zigzag/allocator.h
 * (size 0, bad alignments, overflowing sizes, NULL frees) and the basic
 * promises (alignment honoured, memory writable over its whole size,
 * allocations distinct and non-overlapping). Failures are cmocka asserts.
 */
#ifndef ZZ_TEST_ALLOCATOR_CONFORMANCE_H
#define ZZ_TEST_ALLOCATOR_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "zigzag.h"

/* What to check. Zero in any field means its default. */
typedef struct zz_conformance_opts {
    size_t max_align;  /* largest alignment tried; default 1 << 21 (above the page size) */
    size_t max_size;   /* largest size tried; default 64 KiB */
    size_t many_count; /* allocations held at once in the distinctness check; default 64 */
    bool zeroed;       /* also check that fresh memory reads as zero */
    bool skip_direct;  /* do not call the vtable directly with invalid requests (for
                          allocators that rely on zz_alloc to check the shared rules) */
} zz_conformance_opts;

/* Runs every check on a; opts may be NULL for the defaults. Whatever the
 * suite allocates it frees, so a counting allocator around a ends at zero. */
void zz_conformance_run(zz_allocator a, const zz_conformance_opts *opts);

#endif
