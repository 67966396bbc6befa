/* SPDX-License-Identifier: MIT */
/*
 * Per-thread caches across threads: what single-threaded tests cannot see.
 *
 *  - Strict capacity: blocks resting in the cache of a thread that has gone
 *    idle (alive, blocked) must still be handed out to another thread; a
 *    pool that only looks at the shared list returns NULL early.
 *  - Threads that exit leave their caches behind; the blocks come back.
 *  - A pool destroyed while a thread that cached its blocks lives on, and a
 *    new pool created in its place (same address), are both safe and exact.
 *  - Frees from another thread than the allocating one (a producer and a
 *    consumer over a ring), more threads than ZZ_POOL_MAX_CACHED_THREADS,
 *    fork() with blocks in other threads' caches, and a mixed stress with
 *    bulk calls and flushes, each checked with an owner table (a block held
 *    by two threads at once is caught at once) and by conservation at the
 *    end (exactly `capacity` blocks can be allocated, then NULL).
 *
 * Threads never call cmocka asserts; CHECK counts and prints failures,
 * which the main thread asserts to be zero. Every wait is bounded, so a
 * broken pool fails a test instead of hanging it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform/atomic.h"
#include "sanitizer.h"
#include "pool_checks.h"
#include "test_main.h"
#include "zigzag.h"

/* The longest any thread waits for another before it counts a failure. */
#define WAIT_S 60.0

/* ---- failures counted from any thread ---------------------------------- */

static _Atomic long g_errors;

static void check_failed(int line, const char *what)
{
    long n = atomic_fetch_add_explicit(&g_errors, 1, memory_order_seq_cst);
    if (n < 20)
        fprintf(stderr, "pool_threads.c:%d: check failed: %s\n", line, what);
}

#define CHECK(c) ((c) ? (void)0 : check_failed(__LINE__, #c))

static void reset_errors(void)
{
    atomic_store_explicit(&g_errors, 0, memory_order_seq_cst);
}

static void assert_no_errors(void)
{
    assert_int_equal(atomic_load_explicit(&g_errors, memory_order_seq_cst), 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Iterations scaled for the build: TSan runs far fewer; ZZ_STRESS_ITERS
 * overrides the stress loops. */
static long scaled(long release, long tsan)
{
    return ZZ_UNDER_TSAN ? tsan : release;
}

static long stress_iters(long release, long tsan)
{
    const char *env = getenv("ZZ_STRESS_ITERS");
    if (env != NULL)
        return atol(env);
    return scaled(release, tsan);
}

/* ---- a gate: a counter threads wait on, with a timeout ----------------- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long value;
};

static void gate_init(struct gate *g)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, &attr);
    pthread_condattr_destroy(&attr);
    g->value = 0;
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_add(struct gate *g, long d)
{
    pthread_mutex_lock(&g->mu);
    g->value += d;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until the value is at least v; false after WAIT_S seconds. */
static bool gate_wait(struct gate *g, long v)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)WAIT_S;
    bool ok = true;
    pthread_mutex_lock(&g->mu);
    while (g->value < v) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) {
            ok = g->value >= v;
            break;
        }
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

/* ---- blocks ------------------------------------------------------------ */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* True when p[0..n) are distinct, non-overlapping blocks of pool. Any thread. */
static bool distinct_owned(const zz_pool *pool, void *const *p, size_t n)
{
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    uintptr_t *s = malloc((n + 1) * sizeof(*s));
    if (s == NULL)
        return false;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok = ok && zz_pool_owns(pool, p[i]);
        s[i] = (uintptr_t)p[i];
    }
    qsort(s, n, sizeof(*s), cmp_ptr);
    for (size_t i = 1; i < n; i++)
        ok = ok && s[i] - s[i - 1] >= st.block_size;
    free(s);
    return ok;
}

/* Allocates until NULL (at most capacity + 1 tries) into p, which holds
 * capacity + 1 entries; returns how many came out. Any thread. */
static size_t drain(zz_pool *pool, void **p, size_t capacity)
{
    size_t n = 0;
    while (n <= capacity && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    return n;
}

/* Main thread: exactly capacity distinct blocks, then NULL, in_use exact;
 * then all freed again. */
static void assert_exact_capacity(zz_pool *pool, size_t capacity)
{
    void **p = malloc((capacity + 1) * sizeof(*p));
    assert_non_null(p);
    size_t n = drain(pool, p, capacity);
    assert_int_equal(n, capacity);
    assert_true(distinct_owned(pool, p, n));
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, capacity);
    assert_int_equal(st.peak_in_use, capacity);
    void *extra = NULL;
    assert_int_equal(zz_pool_alloc_bulk(pool, &extra, 1), ZZ_ENOMEM);
    assert_int_equal(zz_pool_free_bulk(pool, p, n), 0);
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, 0);
    free(p);
}

static zz_pool *make(size_t size, size_t capacity, unsigned flags, size_t thread_cache)
{
    return zz_test_pool_make(size, 16, capacity, flags, thread_cache);
}

static size_t in_use_of(const zz_pool *pool)
{
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    return st.in_use;
}

/* Where the blocks are, for owner tables: found by the main thread by
 * allocating every block once (the lowest is block 0); flushed after. */
struct layout {
    uintptr_t base;
    size_t stride;
    size_t capacity;
};

static struct layout probe(zz_pool *pool)
{
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    struct layout l = {UINTPTR_MAX, st.block_size, st.capacity};
    void **p = malloc((st.capacity + 1) * sizeof(*p));
    assert_non_null(p);
    assert_int_equal(drain(pool, p, st.capacity), st.capacity);
    for (size_t i = 0; i < st.capacity; i++)
        l.base = (uintptr_t)p[i] < l.base ? (uintptr_t)p[i] : l.base;
    assert_int_equal(zz_pool_free_bulk(pool, p, st.capacity), 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    free(p);
    return l;
}

/* The block index of p, or capacity when p is not a block start. */
static size_t index_of(const struct layout *l, const void *p)
{
    uintptr_t off = (uintptr_t)p - l->base;
    if ((uintptr_t)p < l->base || off % l->stride != 0 || off / l->stride >= l->capacity)
        return l->capacity;
    return off / l->stride;
}

/* An owner table: 0 free, id + 1 held by id. Claim when handed out,
 * release before freeing; a failed claim is a block given out twice. */
struct owners {
    struct layout l;
    _Atomic uint32_t *owner;
};

static void owners_init(struct owners *o, zz_pool *pool)
{
    o->l = probe(pool);
    o->owner = calloc(o->l.capacity, sizeof(*o->owner));
    assert_non_null(o->owner);
}

static bool claim(struct owners *o, const void *p, uint32_t id)
{
    size_t idx = index_of(&o->l, p);
    uint32_t expected = 0;
    bool ok = idx < o->l.capacity &&
              atomic_compare_exchange_strong_explicit(&o->owner[idx], &expected, id + 1,
                                                      memory_order_acq_rel, memory_order_relaxed);
    CHECK(ok);
    return ok;
}

static void unclaim(struct owners *o, const void *p, uint32_t id)
{
    size_t idx = index_of(&o->l, p);
    uint32_t expected = id + 1;
    CHECK(idx < o->l.capacity &&
          atomic_compare_exchange_strong_explicit(&o->owner[idx], &expected, 0,
                                                  memory_order_acq_rel, memory_order_relaxed));
}

/* A stamp written into each block while held, checked before it is freed. */
struct stamp {
    uint32_t thread;
    uint32_t check;
    uint64_t seq;
};

static void stamp_put(void *p, uint32_t thread, uint64_t seq, size_t stride)
{
    struct stamp s = {thread, thread ^ 0xa5a5a5a5u, seq};
    memcpy(p, &s, sizeof(s));
    ((unsigned char *)p)[stride - 1] = (unsigned char)seq;
}

static bool stamp_ok(const void *p, uint32_t thread, uint64_t seq, size_t stride)
{
    struct stamp s;
    memcpy(&s, p, sizeof(s));
    return s.thread == thread && s.check == (thread ^ 0xa5a5a5a5u) && s.seq == seq &&
           ((const unsigned char *)p)[stride - 1] == (unsigned char)seq;
}

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

/* ===================================================================== */
/* Threads that exit with blocks in their caches                          */
/* ===================================================================== */

struct shortlived {
    zz_pool *pool;
    uint32_t id;
};

static void *shortlived_main(void *arg)
{
    struct shortlived *s = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (s->id + 1);
    enum { MAXN = 40 };
    void *p[MAXN];
    for (int round = 0; round < 3; round++) {
        size_t n = 1 + (size_t)(xorshift(&rng) % MAXN);
        for (size_t i = 0; i < n; i++) {
            p[i] = zz_pool_alloc(s->pool);
            CHECK(p[i] != NULL); /* 4 threads * 40 < 512 */
            if (p[i] == NULL)
                n = i;
            else
                stamp_put(p[i], s->id, i, 64);
        }
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(xorshift(&rng) % i);
            void *t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            struct stamp st;
            memcpy(&st, p[i], sizeof(st));
            CHECK(stamp_ok(p[i], s->id, st.seq, 64));
            CHECK(zz_pool_free(s->pool, p[i]) == 0);
        }
    }
    return NULL;
}

static void run_thread_exit(unsigned flags)
{
    reset_errors();
    enum { CAP = 512, THREADS = 200, AT_ONCE = 4 };
    zz_pool *pool = make(64, CAP, flags, 32);
    struct shortlived *s = calloc(AT_ONCE, sizeof(*s)); /* threads outlive a failed assert */
    assert_non_null(s);
    pthread_t t[AT_ONCE];
    for (int base = 0; base < THREADS; base += AT_ONCE) {
        for (int i = 0; i < AT_ONCE; i++) {
            s[i] = (struct shortlived){pool, (uint32_t)(base + i)};
            assert_int_equal(pthread_create(&t[i], NULL, shortlived_main, &s[i]), 0);
        }
        for (int i = 0; i < AT_ONCE; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    assert_no_errors();
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, 0);
    void **p = malloc((CAP + 1) * sizeof(*p));
    assert_non_null(p);
    assert_int_equal(drain(pool, p, CAP), CAP);
    assert_true(distinct_owned(pool, p, CAP));
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.in_use, CAP);
    assert_int_equal(zz_pool_free_bulk(pool, p, CAP), 0);
    free(p);
    free(s);
    zz_pool_destroy(pool);
}

static void test_thread_exit_leaves_cache(void **state)
{
    (void)state;
    run_thread_exit(0);
    run_thread_exit(ZZ_POOL_CHECKED);
}

/* ===================================================================== */
/* Destroy while a thread that cached the pool's blocks lives on          */
/* ===================================================================== */

struct survivor {
    zz_pool *p1, *p2;
    zz_pool *p3;         /* set by main before step 2, when recreating */
    struct owners *own3; /* owner table of p3 */
    size_t cap2, cap3;
    struct gate step;     /* main -> worker: 1 p1 destroyed (and p3 made) */
    struct gate progress; /* worker -> main: 1 cached, 2 used p3/p2 */
    struct gate release;  /* main -> worker: 1 exit */
};

static void use_all(zz_pool *pool, size_t capacity, struct owners *own, uint32_t id)
{
    void **p = malloc((capacity + 1) * sizeof(*p));
    CHECK(p != NULL);
    size_t n = drain(pool, p, capacity);
    CHECK(n == capacity);
    CHECK(distinct_owned(pool, p, n));
    if (own != NULL)
        for (size_t i = 0; i < n; i++)
            claim(own, p[i], id);
    /* Stamp within the block: a block may be smaller than 64 bytes. */
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    for (size_t i = 0; i < n; i++) {
        stamp_put(p[i], id, i, st.block_size);
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(stamp_ok(p[i], id, i, st.block_size));
        if (own != NULL)
            unclaim(own, p[i], id);
        CHECK(zz_pool_free(pool, p[i]) == 0);
    }
    free(p);
}

static void *survivor_main(void *arg)
{
    struct survivor *s = arg;
    void *a[20], *b[20];
    for (int i = 0; i < 20; i++) {
        a[i] = zz_pool_alloc(s->p1);
        b[i] = zz_pool_alloc(s->p2);
        CHECK(a[i] != NULL && b[i] != NULL);
    }
    for (int i = 0; i < 20; i++) {
        CHECK(zz_pool_free(s->p1, a[i]) == 0);
        CHECK(zz_pool_free(s->p2, b[i]) == 0);
    }
    gate_add(&s->progress, 1);
    CHECK(gate_wait(&s->step, 1)); /* p1 is gone now */
    for (int i = 0; i < 50; i++) {
        void *q = zz_pool_alloc(s->p2);
        CHECK(q != NULL && zz_pool_owns(s->p2, q));
        CHECK(zz_pool_free(s->p2, q) == 0);
    }
    use_all(s->p2, s->cap2, NULL, 1);
    if (s->p3 != NULL) {
        use_all(s->p3, s->cap3, s->own3, 1);
        void *q = zz_pool_alloc(s->p3); /* something in its p3 cache */
        CHECK(q != NULL);
        CHECK(zz_pool_free(s->p3, q) == 0);
    }
    gate_add(&s->progress, 1);
    CHECK(gate_wait(&s->release, 1));
    return NULL; /* the thread's exit must not touch the destroyed p1 */
}

static void test_destroy_while_thread_lives(void **state)
{
    (void)state;
    reset_errors();
    struct survivor *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->cap2 = 300;
    s->p1 = make(64, 256, 0, 32);
    s->p2 = make(64, s->cap2, ZZ_POOL_CHECKED, 16);
    gate_init(&s->step);
    gate_init(&s->progress);
    gate_init(&s->release);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, survivor_main, s), 0);
    assert_true(gate_wait(&s->progress, 1));
    zz_pool_destroy(s->p1);
    gate_add(&s->step, 1);
    assert_true(gate_wait(&s->progress, 2));
    gate_add(&s->release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_no_errors();
    assert_exact_capacity(s->p2, s->cap2);
    zz_pool_destroy(s->p2);
    gate_destroy(&s->step);
    gate_destroy(&s->progress);
    gate_destroy(&s->release);
    free(s);
}

/* P1 destroyed, P3 created in its place (the same memory, with a fixed
 * buffer; likely the same with pages) while the worker still caches P1's
 * blocks: P3 hands out exclusive blocks, exactly its capacity. */
static void run_recreate(bool fixed, size_t size3, size_t cap3)
{
    reset_errors();
    static _Alignas(4096) unsigned char arena[1 << 20];
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, arena, sizeof(arena)), 0);
    zz_pool_options o1 = {.size = 64, .align = 16, .capacity = 256, .thread_cache = 32};
    if (fixed)
        o1.backing = zz_fixed_buffer_allocator(&fb);
    struct survivor *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->cap2 = 100;
    s->cap3 = cap3;
    assert_int_equal(zz_pool_create(&s->p1, &o1), 0);
    s->p2 = make(64, s->cap2, 0, 16);
    gate_init(&s->step);
    gate_init(&s->progress);
    gate_init(&s->release);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, survivor_main, s), 0);
    assert_true(gate_wait(&s->progress, 1));
    zz_pool *old = s->p1;
    zz_pool_destroy(s->p1);
    zz_fixed_buffer_reset(&fb);
    zz_pool_options o3 = o1;
    o3.size = size3;
    o3.capacity = cap3;
    assert_int_equal(zz_pool_create(&s->p3, &o3), 0);
    if (s->p3 != old)
        print_message("note: the new pool is not at the old one's address\n");
    struct owners own;
    owners_init(&own, s->p3);
    s->own3 = &own;
    gate_add(&s->step, 1);
    assert_true(gate_wait(&s->progress, 2));
    /* Worker alive and idle with a P3 cache: main gets all of P3. */
    assert_int_equal(in_use_of(s->p3), 0);
    assert_exact_capacity(s->p3, cap3);
    gate_add(&s->release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_no_errors();
    assert_exact_capacity(s->p3, cap3);
    assert_exact_capacity(s->p2, s->cap2);
    zz_pool_destroy(s->p3);
    zz_pool_destroy(s->p2);
    free(own.owner);
    gate_destroy(&s->step);
    gate_destroy(&s->progress);
    gate_destroy(&s->release);
    free(s);
}

static void test_recreate_while_thread_lives(void **state)
{
    (void)state;
    run_recreate(true, 64, 256);
    run_recreate(true, 32, 512); /* same slab bytes, another shape */
    run_recreate(false, 64, 256);
}

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
/* fork()                                                                  */
/* ===================================================================== */

enum { FORK_CAP = 512 };

/* In the child: at least `least` distinct blocks of the pool, then NULL.
 * Exit codes: 0 fine, 3 too few, 4 duplicates or foreign, 5 no NULL after,
 * 6 in_use wrong. */
static int child_drain(zz_pool *pool, void **p, size_t least, size_t most)
{
    size_t n = drain(pool, p, FORK_CAP);
    char msg[160];
    int code = 0;
    if (n < least || n > most)
        code = n > FORK_CAP ? 5 : 3;
    else if (!distinct_owned(pool, p, n))
        code = 4;
    else if (zz_pool_alloc(pool) != NULL)
        code = 5;
    if (code != 0) {
        int len = snprintf(msg, sizeof(msg), "child: %zu blocks (wanted %zu..%zu), code %d\n", n,
                           least, most, code);
        if (len > 0 && write(2, msg, (size_t)len) < 0)
            code = 7;
    }
    return code;
}

/* Waits for the child; 0 when it exited with 0, else its exit code, or
 * 100 + the signal that killed it (SIGALRM: it hung), or -1. Asserts
 * nothing, so that the caller can stop its threads first. */
static int child_result(pid_t pid)
{
    if (pid <= 0)
        return -1;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w != pid)
        return -1;
    if (WIFSIGNALED(status))
        return 100 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void assert_child_result(int result)
{
    if (result >= 100)
        fail_msg("child killed by signal %d (%d = SIGALRM: it hung)", result - 100, SIGALRM);
    assert_int_equal(result, 0);
}

struct forker {
    zz_pool *pool;
    struct gate idle, release;
    atomic_bool stop;
    _Atomic size_t held; /* an upper bound on blocks the helper holds */
    _Atomic long rounds;
};

static void *idle_helper_main(void *arg)
{
    struct forker *f = arg;
    void *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = zz_pool_alloc(f->pool);
        CHECK(p[i] != NULL);
    }
    for (int i = 0; i < 100; i++)
        CHECK(zz_pool_free(f->pool, p[(i * 37) % 100]) == 0);
    gate_add(&f->idle, 1);
    CHECK(gate_wait(&f->release, 1));
    return NULL;
}

static void test_fork_with_idle_cache(void **state)
{
    (void)state;
    reset_errors();
    struct forker *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->pool = make(64, FORK_CAP, 0, 32);
    gate_init(&f->idle);
    gate_init(&f->release);
    void **p = malloc((FORK_CAP + 1) * sizeof(*p));
    assert_non_null(p);
    /* The forking thread caches some too. */
    for (int i = 0; i < 10; i++)
        p[i] = zz_pool_alloc(f->pool);
    assert_int_equal(zz_pool_free_bulk(f->pool, p, 10), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, idle_helper_main, f), 0);
    assert_true(gate_wait(&f->idle, 1));
    zz_pool_stats st;
    zz_pool_stats_get(f->pool, &st);
    assert_true(st.cached > 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        _exit(child_drain(f->pool, p, FORK_CAP, FORK_CAP));
    }
    int result = child_result(pid);
    gate_add(&f->release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_child_result(result);
    assert_no_errors();
    assert_exact_capacity(f->pool, FORK_CAP);
    free(p);
    gate_destroy(&f->idle);
    gate_destroy(&f->release);
    zz_pool_destroy(f->pool);
    free(f);
}

/* Busy: allocs and frees single and in bulk, crossing the cache's batch
 * boundaries, until told to stop. `held` goes up before a block is taken
 * and down after it is given back, so at any instant it bounds what the
 * helper holds. */
static void *busy_helper_main(void *arg)
{
    struct forker *f = arg;
    void *p[48];
    uint64_t rng = 5;
    gate_add(&f->idle, 1);
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        size_t k = 1 + (size_t)(xorshift(&rng) % 48);
        bool bulk = xorshift(&rng) % 4 == 0;
        atomic_fetch_add_explicit(&f->held, k, memory_order_seq_cst);
        size_t got = 0;
        if (bulk) {
            got = zz_pool_alloc_bulk(f->pool, p, k) == 0 ? k : 0;
        } else {
            for (size_t i = 0; i < k; i++) {
                p[got] = zz_pool_alloc(f->pool);
                got += p[got] != NULL;
            }
        }
        CHECK(got == k);
        atomic_fetch_sub_explicit(&f->held, k - got, memory_order_seq_cst);
        if (bulk) {
            CHECK(zz_pool_free_bulk(f->pool, p, got) == 0);
            atomic_fetch_sub_explicit(&f->held, got, memory_order_seq_cst);
        } else {
            for (size_t i = 0; i < got; i++) {
                CHECK(zz_pool_free(f->pool, p[i]) == 0);
                atomic_fetch_sub_explicit(&f->held, 1, memory_order_seq_cst);
            }
        }
        if (xorshift(&rng) % 64 == 0)
            CHECK(zz_pool_flush(f->pool) == 0);
        atomic_fetch_add_explicit(&f->rounds, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_fork_while_thread_busy(void **state)
{
    (void)state;
    if (ZZ_UNDER_TSAN) {
        /* TSan's runtime can deadlock in a child forked while another
         * thread is inside it (its own locks are not fork-safe); the
         * release and ASan builds run this test. */
        skip();
    }
    reset_errors();
    struct forker *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->pool = make(64, FORK_CAP, 0, 32);
    gate_init(&f->idle);
    gate_init(&f->release);
    void **p = malloc((FORK_CAP + 1) * sizeof(*p));
    assert_non_null(p);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, busy_helper_main, f), 0);
    assert_true(gate_wait(&f->idle, 1));
    int forks = (int)scaled(200, 10), result = 0, i;
    for (i = 0; i < forks && result == 0; i++) {
        struct timespec pause = {0, 200000 + 100000 * (i % 7)};
        nanosleep(&pause, NULL);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20);
            size_t held = atomic_load_explicit(&f->held, memory_order_seq_cst);
            /* Besides the blocks it holds, the dead helper may have been
             * moving at most a cache's worth (32) between its cache and the
             * shared list: the child may lose those (pool.h). */
            size_t lost = held + 32;
            size_t least = lost < FORK_CAP ? FORK_CAP - lost : 0;
            _exit(child_drain(f->pool, p, least, FORK_CAP));
        }
        result = child_result(pid);
    }
    atomic_store_explicit(&f->stop, true, memory_order_relaxed);
    assert_int_equal(pthread_join(t, NULL), 0);
    print_message("%d forks over %ld helper rounds\n", i,
                  atomic_load_explicit(&f->rounds, memory_order_relaxed));
    assert_child_result(result);
    assert_no_errors();
    assert_exact_capacity(f->pool, FORK_CAP);
    free(p);
    gate_destroy(&f->idle);
    gate_destroy(&f->release);
    zz_pool_destroy(f->pool);
    free(f);
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
    cmocka_unit_test(test_strict_capacity_idle_cache),
    cmocka_unit_test(test_strict_capacity_shuffled_frees),
    cmocka_unit_test(test_strict_capacity_two_idle),
    cmocka_unit_test(test_strict_capacity_bulk),
    cmocka_unit_test(test_strict_capacity_4096_default_cache),
    cmocka_unit_test(test_thread_exit_leaves_cache),
    cmocka_unit_test(test_destroy_while_thread_lives),
    cmocka_unit_test(test_recreate_while_thread_lives),
    cmocka_unit_test(test_cross_thread_frees),
    cmocka_unit_test(test_cross_thread_frees_small_pool),
    cmocka_unit_test(test_more_threads_than_cached),
    cmocka_unit_test(test_fork_with_idle_cache),
    cmocka_unit_test(test_fork_while_thread_busy),
    cmocka_unit_test(test_mixed_2_threads_cache16),
    cmocka_unit_test(test_mixed_4_threads_cache64),
    cmocka_unit_test(test_mixed_8_threads_cache16),
    cmocka_unit_test(test_mixed_8_threads_cache64_checked),
    cmocka_unit_test(test_fresh_run_race),
};

ZZ_TEST_MAIN(tests)
