/* SPDX-License-Identifier: MIT */
/*
 * Per-thread caches seen from one thread: the thread_cache option and its
 * defaults, statistics that stay exact at quiescence while blocks rest in
 * the cache (stats.cached, in_use, peak_in_use), zz_pool_flush, strict
 * capacity, and misuse detection for blocks that sit in the cache rather
 * than on the shared list: a double free of a cached block must still be
 * refused, or the cache would hand that block out twice.
 *
 * A pool destroyed and re-created at the same address (a fixed buffer
 * makes that certain) must not inherit the cache the thread kept for the
 * old one.
 */
#include <stdlib.h>

#include "pool/cache.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

static zz_pool *make(size_t size, size_t capacity, unsigned flags, size_t thread_cache)
{
    return zz_test_pool_make(size, 8, capacity, flags, thread_cache);
}

/* Allocates until NULL; asserts that exactly `expect` distinct blocks came
 * out and that in_use is then the capacity. Returns them in *out (caller
 * frees the array). */
static void **drain_exactly(zz_pool *pool, size_t expect)
{
    zz_pool_stats st = zz_test_stats(pool);
    void **p = malloc((st.capacity + 1) * sizeof(*p));
    assert_non_null(p);
    size_t n = 0;
    while (n <= st.capacity && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    assert_int_equal(n, expect);
    zz_test_assert_distinct_owned(pool, p, n);
    st = zz_test_stats(pool);
    assert_int_equal(st.in_use, st.capacity);
    assert_int_equal(st.peak_in_use, st.capacity);
    return p;
}

static void test_thread_cache_option(void **state)
{
    (void)state;
    zz_pool *pool = (zz_pool *)(uintptr_t)0x1;
    zz_pool_options o = {.size = 32, .capacity = 4096};
    o.thread_cache = ZZ_POOL_MAX_THREAD_CACHE + 1;
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    o.thread_cache = (size_t)-1;
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    o.flags = ZZ_POOL_NO_CACHE; /* still refused: the value is out of range */
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    assert_ptr_equal(pool, (zz_pool *)(uintptr_t)0x1);

    /* Explicit requests are honoured, whatever the capacity. */
    static const size_t explicit_sizes[] = {1, 16, 64, ZZ_POOL_MAX_THREAD_CACHE};
    for (size_t i = 0; i < sizeof(explicit_sizes) / sizeof(explicit_sizes[0]); i++) {
        pool = make(32, 4096, 0, explicit_sizes[i]);
        assert_int_equal(zz_test_stats(pool).thread_cache, explicit_sizes[i]);
        zz_pool_destroy(pool);
        pool = make(32, 4096, ZZ_POOL_CHECKED, explicit_sizes[i]);
        assert_int_equal(zz_test_stats(pool).thread_cache, explicit_sizes[i]);
        zz_pool_destroy(pool);
    }
    pool = make(32, 100, 0, 16);
    assert_int_equal(zz_test_stats(pool).thread_cache, 16);
    assert_int_equal(zz_test_stats(pool).cached, 0);
    zz_pool_destroy(pool);

    /* ZZ_POOL_NO_CACHE: none, even when asked for. */
    pool = make(32, 4096, ZZ_POOL_NO_CACHE, 16);
    assert_int_equal(zz_test_stats(pool).thread_cache, 0);
    assert_int_equal(zz_test_stats(pool).flags & ZZ_POOL_NO_CACHE, ZZ_POOL_NO_CACHE);
    zz_pool_destroy(pool);
    pool = make(32, 1 << 16, ZZ_POOL_NO_CACHE, 0);
    assert_int_equal(zz_test_stats(pool).thread_cache, 0);
    zz_pool_destroy(pool);

    /* Defaults: 16 up to 2047 blocks, then the largest power of two that
     * is at most capacity / 64, up to the largest from 64 times it on. */
    static const size_t small[] = {1, 2, 100, 200, 255, 511, 2047};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        pool = make(32, small[i], 0, 0);
        assert_int_equal(zz_test_stats(pool).thread_cache, 16);
        zz_pool_destroy(pool);
    }
    static const size_t grow[] = {256,  300,   512,   1000,  1024,  2048,  4095,   4096,
                                  4097, 10000, 16383, 16384, 32767, 32768, 1 << 20};
    size_t last = 0;
    for (size_t i = 0; i < sizeof(grow) / sizeof(grow[0]); i++) {
        pool = make(32, grow[i], 0, 0);
        size_t tc = zz_test_stats(pool).thread_cache;
        assert_true(tc >= last);
        assert_true(tc <= ZZ_POOL_MAX_THREAD_CACHE);
        assert_true(tc >= 16 && (tc & (tc - 1)) == 0);
        assert_true(tc == 16 || tc <= grow[i] / 64);
        assert_true(tc == ZZ_POOL_MAX_THREAD_CACHE || 2 * tc > grow[i] / 64);
        if (grow[i] >= 64 * ZZ_POOL_MAX_THREAD_CACHE)
            assert_int_equal(tc, ZZ_POOL_MAX_THREAD_CACHE);
        last = tc;
        zz_pool_destroy(pool);
    }
}

/* Freed blocks rest in the cache; the figures say so; a flush empties it. */
static void check_cached_and_flush(size_t capacity, unsigned flags, size_t tc)
{
    zz_pool *pool = make(40, capacity, flags, tc);
    zz_pool_stats st = zz_test_stats(pool);
    tc = st.thread_cache;
    assert_true(tc > 0);
    assert_int_equal(st.cached, 0);
    enum { N = 24 };
    void *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_non_null(p[i]);
    }
    for (size_t k = 1; k <= N; k++) {
        assert_int_equal(zz_pool_free(pool, p[N - k]), 0);
        st = zz_test_stats(pool);
        assert_int_equal(st.in_use, N - k);
        assert_true(st.cached > 0);
        assert_true(st.cached <= tc);
        assert_true(st.in_use + st.cached <= st.capacity);
    }
    assert_int_equal(zz_pool_flush(pool), 0);
    st = zz_test_stats(pool);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(zz_pool_flush(pool), 0); /* again: nothing to do */

    /* Half back in, one free: cached again; flush keeps in_use exact. */
    for (size_t i = 0; i < N; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_non_null(p[i]);
    }
    assert_int_equal(zz_pool_free(pool, p[0]), 0);
    st = zz_test_stats(pool);
    assert_true(st.cached > 0);
    assert_int_equal(st.in_use, N - 1);
    assert_int_equal(zz_pool_flush(pool), 0);
    st = zz_test_stats(pool);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.in_use, N - 1);
    /* With no cache anywhere, in_use + shared free == capacity exactly. */
    void **rest = drain_exactly(pool, capacity - (N - 1));
    assert_int_equal(zz_pool_free_bulk(pool, rest, capacity - (N - 1)), 0);
    assert_int_equal(zz_pool_free_bulk(pool, p + 1, N - 1), 0);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    free(rest);
    zz_pool_destroy(pool);
}

static void test_cached_and_flush(void **state)
{
    (void)state;
    check_cached_and_flush(64, 0, 16);
    check_cached_and_flush(64, ZZ_POOL_CHECKED, 16);
    check_cached_and_flush(1000, 0, 64);
    check_cached_and_flush(4096, 0, 0);
    check_cached_and_flush(4096, ZZ_POOL_CHECKED, 0);
    check_cached_and_flush(300, 0, ZZ_POOL_MAX_THREAD_CACHE);
    check_cached_and_flush(30, 0, 8); /* a cache smaller than what is freed */
}

static void test_flush_edges(void **state)
{
    (void)state;
    assert_int_equal(zz_pool_flush(NULL), ZZ_EINVAL);
    zz_pool *pool = make(16, 100, ZZ_POOL_NO_CACHE, 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    void *p = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, p), 0);
    assert_int_equal(zz_test_stats(pool).cached, 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    zz_pool_destroy(pool);
    /* A pool this thread never used. */
    pool = make(16, 5000, 0, 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    assert_int_equal(zz_test_stats(pool).cached, 0);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    zz_pool_destroy(pool);
}

/* A random walk of allocs, frees, bulk calls and flushes: in_use exact at
 * every step; cached bounded by the one cache in play; peak_in_use exact. */
static void check_walk(size_t capacity, unsigned flags, size_t tc)
{
    zz_pool *pool = make(16, capacity, flags, tc);
    zz_pool_stats st = zz_test_stats(pool);
    tc = st.thread_cache;
    void **p = malloc((capacity + 1) * sizeof(*p));
    assert_non_null(p);
    size_t live = 0, peak = 0;
    unsigned seed = 99;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        /* Drift up and down in long waves so the pool fills and empties. */
        bool up = ((step / 1500) % 2 == 0) ? r % 3 != 0 : r % 3 == 0;
        if (r % 53 == 0) {
            assert_int_equal(zz_pool_flush(pool), 0);
            assert_int_equal(zz_test_stats(pool).cached, 0);
        } else if (r % 37 == 0) {
            size_t k = 1 + (r >> 6) % 20;
            int rc = zz_pool_alloc_bulk(pool, p + live, k);
            if (live + k <= capacity) {
                assert_int_equal(rc, 0);
                live += k;
            } else {
                assert_int_equal(rc, ZZ_ENOMEM);
            }
        } else if (r % 41 == 0) {
            size_t k = 1 + (r >> 6) % 20;
            k = k < live ? k : live;
            assert_int_equal(zz_pool_free_bulk(pool, p + live - k, k), 0);
            live -= k;
        } else if (up) {
            p[live] = zz_pool_alloc(pool);
            if (live < capacity) {
                assert_non_null(p[live]);
                live++;
            } else {
                assert_null(p[live]);
            }
        } else if (live > 0) {
            size_t k = (r >> 4) % live;
            assert_int_equal(zz_pool_free(pool, p[k]), 0);
            p[k] = p[--live];
        }
        peak = live > peak ? live : peak;
        st = zz_test_stats(pool);
        assert_int_equal(st.in_use, live);
        assert_true(st.cached <= tc);
        assert_true(st.in_use + st.cached <= capacity);
        /* One thread alone: the peak is exact, cached or not. */
        assert_int_equal(st.peak_in_use, peak);
        if (tc == 0)
            assert_int_equal(st.cached, 0);
        if (step % 1000 == 0)
            zz_test_assert_distinct_owned(pool, p, live);
    }
    zz_test_assert_distinct_owned(pool, p, live);
    assert_int_equal(zz_pool_free_bulk(pool, p, live), 0);
    free(p);
    void **all = drain_exactly(pool, capacity);
    free(all);
    zz_pool_destroy(pool);
}

static void test_stats_exact_with_cache(void **state)
{
    (void)state;
    check_walk(64, 0, 16);
    check_walk(64, ZZ_POOL_CHECKED, 16);
    check_walk(1000, 0, 64);
    check_walk(4096, 0, 0);
    check_walk(200, 0, ZZ_POOL_MAX_THREAD_CACHE);
    check_walk(64, ZZ_POOL_NO_CACHE, 0);
    check_walk(64, ZZ_POOL_NO_CACHE | ZZ_POOL_CHECKED, 0);
}

/* Exactly capacity distinct blocks, then NULL, again and again, with the
 * cache in every state: full, half full, flushed, and larger than the pool. */
static void check_exhaust(size_t capacity, unsigned flags, size_t tc)
{
    zz_pool *pool = make(24, capacity, flags, tc);
    for (int round = 0; round < 4; round++) {
        void **p = drain_exactly(pool, capacity);
        assert_null(zz_pool_alloc(pool));
        /* Half back, then exactly that half again. */
        size_t half = capacity / 2;
        for (size_t i = 0; i < half; i++)
            assert_int_equal(zz_pool_free(pool, p[2 * i]), 0);
        assert_int_equal(zz_test_stats(pool).in_use, capacity - half);
        for (size_t i = 0; i < half; i++) {
            p[2 * i] = zz_pool_alloc(pool);
            assert_non_null(p[2 * i]);
        }
        assert_null(zz_pool_alloc(pool));
        zz_test_assert_distinct_owned(pool, p, capacity);
        for (size_t i = 0; i < capacity; i++)
            assert_int_equal(zz_pool_free(pool, p[capacity - 1 - i]), 0);
        assert_int_equal(zz_test_stats(pool).in_use, 0);
        assert_int_equal(zz_test_stats(pool).peak_in_use, capacity);
        if (round % 2 == 1)
            assert_int_equal(zz_pool_flush(pool), 0);
        free(p);
    }
    zz_pool_destroy(pool);
}

static void test_exhaust_with_cache(void **state)
{
    (void)state;
    check_exhaust(64, 0, 16);
    check_exhaust(64, ZZ_POOL_CHECKED, 16);
    check_exhaust(1000, 0, 64);
    check_exhaust(5000, 0, 0);
    check_exhaust(5000, ZZ_POOL_CHECKED, 0);
    check_exhaust(10, 0, 64);                      /* cache larger than the pool */
    check_exhaust(1, 0, ZZ_POOL_MAX_THREAD_CACHE); /* one block */
    check_exhaust(3, ZZ_POOL_CHECKED, 2);
}

/* Every block of pool, found from any one of them through zz_pool_owns;
 * returns the count (== capacity). */
static size_t all_blocks(const zz_pool *pool, const void *any, uintptr_t *out)
{
    zz_pool_stats st = zz_test_stats(pool);
    uintptr_t a = (uintptr_t)any;
    size_t n = 0;
    for (size_t k = 0; k < 2 * st.capacity + 1; k++) {
        uintptr_t q = a - st.capacity * st.block_size + k * st.block_size;
        if (zz_pool_owns(pool, (const void *)q))
            out[n++] = q;
    }
    return n;
}

static bool held_by(uintptr_t q, void *const *held, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((uintptr_t)held[i] == q)
            return true;
    return false;
}

/* A double free is refused while the block rests in this thread's cache,
 * after it was flushed to the shared list, and for blocks never handed out
 * that a refill brought into the cache. A broken cache that accepted the
 * second free would hold the block twice; the final drain would see it. */
static void check_double_free(size_t capacity, unsigned flags, size_t tc)
{
    zz_pool *pool = make(32, capacity, flags, tc);
    assert_true(zz_test_stats(pool).thread_cache > 0);

    void *p = zz_pool_alloc(pool);
    assert_non_null(p);
    assert_int_equal(zz_pool_free(pool, p), 0);
    zz_pool_stats before = zz_test_stats(pool);
    assert_true(before.cached > 0);
    assert_int_equal(zz_pool_free(pool, p), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_pool_free_zeroed(pool, p), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_pool_free_bulk(pool, &p, 1), ZZ_EDOUBLEFREE);
    zz_pool_stats after = zz_test_stats(pool);
    assert_int_equal(after.in_use, before.in_use);
    assert_int_equal(after.cached, before.cached);

    /* Several cached at once, each refused again; then flushed, refused again. */
    enum { N = 12 };
    void *q[N];
    assert_int_equal(zz_pool_alloc_bulk(pool, q, N), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(zz_pool_free(pool, q[i]), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(zz_pool_free(pool, q[N - 1 - i]), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(zz_pool_free(pool, q[i]), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_test_stats(pool).in_use, 0);

    /* Hold a few; every other block of the pool is free, wherever it rests. */
    void *held[3];
    for (size_t i = 0; i < 3; i++) {
        held[i] = zz_pool_alloc(pool);
        assert_non_null(held[i]);
    }
    uintptr_t *blocks = malloc(capacity * sizeof(*blocks));
    assert_non_null(blocks);
    assert_int_equal(all_blocks(pool, held[0], blocks), capacity);
    for (size_t i = 0; i < capacity; i++)
        if (!held_by(blocks[i], held, 3))
            assert_int_equal(zz_pool_free(pool, (void *)blocks[i]), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_test_stats(pool).in_use, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(zz_pool_free(pool, held[i]), 0);
    free(blocks);

    /* Nothing was pushed twice: exactly capacity distinct blocks remain. */
    void **all = drain_exactly(pool, capacity);
    assert_int_equal(zz_pool_free_bulk(pool, all, capacity), 0);
    free(all);
    zz_pool_destroy(pool);
}

static void test_double_free_in_cache(void **state)
{
    (void)state;
    check_double_free(64, 0, 16);
    check_double_free(64, ZZ_POOL_CHECKED, 16);
    check_double_free(1000, 0, 64);
    check_double_free(1000, ZZ_POOL_CHECKED, 64);
    check_double_free(4096, 0, 0);
    check_double_free(4096, ZZ_POOL_CHECKED, 0);
    check_double_free(20, 0, ZZ_POOL_MAX_THREAD_CACHE);
}

static void check_foreign(unsigned flags, size_t tc)
{
    zz_pool *pool = make(48, 100, flags, tc);
    zz_pool *other = make(48, 100, flags, tc);
    size_t stride = zz_test_stats(pool).block_size;
    unsigned char *a = zz_pool_alloc(pool), *b = zz_pool_alloc(pool);
    unsigned char *theirs = zz_pool_alloc(other);
    assert_int_equal(zz_pool_free(pool, b), 0); /* something in the cache */
    void *mine_in_other = zz_pool_alloc(other);
    assert_int_equal(zz_pool_free(other, mine_in_other), 0);
    int local = 0;
    uintptr_t blocks[100];
    assert_int_equal(all_blocks(pool, a, blocks), 100);
    unsigned char *first = (unsigned char *)blocks[0];
    void *bad[] = {a + 1,
                   a + stride / 2,
                   a + stride - 1,
                   a - 1,
                   b + 1,
                   first + stride * 100,
                   first - stride,
                   theirs,
                   mine_in_other,
                   &local,
                   (void *)(uintptr_t)8};
    zz_pool_stats before = zz_test_stats(pool);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zz_pool_free(pool, bad[i]), ZZ_EFOREIGN);
        assert_int_equal(zz_pool_free_zeroed(pool, bad[i]), ZZ_EFOREIGN);
        assert_int_equal(zz_pool_free_bulk(pool, &bad[i], 1), ZZ_EFOREIGN);
        zz_pool_stats st = zz_test_stats(pool);
        assert_int_equal(st.in_use, before.in_use);
        assert_int_equal(st.cached, before.cached);
    }
    assert_int_equal(zz_pool_free(pool, a), 0);
    assert_int_equal(zz_pool_free(other, theirs), 0);
    void **all = drain_exactly(pool, 100);
    free(all);
    all = drain_exactly(other, 100);
    free(all);
    zz_pool_destroy(pool);
    zz_pool_destroy(other);
}

static void test_foreign_with_cache(void **state)
{
    (void)state;
    check_foreign(0, 16);
    check_foreign(ZZ_POOL_CHECKED, 16);
    check_foreign(0, ZZ_POOL_MAX_THREAD_CACHE);
    check_foreign(ZZ_POOL_NO_CACHE, 0);
}

/* One thread, two pools of the same shape, both cached: blocks never cross. */
static void test_two_pools_one_thread(void **state)
{
    (void)state;
    enum { CAP = 200 };
    zz_pool *a = make(32, CAP, 0, 16), *b = make(32, CAP, ZZ_POOL_CHECKED, 32);
    void *pa[CAP], *pb[CAP];
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < CAP; i++) {
            pa[i] = zz_pool_alloc(a);
            pb[i] = zz_pool_alloc(b);
            assert_non_null(pa[i]);
            assert_non_null(pb[i]);
            assert_false(zz_pool_owns(b, pa[i]));
            assert_false(zz_pool_owns(a, pb[i]));
        }
        assert_null(zz_pool_alloc(a));
        assert_null(zz_pool_alloc(b));
        zz_test_assert_distinct_owned(a, pa, CAP);
        zz_test_assert_distinct_owned(b, pb, CAP);
        /* Each block offered to the wrong pool first. */
        for (size_t i = 0; i < CAP; i++) {
            size_t j = (i * 37 + (size_t)round) % CAP;
            assert_int_equal(zz_pool_free(b, pa[j]), ZZ_EFOREIGN);
            assert_int_equal(zz_pool_free(a, pa[j]), 0);
            assert_int_equal(zz_pool_free(a, pb[j]), ZZ_EFOREIGN);
            assert_int_equal(zz_pool_free(b, pb[j]), 0);
        }
        assert_int_equal(zz_test_stats(a).in_use, 0);
        assert_int_equal(zz_test_stats(b).in_use, 0);
    }
    zz_pool_destroy(a);
    zz_pool_destroy(b);
}

/* Re-create at the same address: a fixed buffer reset between the two
 * creations hands the second pool exactly the memory of the first. The
 * cache this thread kept for the first must not leak into the second. */
static void check_recreate(size_t size1, size_t cap1, size_t tc1, size_t size2, size_t cap2,
                           size_t tc2, unsigned flags1, unsigned flags2)
{
    static _Alignas(4096) unsigned char arena[256 * 1024];
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, arena, sizeof(arena)), 0);
    zz_pool_options o1 = {.size = size1,
                          .align = 16,
                          .capacity = cap1,
                          .flags = flags1,
                          .backing = zz_fixed_buffer_allocator(&fb),
                          .thread_cache = tc1};
    zz_pool *p1;
    assert_int_equal(zz_pool_create(&p1, &o1), 0);
    /* Fill the cache of p1, with blocks from all over the slab. */
    void **x = drain_exactly(p1, cap1);
    for (size_t i = 0; i < cap1; i++)
        assert_int_equal(zz_pool_free(p1, x[(i * 13) % cap1]), 0);
    assert_true(zz_test_stats(p1).cached > 0);
    free(x);
    zz_pool_destroy(p1);
    zz_fixed_buffer_reset(&fb);

    zz_pool_options o2 = o1;
    o2.size = size2;
    o2.capacity = cap2;
    o2.thread_cache = tc2;
    o2.flags = flags2;
    zz_pool *p2;
    assert_int_equal(zz_pool_create(&p2, &o2), 0);
    if (p2 != p1)
        print_message("note: the new pool is not at the old one's address\n");
    assert_int_equal(zz_test_stats(p2).in_use, 0);
    assert_int_equal(zz_test_stats(p2).cached, 0);
    for (int round = 0; round < 2; round++) {
        void **y = drain_exactly(p2, cap2);
        for (size_t i = 0; i < cap2; i++)
            assert_int_equal(zz_pool_free(p2, y[i]), 0);
        assert_int_equal(zz_test_stats(p2).in_use, 0);
        for (size_t i = 0; i < cap2; i++)
            assert_int_equal(zz_pool_free(p2, y[i]), ZZ_EDOUBLEFREE);
        free(y);
    }
    zz_pool_destroy(p2);
}

static void test_recreate_at_same_address(void **state)
{
    (void)state;
    check_recreate(64, 128, 32, 64, 128, 32, 0, 0);
    check_recreate(64, 128, 32, 64, 128, 32, ZZ_POOL_CHECKED, ZZ_POOL_CHECKED);
    check_recreate(64, 128, 32, 64, 128, 32, 0, ZZ_POOL_CHECKED);
    /* Same slab bytes, so the same pool address, but another shape. */
    check_recreate(64, 128, 32, 32, 256, 16, 0, 0);
    check_recreate(32, 256, 64, 64, 128, 8, 0, 0);
    /* Caching off in the new one. */
    check_recreate(64, 128, 32, 64, 128, 0, 0, ZZ_POOL_NO_CACHE);
    /* And with the page allocator, where the address is merely likely. */
    for (int i = 0; i < 3; i++) {
        zz_pool *p = make(64, 4096, 0, 0);
        void **x = drain_exactly(p, 4096);
        assert_int_equal(zz_pool_free_bulk(p, x, 4096), 0);
        assert_true(zz_test_stats(p).cached > 0);
        free(x);
        zz_pool_destroy(p);
    }
}

static void test_peak_with_cache(void **state)
{
    (void)state;
    /* Without caches the peak is exact. */
    zz_pool *pool = make(16, 300, ZZ_POOL_NO_CACHE, 0);
    void *p[300];
    for (size_t i = 0; i < 10; i++)
        p[i] = zz_pool_alloc(pool);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_int_equal(zz_test_stats(pool).peak_in_use, 10);
    zz_pool_destroy(pool);
    /* With them too, for one thread: 10, then capacity once exhausted. */
    pool = make(16, 300, 0, 32);
    for (size_t i = 0; i < 10; i++)
        p[i] = zz_pool_alloc(pool);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_int_equal(zz_test_stats(pool).peak_in_use, 10);
    for (size_t i = 0; i < 300; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_non_null(p[i]);
    }
    assert_null(zz_pool_alloc(pool));
    assert_int_equal(zz_test_stats(pool).peak_in_use, 300);
    assert_int_equal(zz_pool_free_bulk(pool, p, 300), 0);
    assert_int_equal(zz_test_stats(pool).peak_in_use, 300);
    zz_pool_destroy(pool);
}

/* zz_pool_wipe zeroes every block, free ones that carry the cache's batch
 * bookkeeping included; the pool must still hand out exactly its capacity. */
static void test_wipe_after_batches(void **state)
{
    (void)state;
    enum { CAP = 4096 };
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = CAP}), 0);
    void **p = malloc(CAP * sizeof(*p));
    assert_non_null(p);
    for (int round = 0; round < 2; round++) {
        /* Fill, then free in an order that makes the cache spill batches. */
        assert_int_equal(zz_pool_alloc_bulk(pool, p, CAP), 0);
        for (size_t i = 0; i < CAP; i++)
            memset(p[i], 0x5c, 64);
        for (size_t i = 0; i < CAP; i += 2)
            assert_int_equal(zz_pool_free(pool, p[i]), 0);
        for (size_t i = 1; i < CAP; i += 2)
            assert_int_equal(zz_pool_free(pool, p[i]), 0);
        assert_int_equal(zz_pool_wipe(pool), 0);
        for (size_t i = 0; i < CAP; i++)
            ZZ_TEST_UNPOISON(p[i], 64);
        for (size_t i = 0; i < CAP; i++)
            for (size_t b = 0; b < 64; b++)
                assert_int_equal(((unsigned char *)p[i])[b], 0);
        zz_test_assert_valid(pool);
        assert_int_equal(zz_test_stats(pool).in_use, 0);
        assert_int_equal(zz_test_stats(pool).cached, 0);
    }
    for (size_t i = 0; i < CAP; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_non_null(p[i]);
    }
    assert_null(zz_pool_alloc(pool));
    zz_test_assert_distinct_owned(pool, p, CAP);
    free(p);
    zz_pool_destroy(pool);
}

/* A cache whose fill carries ZZ_CACHE_STEAL is held by a reclaim: the
 * owner's alloc and free, fast paths included, must leave it alone and use
 * the shared list, and use it again once the flag is cleared. */
static void test_owner_keeps_out_of_a_held_cache(void **state)
{
    (void)state;
    zz_pool *pool = make(64, 1024, 0, 16);
    void *p[8];
    for (int i = 0; i < 8; i++)
        assert_non_null(p[i] = zz_pool_alloc(pool));
    for (int i = 0; i < 8; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_true(zz__tls_slot < pool->ncaches);
    struct zz_cache *c = zz__cache_at(pool, zz__tls_slot);
    uint32_t count = zz__cache_count(c);
    assert_true(count >= 8 && count < pool->cache_cap);
    uint32_t top = c->entries[count - 1];

    /* As a reclaim does; no other thread runs. */
    zz_atomic_fetch_or_relaxed_u32(&c->fill, ZZ_CACHE_STEAL);
    void *q = zz_pool_alloc(pool);
    assert_non_null(q);
    assert_int_not_equal(zz__pool_index(pool, q), top);
    assert_int_equal(zz__cache_count(c), count);
    assert_int_equal(zz_pool_free(pool, q), 0);
    assert_int_equal(zz__cache_count(c), count);
    assert_int_equal(c->entries[count - 1], top);
    assert_true(zz_atomic_load_relaxed_u32(&c->fill) & ZZ_CACHE_STEAL);
    assert_int_equal(zz_test_stats(pool).in_use, 0);

    zz_atomic_fetch_and_relaxed_u32(&c->fill, ~ZZ_CACHE_STEAL);
    q = zz_pool_alloc(pool);
    assert_int_equal(zz__pool_index(pool, q), top);
    assert_int_equal(zz__cache_count(c), count - 1);
    assert_int_equal(zz_pool_free(pool, q), 0);
    assert_int_equal(zz__cache_count(c), count);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

/* The alloc fast path takes from a cache whose fill is above its token
 * floor, trusting that fill to hold a block: the floor of a used cache is
 * never below 1. Frees earn tokens without end and spills move the floor
 * down with the count, so a floor left to follow them would go below 1,
 * and an empty cache would then look full of tokens. */
static void test_floor_never_below_one(void **state)
{
    (void)state;
    enum { N = 1024 };
    zz_pool *pool = make(64, N, 0, 64);
    void **p = malloc(N * sizeof(*p));
    assert_non_null(p);
    assert_true(zz__tls_slot == ZZ_SLOT_UNCLAIMED || zz__tls_slot < pool->ncaches);
    assert_non_null(p[0] = zz_pool_alloc(pool));
    struct zz_cache *c = zz__cache_at(pool, zz__tls_slot);
    assert_true((int32_t)zz_atomic_load_relaxed_u32(&c->floor) >= 1); /* set when first used */
    for (size_t i = 1; i < N; i++)
        assert_non_null(p[i] = zz_pool_alloc(pool));
    assert_null(zz_pool_alloc(pool));
    /* Every free earns a token; every 32nd or so spills half the cache. */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
        assert_true((int32_t)zz_atomic_load_relaxed_u32(&c->floor) >= 1);
    }
    /* Emptied by a flush with tokens to spare: fill 1, and the fast path
     * must not take from it. */
    assert_int_equal(zz_pool_flush(pool), 0);
    assert_int_equal(zz__cache_count(c), 0);
    assert_true((int32_t)zz_atomic_load_relaxed_u32(&c->floor) >= 1);
    for (size_t i = 0; i < N; i++) {
        assert_non_null(p[i] = zz_pool_alloc(pool));
        assert_true((int32_t)zz_atomic_load_relaxed_u32(&c->floor) >= 1);
    }
    assert_null(zz_pool_alloc(pool));
    zz_test_assert_distinct_owned(pool, p, N);
    zz_pool_stats st = zz_test_stats(pool);
    assert_int_equal(st.in_use, N);
    assert_int_equal(st.peak_in_use, N);
    assert_int_equal(zz_pool_free_bulk(pool, p, N), 0);
    zz_test_assert_valid(pool);
    free(p);
    zz_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_wipe_after_batches),
    cmocka_unit_test(test_thread_cache_option),
    cmocka_unit_test(test_cached_and_flush),
    cmocka_unit_test(test_flush_edges),
    cmocka_unit_test(test_stats_exact_with_cache),
    cmocka_unit_test(test_exhaust_with_cache),
    cmocka_unit_test(test_double_free_in_cache),
    cmocka_unit_test(test_foreign_with_cache),
    cmocka_unit_test(test_two_pools_one_thread),
    cmocka_unit_test(test_recreate_at_same_address),
    cmocka_unit_test(test_peak_with_cache),
    cmocka_unit_test(test_owner_keeps_out_of_a_held_cache),
    cmocka_unit_test(test_floor_never_below_one),
};

ZZ_TEST_MAIN(tests)
