/* SPDX-License-Identifier: MIT */
/*
 * Statistics across threads that take turns: in_use and peak_in_use must be
 * exact whenever no operation is in flight, even when every thread keeps a
 * cache and blocks are freed by other threads than the ones that took them.
 *
 * Worker threads stay alive between their turns (idle, with whatever their
 * caches hold), and each turn runs alone: the main thread hands a worker
 * one step (allocate k, or free k of the live blocks, whoever took them)
 * and waits until it is done, then checks the statistics against the true
 * count. The peak is the subtle one: a thread that frees leaves headroom
 * under the peak, and if a second thread then used that headroom while the
 * first still counted on it, the first could later climb past the peak
 * without anybody looking (cache.h explains the bookkeeping).
 */
#include <pthread.h>
#include <stdlib.h>

#include "pool_checks.h"
#include "test_main.h"
#include "zigzag.h"

#define WORKERS 3
#define STEPS 3000

struct turns {
    zz_pool *pool;
    void **live; /* every block in use, whoever took it */
    size_t nlive, capacity;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int turn;    /* the worker whose turn it is, or -1 */
    int next_id; /* workers: the next one started takes this number */
    int quit;    /* workers: leave */
    long kind;   /* the step: > 0 allocate that many, < 0 free that many */
    int failed;  /* a step went wrong in a worker (no asserts there) */
};

/* One step, on the calling thread: allocate or free k blocks. */
static int run_step(struct turns *t, long kind)
{
    if (kind > 0) {
        for (long i = 0; i < kind; i++) {
            void *p = zz_pool_alloc(t->pool);
            if (p == NULL)
                return t->nlive == t->capacity ? 0 : -1;
            t->live[t->nlive++] = p;
        }
        return 0;
    }
    for (long i = 0; i < -kind && t->nlive > 0; i++) {
        /* Any live block: often one another thread took. */
        size_t k = (size_t)rand() % t->nlive;
        if (zz_pool_free(t->pool, t->live[k]) != 0)
            return -1;
        t->live[k] = t->live[--t->nlive];
    }
    return 0;
}

static void *worker(void *arg)
{
    struct turns *t = arg;
    pthread_mutex_lock(&t->lock);
    int id = t->next_id++;
    for (;;) {
        while (t->turn != id && !t->quit)
            pthread_cond_wait(&t->changed, &t->lock);
        if (t->quit)
            break;
        t->failed |= run_step(t, t->kind) != 0;
        t->turn = -1;
        pthread_cond_broadcast(&t->changed);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Runs one step on worker `who` (WORKERS: the main thread) and waits for it. */
static void take_turn(struct turns *t, int who, long kind)
{
    pthread_mutex_lock(&t->lock);
    if (who == WORKERS) {
        t->failed |= run_step(t, kind) != 0;
    } else {
        t->kind = kind;
        t->turn = who;
        pthread_cond_broadcast(&t->changed);
        while (t->turn != -1)
            pthread_cond_wait(&t->changed, &t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

static void check_turns(size_t capacity, size_t thread_cache, unsigned seed)
{
    struct turns t = {.capacity = capacity, .turn = -1};
    t.pool = zz_test_pool_make(64, 16, capacity, 0, thread_cache);
    t.live = malloc(capacity * sizeof(*t.live));
    assert_non_null(t.live);
    pthread_mutex_init(&t.lock, NULL);
    pthread_cond_init(&t.changed, NULL);
    pthread_t tid[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, worker, &t), 0);
    srand(seed);
    size_t peak = 0;
    zz_pool_stats st = {0};
    /* Checked after the workers are gone, so that a failure ends the test
     * instead of leaving them waiting on this frame. */
    int step;
    for (step = 0; step < STEPS; step++) {
        int who = rand() % (WORKERS + 1);
        long k = 1 + rand() % 24;
        /* Drift up and down in waves, so that the peak is passed again and
         * again by different threads. */
        bool up = (step / 200) % 2 == 0 ? rand() % 3 != 0 : rand() % 3 == 0;
        take_turn(&t, who, up ? k : -k);
        peak = t.nlive > peak ? t.nlive : peak;
        st = zz_test_stats(t.pool);
        if (t.failed || st.in_use != t.nlive || st.peak_in_use != peak)
            break;
    }
    pthread_mutex_lock(&t.lock);
    t.quit = 1;
    pthread_cond_broadcast(&t.changed);
    pthread_mutex_unlock(&t.lock);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(tid[i], NULL);
    if (step < STEPS)
        print_message("step %d of %d: in_use %zu, peak %zu; true %zu, %zu\n", step, STEPS,
                      st.in_use, st.peak_in_use, t.nlive, peak);
    assert_false(t.failed);
    assert_int_equal(st.in_use, t.nlive);
    assert_int_equal(st.peak_in_use, peak);
    assert_int_equal(zz_pool_free_bulk(t.pool, t.live, t.nlive), 0);
    assert_int_equal(zz_test_stats(t.pool).peak_in_use, peak);
    zz_pool_destroy(t.pool);
    pthread_cond_destroy(&t.changed);
    pthread_mutex_destroy(&t.lock);
    free(t.live);
}

static void test_turns_default_cache(void **state)
{
    (void)state;
    check_turns(4096, 0, 1);
}

static void test_turns_small_cache(void **state)
{
    (void)state;
    check_turns(256, 8, 2);
}

/* The pool runs full now and then: frees that find it full, reclaims. */
static void test_turns_full_pool(void **state)
{
    (void)state;
    check_turns(96, 16, 3);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_turns_default_cache),
    cmocka_unit_test(test_turns_small_cache),
    cmocka_unit_test(test_turns_full_pool),
};

ZZ_TEST_MAIN(tests)
