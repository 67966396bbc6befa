/* SPDX-License-Identifier: MIT */
/*
 * The counting allocator: init checks, the conformance suite through it,
 * exact totals, peak, failures counted (via the failing allocator), size 0
 * not counted, and exact totals with several threads at once.
 */
#include "test_main.h"

#include <pthread.h>

#include "allocator_conformance.h"
#include "failing_allocator.h"
#include "zigzag.h"

static zz_counting_stats stats_of(const zz_counting *c)
{
    zz_counting_stats st;
    memset(&st, 0xa5, sizeof st); /* every field must be written */
    zz_counting_stats_get(c, &st);
    return st;
}

static void test_counting_init_rejects(void **state)
{
    (void)state;
    zz_counting c;
    assert_int_equal(zz_counting_init(NULL, zz_system_allocator()), ZZ_EINVAL);
    assert_int_equal(zz_counting_init(&c, (zz_allocator){0}), ZZ_EINVAL);
    int dummy;
    assert_int_equal(zz_counting_init(&c, (zz_allocator){.ctx = &dummy}), ZZ_EINVAL);
}

static void test_counting_init_zeroes(void **state)
{
    (void)state;
    zz_counting c;
    memset(&c, 0xff, sizeof c);
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.allocs, 0);
    assert_int_equal(st.frees, 0);
    assert_int_equal(st.failed_allocs, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.peak_bytes, 0);
    assert_int_equal(st.live_allocs, 0);
}

static void test_counting_conformance(void **state)
{
    (void)state;
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, zz_page_allocator()), 0);
    zz_conformance_run(zz_counting_allocator(&c), &(zz_conformance_opts){.zeroed = true});
    zz_counting_stats st = stats_of(&c);
    /* The suite frees everything it gets. */
    assert_int_equal(st.live_allocs, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.allocs, st.frees);
    assert_true(st.allocs > 1000);
    assert_true(st.failed_allocs > 0); /* the suite's bad requests */
}

static void test_counting_exact_totals(void **state)
{
    (void)state;
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    zz_allocator a = zz_counting_allocator(&c);
    void *p1 = zz_alloc(a, 100, 8);
    void *p2 = zz_alloc(a, 300, 64);
    void *p3 = zz_alloc(a, 7, 1);
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.allocs, 3);
    assert_int_equal(st.live_allocs, 3);
    assert_int_equal(st.live_bytes, 407);
    assert_int_equal(st.peak_bytes, 407);
    assert_int_equal(st.frees, 0);
    zz_free(a, p2, 300, 64);
    st = stats_of(&c);
    assert_int_equal(st.frees, 1);
    assert_int_equal(st.live_allocs, 2);
    assert_int_equal(st.live_bytes, 107);
    assert_int_equal(st.peak_bytes, 407);
    void *p4 = zz_alloc(a, 200, 16);
    st = stats_of(&c);
    assert_int_equal(st.live_bytes, 307);
    assert_int_equal(st.peak_bytes, 407); /* below the earlier peak */
    void *p5 = zz_alloc(a, 200, 16);
    st = stats_of(&c);
    assert_int_equal(st.live_bytes, 507);
    assert_int_equal(st.peak_bytes, 507);
    zz_free(a, p1, 100, 8);
    zz_free(a, p3, 7, 1);
    zz_free(a, p4, 200, 16);
    zz_free(a, p5, 200, 16);
    zz_free(a, NULL, 10, 8); /* not counted */
    st = stats_of(&c);
    assert_int_equal(st.allocs, 5);
    assert_int_equal(st.frees, 5);
    assert_int_equal(st.live_allocs, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.peak_bytes, 507);
    assert_int_equal(st.failed_allocs, 0);
}

static void test_counting_size_zero_not_counted(void **state)
{
    (void)state;
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    zz_allocator a = zz_counting_allocator(&c);
    assert_null(zz_alloc(a, 0, 8));
    assert_null(a.vtable->alloc(a.ctx, 0, 8));
    assert_null(a.vtable->alloc(a.ctx, 0, 3));
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.allocs, 0);
    assert_int_equal(st.failed_allocs, 0);
}

static void test_counting_bad_align_is_failure(void **state)
{
    (void)state;
    /* A bad alignment is a request that returned NULL, by either path. */
    zz_failing f;
    zz_counting c;
    zz_failing_init(&f, zz_system_allocator(), ZZ_FAILING_NEVER, false);
    assert_int_equal(zz_counting_init(&c, zz_failing_allocator(&f)), 0);
    zz_allocator a = zz_counting_allocator(&c);
    assert_null(a.vtable->alloc(a.ctx, 8, 3));
    assert_null(a.vtable->alloc(a.ctx, 8, 0));
    assert_null(zz_alloc(a, 8, 3));
    assert_null(zz_alloc(a, 8, 0));
    assert_null(zz_alloc(a, 8, 24));
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.failed_allocs, 5);
    assert_int_equal(st.allocs, 0);
    assert_int_equal(f.alloc_calls, 0); /* the inner allocator never saw them */
}

static void test_counting_inner_failures(void **state)
{
    (void)state;
    zz_failing f;
    zz_counting c;
    zz_failing_init(&f, zz_system_allocator(), 2, false); /* the third call fails */
    assert_int_equal(zz_counting_init(&c, zz_failing_allocator(&f)), 0);
    zz_allocator a = zz_counting_allocator(&c);
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = zz_alloc(a, 32, 8);
    assert_null(p[2]);
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.allocs, 4);
    assert_int_equal(st.failed_allocs, 1);
    assert_int_equal(st.live_bytes, 4 * 32);
    assert_int_equal(f.alloc_calls, 5);
    assert_int_equal(f.failures, 1);

    /* From now on every call fails. */
    zz_failing_rearm(&f, 0, true);
    for (int i = 0; i < 3; i++)
        assert_null(zz_alloc(a, 16, 8));
    st = stats_of(&c);
    assert_int_equal(st.failed_allocs, 4);
    assert_int_equal(st.allocs, 4);
    assert_int_equal(st.live_bytes, 4 * 32); /* failures leave the totals alone */
    for (int i = 0; i < 5; i++)
        zz_free(a, p[i], 32, 8);
    st = stats_of(&c);
    assert_int_equal(st.frees, 4);
    assert_int_equal(st.live_allocs, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(f.free_calls, 4);
}

/* A scenario for the failure-injection driver: three allocations, undone on failure. */
static int three_allocs(zz_allocator a, void *arg)
{
    (void)arg;
    void *x = zz_alloc(a, 10, 1);
    if (x == NULL)
        return ZZ_ENOMEM;
    void *y = zz_alloc(a, 20, 8);
    if (y == NULL) {
        zz_free(a, x, 10, 1);
        return ZZ_ENOMEM;
    }
    void *z = zz_alloc(a, 4096, 4096);
    if (z == NULL) {
        zz_free(a, y, 20, 8);
        zz_free(a, x, 10, 1);
        return ZZ_ENOMEM;
    }
    zz_free(a, z, 4096, 4096);
    zz_free(a, y, 20, 8);
    zz_free(a, x, 10, 1);
    return 0;
}

static void test_failing_check_all_driver(void **state)
{
    (void)state;
    assert_int_equal(zz_failing_check_all(zz_system_allocator(), three_allocs, NULL), 3);
}

static void test_failing_conformance(void **state)
{
    (void)state;
    /* The failing allocator, never failing, is a conforming allocator. */
    zz_failing f;
    zz_failing_init(&f, zz_system_allocator(), ZZ_FAILING_NEVER, false);
    zz_conformance_run(zz_failing_allocator(&f), NULL);
    assert_int_equal(f.failures, 0);
    assert_true(f.alloc_calls > 0);
}

enum { N_THREADS = 4, N_ITERS = 10000 };

static void *hammer(void *arg)
{
    zz_allocator a = zz_counting_allocator(arg);
    void *held[8] = {0};
    for (size_t i = 0; i < N_ITERS; i++) {
        size_t size = 1 + i % 64, slot = i % 8;
        if (held[slot] != NULL)
            zz_free(a, held[slot], 1 + (i - 8) % 64, 8);
        held[slot] = zz_alloc(a, size, 8);
        if (held[slot] == NULL)
            return (void *)1;
        memset(held[slot], (int)i, size);
    }
    for (size_t i = N_ITERS - 8; i < N_ITERS; i++)
        zz_free(a, held[i % 8], 1 + i % 64, 8);
    return NULL;
}

static void test_counting_threads_exact(void **state)
{
    (void)state;
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    pthread_t t[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &c), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *ret = (void *)2;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    /* Joined: every thread's updates are visible and the totals exact. */
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.allocs, (size_t)N_THREADS * N_ITERS);
    assert_int_equal(st.frees, (size_t)N_THREADS * N_ITERS);
    assert_int_equal(st.live_allocs, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.failed_allocs, 0);
    /* Each thread holds at most 8 blocks of at most 64 bytes at once. */
    assert_true(st.peak_bytes >= 8 * 32);
    assert_true(st.peak_bytes <= (size_t)N_THREADS * 8 * 64);
}

static void *hold_then_release(void *arg)
{
    zz_allocator a = zz_counting_allocator(arg);
    void *p = zz_alloc(a, 1000, 16);
    return p;
}

static void test_counting_peak_across_threads(void **state)
{
    (void)state;
    /* Four threads each leave 1000 bytes live: the peak is exactly 4000. */
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    pthread_t t[N_THREADS];
    void *p[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hold_then_release, &c), 0);
    for (int i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(t[i], &p[i]), 0);
        assert_non_null(p[i]);
    }
    zz_counting_stats st = stats_of(&c);
    assert_int_equal(st.peak_bytes, N_THREADS * 1000);
    assert_int_equal(st.live_bytes, N_THREADS * 1000);
    for (int i = 0; i < N_THREADS; i++)
        zz_free(zz_counting_allocator(&c), p[i], 1000, 16);
    st = stats_of(&c);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.peak_bytes, N_THREADS * 1000);
}

static void test_counting_nested(void **state)
{
    (void)state;
    /* A counter around a counter: both see the same traffic. */
    zz_counting inner, outer;
    assert_int_equal(zz_counting_init(&inner, zz_system_allocator()), 0);
    assert_int_equal(zz_counting_init(&outer, zz_counting_allocator(&inner)), 0);
    zz_allocator a = zz_counting_allocator(&outer);
    void *p = zz_alloc(a, 64, 64);
    zz_counting_stats si = stats_of(&inner), so = stats_of(&outer);
    assert_int_equal(si.live_bytes, 64);
    assert_int_equal(so.live_bytes, 64);
    zz_free(a, p, 64, 64);
    si = stats_of(&inner);
    so = stats_of(&outer);
    assert_int_equal(si.frees, 1);
    assert_int_equal(so.frees, 1);
    assert_int_equal(si.live_bytes, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_counting_init_rejects),
    cmocka_unit_test(test_counting_init_zeroes),
    cmocka_unit_test(test_counting_conformance),
    cmocka_unit_test(test_counting_exact_totals),
    cmocka_unit_test(test_counting_size_zero_not_counted),
    cmocka_unit_test(test_counting_bad_align_is_failure),
    cmocka_unit_test(test_counting_inner_failures),
    cmocka_unit_test(test_failing_check_all_driver),
    cmocka_unit_test(test_failing_conformance),
    cmocka_unit_test(test_counting_threads_exact),
    cmocka_unit_test(test_counting_peak_across_threads),
    cmocka_unit_test(test_counting_nested),
};

ZZ_TEST_MAIN(tests)
