/* SPDX-License-Identifier: MIT */
/*
 * Strict capacity across threads: blocks resting in the cache of a thread
 * that has gone idle (alive, blocked) must still be handed out to another
 * thread; a pool that only looks at the shared list returns NULL early.
 * Each test ends with conservation: exactly `capacity` distinct blocks can
 * be allocated, then NULL.
 *
 * Threads never call cmocka asserts; CHECK counts and prints failures,
 * which the main thread asserts to be zero. Every wait is bounded, so a
 * broken pool fails a test instead of hanging it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "pool_checks.h"
#include "thread_checks.h"
#include "zigzag.h"

/* ===================================================================== */
/* Strict capacity with idle threads holding caches                       */
/* ===================================================================== */

struct holder {
    struct strict *s;
    int id;
};

struct strict {
    zz_pool *pool;
    size_t capacity;
    int holders;
    bool shuffle;
    bool bulk;
    struct gate turn;    /* holder i runs when turn == i; == holders when all idle */
    struct gate release; /* 1: holders may exit */
    struct gate b_done;
    struct holder h[4];
};

/* Allocates its share, frees it (its cache keeps some), then idles alive. */
static void *holder_main(void *arg)
{
    struct holder *h = arg;
    struct strict *s = h->s;
    size_t share = s->capacity / (size_t)s->holders;
    void **p = malloc(share * sizeof(*p));
    CHECK(p != NULL);
    CHECK(gate_wait(&s->turn, h->id));
    uint64_t rng = 0x1234567ull + (uint64_t)h->id;
    size_t got = 0;
    for (size_t i = 0; i < share; i++) {
        p[got] = zz_pool_alloc(s->pool);
        got += p[got] != NULL;
    }
    CHECK(got == share);
    if (s->shuffle)
        for (size_t i = got; i > 1; i--) {
            size_t j = (size_t)(xorshift(&rng) % i);
            void *t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
    for (size_t i = 0; i < got; i++)
        CHECK(zz_pool_free(s->pool, p[i]) == 0);
    free(p);
    gate_add(&s->turn, 1);
    CHECK(gate_wait(&s->release, 1)); /* idle, alive, cache untouched */
    return NULL;
}

/* Thread B: must get every block although the holders' caches hold some. */
static void *taker_main(void *arg)
{
    struct strict *s = arg;
    size_t cap = s->capacity;
    void **p = malloc((cap + 1) * sizeof(*p));
    CHECK(p != NULL);
    CHECK(gate_wait(&s->turn, s->holders));
    zz_pool_stats st;
    for (int round = 0; round < 2; round++) {
        bool bulk = s->bulk != (round == 1);
        size_t n;
        if (bulk) {
            int rc = zz_pool_alloc_bulk(s->pool, p, cap);
            CHECK(rc == 0);
            n = rc == 0 ? cap : 0;
            p[n] = zz_pool_alloc(s->pool);
            CHECK(p[n] == NULL);
        } else {
            n = drain(s->pool, p, cap);
            CHECK(n == cap);
        }
        void *extra = NULL;
        CHECK(zz_pool_alloc_bulk(s->pool, &extra, 1) == ZZ_ENOMEM);
        CHECK(distinct_owned(s->pool, p, n));
        zz_pool_stats_get(s->pool, &st);
        CHECK(st.in_use == n);
        CHECK(st.peak_in_use == cap);
        CHECK(zz_pool_free_bulk(s->pool, p, n) == 0);
        zz_pool_stats_get(s->pool, &st);
        CHECK(st.in_use == 0);
    }
    free(p);
    gate_add(&s->b_done, 1);
    return NULL;
}

static void run_strict(size_t capacity, size_t thread_cache, int holders, bool shuffle, bool bulk)
{
    reset_errors();
    struct strict *s = calloc(1, sizeof(*s)); /* on the heap: threads outlive a failed assert */
    assert_non_null(s);
    *s =
        (struct strict){.capacity = capacity, .holders = holders, .shuffle = shuffle, .bulk = bulk};
    s->pool = make(64, capacity, 0, thread_cache);
    zz_pool_stats st;
    zz_pool_stats_get(s->pool, &st);
    assert_true(st.thread_cache > 0);
    gate_init(&s->turn);
    gate_init(&s->release);
    gate_init(&s->b_done);
    pthread_t ht[4], bt;
    assert_true(holders <= 4);
    for (int i = 0; i < holders; i++) {
        s->h[i] = (struct holder){s, i};
        assert_int_equal(pthread_create(&ht[i], NULL, holder_main, &s->h[i]), 0);
    }
    assert_int_equal(pthread_create(&bt, NULL, taker_main, s), 0);
    assert_true(gate_wait(&s->b_done, 1));
    assert_int_equal(pthread_join(bt, NULL), 0);
    /* Holders still alive and idle: the main thread gets every block too. */
    assert_int_equal(in_use_of(s->pool), 0);
    assert_exact_capacity(s->pool, capacity);
    gate_add(&s->release, 1);
    for (int i = 0; i < holders; i++)
        assert_int_equal(pthread_join(ht[i], NULL), 0);
    /* And once they have exited. */
    assert_exact_capacity(s->pool, capacity);
    assert_no_errors();
    gate_destroy(&s->turn);
    gate_destroy(&s->release);
    gate_destroy(&s->b_done);
    zz_pool_destroy(s->pool);
    free(s);
}

/* The test: 64 blocks, caches of 16, one idle thread. */
static void test_strict_capacity_idle_cache(void **state)
{
    (void)state;
    run_strict(64, 16, 1, false, false);
}

static void test_strict_capacity_shuffled_frees(void **state)
{
    (void)state;
    run_strict(64, 16, 1, true, false);
}

static void test_strict_capacity_two_idle(void **state)
{
    (void)state;
    run_strict(64, 16, 2, false, false);
    run_strict(64, 16, 2, true, false);
}

static void test_strict_capacity_bulk(void **state)
{
    (void)state;
    run_strict(64, 16, 1, false, true);
    run_strict(64, 16, 2, true, true);
    run_strict(64, 64, 4, true, true); /* caches as large as the pool */
}

/* 4096 blocks, default caches, four threads that churn then sit idle: a
 * fifth thread gets every block. */
struct churn {
    zz_pool *pool;
    struct gate idle;
    struct gate release;
    struct gate fifth_done;
    long iters;
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    enum { HOLD = 800 };
    void **p = malloc(HOLD * sizeof(*p));
    CHECK(p != NULL);
    uint64_t rng = (uint64_t)(uintptr_t)&rng | 1;
    size_t n = 0;
    for (long it = 0; it < c->iters; it++) {
        uint64_t r = xorshift(&rng);
        if ((r & 1) && n < HOLD) {
            p[n] = zz_pool_alloc(c->pool);
            CHECK(p[n] != NULL); /* 4 * (800 + caches) < 4096: never empty */
            n += p[n] != NULL;
        } else if (n > 0) {
            size_t k = (size_t)((r >> 8) % n);
            CHECK(zz_pool_free(c->pool, p[k]) == 0);
            p[k] = p[--n];
        }
    }
    for (size_t i = 0; i < n; i++)
        CHECK(zz_pool_free(c->pool, p[i]) == 0);
    free(p);
    gate_add(&c->idle, 1);
    CHECK(gate_wait(&c->release, 1));
    return NULL;
}

static void *fifth_main(void *arg)
{
    struct churn *c = arg;
    enum { CAP = 4096 };
    void **p = malloc((CAP + 1) * sizeof(*p));
    CHECK(p != NULL);
    size_t n = drain(c->pool, p, CAP);
    CHECK(n == CAP);
    CHECK(distinct_owned(c->pool, p, n));
    CHECK(in_use_of(c->pool) == n);
    CHECK(zz_pool_free_bulk(c->pool, p, n) == 0);
    CHECK(zz_pool_alloc_bulk(c->pool, p, CAP) == 0);
    CHECK(zz_pool_free_bulk(c->pool, p, CAP) == 0);
    free(p);
    gate_add(&c->fifth_done, 1);
    return NULL;
}

static void test_strict_capacity_4096_default_cache(void **state)
{
    (void)state;
    reset_errors();
    struct churn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->iters = scaled(4000000, 40000);
    c->pool = make(32, 4096, 0, 0);
    zz_pool_stats st;
    zz_pool_stats_get(c->pool, &st);
    assert_int_equal(st.thread_cache, 64);
    gate_init(&c->idle);
    gate_init(&c->release);
    gate_init(&c->fifth_done);
    pthread_t t[4], fifth;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_main, c), 0);
    assert_true(gate_wait(&c->idle, 4));
    zz_pool_stats_get(c->pool, &st);
    assert_int_equal(st.in_use, 0);
    print_message("4 idle threads cache %zu blocks\n", st.cached);
    assert_int_equal(pthread_create(&fifth, NULL, fifth_main, c), 0);
    assert_true(gate_wait(&c->fifth_done, 1));
    assert_int_equal(pthread_join(fifth, NULL), 0);
    gate_add(&c->release, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_exact_capacity(c->pool, 4096);
    assert_no_errors();
    gate_destroy(&c->idle);
    gate_destroy(&c->release);
    gate_destroy(&c->fifth_done);
    zz_pool_destroy(c->pool);
    free(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_strict_capacity_idle_cache),
    cmocka_unit_test(test_strict_capacity_shuffled_frees),
    cmocka_unit_test(test_strict_capacity_two_idle),
    cmocka_unit_test(test_strict_capacity_bulk),
    cmocka_unit_test(test_strict_capacity_4096_default_cache),
};

ZZ_TEST_MAIN(tests)
