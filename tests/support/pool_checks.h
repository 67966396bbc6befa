/* SPDX-License-Identifier: MIT */
/*
 * Checks shared by the pool tests. cmocka asserts: call them from the
 * test's own thread only.
 */
#ifndef ZZ_TEST_POOL_CHECKS_H
#define ZZ_TEST_POOL_CHECKS_H

#include <stddef.h>

#include "zigzag.h"

/* Creates a pool from these options or fails the test. */
zz_pool *zz_test_pool_make(size_t size, size_t align, size_t capacity, unsigned flags,
                           size_t thread_cache);

/* The pool's figures, as a value. */
zz_pool_stats zz_test_stats(const zz_pool *pool);

/* Fails the test, naming the broken invariant, unless the pool is whole
 * (zz__pool_validate; nothing may be in flight). */
void zz_test_assert_valid(const zz_pool *pool);

/* Fails the test unless p[0..n) are blocks of pool that do not overlap. */
void zz_test_assert_distinct_owned(const zz_pool *pool, void *const *p, size_t n);

/* qsort comparator for uintptr_t. */
int zz_test_cmp_uintptr(const void *a, const void *b);

#endif
