/* SPDX-License-Identifier: MIT */
/*
 * Per-thread caches under traffic between threads: frees from another
 * thread than the allocating one (a producer and a consumer over a ring),
 * more threads than ZZ_POOL_MAX_CACHED_THREADS, a mixed stress with bulk
 * calls and flushes, and threads racing for the fresh run. Each is checked
 * with an owner table (a block held by two threads at once is caught at
 * once) and by conservation at the end (exactly `capacity` blocks can be
 * allocated, then NULL).
 *
 * Threads never call cmocka asserts; CHECK counts and prints failures,
 * which the main thread asserts to be zero. Every wait is bounded, so a
 * broken pool fails a test instead of hanging it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "platform/atomic.h"
#include "pool_checks.h"
#include "thread_checks.h"
#include "zigzag.h"

/* ===================================================================== */
/* Cross-thread frees: a producer and a consumer over an SPSC ring         */
/* ===================================================================== */

enum { RING = 256 };

struct pipeline {
    zz_pool *pool;
    struct owners own;
    size_t stride;
    long count;
    bool null_is_error;  /* the pool is much larger than all that can be in flight */
    _Atomic size_t head; /* next slot the consumer reads */
    _Atomic size_t tail; /* next slot the producer writes */
    void *slot[RING];
    _Atomic long nulls;
};

static void ring_push(struct pipeline *pl, void *p)
{
    size_t tail = atomic_load_explicit(&pl->tail, memory_order_relaxed);
    double deadline = 0;
    while (tail - atomic_load_explicit(&pl->head, memory_order_acquire) == RING) {
        if (deadline == 0)
            deadline = now_s() + WAIT_S;
        else if (now_s() > deadline) {
            CHECK(!"consumer stalled");
            return;
        }
        sched_yield();
    }
    pl->slot[tail % RING] = p;
    atomic_store_explicit(&pl->tail, tail + 1, memory_order_release);
}

static void *ring_pop(struct pipeline *pl)
{
    size_t head = atomic_load_explicit(&pl->head, memory_order_relaxed);
    double deadline = 0;
    while (atomic_load_explicit(&pl->tail, memory_order_acquire) == head) {
        if (deadline == 0)
            deadline = now_s() + WAIT_S;
        else if (now_s() > deadline) {
            CHECK(!"producer stalled");
            return NULL;
        }
        sched_yield();
    }
    void *p = pl->slot[head % RING];
    atomic_store_explicit(&pl->head, head + 1, memory_order_release);
    return p;
}

static void *producer_main(void *arg)
{
    struct pipeline *pl = arg;
    uint64_t rng = 77;
    double stuck_since = 0;
    for (long i = 0; i < pl->count;) {
        void *batch[8];
        size_t k = 1;
        if (xorshift(&rng) % 16 == 0) {
            k = 1 + (size_t)(xorshift(&rng) % 8);
            k = (long)k <= pl->count - i ? k : (size_t)(pl->count - i);
            if (zz_pool_alloc_bulk(pl->pool, batch, k) != 0)
                k = 0;
        } else {
            batch[0] = zz_pool_alloc(pl->pool);
            k = batch[0] != NULL;
        }
        if (k == 0) {
            atomic_fetch_add_explicit(&pl->nulls, 1, memory_order_relaxed);
            if (pl->null_is_error)
                CHECK(!"alloc failed with most of the pool free");
            if (stuck_since == 0)
                stuck_since = now_s();
            else if (now_s() - stuck_since > WAIT_S) {
                CHECK(!"pool stayed empty while the consumer freed");
                break;
            }
            sched_yield();
            continue;
        }
        stuck_since = 0;
        for (size_t j = 0; j < k; j++, i++) {
            claim(&pl->own, batch[j], 0);
            stamp_put(batch[j], 0, (uint64_t)i, pl->stride);
            ring_push(pl, batch[j]);
        }
    }
    ring_push(pl, NULL); /* end of stream */
    return NULL;
}

static void *consumer_main(void *arg)
{
    struct pipeline *pl = arg;
    uint64_t rng = 99;
    void *batch[8];
    size_t nb = 0, want = 1;
    for (uint64_t expect = 0;; expect++) {
        void *p = ring_pop(pl);
        if (p == NULL) {
            CHECK(expect == (uint64_t)pl->count);
            break;
        }
        CHECK(stamp_ok(p, 0, expect, pl->stride));
        unclaim(&pl->own, p, 0);
        batch[nb++] = p;
        if (nb == want) {
            if (nb == 1)
                CHECK(zz_pool_free(pl->pool, batch[0]) == 0);
            else
                CHECK(zz_pool_free_bulk(pl->pool, batch, nb) == 0);
            nb = 0;
            want = xorshift(&rng) % 16 == 0 ? 1 + (size_t)(xorshift(&rng) % 8) : 1;
        }
    }
    if (nb > 0)
        CHECK(zz_pool_free_bulk(pl->pool, batch, nb) == 0);
    return NULL;
}

static void run_pipeline(size_t capacity, size_t thread_cache, unsigned flags, long count,
                         bool null_is_error)
{
    reset_errors();
    struct pipeline *pl = calloc(1, sizeof(*pl));
    assert_non_null(pl);
    pl->pool = make(64, capacity, flags, thread_cache);
    owners_init(&pl->own, pl->pool);
    pl->stride = pl->own.l.stride;
    pl->count = count;
    pl->null_is_error = null_is_error;
    pthread_t prod, cons;
    double t0 = now_s();
    assert_int_equal(pthread_create(&cons, NULL, consumer_main, pl), 0);
    assert_int_equal(pthread_create(&prod, NULL, producer_main, pl), 0);
    assert_int_equal(pthread_join(prod, NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);
    print_message("pipeline cap %zu cache %zu: %ld objects in %.2f s, %ld empty allocs\n", capacity,
                  thread_cache, count, now_s() - t0,
                  atomic_load_explicit(&pl->nulls, memory_order_relaxed));
    assert_no_errors();
    assert_int_equal(in_use_of(pl->pool), 0);
    assert_exact_capacity(pl->pool, capacity);
    zz_pool_destroy(pl->pool);
    free(pl->own.owner);
    free(pl);
}

static void test_cross_thread_frees(void **state)
{
    (void)state;
    long n = stress_iters(10000000, 100000);
    run_pipeline(1024, 64, 0, n, true);
    run_pipeline(1024, 64, ZZ_POOL_CHECKED, n / 4, true);
}

/* A pool smaller than the ring: the producer keeps running dry and must
 * take back what the consumer's cache holds. */
static void test_cross_thread_frees_small_pool(void **state)
{
    (void)state;
    long n = stress_iters(5000000, 50000);
    run_pipeline(64, 16, 0, n, false);
    run_pipeline(64, 32, ZZ_POOL_CHECKED, n / 4, false);
}

/* ===================================================================== */
/* More threads than ZZ_POOL_MAX_CACHED_THREADS, all alive at once        */
/* ===================================================================== */

enum { CROWD = 80, CROWD_CAP = 1024, CROWD_HOLD = 8 };

struct crowd {
    zz_pool *pool;
    struct owners own;
    long iters;
    struct gate started, go, arrived, release;
    _Atomic long nulls;
    struct crowd_worker {
        struct crowd *c;
        uint32_t id;
    } w[CROWD];
};

static void crowd_give(struct crowd *c, uint32_t id, void *p, uint64_t seq)
{
    CHECK(stamp_ok(p, id, seq, c->own.l.stride));
    unclaim(&c->own, p, id);
}

static void *crowd_main(void *arg)
{
    struct crowd_worker *w = arg;
    struct crowd *c = w->c;
    void *held[CROWD_HOLD];
    uint64_t seqs[CROWD_HOLD], seq = 0;
    size_t n = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull * (w->id + 1);
    gate_add(&c->started, 1);
    CHECK(gate_wait(&c->go, 1));
    for (long it = 0; it < c->iters; it++) {
        uint64_t r = xorshift(&rng);
        if (r % 32 == 0 && n + 4 <= CROWD_HOLD) {
            void *b[4];
            int rc = zz_pool_alloc_bulk(c->pool, b, 4);
            CHECK(rc == 0); /* 80 * 8 < 1024 */
            if (rc != 0)
                continue;
            for (int j = 0; j < 4; j++) {
                claim(&c->own, b[j], w->id);
                seqs[n] = ++seq;
                stamp_put(b[j], w->id, seq, c->own.l.stride);
                held[n++] = b[j];
            }
        } else if (r % 32 == 1 && n >= 2) {
            for (size_t j = n - 2; j < n; j++)
                crowd_give(c, w->id, held[j], seqs[j]);
            CHECK(zz_pool_free_bulk(c->pool, held + n - 2, 2) == 0);
            n -= 2;
        } else if (r % 64 == 2) {
            CHECK(zz_pool_flush(c->pool) == 0);
        } else if ((r & 256) && n < CROWD_HOLD) {
            void *p = zz_pool_alloc(c->pool);
            if (p == NULL) {
                atomic_fetch_add_explicit(&c->nulls, 1, memory_order_relaxed);
                continue;
            }
            claim(&c->own, p, w->id);
            seqs[n] = ++seq;
            stamp_put(p, w->id, seq, c->own.l.stride);
            held[n++] = p;
        } else if (n > 0) {
            size_t k = (size_t)((r >> 12) % n);
            crowd_give(c, w->id, held[k], seqs[k]);
            CHECK(zz_pool_free(c->pool, held[k]) == 0);
            held[k] = held[--n];
            seqs[k] = seqs[n];
        }
    }
    for (size_t i = 0; i < n; i++) {
        crowd_give(c, w->id, held[i], seqs[i]);
        CHECK(zz_pool_free(c->pool, held[i]) == 0);
    }
    /* Leave something in the cache, then stay alive until released. */
    void *p = zz_pool_alloc(c->pool);
    CHECK(p != NULL);
    CHECK(zz_pool_free(c->pool, p) == 0);
    gate_add(&c->arrived, 1);
    CHECK(gate_wait(&c->release, 1));
    return NULL;
}

static void run_crowd(unsigned flags, size_t thread_cache)
{
    reset_errors();
    struct crowd *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->pool = make(32, CROWD_CAP, flags, thread_cache);
    owners_init(&c->own, c->pool);
    c->iters = stress_iters(200000, 2000);
    gate_init(&c->started);
    gate_init(&c->go);
    gate_init(&c->arrived);
    gate_init(&c->release);
    pthread_t t[CROWD];
    for (int i = 0; i < CROWD; i++) {
        c->w[i] = (struct crowd_worker){c, (uint32_t)i};
        assert_int_equal(pthread_create(&t[i], NULL, crowd_main, &c->w[i]), 0);
    }
    assert_true(gate_wait(&c->started, CROWD));
    gate_add(&c->go, 1);
    assert_true(gate_wait(&c->arrived, CROWD));
    /* 80 threads alive, idle, up to 64 of them with caches. */
    zz_pool_stats st;
    zz_pool_stats_get(c->pool, &st);
    print_message("80 threads: %zu blocks cached, %ld empty allocs\n", st.cached,
                  atomic_load_explicit(&c->nulls, memory_order_relaxed));
    assert_int_equal(st.in_use, 0);
    assert_exact_capacity(c->pool, CROWD_CAP);
    gate_add(&c->release, 1);
    for (int i = 0; i < CROWD; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_no_errors();
    /* The held counts never reached the capacity: an empty pool was wrong. */
    assert_int_equal(atomic_load_explicit(&c->nulls, memory_order_relaxed), 0);
    for (size_t i = 0; i < CROWD_CAP; i++)
        assert_int_equal(atomic_load_explicit(&c->own.owner[i], memory_order_relaxed), 0);
    assert_exact_capacity(c->pool, CROWD_CAP);
    zz_pool_destroy(c->pool);
    free(c->own.owner);
    gate_destroy(&c->started);
    gate_destroy(&c->go);
    gate_destroy(&c->arrived);
    gate_destroy(&c->release);
    free(c);
}

static void test_more_threads_than_cached(void **state)
{
    (void)state;
    run_crowd(0, 16);
    run_crowd(ZZ_POOL_CHECKED, 8);
}

/* ===================================================================== */
/* Mixed stress with caches, bulk calls and flushes                        */
/* ===================================================================== */

enum { MIX_CAP = 1024, MIX_HOLD = 96, MIX_MAX_THREADS = 8 };

struct mixed {
    zz_pool *pool;
    struct owners own;
    long iters;
    _Atomic(void *) mailbox[MIX_MAX_THREADS];
    struct gate go;
    _Atomic long allocs, nulls;
    struct mixed_worker {
        struct mixed *m;
        uint32_t id;
        int threads;
    } w[MIX_MAX_THREADS];
};

/* Blocks passed through a mailbox carry their last holder in the stamp. */
static void mixed_release_any(struct mixed *m, void *p)
{
    struct stamp s;
    memcpy(&s, p, sizeof(s));
    CHECK(s.check == (s.thread ^ 0xa5a5a5a5u));
    CHECK(((unsigned char *)p)[m->own.l.stride - 1] == (unsigned char)s.seq);
    unclaim(&m->own, p, s.thread);
    CHECK(zz_pool_free(m->pool, p) == 0);
}

static void *mixed_main(void *arg)
{
    struct mixed_worker *w = arg;
    struct mixed *m = w->m;
    size_t stride = m->own.l.stride;
    void *held[MIX_HOLD];
    uint64_t seqs[MIX_HOLD], seq = 0;
    size_t n = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (w->id + 7);
    CHECK(gate_wait(&m->go, 1));
    for (long it = 0; it < m->iters; it++) {
        uint64_t r = xorshift(&rng);
        unsigned op = (unsigned)(r % 64);
        if (op == 0) {
            CHECK(zz_pool_flush(m->pool) == 0);
        } else if (op < 5) {
            /* Hand a block to the next thread; free what waits in ours. */
            void *mine = atomic_exchange_explicit(&m->mailbox[w->id], NULL, memory_order_acq_rel);
            if (mine != NULL)
                mixed_release_any(m, mine);
            if (n > 0) {
                void *p = held[--n];
                void *old = atomic_exchange_explicit(
                    &m->mailbox[(w->id + 1) % (uint32_t)w->threads], p, memory_order_acq_rel);
                if (old != NULL)
                    mixed_release_any(m, old);
            }
        } else if (op < 9) {
            size_t k = 1 + (size_t)((r >> 8) % 16);
            if (n + k > MIX_HOLD)
                continue;
            int rc = zz_pool_alloc_bulk(m->pool, held + n, k);
            if (rc != 0) {
                CHECK(rc == ZZ_ENOMEM);
                atomic_fetch_add_explicit(&m->nulls, 1, memory_order_relaxed);
                continue;
            }
            atomic_fetch_add_explicit(&m->allocs, (long)k, memory_order_relaxed);
            for (size_t j = 0; j < k; j++, n++) {
                claim(&m->own, held[n], w->id);
                seqs[n] = ++seq;
                stamp_put(held[n], w->id, seq, stride);
            }
        } else if (op < 13) {
            size_t k = 1 + (size_t)((r >> 8) % 16);
            k = k < n ? k : n;
            for (size_t j = n - k; j < n; j++) {
                CHECK(stamp_ok(held[j], w->id, seqs[j], stride));
                unclaim(&m->own, held[j], w->id);
            }
            CHECK(zz_pool_free_bulk(m->pool, held + n - k, k) == 0);
            n -= k;
        } else if ((r & (1u << 20)) && n < MIX_HOLD) {
            void *p = zz_pool_alloc(m->pool);
            if (p == NULL) {
                atomic_fetch_add_explicit(&m->nulls, 1, memory_order_relaxed);
                continue;
            }
            atomic_fetch_add_explicit(&m->allocs, 1, memory_order_relaxed);
            claim(&m->own, p, w->id);
            seqs[n] = ++seq;
            stamp_put(p, w->id, seq, stride);
            held[n++] = p;
        } else if (n > 0) {
            size_t k = (size_t)((r >> 24) % n);
            CHECK(stamp_ok(held[k], w->id, seqs[k], stride));
            unclaim(&m->own, held[k], w->id);
            CHECK(zz_pool_free(m->pool, held[k]) == 0);
            held[k] = held[--n];
            seqs[k] = seqs[n];
        }
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(stamp_ok(held[i], w->id, seqs[i], stride));
        unclaim(&m->own, held[i], w->id);
        CHECK(zz_pool_free(m->pool, held[i]) == 0);
    }
    return NULL;
}

static void run_mixed(int threads, size_t thread_cache, unsigned flags)
{
    reset_errors();
    struct mixed *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->pool = make(40, MIX_CAP, flags, thread_cache);
    owners_init(&m->own, m->pool);
    m->iters = stress_iters(16000000 / threads, 40000);
    gate_init(&m->go);
    pthread_t t[MIX_MAX_THREADS];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        m->w[i] = (struct mixed_worker){m, (uint32_t)i, threads};
        assert_int_equal(pthread_create(&t[i], NULL, mixed_main, &m->w[i]), 0);
    }
    gate_add(&m->go, 1);
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < threads; i++) {
        void *p = atomic_exchange_explicit(&m->mailbox[i], NULL, memory_order_acq_rel);
        if (p != NULL)
            mixed_release_any(m, p);
    }
    print_message("%d threads, cache %zu, flags %u: %ld allocs in %.2f s, %ld empty\n", threads,
                  thread_cache, flags, atomic_load_explicit(&m->allocs, memory_order_relaxed),
                  now_s() - t0, atomic_load_explicit(&m->nulls, memory_order_relaxed));
    assert_no_errors();
    /* MIX_HOLD * threads (+ mailboxes) stays below the capacity: never empty. */
    assert_int_equal(atomic_load_explicit(&m->nulls, memory_order_relaxed), 0);
    zz_pool_stats st;
    zz_pool_stats_get(m->pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_true(st.peak_in_use <= MIX_CAP);
    for (size_t i = 0; i < MIX_CAP; i++)
        assert_int_equal(atomic_load_explicit(&m->own.owner[i], memory_order_relaxed), 0);
    assert_exact_capacity(m->pool, MIX_CAP);
    zz_pool_destroy(m->pool);
    free(m->own.owner);
    gate_destroy(&m->go);
    free(m);
}

static void test_mixed_2_threads_cache16(void **state)
{
    (void)state;
    run_mixed(2, 16, 0);
}

static void test_mixed_4_threads_cache64(void **state)
{
    (void)state;
    run_mixed(4, 64, 0);
}

static void test_mixed_8_threads_cache16(void **state)
{
    (void)state;
    run_mixed(8, 16, 0);
}

static void test_mixed_8_threads_cache64_checked(void **state)
{
    (void)state;
    run_mixed(8, 64, ZZ_POOL_CHECKED);
}

/* ===================================================================== */
/* The fresh run: blocks never handed out, taken without reading a link    */
/* ===================================================================== */

enum { FRESH_CAP = 6000, FRESH_THREADS = 4 };

struct fresh {
    zz_pool *pool;
    struct gate go;
    void **got[FRESH_THREADS]; /* FRESH_CAP + 1 entries each */
    size_t n[FRESH_THREADS];
    atomic_int id;
};

/* Drains the pool from the moment the gate opens, while the others do:
 * most of it still fresh. Every third block goes straight back, so that
 * blocks with real links land on top of the fresh run and are taken again
 * among fresh ones. */
static void *fresh_main(void *arg)
{
    struct fresh *f = arg;
    int id = atomic_fetch_add_explicit(&f->id, 1, memory_order_relaxed);
    void **got = f->got[id];
    size_t n = 0;
    uint64_t rng = (uint64_t)id + 11;
    CHECK(gate_wait(&f->go, 1));
    /* A list broken into a cycle never says NULL: bounded. */
    for (long tries = 0; tries < 4L * FRESH_CAP; tries++) {
        void *p = zz_pool_alloc(f->pool);
        if (p == NULL)
            break;
        CHECK(n < FRESH_CAP && tries + 1 < 4L * FRESH_CAP);
        if (n >= FRESH_CAP)
            break;
        got[n++] = p;
        if (xorshift(&rng) % 3 == 0)
            CHECK(zz_pool_free(f->pool, got[--n]) == 0);
    }
    f->n[id] = n;
    return NULL;
}

/* Threads that start together on a fresh pool take its fresh run in
 * overlapping batches (with and without caches): between them they end
 * up with exactly the capacity, every block once. */
static void test_fresh_run_race(void **state)
{
    (void)state;
    static const unsigned flags[] = {0, ZZ_POOL_NO_CACHE};
    long rounds = scaled(300, 30);
    reset_errors();
    void **all = malloc((FRESH_CAP + 1) * sizeof(*all));
    assert_non_null(all);
    for (long r = 0; r < rounds; r++) {
        struct fresh *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->pool = make(64, FRESH_CAP, flags[r % 2], 0);
        gate_init(&f->go);
        pthread_t t[FRESH_THREADS];
        for (int i = 0; i < FRESH_THREADS; i++) {
            f->got[i] = malloc((FRESH_CAP + 1) * sizeof(void *));
            assert_non_null(f->got[i]);
        }
        for (int i = 0; i < FRESH_THREADS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, fresh_main, f), 0);
        gate_add(&f->go, 1);
        for (int i = 0; i < FRESH_THREADS; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        size_t total = 0;
        for (int i = 0; i < FRESH_THREADS; i++) {
            for (size_t k = 0; k < f->n[i] && total <= FRESH_CAP; k++)
                all[total++] = f->got[i][k];
        }
        assert_no_errors();
        /* The last thread to see NULL saw it with nobody else running:
         * every block in use, none left cached or on the list. */
        zz_pool_stats st;
        zz_pool_stats_get(f->pool, &st);
        assert_int_equal(total, FRESH_CAP);
        assert_int_equal(st.in_use, FRESH_CAP);
        assert_int_equal(st.cached, 0);
        assert_true(distinct_owned(f->pool, all, total));
        zz_test_assert_valid(f->pool);
        assert_int_equal(zz_pool_free_bulk(f->pool, all, total), 0);
        assert_exact_capacity(f->pool, FRESH_CAP);
        for (int i = 0; i < FRESH_THREADS; i++)
            free(f->got[i]);
        gate_destroy(&f->go);
        zz_pool_destroy(f->pool);
        free(f);
    }
    free(all);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cross_thread_frees),
    cmocka_unit_test(test_cross_thread_frees_small_pool),
    cmocka_unit_test(test_more_threads_than_cached),
    cmocka_unit_test(test_mixed_2_threads_cache16),
    cmocka_unit_test(test_mixed_4_threads_cache64),
    cmocka_unit_test(test_mixed_8_threads_cache16),
    cmocka_unit_test(test_mixed_8_threads_cache64_checked),
    cmocka_unit_test(test_fresh_run_race),
};

ZZ_TEST_MAIN(tests)
