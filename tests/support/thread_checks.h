/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the multi-threaded pool tests (tests/stress/pool_*.c), for
 * code that runs on any thread: failures counted rather than asserted
 * (CHECK; the test's own thread then asserts that none happened), gates to
 * wait on with a timeout, and checks of blocks: distinct and owned, an
 * owner table that catches a block held by two threads at once, and stamps
 * a thread writes into the blocks it holds. Header-only, one copy per test
 * program: the failure count is the program's own.
 */
#ifndef ZZ_TEST_THREAD_CHECKS_H
#define ZZ_TEST_THREAD_CHECKS_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/atomic.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

/* The longest any thread waits for another before it counts a failure. */
#define WAIT_S 60.0

/* ---- failures counted from any thread ---------------------------------- */

static _Atomic long g_errors;

static inline void check_failed(const char *file, int line, const char *what)
{
    long n = atomic_fetch_add_explicit(&g_errors, 1, memory_order_seq_cst);
    if (n < 20)
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}

#define CHECK(c) ((c) ? (void)0 : check_failed(__FILE__, __LINE__, #c))

static inline void reset_errors(void)
{
    atomic_store_explicit(&g_errors, 0, memory_order_seq_cst);
}

static inline void assert_no_errors(void)
{
    assert_int_equal(atomic_load_explicit(&g_errors, memory_order_seq_cst), 0);
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Iterations scaled for the build: TSan runs far fewer; ZZ_STRESS_ITERS
 * overrides the stress loops. */
static inline long scaled(long release, long tsan)
{
    return ZZ_UNDER_TSAN ? tsan : release;
}

static inline long stress_iters(long release, long tsan)
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

static inline void gate_init(struct gate *g)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, &attr);
    pthread_condattr_destroy(&attr);
    g->value = 0;
}

static inline void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static inline void gate_add(struct gate *g, long d)
{
    pthread_mutex_lock(&g->mu);
    g->value += d;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until the value is at least v; false after WAIT_S seconds. */
static inline bool gate_wait(struct gate *g, long v)
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

static inline int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* True when p[0..n) are distinct, non-overlapping blocks of pool. Any thread. */
static inline bool distinct_owned(const zz_pool *pool, void *const *p, size_t n)
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
static inline size_t drain(zz_pool *pool, void **p, size_t capacity)
{
    size_t n = 0;
    while (n <= capacity && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    return n;
}

/* Main thread: exactly capacity distinct blocks, then NULL, in_use exact;
 * then all freed again. */
static inline void assert_exact_capacity(zz_pool *pool, size_t capacity)
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

static inline zz_pool *make(size_t size, size_t capacity, unsigned flags, size_t thread_cache)
{
    return zz_test_pool_make(size, 16, capacity, flags, thread_cache);
}

static inline size_t in_use_of(const zz_pool *pool)
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

static inline struct layout probe(zz_pool *pool)
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
static inline size_t index_of(const struct layout *l, const void *p)
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

static inline void owners_init(struct owners *o, zz_pool *pool)
{
    o->l = probe(pool);
    o->owner = calloc(o->l.capacity, sizeof(*o->owner));
    assert_non_null(o->owner);
}

static inline bool claim(struct owners *o, const void *p, uint32_t id)
{
    size_t idx = index_of(&o->l, p);
    uint32_t expected = 0;
    bool ok = idx < o->l.capacity &&
              atomic_compare_exchange_strong_explicit(&o->owner[idx], &expected, id + 1,
                                                      memory_order_acq_rel, memory_order_relaxed);
    CHECK(ok);
    return ok;
}

static inline void unclaim(struct owners *o, const void *p, uint32_t id)
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

static inline void stamp_put(void *p, uint32_t thread, uint64_t seq, size_t stride)
{
    struct stamp s = {thread, thread ^ 0xa5a5a5a5u, seq};
    memcpy(p, &s, sizeof(s));
    ((unsigned char *)p)[stride - 1] = (unsigned char)seq;
}

static inline bool stamp_ok(const void *p, uint32_t thread, uint64_t seq, size_t stride)
{
    struct stamp s;
    memcpy(&s, p, sizeof(s));
    return s.thread == thread && s.check == (thread ^ 0xa5a5a5a5u) && s.seq == seq &&
           ((const unsigned char *)p)[stride - 1] == (unsigned char)seq;
}

#endif
