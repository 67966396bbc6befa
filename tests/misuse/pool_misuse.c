/* SPDX-License-Identifier: MIT */
/*
 * Misuse of a pool is refused with its exact code and changes nothing:
 * foreign, interior, misaligned and out-of-range pointers, blocks of another
 * pool, double frees and frees of blocks never handed out, in the default
 * mode and in ZZ_POOL_CHECKED, over strides that are powers of two and
 * strides that are not.
 */
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

static void assert_unchanged(const zz_pool *pool, size_t in_use, size_t peak)
{
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, in_use);
    assert_int_equal(st.peak_in_use, peak);
    zz_test_assert_valid(pool);
}

static void check_foreign(size_t size, size_t align, unsigned flags)
{
    enum { CAP = 10 };
    zz_pool *pool, *other;
    zz_pool_options o = {.size = size, .align = align, .capacity = CAP, .flags = flags};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    assert_int_equal(zz_pool_create(&other, &o), 0);
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    size_t stride = st.block_size;
    unsigned char *first = zz_pool_alloc(pool);
    unsigned char *second = zz_pool_alloc(pool);
    unsigned char *theirs = zz_pool_alloc(other);
    int local = 0;
    void *heap = malloc(64);

    unsigned char *bad[] = {
        first + 1,
        first + stride / 2,
        first + stride - 1,
        second - 1,
        first - 1,
        first - stride,
        first - stride * 1000,
        first + stride * CAP, /* one past the end */
        first + stride * CAP + 1,
        first + stride * (CAP + 5),
        theirs,
        (unsigned char *)&local,
        heap,
        (unsigned char *)(uintptr_t)1,
        (unsigned char *)UINTPTR_MAX,
        (unsigned char *)(uintptr_t)(UINTPTR_MAX - stride + 1),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(zz_pool_owns(pool, bad[i]));
        assert_int_equal(zz_pool_free(pool, bad[i]), ZZ_EFOREIGN);
        assert_int_equal(zz_pool_free_zeroed(pool, bad[i]), ZZ_EFOREIGN);
        assert_unchanged(pool, 2, 2);
    }
    /* The pool still works as before. */
    assert_int_equal(zz_pool_free(pool, second), 0);
    assert_int_equal(zz_pool_free(pool, first), 0);
    assert_unchanged(pool, 0, 2);
    free(heap);
    zz_pool_destroy(pool);
    zz_pool_destroy(other);
}

static void test_foreign_pow2_stride(void **state)
{
    (void)state;
    check_foreign(64, 0, 0);
    check_foreign(64, 0, ZZ_POOL_CHECKED);
    check_foreign(8, 8, 0);
    check_foreign(4096, 4096, ZZ_POOL_CHECKED);
}

static void test_foreign_odd_stride(void **state)
{
    (void)state;
    check_foreign(24, 8, 0);
    check_foreign(40, 8, ZZ_POOL_CHECKED);
    check_foreign(100, 4, 0);
    check_foreign(9, 1, ZZ_POOL_CHECKED);
    check_foreign(96, 32, 0);
}

/* Every interior offset of every block is refused; every block start is not. */
static void test_every_offset(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 12, .align = 4, .capacity = 50}), 0);
    unsigned char *base = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, base), 0);
    for (size_t off = 0; off < 12 * 52; off++) {
        bool start = off % 12 == 0 && off < 12 * 50;
        assert_int_equal(zz_pool_owns(pool, base + off), start);
        if (!start)
            assert_int_equal(zz_pool_free(pool, base + off), ZZ_EFOREIGN);
    }
    assert_unchanged(pool, 0, 1);
    zz_pool_destroy(pool);
}

static void check_double_free(unsigned flags)
{
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 32, .capacity = 8, .flags = flags}), 0);
    void *a = zz_pool_alloc(pool), *b = zz_pool_alloc(pool), *c = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, b), 0);
    assert_int_equal(zz_pool_free(pool, b), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_pool_free_zeroed(pool, b), ZZ_EDOUBLEFREE);
    assert_unchanged(pool, 2, 3);
    assert_int_equal(zz_pool_free(pool, a), 0);
    assert_int_equal(zz_pool_free(pool, b), ZZ_EDOUBLEFREE); /* b is deeper in the list now */
    assert_int_equal(zz_pool_free(pool, a), ZZ_EDOUBLEFREE);
    assert_unchanged(pool, 1, 3);
    /* A block never handed out is free already. */
    unsigned char *never = (unsigned char *)c + 32 * 3;
    assert_true(zz_pool_owns(pool, never));
    assert_int_equal(zz_pool_free(pool, never), ZZ_EDOUBLEFREE);
    assert_unchanged(pool, 1, 3);
    /* Exactly the free blocks come back, each once. */
    void *got[8];
    for (int i = 0; i < 7; i++) {
        got[i] = zz_pool_alloc(pool);
        assert_non_null(got[i]);
        assert_ptr_not_equal(got[i], c);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(got[i], got[j]);
    }
    assert_null(zz_pool_alloc(pool));
    assert_unchanged(pool, 8, 8);
    zz_pool_destroy(pool);
}

static void test_double_free_default(void **state)
{
    (void)state;
    check_double_free(0);
}

static void test_double_free_checked(void **state)
{
    (void)state;
    check_double_free(ZZ_POOL_CHECKED);
}

static void test_invalid_pool_argument(void **state)
{
    (void)state;
    int x;
    assert_int_equal(zz_pool_free(NULL, &x), ZZ_EINVAL);
    assert_int_equal(zz_pool_free_zeroed(NULL, &x), ZZ_EINVAL);
    assert_int_equal(zz_pool_wipe(NULL), ZZ_EINVAL);
}

/* A use after free that scribbles over free blocks (where a thread cache
 * keeps the member list of a batch it gave back) must not make the pool
 * hand out memory outside its slab or one block twice: the corrupted batch
 * is given up, and every block handed out afterwards is a real, distinct
 * block of the pool. */
static void test_scribbled_free_blocks_are_contained(void **state)
{
    (void)state;
    enum { CAP = 4096 };
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = CAP}), 0);
    void **p = malloc((CAP + 1) * sizeof(*p));
    assert_non_null(p);
    assert_int_equal(zz_pool_alloc_bulk(pool, p, CAP), 0);
    for (size_t i = 0; i < CAP; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    for (size_t i = 0; i < CAP; i++) {
        ZZ_TEST_UNPOISON(p[i], 64);
        memset(p[i], 0xff, 64); /* the bug under test: writes after free */
    }
    /* Every batch record the writes destroyed is reported, and its members
     * are found from the links: the whole capacity comes back. */
    size_t n = 0;
    while (n <= CAP && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    assert_int_equal(n, CAP);
    zz_test_assert_distinct_owned(pool, p, n);
    assert_true(zz_test_stats(pool).misuses > 0);
    zz_test_assert_valid(pool);
    free(p);
    zz_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scribbled_free_blocks_are_contained),
    cmocka_unit_test(test_foreign_pow2_stride),
    cmocka_unit_test(test_foreign_odd_stride),
    cmocka_unit_test(test_every_offset),
    cmocka_unit_test(test_double_free_default),
    cmocka_unit_test(test_double_free_checked),
    cmocka_unit_test(test_invalid_pool_argument),
};

ZZ_TEST_MAIN(tests)
