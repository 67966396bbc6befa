/* SPDX-License-Identifier: MIT */
/*
 * The list's retry paths: a pop, a push or a batch pop whose CAS loses to
 * another thread backs off, looks at the head again and finishes, taking a
 * block nobody else holds and losing none. Built over the interleaving pool
 * (ZZ_TEST_INTERLEAVE), whose hook runs an action of the test at the first
 * point the operation reaches, between its load of the head and its CAS.
 * The action has a second thread run whole operations on the same list
 * there, so the CAS fails every time, not by luck, and the hook's count of
 * the points this thread passed shows the retry.
 */
#include <pthread.h>
#include <sched.h>

#include "platform/atomic.h"
#include "pool_checks.h"
#include "test_main.h"
#include "zigzag.h"

extern _Thread_local void (*zz__test_interleave_action)(void);
extern _Thread_local unsigned long zz__test_interleave_points;

enum { CAPACITY = 8, CACHED_CAPACITY = 64, CACHE = 4 };

/* A second thread that runs one job at a time for the main thread, which
 * waits for it: its operations land inside the main thread's. */
static struct {
    zz_pool *pool;
    void (*_Atomic job)(void);
    atomic_bool quit;
    void *a, *b;
    int rc;
} other;

static void *other_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&other.quit, memory_order_seq_cst)) {
        void (*job)(void) = atomic_load_explicit(&other.job, memory_order_seq_cst);
        if (job == NULL) {
            sched_yield();
            continue;
        }
        job();
        atomic_store_explicit(&other.job, NULL, memory_order_seq_cst);
    }
    return NULL;
}

/* Runs job on the other thread and waits until it is done. */
static void on_other_thread(void (*job)(void))
{
    atomic_store_explicit(&other.job, job, memory_order_seq_cst);
    while (atomic_load_explicit(&other.job, memory_order_seq_cst) != NULL)
        sched_yield();
}

/* The job the next interleave point of this thread runs on the other one. */
static void (*point_job)(void);

static void run_point_job_there(void)
{
    on_other_thread(point_job);
}

/* Has the other thread run job at this thread's next interleave point. */
static void at_next_point_run_there(void (*job)(void))
{
    point_job = job;
    zz__test_interleave_action = run_point_job_there;
}

static pthread_t start_other(zz_pool *pool)
{
    pthread_t t;
    other.pool = pool;
    other.a = other.b = NULL;
    other.rc = 0;
    atomic_store_explicit(&other.quit, false, memory_order_seq_cst);
    assert_int_equal(pthread_create(&t, NULL, other_main, NULL), 0);
    return t;
}

static void stop_other(pthread_t t)
{
    atomic_store_explicit(&other.quit, true, memory_order_seq_cst);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* Frees the n blocks of ptrs, the other thread's too (any thread may
 * free), then lets the other thread go. */
static void free_all_and_stop_other(zz_pool *pool, pthread_t t, void *const *ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zz_pool_free(pool, ptrs[i]), 0);
    stop_other(t);
}

/* Fails unless every block is free and exactly `capacity` can be taken. */
static void assert_all_free(zz_pool *pool, size_t capacity)
{
    zz_test_assert_valid(pool);
    assert_int_equal(zz_test_stats(pool).in_use, 0);
    void *p[CACHED_CAPACITY];
    for (size_t i = 0; i < capacity; i++)
        assert_non_null(p[i] = zz_pool_alloc(pool));
    assert_null(zz_pool_alloc(pool));
    zz_test_assert_distinct_owned(pool, p, capacity);
    for (size_t i = 0; i < capacity; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
}

/* The ABA case: takes the top two blocks and gives back the first, so the
 * head's index is what the main thread loaded, but the block under it is
 * not. */
static void take_two_give_one(void)
{
    other.a = zz_pool_alloc(other.pool);
    other.b = zz_pool_alloc(other.pool);
    other.rc = zz_pool_free(other.pool, other.a);
}

static void test_pop_that_loses_to_aba_retries(void **state)
{
    (void)state;
    zz_pool *pool = zz_test_pool_make(64, 0, CAPACITY, ZZ_POOL_NO_CACHE, 0);
    pthread_t t = start_other(pool);
    at_next_point_run_there(take_two_give_one);
    unsigned long points = zz__test_interleave_points;
    void *mine = zz_pool_alloc(pool);
    /* Loaded (a, tag), CAS failed on (a, tag + 2), tried again. */
    assert_true(zz__test_interleave_points - points >= 2);
    assert_int_equal(other.rc, 0);
    assert_non_null(other.a);
    assert_non_null(other.b);
    /* A stale CAS would have made b, still held there, the new top. */
    assert_ptr_equal(mine, other.a);
    assert_ptr_not_equal(mine, other.b);
    assert_int_equal(zz_test_stats(pool).in_use, 2);
    zz_test_assert_valid(pool);
    void *next = zz_pool_alloc(pool);
    assert_non_null(next);
    assert_ptr_not_equal(next, other.b);
    free_all_and_stop_other(pool, t, (void *[]){next, mine, other.b}, 3);
    assert_all_free(pool, CAPACITY);
    zz_pool_destroy(pool);
}

static void take_one(void)
{
    other.a = zz_pool_alloc(other.pool);
}

static void test_push_that_loses_retries(void **state)
{
    (void)state;
    zz_pool *pool = zz_test_pool_make(64, 0, CAPACITY, ZZ_POOL_NO_CACHE, 0);
    pthread_t t = start_other(pool);
    void *mine = zz_pool_alloc(pool);
    assert_non_null(mine);
    at_next_point_run_there(take_one);
    unsigned long points = zz__test_interleave_points;
    /* Linked to the head it loaded, which the other thread then took. */
    assert_int_equal(zz_pool_free(pool, mine), 0);
    assert_true(zz__test_interleave_points - points >= 2);
    assert_non_null(other.a);
    assert_ptr_not_equal(other.a, mine);
    assert_int_equal(zz_test_stats(pool).in_use, 1);
    zz_test_assert_valid(pool);
    /* On top now, and linked past the block the other thread holds. */
    void *again = zz_pool_alloc(pool);
    void *after = zz_pool_alloc(pool);
    assert_ptr_equal(again, mine);
    assert_non_null(after);
    assert_ptr_not_equal(after, other.a);
    free_all_and_stop_other(pool, t, (void *[]){after, again, other.a}, 3);
    assert_all_free(pool, CAPACITY);
    zz_pool_destroy(pool);
}

/* With caches: the main thread's first allocation refills its cache with
 * a batch pop, and the other thread refills its own in the middle. */
static void test_batch_pop_that_loses_retries(void **state)
{
    (void)state;
    /* The points a first allocation passes when nothing gets in its way:
     * the action must land in the batch pop, and add a try to it. */
    zz_pool *quiet = zz_test_pool_make(64, 0, CACHED_CAPACITY, 0, CACHE);
    unsigned long points = zz__test_interleave_points;
    void *q = zz_pool_alloc(quiet);
    unsigned long usual = zz__test_interleave_points - points;
    assert_non_null(q);
    assert_int_equal(zz_pool_free(quiet, q), 0);
    zz_pool_destroy(quiet);

    zz_pool *pool = zz_test_pool_make(64, 0, CACHED_CAPACITY, 0, CACHE);
    pthread_t t = start_other(pool);
    at_next_point_run_there(take_one);
    points = zz__test_interleave_points;
    void *mine = zz_pool_alloc(pool);
    assert_true(zz__test_interleave_points - points >= usual + 1);
    assert_non_null(mine);
    assert_non_null(other.a);
    assert_ptr_not_equal(mine, other.a);
    /* Both caches hold the rest of their batches, each its own. */
    void *more[CACHE];
    for (size_t i = 0; i < CACHE; i++)
        assert_non_null(more[i] = zz_pool_alloc(pool));
    void *all[CACHE + 2] = {mine, other.a};
    for (size_t i = 0; i < CACHE; i++)
        all[i + 2] = more[i];
    zz_test_assert_distinct_owned(pool, all, CACHE + 2);
    /* The other thread's cache goes back when it exits. */
    free_all_and_stop_other(pool, t, all, CACHE + 2);
    assert_int_equal(zz_pool_flush(pool), 0);
    assert_all_free(pool, CACHED_CAPACITY);
    zz_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pop_that_loses_to_aba_retries),
    cmocka_unit_test(test_push_that_loses_retries),
    cmocka_unit_test(test_batch_pop_that_loses_retries),
};

ZZ_TEST_MAIN(tests)
