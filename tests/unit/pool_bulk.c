/* SPDX-License-Identifier: MIT */
/*
 * zz_pool_alloc_bulk and zz_pool_free_bulk on one thread. Both are all or
 * nothing: a bulk alloc that cannot be met in full takes nothing and leaves
 * `out` untouched; a bulk free with one bad pointer (foreign, interior,
 * already free, or given twice) frees none of the others. Each rule is
 * checked without caches, with the default cache, in ZZ_POOL_CHECKED, and
 * with a thread cache large enough that batches pass through it, because a
 * cache is exactly where a half-done batch would hide.
 *
 * "None freed" is checked the hard way: afterwards every valid pointer of
 * the refused batch must still be freeable one by one (a block freed by
 * the refused call would answer ZZ_EDOUBLEFREE).
 */
#include <stdlib.h>

#include "pool_checks.h"
#include "test_main.h"
#include "zigzag.h"

struct config {
    size_t capacity;
    unsigned flags;
    size_t thread_cache;
};

/* Every shape the bulk rules are checked in. */
static const struct config configs[] = {
    {100, 0, 0},
    {100, ZZ_POOL_CHECKED, 0},
    {100, ZZ_POOL_NO_CACHE, 0},
    {100, ZZ_POOL_NO_CACHE | ZZ_POOL_CHECKED, 0},
    {100, 0, 16},
    {100, ZZ_POOL_CHECKED, 16},
    {1000, 0, 64},
    {1000, ZZ_POOL_CHECKED, 64},
    {1000, 0, 0},
    {5000, 0, 0},
    {5000, ZZ_POOL_CHECKED, ZZ_POOL_MAX_THREAD_CACHE},
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

/* A value no pool hands out, to see whether `out` was written. */
#define SENTINEL ((void *)(uintptr_t)0x5e5e5e5eu)

static zz_pool *make_pool(const struct config *c)
{
    return zz_test_pool_make(48, 16, c->capacity, c->flags, c->thread_cache);
}

static size_t in_use(const zz_pool *pool)
{
    return zz_test_stats(pool).in_use;
}

/* Frees p[0..n) one by one; each must be accepted (so none was free yet). */
static void free_each(zz_pool *pool, void *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
}

static void check_alloc_all_or_nothing(const struct config *c)
{
    size_t cap = c->capacity, first = cap * 6 / 10, rest = cap - first;
    zz_pool *pool = make_pool(c);
    void **a = malloc(cap * sizeof(*a));
    void **b = malloc((rest + 2) * sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);

    assert_int_equal(zz_pool_alloc_bulk(pool, a, first), 0);
    assert_int_equal(in_use(pool), first);
    /* One more than is free: nothing taken, out not written. */
    for (size_t i = 0; i < rest + 2; i++)
        b[i] = SENTINEL;
    assert_int_equal(zz_pool_alloc_bulk(pool, b, rest + 1), ZZ_ENOMEM);
    for (size_t i = 0; i < rest + 2; i++)
        assert_ptr_equal(b[i], SENTINEL);
    assert_int_equal(in_use(pool), first);
    /* Exactly what is free: every block. */
    assert_int_equal(zz_pool_alloc_bulk(pool, a + first, rest), 0);
    assert_int_equal(in_use(pool), cap);
    zz_test_assert_distinct_owned(pool, a, cap);
    assert_null(zz_pool_alloc(pool));
    b[0] = SENTINEL;
    assert_int_equal(zz_pool_alloc_bulk(pool, b, 1), ZZ_ENOMEM);
    assert_ptr_equal(b[0], SENTINEL);
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.peak_in_use, cap);

    /* Everything back in one call, then all of it again in one call. */
    assert_int_equal(zz_pool_free_bulk(pool, a, cap), 0);
    assert_int_equal(in_use(pool), 0);
    assert_int_equal(zz_pool_alloc_bulk(pool, a, cap), 0);
    zz_test_assert_distinct_owned(pool, a, cap);
    assert_null(zz_pool_alloc(pool));
    free_each(pool, a, cap);
    assert_int_equal(in_use(pool), 0);
    free(a);
    free(b);
    zz_pool_destroy(pool);
}

static void test_alloc_bulk_all_or_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++)
        check_alloc_all_or_nothing(&configs[i]);
}

/* Free blocks resting in this thread's cache count as free for a bulk
 * alloc, and a refused bulk alloc does not lose them. */
static void check_alloc_bulk_counts_cached(const struct config *c)
{
    size_t cap = c->capacity, held = cap * 6 / 10, back = cap / 10;
    zz_pool *pool = make_pool(c);
    void **a = malloc(cap * sizeof(*a));
    assert_non_null(a);
    assert_int_equal(zz_pool_alloc_bulk(pool, a, held), 0);
    /* A few back one by one: with a cache they rest there. */
    for (size_t i = 0; i < back; i++)
        assert_int_equal(zz_pool_free(pool, a[held - 1 - i]), 0);
    held -= back;
    size_t free_now = cap - held;
    assert_int_equal(in_use(pool), held);
    for (int round = 0; round < 3; round++) {
        a[held] = SENTINEL;
        assert_int_equal(zz_pool_alloc_bulk(pool, a + held, free_now + 1), ZZ_ENOMEM);
        assert_ptr_equal(a[held], SENTINEL);
        assert_int_equal(in_use(pool), held);
    }
    assert_int_equal(zz_pool_alloc_bulk(pool, a + held, free_now), 0);
    assert_int_equal(in_use(pool), cap);
    zz_test_assert_distinct_owned(pool, a, cap);
    assert_null(zz_pool_alloc(pool));
    assert_int_equal(zz_pool_free_bulk(pool, a, cap), 0);
    assert_int_equal(in_use(pool), 0);
    free(a);
    zz_pool_destroy(pool);
}

static void test_alloc_bulk_counts_cached_blocks(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++)
        check_alloc_bulk_counts_cached(&configs[i]);
}

static void test_bulk_zero_and_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++) {
        zz_pool *pool = make_pool(&configs[i]);
        void *out[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
        assert_int_equal(zz_pool_alloc_bulk(pool, out, 0), 0);
        assert_int_equal(zz_pool_alloc_bulk(pool, NULL, 0), 0);
        assert_ptr_equal(out[0], SENTINEL);
        assert_int_equal(zz_pool_alloc_bulk(NULL, out, 2), ZZ_EINVAL);
        assert_int_equal(zz_pool_alloc_bulk(pool, NULL, 2), ZZ_EINVAL);
        assert_ptr_equal(out[0], SENTINEL);
        assert_int_equal(in_use(pool), 0);

        assert_int_equal(zz_pool_alloc_bulk(pool, out, 3), 0);
        assert_int_equal(zz_pool_free_bulk(pool, out, 0), 0);
        assert_int_equal(zz_pool_free_bulk(pool, NULL, 0), 0);
        assert_int_equal(zz_pool_free_bulk(NULL, out, 3), ZZ_EINVAL);
        assert_int_equal(zz_pool_free_bulk(pool, NULL, 3), ZZ_EINVAL);
        assert_int_equal(in_use(pool), 3);
        free_each(pool, out, 3);
        assert_int_equal(in_use(pool), 0);
        zz_pool_destroy(pool);
    }
    /* A NULL pool is refused for flush too. */
    assert_int_equal(zz_pool_flush(NULL), ZZ_EINVAL);
}

/* batch[0..n) with batch[bad_at] replaced by `bad`: refused with `code`,
 * nothing freed (every other entry still freeable one by one afterwards,
 * which the caller does). */
static void expect_refused(zz_pool *pool, void **batch, size_t n, size_t bad_at, void *bad,
                           int code)
{
    size_t before = in_use(pool);
    void *saved = batch[bad_at];
    batch[bad_at] = bad;
    assert_int_equal(zz_pool_free_bulk(pool, batch, n), code);
    assert_int_equal(in_use(pool), before);
    batch[bad_at] = saved;
}

static void check_free_bulk_refusals(const struct config *c, size_t n)
{
    zz_pool *pool = make_pool(c);
    zz_pool *other = make_pool(c);
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    size_t stride = st.block_size;
    /* n blocks in use, plus one freed (already free) and one of another pool. */
    void **batch = malloc((n + 1) * sizeof(*batch));
    assert_non_null(batch);
    assert_int_equal(zz_pool_alloc_bulk(pool, batch, n), 0);
    void *freed = zz_pool_alloc(pool);
    assert_non_null(freed);
    assert_int_equal(zz_pool_free(pool, freed), 0);
    void *theirs = zz_pool_alloc(other);
    assert_non_null(theirs);
    int local = 0;
    size_t spots[] = {0, n / 2, n - 1};

    for (size_t s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
        size_t at = spots[s];
        unsigned char *neighbour = batch[(at + 1) % n];
        expect_refused(pool, batch, n, at, neighbour + 1, ZZ_EFOREIGN);
        expect_refused(pool, batch, n, at, neighbour + stride / 2, ZZ_EFOREIGN);
        expect_refused(pool, batch, n, at, theirs, ZZ_EFOREIGN);
        expect_refused(pool, batch, n, at, &local, ZZ_EFOREIGN);
        expect_refused(pool, batch, n, at, freed, ZZ_EDOUBLEFREE);
        /* The same pointer twice in one batch. */
        expect_refused(pool, batch, n, at, batch[(at + n / 3 + 1) % n], ZZ_EDOUBLEFREE);
    }
    /* The batch's first refusal decides the code. */
    if (n >= 3) {
        void *save0 = batch[0], *save2 = batch[2];
        batch[0] = &local;
        batch[2] = freed;
        assert_int_equal(zz_pool_free_bulk(pool, batch, n), ZZ_EFOREIGN);
        batch[0] = freed;
        batch[2] = &local;
        assert_int_equal(zz_pool_free_bulk(pool, batch, n), ZZ_EDOUBLEFREE);
        batch[0] = save0;
        batch[2] = save2;
        assert_int_equal(in_use(pool), n);
    }
    /* Nothing was freed by any refused call; the freed block is still free. */
    free_each(pool, batch, n);
    assert_int_equal(in_use(pool), 0);
    assert_int_equal(zz_pool_free(pool, freed), ZZ_EDOUBLEFREE);

    /* A batch given back twice: the second time every entry is already free. */
    assert_int_equal(zz_pool_alloc_bulk(pool, batch, n), 0);
    assert_int_equal(zz_pool_free_bulk(pool, batch, n), 0);
    assert_int_equal(in_use(pool), 0);
    assert_int_equal(zz_pool_free_bulk(pool, batch, n), ZZ_EDOUBLEFREE);
    assert_int_equal(in_use(pool), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zz_pool_free(pool, batch[i]), ZZ_EDOUBLEFREE);

    /* Conservation: exactly capacity distinct blocks are left. */
    void **all = malloc(c->capacity * sizeof(*all));
    assert_non_null(all);
    for (size_t i = 0; i < c->capacity; i++) {
        all[i] = zz_pool_alloc(pool);
        assert_non_null(all[i]);
    }
    assert_null(zz_pool_alloc(pool));
    zz_test_assert_distinct_owned(pool, all, c->capacity);
    assert_int_equal(zz_pool_free_bulk(pool, all, c->capacity), 0);
    assert_int_equal(in_use(pool), 0);
    free(all);
    free(batch);
    assert_int_equal(zz_pool_free(other, theirs), 0);
    zz_pool_destroy(other);
    zz_pool_destroy(pool);
}

static void test_free_bulk_refuses_foreign(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++) {
        check_free_bulk_refusals(&configs[i], 1 + 1); /* a batch of two */
        check_free_bulk_refusals(&configs[i], 10);
        check_free_bulk_refusals(&configs[i], configs[i].capacity / 2);
    }
}

/* A batch whose last entry is the duplicate or the foreign pointer, far
 * longer than the thread cache: an implementation that frees as it checks
 * would already have moved a cache's worth (or more) of blocks. */
static void test_free_bulk_long_batch_refused(void **state)
{
    (void)state;
    static const struct config long_configs[] = {
        {1000, 0, 16}, {1000, 0, 64}, {1000, ZZ_POOL_CHECKED, 64}, {1000, ZZ_POOL_NO_CACHE, 0}};
    for (size_t k = 0; k < sizeof(long_configs) / sizeof(long_configs[0]); k++) {
        const struct config *c = &long_configs[k];
        zz_pool *pool = make_pool(c);
        size_t n = 700;
        void **batch = malloc((n + 1) * sizeof(*batch));
        assert_non_null(batch);
        assert_int_equal(zz_pool_alloc_bulk(pool, batch, n), 0);
        int local;
        batch[n] = &local;
        assert_int_equal(zz_pool_free_bulk(pool, batch, n + 1), ZZ_EFOREIGN);
        assert_int_equal(in_use(pool), n);
        batch[n] = batch[3];
        assert_int_equal(zz_pool_free_bulk(pool, batch, n + 1), ZZ_EDOUBLEFREE);
        assert_int_equal(in_use(pool), n);
        batch[n] = (unsigned char *)batch[3] + 1;
        assert_int_equal(zz_pool_free_bulk(pool, batch, n + 1), ZZ_EFOREIGN);
        assert_int_equal(in_use(pool), n);
        /* 300 blocks are still free: a bulk of 301 fails, 300 succeeds. */
        void **more = malloc(301 * sizeof(*more));
        assert_non_null(more);
        assert_int_equal(zz_pool_alloc_bulk(pool, more, 301), ZZ_ENOMEM);
        assert_int_equal(zz_pool_alloc_bulk(pool, more, 300), 0);
        assert_null(zz_pool_alloc(pool));
        free_each(pool, more, 300);
        free_each(pool, batch, n);
        assert_int_equal(in_use(pool), 0);
        free(more);
        free(batch);
        zz_pool_destroy(pool);
    }
}

static void test_free_bulk_skips_null(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++) {
        zz_pool *pool = make_pool(&configs[i]);
        void *p[4];
        assert_int_equal(zz_pool_alloc_bulk(pool, p, 4), 0);
        void *batch[] = {NULL, p[0], NULL, p[1], NULL};
        assert_int_equal(zz_pool_free_bulk(pool, batch, 5), 0);
        assert_int_equal(in_use(pool), 2);
        assert_int_equal(zz_pool_free(pool, p[0]), ZZ_EDOUBLEFREE);
        assert_int_equal(zz_pool_free(pool, p[1]), ZZ_EDOUBLEFREE);
        void *nulls[3] = {NULL, NULL, NULL};
        assert_int_equal(zz_pool_free_bulk(pool, nulls, 3), 0);
        assert_int_equal(in_use(pool), 2);
        /* Two NULLs are not "the same pointer twice". */
        void *batch2[] = {NULL, p[2], NULL, p[3]};
        assert_int_equal(zz_pool_free_bulk(pool, batch2, 4), 0);
        assert_int_equal(in_use(pool), 0);
        zz_pool_destroy(pool);
    }
}

/* Bulk and single calls mixed, in batches larger and smaller than the
 * cache, with in_use followed exactly and the blocks exclusive. */
static void check_bulk_mixed(const struct config *c)
{
    size_t cap = c->capacity;
    zz_pool *pool = make_pool(c);
    void **live = malloc((cap + 1) * sizeof(*live));
    assert_non_null(live);
    size_t n = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 2000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        size_t k = 1 + (r >> 4) % (cap / 4);
        switch (r % 4) {
        case 0: /* bulk alloc */
            if (k <= cap - n) {
                assert_int_equal(zz_pool_alloc_bulk(pool, live + n, k), 0);
                n += k;
            } else {
                assert_int_equal(zz_pool_alloc_bulk(pool, live + n, k), ZZ_ENOMEM);
            }
            break;
        case 1: /* bulk free of the newest k */
            k = k < n ? k : n;
            assert_int_equal(zz_pool_free_bulk(pool, live + n - k, k), 0);
            n -= k;
            break;
        case 2: /* single alloc */
            live[n] = zz_pool_alloc(pool);
            if (n < cap) {
                assert_non_null(live[n]);
                n++;
            } else {
                assert_null(live[n]);
            }
            break;
        default: /* single free of a random one */
            if (n > 0) {
                size_t at = (r >> 3) % n;
                assert_int_equal(zz_pool_free(pool, live[at]), 0);
                live[at] = live[--n];
            }
            break;
        }
        assert_int_equal(in_use(pool), n);
        if (step % 97 == 0)
            zz_test_assert_distinct_owned(pool, live, n);
        if (step % 301 == 0)
            assert_int_equal(zz_pool_flush(pool), 0);
    }
    zz_test_assert_distinct_owned(pool, live, n);
    assert_int_equal(zz_pool_free_bulk(pool, live, n), 0);
    assert_int_equal(in_use(pool), 0);
    assert_int_equal(zz_pool_alloc_bulk(pool, live, cap), 0);
    zz_test_assert_distinct_owned(pool, live, cap);
    assert_null(zz_pool_alloc(pool));
    assert_int_equal(zz_pool_free_bulk(pool, live, cap), 0);
    free(live);
    zz_pool_destroy(pool);
}

static void test_bulk_mixed_with_single(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCONFIGS; i++)
        check_bulk_mixed(&configs[i]);
}

/* A bulk alloc that cannot be met changes nothing, the peak included
 * (found by the fuzzer: the blocks it took for a moment raised the peak). */
static void test_alloc_bulk_refused_keeps_peak(void **state)
{
    (void)state;
    const unsigned flags[] = {0, ZZ_POOL_NO_CACHE, ZZ_POOL_CHECKED};
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        zz_pool *pool = zz_test_pool_make(32, 0, 1024, flags[f], 16);
        void *p[2048];
        assert_int_equal(zz_pool_alloc_bulk(pool, p, 10), 0);
        assert_int_equal(zz_pool_free_bulk(pool, p, 5), 0);
        zz_pool_stats before = zz_test_stats(pool);
        assert_int_equal(before.peak_in_use, 10);
        assert_int_equal(zz_pool_alloc_bulk(pool, p + 10, 1024 - 4), ZZ_ENOMEM);
        zz_pool_stats after = zz_test_stats(pool);
        assert_int_equal(after.in_use, 5);
        assert_int_equal(after.peak_in_use, 10);
        zz_test_assert_valid(pool);
        /* Exactly what is free can still be taken. */
        assert_int_equal(zz_pool_alloc_bulk(pool, p + 10, 1024 - 5), 0);
        assert_int_equal(zz_test_stats(pool).peak_in_use, 1024);
        zz_pool_destroy(pool);
    }
}

/* Bursts no larger than the cache, as a packet loop makes them: they come
 * out of the cache and go back into it whole, one handshake a call. Every
 * block stays distinct, in_use and the peak stay exact, and a burst the
 * cache can serve leaves stats.cached lower by exactly its size. */
static void test_bursts_through_cache(void **state)
{
    (void)state;
    const size_t cap = 4096, tc = 64;
    zz_pool *pool = zz_test_pool_make(64, 16, cap, 0, tc);
    void **live = malloc(cap * sizeof(*live));
    assert_non_null(live);
    size_t nlive = 0, peak = 0;
    unsigned seed = 7;
    for (int step = 0; step < 4000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 8) % tc;
        bool up = ((step / 300) % 2 == 0) == ((seed >> 20) % 4 != 0);
        if (up && nlive + k <= cap) {
            zz_pool_stats before = zz_test_stats(pool);
            assert_int_equal(zz_pool_alloc_bulk(pool, live + nlive, k), 0);
            if (before.cached >= k)
                assert_int_equal(zz_test_stats(pool).cached, before.cached - k);
            nlive += k;
        } else if (!up && nlive > 0) {
            k = k < nlive ? k : nlive;
            zz_pool_stats before = zz_test_stats(pool);
            assert_int_equal(zz_pool_free_bulk(pool, live + nlive - k, k), 0);
            if (before.cached + k <= tc)
                assert_int_equal(zz_test_stats(pool).cached, before.cached + k);
            nlive -= k;
        }
        peak = nlive > peak ? nlive : peak;
        zz_pool_stats st = zz_test_stats(pool);
        assert_int_equal(st.in_use, nlive);
        assert_int_equal(st.peak_in_use, peak);
        assert_true(st.cached <= tc);
        if (step % 200 == 0)
            zz_test_assert_distinct_owned(pool, live, nlive);
    }
    zz_test_assert_distinct_owned(pool, live, nlive);
    /* Refused on the way back: a block given twice frees none. */
    if (nlive >= 2) {
        void *twice[3] = {live[0], live[1], live[0]};
        assert_int_equal(zz_pool_free_bulk(pool, twice, 3), ZZ_EDOUBLEFREE);
        assert_int_equal(zz_test_stats(pool).in_use, nlive);
    }
    assert_int_equal(zz_pool_free_bulk(pool, live, nlive), 0);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    free(live);
    zz_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_alloc_bulk_refused_keeps_peak),
    cmocka_unit_test(test_alloc_bulk_all_or_nothing),
    cmocka_unit_test(test_alloc_bulk_counts_cached_blocks),
    cmocka_unit_test(test_bulk_zero_and_invalid),
    cmocka_unit_test(test_free_bulk_refuses_foreign),
    cmocka_unit_test(test_free_bulk_long_batch_refused),
    cmocka_unit_test(test_free_bulk_skips_null),
    cmocka_unit_test(test_bulk_mixed_with_single),
    cmocka_unit_test(test_bursts_through_cache),
};

ZZ_TEST_MAIN(tests)
