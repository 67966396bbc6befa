/* SPDX-License-Identifier: MIT */
/*
 * Many threads on one small pool, so that blocks recycle constantly and
 * every interleaving of pops and pushes gets exercised.
 *
 * Exclusivity: an owner table beside the pool is claimed with a CAS when a
 * block is handed out and released before it is freed, so a block handed
 * to two threads at once is caught at once; each thread also stamps every
 * block it holds with its id and a sequence number and checks the stamp
 * before freeing. Conservation: afterwards exactly `capacity` distinct
 * blocks can be allocated, then NULL, and the statistics agree.
 *
 * Threads never call cmocka asserts (they are not thread-safe); they count
 * errors, which the main thread asserts on.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "pool/pool_internal.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

enum { CAPACITY = 64, HOLD = 40, MAX_THREADS = 8 };

/* Iterations per thread; ZZ_STRESS_ITERS overrides, TSan runs fewer. */
static long iterations(void)
{
    const char *env = getenv("ZZ_STRESS_ITERS");
    if (env != NULL)
        return atol(env);
    return ZZ_UNDER_TSAN ? 100000 : 2000000;
}

struct stamp {
    uint32_t thread;
    uint32_t check;
    uint64_t seq;
};

struct shared {
    zz_pool *pool;
    size_t stride;
    unsigned char *base;
    _Atomic uint32_t owner[CAPACITY]; /* 0: free; t + 1: held by thread t */
    _Atomic long errors;
    _Atomic long allocs;
    _Atomic long empty;
    /* Cross-thread hand-off: blocks parked here are freed by whoever takes them. */
    _Atomic(void *) mailbox[MAX_THREADS];
    atomic_bool go;
};

struct worker {
    struct shared *sh;
    uint32_t id;
    long iters;
};

static uint32_t block_index(const struct shared *sh, const void *p)
{
    return (uint32_t)(((const unsigned char *)p - sh->base) / sh->stride);
}

static void take(struct shared *sh, uint32_t id, void *p, uint64_t seq)
{
    uint32_t idx = block_index(sh, p);
    uint32_t expected = 0;
    if (idx >= CAPACITY ||
        !atomic_compare_exchange_strong_explicit(&sh->owner[idx], &expected, id + 1,
                                                 memory_order_relaxed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&sh->errors, 1, memory_order_seq_cst);
        return;
    }
    struct stamp s = {id, id ^ 0x5a5a5a5au, seq};
    memcpy(p, &s, sizeof(s));
    memset((unsigned char *)p + sizeof(s), (int)(seq & 0xff), sh->stride - sizeof(s));
}

static void give_back(struct shared *sh, uint32_t id, void *p, uint64_t seq, bool check_seq)
{
    struct stamp s;
    memcpy(&s, p, sizeof(s));
    uint32_t holder = s.thread;
    if (s.check != (holder ^ 0x5a5a5a5au) || (check_seq && (holder != id || s.seq != seq)))
        atomic_fetch_add_explicit(&sh->errors, 1, memory_order_seq_cst);
    unsigned char fill = ((unsigned char *)p)[sh->stride - 1];
    if (fill != (unsigned char)(s.seq & 0xff))
        atomic_fetch_add_explicit(&sh->errors, 1, memory_order_seq_cst);
    uint32_t idx = block_index(sh, p);
    uint32_t expected = holder + 1;
    if (!atomic_compare_exchange_strong_explicit(&sh->owner[idx], &expected, 0,
                                                 memory_order_relaxed, memory_order_relaxed))
        atomic_fetch_add_explicit(&sh->errors, 1, memory_order_seq_cst);
    if (zz_pool_free(sh->pool, p) != 0)
        atomic_fetch_add_explicit(&sh->errors, 1, memory_order_seq_cst);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    void *held[HOLD];
    uint64_t seqs[HOLD];
    int n = 0;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (w->id + 1);
    uint64_t seq = 0;
    while (!atomic_load_explicit(&sh->go, memory_order_seq_cst))
        sched_yield();
    for (long it = 0; it < w->iters; it++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned r = (unsigned)(rng >> 32);
        if (r % 16 == 0) {
            /* Hand a block to the next thread's mailbox; free what we find in ours. */
            void *mine = atomic_exchange_explicit(&sh->mailbox[w->id], NULL, memory_order_acq_rel);
            if (mine != NULL)
                give_back(sh, w->id, mine, 0, false);
            if (n > 0) {
                void *p = held[--n];
                void *old = atomic_exchange_explicit(&sh->mailbox[(w->id + 1) % MAX_THREADS], p,
                                                     memory_order_acq_rel);
                if (old != NULL)
                    give_back(sh, w->id, old, 0, false);
            }
        } else if (n < HOLD && (r & 1)) {
            void *p = zz_pool_alloc(sh->pool);
            if (p == NULL) {
                atomic_fetch_add_explicit(&sh->empty, 1, memory_order_relaxed);
                continue;
            }
            atomic_fetch_add_explicit(&sh->allocs, 1, memory_order_relaxed);
            seqs[n] = ++seq;
            take(sh, w->id, p, seqs[n]);
            held[n++] = p;
        } else if (n > 0) {
            int k = (int)((r >> 8) % (unsigned)n);
            give_back(sh, w->id, held[k], seqs[k], true);
            held[k] = held[--n];
            seqs[k] = seqs[n];
        }
    }
    while (n > 0) {
        n--;
        give_back(sh, w->id, held[n], seqs[n], true);
    }
    return NULL;
}

static void run_stress(int threads, unsigned flags, size_t size, size_t thread_cache)
{
    struct shared *sh = calloc(1, sizeof(*sh));
    assert_non_null(sh);
    zz_pool_options o = {.size = size,
                         .align = 8,
                         .capacity = CAPACITY,
                         .flags = flags,
                         .thread_cache = thread_cache};
    assert_int_equal(zz_pool_create(&sh->pool, &o), 0);
    zz_pool_stats st;
    zz_pool_stats_get(sh->pool, &st);
    sh->stride = st.block_size;
    /* The lowest block address is the base the owner table is indexed from. */
    void *all[CAPACITY];
    assert_int_equal(zz_pool_alloc_bulk(sh->pool, all, CAPACITY), 0);
    sh->base = all[0];
    for (int i = 1; i < CAPACITY; i++)
        sh->base = (unsigned char *)all[i] < sh->base ? all[i] : sh->base;
    assert_int_equal(zz_pool_free_bulk(sh->pool, all, CAPACITY), 0);
    assert_int_equal(zz_pool_flush(sh->pool), 0);

    pthread_t tid[MAX_THREADS];
    struct worker w[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        w[t] = (struct worker){sh, (uint32_t)t, iterations()};
        assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
    }
    atomic_store_explicit(&sh->go, true, memory_order_seq_cst);
    for (int t = 0; t < threads; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    for (int t = 0; t < MAX_THREADS; t++) {
        void *p = atomic_exchange_explicit(&sh->mailbox[t], NULL, memory_order_acq_rel);
        if (p != NULL)
            give_back(sh, 0, p, 0, false);
    }
    print_message("%d threads, flags %u, stride %zu: %ld allocs, %ld empty pool\n", threads, flags,
                  sh->stride, atomic_load_explicit(&sh->allocs, memory_order_seq_cst),
                  atomic_load_explicit(&sh->empty, memory_order_seq_cst));
    assert_int_equal(atomic_load_explicit(&sh->errors, memory_order_seq_cst), 0);
    assert_true(atomic_load_explicit(&sh->allocs, memory_order_seq_cst) > 0);

    /* Conservation: every block is back, exactly once. */
    zz_pool_stats_get(sh->pool, &st);
    assert_int_equal(st.in_use + st.cached <= CAPACITY, 1);
    assert_int_equal(st.in_use, 0);
    assert_true(st.peak_in_use <= CAPACITY);
    zz_test_assert_valid(sh->pool);
    for (int i = 0; i < CAPACITY; i++) {
        all[i] = zz_pool_alloc(sh->pool);
        assert_non_null(all[i]);
        uint32_t idx = block_index(sh, all[i]);
        assert_true(idx < CAPACITY);
        uint32_t expected = 0;
        assert_true(atomic_compare_exchange_strong_explicit(
            &sh->owner[idx], &expected, 1, memory_order_seq_cst, memory_order_seq_cst));
    }
    assert_null(zz_pool_alloc(sh->pool));
    zz_pool_stats_get(sh->pool, &st);
    assert_int_equal(st.in_use, CAPACITY);
    assert_int_equal(st.peak_in_use, CAPACITY);
    for (int i = 0; i < CAPACITY; i++)
        assert_int_equal(zz_pool_free(sh->pool, all[i]), 0);
    zz_pool_destroy(sh->pool);
    free(sh);
}

static void test_stress_2_threads(void **state)
{
    (void)state;
    run_stress(2, 0, 64, 0);
}

static void test_stress_4_threads(void **state)
{
    (void)state;
    run_stress(4, 0, 24, 0);
}

static void test_stress_8_threads(void **state)
{
    (void)state;
    run_stress(8, 0, 64, 0);
}

static void test_stress_8_threads_checked(void **state)
{
    (void)state;
    run_stress(8, ZZ_POOL_CHECKED, 40, 0);
}

/* The same with thread caches on (a pool this small has none by default):
 * blocks move between caches and the shared list in batches, and
 * exhaustion makes allocations take back other threads' cached blocks. */
static void test_stress_2_threads_cached(void **state)
{
    (void)state;
    run_stress(2, 0, 64, 8);
}

static void test_stress_8_threads_cached(void **state)
{
    (void)state;
    run_stress(8, 0, 64, 4);
}

static void test_stress_8_threads_cached_checked(void **state)
{
    (void)state;
    run_stress(8, ZZ_POOL_CHECKED, 40, 16);
}

/* Two threads free the same block at the same moment: in checked mode
 * exactly one succeeds and the other gets ZZ_EDOUBLEFREE. */
struct racer {
    zz_pool *pool;
    _Atomic(void *) target;
    _Atomic int round;
    _Atomic int done;
    _Atomic long ok, refused, other;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    int seen = 0;
    for (;;) {
        int round;
        while ((round = atomic_load_explicit(&r->round, memory_order_seq_cst)) == seen)
            sched_yield(); /* three spinning threads on two cores: let the others run */
        if (round < 0)
            return NULL;
        seen = round;
        int rc = zz_pool_free(r->pool, atomic_load_explicit(&r->target, memory_order_seq_cst));
        atomic_fetch_add_explicit(rc == 0                ? &r->ok
                                  : rc == ZZ_EDOUBLEFREE ? &r->refused
                                                         : &r->other,
                                  1, memory_order_seq_cst);
        atomic_fetch_add_explicit(&r->done, 1, memory_order_seq_cst);
    }
}

static void test_racing_double_free_checked(void **state)
{
    (void)state;
    struct racer r = {0};
    assert_int_equal(
        zz_pool_create(&r.pool,
                       &(zz_pool_options){.size = 16, .capacity = 8, .flags = ZZ_POOL_CHECKED}),
        0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r), 0);
    int rounds = ZZ_UNDER_TSAN ? 500 : 5000;
    for (int i = 1; i <= rounds; i++) {
        void *p = zz_pool_alloc(r.pool);
        assert_non_null(p);
        atomic_store_explicit(&r.target, p, memory_order_seq_cst);
        atomic_store_explicit(&r.done, 0, memory_order_seq_cst);
        atomic_store_explicit(&r.round, i, memory_order_seq_cst);
        while (atomic_load_explicit(&r.done, memory_order_seq_cst) != 2)
            sched_yield();
        zz_pool_stats st;
        zz_pool_stats_get(r.pool, &st);
        assert_int_equal(st.in_use, 0);
    }
    atomic_store_explicit(&r.round, -1, memory_order_seq_cst);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load_explicit(&r.ok, memory_order_seq_cst), rounds);
    assert_int_equal(atomic_load_explicit(&r.refused, memory_order_seq_cst), rounds);
    assert_int_equal(atomic_load_explicit(&r.other, memory_order_seq_cst), 0);
    zz_test_assert_valid(r.pool);
    zz_pool_destroy(r.pool);
}

/* A bulk allocation is refused only when the pool cannot meet it. Three
 * threads churn blocks through small caches and the shared list while the
 * main thread takes bursts: at most a fifth of the pool is ever in use, so
 * no burst may be refused. The pool used to decide from counters read in
 * an order that, for a reader preempted between two of them, counted the
 * whole pool as in use; the interleaving build makes the reader sleep
 * between them, so that the others run whole operations there. */
#ifdef ZZ_TEST_INTERLEAVE
extern _Thread_local unsigned zz__test_interleave_sleeps;
enum { BURST_ROUNDS_DIVISOR = 2000 };
#else
static _Thread_local unsigned zz__test_interleave_sleeps;
enum { BURST_ROUNDS_DIVISOR = 20 };
#endif

struct churner {
    zz_pool *pool;
    atomic_bool stop;
    _Atomic long errors;
};

static void *churn_main(void *arg)
{
    struct churner *c = arg;
    void *held[32];
    size_t n = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull ^ (uintptr_t)&held;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if (n < 32 && (rng & 1)) {
            held[n] = zz_pool_alloc(c->pool);
            if (held[n] == NULL)
                atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
            else
                n++;
        } else if (n > 0) {
            if (zz_pool_free(c->pool, held[--n]) != 0)
                atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
        }
    }
    while (n > 0)
        if (zz_pool_free(c->pool, held[--n]) != 0)
            atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
    return NULL;
}

static void test_bulk_alloc_not_refused_while_others_churn(void **state)
{
    (void)state;
    struct churner c = {0};
    assert_int_equal(
        zz_pool_create(&c.pool,
                       &(zz_pool_options){.size = 32, .capacity = 1024, .thread_cache = 4}),
        0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c), 0);
    long rounds = iterations() / BURST_ROUNDS_DIVISOR, refused = 0;
    void *burst[64];
    for (long r = 0; r < rounds; r++) {
        size_t k = 1 + (size_t)(r % 64);
        /* The first points it passes are between the counters it reads. */
        zz__test_interleave_sleeps = 2;
        int rc = zz_pool_alloc_bulk(c.pool, burst, k);
        zz__test_interleave_sleeps = 0;
        if (rc != 0) {
            refused++;
            continue;
        }
        assert_int_equal(zz_pool_free_bulk(c.pool, burst, k), 0);
    }
    atomic_store_explicit(&c.stop, true, memory_order_relaxed);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    print_message("%ld bursts, %ld refused\n", rounds, refused);
    assert_int_equal(refused, 0);
    assert_int_equal(atomic_load_explicit(&c.errors, memory_order_relaxed), 0);
    zz_test_assert_valid(c.pool);
    zz_pool_destroy(c.pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_stress_2_threads),
    cmocka_unit_test(test_stress_4_threads),
    cmocka_unit_test(test_stress_8_threads),
    cmocka_unit_test(test_stress_8_threads_checked),
    cmocka_unit_test(test_stress_2_threads_cached),
    cmocka_unit_test(test_stress_8_threads_cached),
    cmocka_unit_test(test_stress_8_threads_cached_checked),
    cmocka_unit_test(test_racing_double_free_checked),
    cmocka_unit_test(test_bulk_alloc_not_refused_while_others_churn),
};

ZZ_TEST_MAIN(tests)
