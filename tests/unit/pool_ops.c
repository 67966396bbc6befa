/* SPDX-License-Identifier: MIT */
/*
 * Pool operations on one thread: alloc to exhaustion and back, reuse order,
 * statistics, secure zeroing, ownership, and the pool as a zz_allocator.
 * After every scenario the pool's invariants are checked by walking it.
 */
#include <stdalign.h>
#include <stdlib.h>

#include "pool/pool_internal.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

/* Exactly capacity distinct, aligned, non-overlapping blocks, then NULL;
 * all of them again after freeing all of them. */
static void check_exhaust(size_t size, size_t align, size_t capacity, unsigned flags)
{
    zz_pool *pool;
    zz_pool_options o = {.size = size, .align = align, .capacity = capacity, .flags = flags};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    zz_pool_stats st = zz_test_stats(pool);
    uintptr_t *p = calloc(capacity, sizeof(*p));
    assert_non_null(p);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < capacity; i++) {
            p[i] = (uintptr_t)zz_pool_alloc(pool);
            assert_true(p[i] != 0);
            assert_int_equal(p[i] % st.block_align, 0);
            assert_true(zz_pool_owns(pool, (void *)p[i]));
            memset((void *)p[i], (int)i, size);
        }
        assert_null(zz_pool_alloc(pool));
        st = zz_test_stats(pool);
        assert_int_equal(st.in_use, capacity);
        assert_int_equal(st.peak_in_use, capacity);
        zz_test_assert_valid(pool);
        qsort(p, capacity, sizeof(*p), zz_test_cmp_uintptr);
        for (size_t i = 1; i < capacity; i++)
            assert_true(p[i] - p[i - 1] >= st.block_size);
        for (size_t i = 0; i < capacity; i++)
            assert_int_equal(zz_pool_free(pool, (void *)p[i]), 0);
        st = zz_test_stats(pool);
        assert_int_equal(st.in_use, 0);
        assert_int_equal(st.peak_in_use, capacity);
        zz_test_assert_valid(pool);
    }
    free(p);
    zz_pool_destroy(pool);
}

static void test_exhaust_and_refill(void **state)
{
    (void)state;
    check_exhaust(64, 0, 1000, 0);
    check_exhaust(64, 0, 1000, ZZ_POOL_CHECKED);
    check_exhaust(24, 8, 333, 0);
    check_exhaust(1, 1, 1, 0);
    check_exhaust(100, 4, 257, ZZ_POOL_CHECKED);
    check_exhaust(4096, 4096, 20, 0);
}

/* The API.md example, as written. */
static void test_api_example(void **state)
{
    (void)state;
    zz_pool *pool;
    int rc = zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = 1 << 20});
    assert_int_equal(rc, 0);
    void *p = zz_pool_alloc(pool);
    assert_non_null(p);
    assert_int_equal(zz_pool_free(pool, p), 0);
    zz_pool_destroy(pool);
}

/* The most recently freed block is the next one handed out (warm in cache). */
static void test_lifo_reuse(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 32, .capacity = 16}), 0);
    void *a = zz_pool_alloc(pool), *b = zz_pool_alloc(pool), *c = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, b), 0);
    assert_int_equal(zz_pool_free(pool, a), 0);
    assert_ptr_equal(zz_pool_alloc(pool), a);
    assert_ptr_equal(zz_pool_alloc(pool), b);
    assert_int_equal(zz_pool_free(pool, c), 0);
    assert_ptr_equal(zz_pool_alloc(pool), c);
    assert_int_equal(zz_test_stats(pool).in_use, 3);
    assert_int_equal(zz_test_stats(pool).peak_in_use, 3);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

/* in_use and peak_in_use follow every step exactly. */
static void test_stats_exact(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 16, .capacity = 64}), 0);
    void *p[64];
    size_t peak = 0;
    unsigned seed = 7;
    size_t live = 0;
    for (int step = 0; step < 10000; step++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 3 != 0 && live < 64) {
            p[live] = zz_pool_alloc(pool);
            assert_non_null(p[live]);
            live++;
        } else if (live > 0) {
            size_t k = (seed >> 8) % live;
            assert_int_equal(zz_pool_free(pool, p[k]), 0);
            p[k] = p[--live];
        }
        peak = live > peak ? live : peak;
        zz_pool_stats st = zz_test_stats(pool);
        assert_int_equal(st.in_use, live);
        assert_int_equal(st.peak_in_use, peak);
    }
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

static void test_free_null_is_noop(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 8, .capacity = 4}), 0);
    assert_int_equal(zz_pool_free(pool, NULL), 0);
    assert_int_equal(zz_pool_free_zeroed(pool, NULL), 0);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    assert_int_equal(zz_pool_free(NULL, NULL), 0);
    assert_null(zz_pool_alloc(NULL));
    zz_pool_stats st;
    zz_pool_stats_get(NULL, &st);
    assert_int_equal(st.capacity, 0);
    zz_pool_stats_get(pool, NULL);
    zz_pool_destroy(pool);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void test_free_zeroed(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 40, .align = 8, .capacity = 4}), 0);
    unsigned char *p = zz_pool_alloc(pool);
    unsigned char *q = zz_pool_alloc(pool);
    memset(p, 0xee, 40);
    memset(q, 0xdd, 40);
    assert_int_equal(zz_pool_free_zeroed(pool, p), 0);
    ZZ_TEST_UNPOISON(p, 40);
    assert_true(all_zero(p, 40));
    assert_int_equal(q[0], 0xdd); /* the neighbour is untouched */
    assert_int_equal(zz_test_stats(pool).in_use, 1);
    /* A rejected pointer is not zeroed. */
    assert_int_equal(zz_pool_free_zeroed(pool, q + 1), ZZ_EFOREIGN);
    assert_int_equal(q[1], 0xdd);
    assert_int_equal(zz_pool_free_zeroed(pool, p), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_pool_free_zeroed(NULL, q), ZZ_EINVAL);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

static void test_wipe(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = 8}), 0);
    unsigned char *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = zz_pool_alloc(pool);
        memset(p[i], 0x77, 64);
    }
    assert_int_equal(zz_pool_wipe(pool), ZZ_EBUSY);
    assert_int_equal(p[0][0], 0x77); /* nothing zeroed while busy */
    for (int i = 0; i < 3; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_int_equal(zz_pool_wipe(pool), 0);
    for (int i = 0; i < 3; i++) {
        ZZ_TEST_UNPOISON(p[i], 64);
        assert_true(all_zero(p[i], 64));
    }
    assert_int_equal(zz_pool_wipe(NULL), ZZ_EINVAL);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

/* ZZ_POOL_ZERO_ON_DESTROY: the memory handed back holds no trace. */
static void test_zero_on_destroy(void **state)
{
    (void)state;
    static _Alignas(64) unsigned char buf[16384];
    for (int flags = 0; flags <= ZZ_POOL_ZERO_ON_DESTROY; flags += ZZ_POOL_ZERO_ON_DESTROY) {
        zz_fixed_buffer fb;
        assert_int_equal(zz_fixed_buffer_init(&fb, buf, sizeof(buf)), 0);
        zz_pool *pool;
        zz_pool_options o = {.size = 64,
                             .capacity = 16,
                             .flags = (unsigned)flags,
                             .backing = zz_fixed_buffer_allocator(&fb)};
        assert_int_equal(zz_pool_create(&pool, &o), 0);
        unsigned char *p = zz_pool_alloc(pool);
        unsigned char *q = zz_pool_alloc(pool);
        memset(p, 0x99, 64);
        memset(q, 0x99, 64);
        assert_int_equal(zz_pool_free(pool, p), 0); /* freed or live: both wiped */
        zz_pool_destroy(pool);
        assert_int_equal(fb.used, 0);
        if (flags) {
            assert_true(all_zero(p, 64));
            assert_true(all_zero(q, 64));
        } else {
            assert_int_equal(q[0], 0x99);
        }
    }
}

static void test_owns(void **state)
{
    (void)state;
    zz_pool *a, *b;
    assert_int_equal(
        zz_pool_create(&a, &(zz_pool_options){.size = 48, .align = 16, .capacity = 10}), 0);
    assert_int_equal(
        zz_pool_create(&b, &(zz_pool_options){.size = 48, .align = 16, .capacity = 10}), 0);
    unsigned char *p = zz_pool_alloc(a);
    assert_true(zz_pool_owns(a, p));
    assert_false(zz_pool_owns(b, p));
    assert_false(zz_pool_owns(a, p + 1));
    assert_false(zz_pool_owns(a, p + 16));
    assert_false(zz_pool_owns(a, p - 48));
    assert_true(zz_pool_owns(a, p + 48 * 9)); /* free blocks are owned too */
    assert_false(zz_pool_owns(a, p + 48 * 10));
    assert_false(zz_pool_owns(a, NULL));
    assert_false(zz_pool_owns(NULL, p));
    int local;
    assert_false(zz_pool_owns(a, &local));
    zz_pool_destroy(a);
    zz_pool_destroy(b);
}

/* Code that only knows zz_allocator can take its objects from a pool. */
static void test_pool_as_allocator(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 48, .align = 16, .capacity = 3}), 0);
    zz_allocator a = zz_pool_allocator(pool);
    assert_non_null(a.vtable);
    /* Requests a block cannot meet: NULL, pool unchanged. */
    assert_null(zz_alloc(a, 49, 8));
    assert_null(zz_alloc(a, 8, 32));
    assert_null(zz_alloc(a, 0, 8));
    assert_null(zz_alloc(a, 8, 3));
    assert_null(a.vtable->alloc(a.ctx, 8, 3));
    assert_null(a.vtable->alloc(a.ctx, 0, 8));
    assert_null(a.vtable->alloc(a.ctx, 1000, 8));
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    void *x = zz_alloc(a, 48, 16), *y = zz_alloc(a, 1, 1), *z = zz_alloc(a, 20, 4);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(z);
    assert_null(zz_alloc(a, 8, 8)); /* exhausted */
    assert_int_equal(zz_test_stats(pool).in_use, 3);
    zz_free(a, y, 1, 1);
    zz_free(a, x, 48, 16);
    zz_free(a, z, 20, 4);
    zz_free(a, NULL, 8, 8);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    /* A foreign free through the interface is refused, pool intact. */
    int local;
    zz_free(a, &local, sizeof(local), alignof(int));
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    zz_test_assert_valid(pool);
    assert_true(zz_allocator_is_null(zz_pool_allocator(NULL)));
    zz_pool_destroy(pool);
}

/* The slab comes from the backing allocator; no heap when it is a fixed buffer. */
static void test_backed_by_static_buffer(void **state)
{
    (void)state;
    static _Alignas(64) unsigned char arena[64 * 1024];
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, arena, sizeof(arena)), 0);
    zz_pool *pool;
    zz_pool_options o = {
        .size = 100, .align = 4, .capacity = 500, .backing = zz_fixed_buffer_allocator(&fb)};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    /* The pool object itself lives in the arena: no heap was touched. */
    assert_true((unsigned char *)pool >= arena && (unsigned char *)pool < arena + sizeof(arena));
    assert_true(fb.used >= 100 * 500 && fb.used <= sizeof(arena));
    void *p[500];
    for (int i = 0; i < 500; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_true((unsigned char *)p[i] >= arena &&
                    (unsigned char *)p[i] + 100 <= arena + sizeof(arena));
    }
    assert_null(zz_pool_alloc(pool));
    for (int i = 499; i >= 0; i--)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
    assert_int_equal(fb.used, 0);
    /* Too big for the arena: ZZ_ENOMEM, arena unchanged. */
    o.capacity = 1000;
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_int_equal(fb.used, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exhaust_and_refill),
    cmocka_unit_test(test_api_example),
    cmocka_unit_test(test_lifo_reuse),
    cmocka_unit_test(test_stats_exact),
    cmocka_unit_test(test_free_null_is_noop),
    cmocka_unit_test(test_free_zeroed),
    cmocka_unit_test(test_wipe),
    cmocka_unit_test(test_zero_on_destroy),
    cmocka_unit_test(test_owns),
    cmocka_unit_test(test_pool_as_allocator),
    cmocka_unit_test(test_backed_by_static_buffer),
};

ZZ_TEST_MAIN(tests)
