/* SPDX-License-Identifier: MIT */
/*
 * Checks shared by the pool tests (see pool_checks.h).
 */
#include <stdlib.h>

#include "pool/pool_internal.h"
#include "pool_checks.h"
#include "test_main.h"

zz_pool *zz_test_pool_make(size_t size, size_t align, size_t capacity, unsigned flags,
                           size_t thread_cache)
{
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = size,
                         .align = align,
                         .capacity = capacity,
                         .flags = flags,
                         .thread_cache = thread_cache};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    return pool;
}

zz_pool_stats zz_test_stats(const zz_pool *pool)
{
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    return st;
}

void zz_test_assert_valid(const zz_pool *pool)
{
    const char *why = NULL;
    if (!zz__pool_validate(pool, &why))
        fail_msg("pool invariant broken: %s", why);
}

int zz_test_cmp_uintptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

void zz_test_assert_distinct_owned(const zz_pool *pool, void *const *p, size_t n)
{
    zz_pool_stats st = zz_test_stats(pool);
    uintptr_t *s = malloc((n + 1) * sizeof(*s));
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        assert_true(zz_pool_owns(pool, p[i]));
        s[i] = (uintptr_t)p[i];
    }
    qsort(s, n, sizeof(*s), zz_test_cmp_uintptr);
    for (size_t i = 1; i < n; i++)
        assert_true(s[i] - s[i - 1] >= st.block_size);
    free(s);
}
