/* SPDX-License-Identifier: MIT */
/*
 * fork() at every step of another thread's operation. The child gets a copy
 * of memory taken wherever the parent's other threads happen to be, and the
 * pool promises that it may lose the blocks such a thread was moving, but
 * never hands a block out twice (pool.h). Built over the interleaving pool
 * (ZZ_TEST_INTERLEAVE): a second thread sets the pool up, then runs one
 * operation and stops at its k-th interleave point while the main thread
 * forks; for every k, the child takes every block it can and checks that
 * none came twice. The points sit between the stores of a cache's entries
 * and of its count, between a load of the list's head and its CAS, among
 * others: an order that lets a copy count an entry before it is written (a
 * stale entry, such as a block a spill has just put on the shared list)
 * fails the spilling free's case.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/atomic.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

extern _Thread_local void (*zz__test_interleave_action)(void);

enum { CAPACITY = 64, CACHE = 4, TAKEN = 2 * CACHE + 2, BULK = 3 };

/* One case: `setup` brings the pool to the state the operation needs,
 * taking blocks into held[] (returns false if it cannot); `op` is the
 * operation forked at, which may take or give back held blocks. */
struct fork_case {
    unsigned flags;
    bool (*setup)(zz_pool *pool, void **held, size_t *n);
    bool (*op)(zz_pool *pool, void **held, size_t *n);
};

static struct {
    const struct fork_case *fc;
    zz_pool *pool;
    unsigned stop_at; /* the interleave point of the operation to fork at */
    unsigned passed;  /* points the operation has passed */
    atomic_int state; /* enum below */
} run;

enum { RUNNING, PAUSED, RESUME, DONE };

static bool take(zz_pool *pool, void **held, size_t *n, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if ((held[(*n)++] = zz_pool_alloc(pool)) == NULL)
            return false;
    return true;
}

static bool give(zz_pool *pool, void **held, size_t *n, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (*n == 0 || zz_pool_free(pool, held[--*n]) != 0)
            return false;
    return true;
}

static size_t cached(const zz_pool *pool)
{
    return zz_test_stats(pool).cached;
}

/* A full cache, and blocks to free. Refills leave a cache part full, so
 * it frees until the count says full. */
static bool setup_full_cache(zz_pool *pool, void **held, size_t *n)
{
    if (!take(pool, held, n, TAKEN))
        return false;
    while (*n > 1 && cached(pool) < CACHE)
        if (!give(pool, held, n, 1))
            return false;
    return cached(pool) == CACHE;
}

/* An empty cache over a shared list that holds batch nodes (spills). */
static bool setup_empty_cache(zz_pool *pool, void **held, size_t *n)
{
    if (!take(pool, held, n, TAKEN) || !give(pool, held, n, TAKEN))
        return false;
    while (cached(pool) > 0)
        if (!take(pool, held, n, 1))
            return false;
    return true;
}

/* Some blocks cached, some held. */
static bool setup_some_cached(zz_pool *pool, void **held, size_t *n)
{
    return take(pool, held, n, TAKEN) && give(pool, held, n, CACHE / 2);
}

static bool setup_nothing(zz_pool *pool, void **held, size_t *n)
{
    return take(pool, held, n, 2);
}

static bool op_free_one(zz_pool *pool, void **held, size_t *n)
{
    return give(pool, held, n, 1);
}

static bool op_alloc_one(zz_pool *pool, void **held, size_t *n)
{
    return take(pool, held, n, 1);
}

static bool op_alloc_bulk(zz_pool *pool, void **held, size_t *n)
{
    if (zz_pool_alloc_bulk(pool, &held[*n], BULK) != 0)
        return false;
    *n += BULK;
    return true;
}

static bool op_free_bulk(zz_pool *pool, void **held, size_t *n)
{
    *n -= TAKEN - CACHE / 2;
    return zz_pool_free_bulk(pool, &held[*n], TAKEN - CACHE / 2) == 0;
}

static bool op_flush(zz_pool *pool, void **held, size_t *n)
{
    (void)held;
    (void)n;
    return zz_pool_flush(pool) == 0;
}

/* The operation's interleave points: counted, and the stop_at-th waits for
 * the main thread's fork. */
static void at_point(void)
{
    if (++run.passed == run.stop_at) {
        atomic_store_explicit(&run.state, PAUSED, memory_order_seq_cst);
        while (atomic_load_explicit(&run.state, memory_order_seq_cst) != RESUME)
            sched_yield();
        return;
    }
    zz__test_interleave_action = at_point;
}

static void *other_main(void *arg)
{
    (void)arg;
    void *held[CAPACITY];
    size_t n = 0;
    bool ok = run.fc->setup(run.pool, held, &n);
    run.passed = 0;
    zz__test_interleave_action = at_point;
    ok = ok && run.fc->op(run.pool, held, &n);
    zz__test_interleave_action = NULL;
    ok = ok && give(run.pool, held, &n, n);
    atomic_store_explicit(&run.state, DONE, memory_order_seq_cst);
    return ok ? NULL : (void *)run.fc; /* any non-NULL value says it failed */
}

/* In the child: takes every block; 0 when none came twice and none is
 * foreign. It may lose what the other thread held or was moving. */
static int child_check(zz_pool *pool)
{
    void *p[CAPACITY + 1];
    size_t n = 0;
    while (n <= CAPACITY && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    /* Lost at most: the blocks held there and a cache's worth moving. */
    if (n > CAPACITY || n < CAPACITY - TAKEN - BULK - CACHE)
        return 3;
    uintptr_t s[CAPACITY];
    for (size_t i = 0; i < n; i++) {
        if (!zz_pool_owns(pool, p[i]))
            return 4;
        s[i] = (uintptr_t)p[i];
    }
    qsort(s, n, sizeof(*s), zz_test_cmp_uintptr);
    for (size_t i = 1; i < n; i++)
        if (s[i] == s[i - 1])
            return 5;
    return 0;
}

/* Forks at the operation's k-th point: the child's code, or -1 when the
 * operation passed fewer points. */
static int fork_at(const struct fork_case *fc, unsigned k)
{
    run.fc = fc;
    run.pool = zz_test_pool_make(64, 0, CAPACITY, fc->flags, CACHE);
    run.stop_at = k;
    atomic_store_explicit(&run.state, RUNNING, memory_order_seq_cst);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_main, NULL), 0);
    int state;
    while ((state = atomic_load_explicit(&run.state, memory_order_seq_cst)) == RUNNING)
        sched_yield();
    int result = -1;
    if (state == PAUSED) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10); /* a broken list can make the child loop */
            _exit(child_check(run.pool));
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        result = WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
        atomic_store_explicit(&run.state, RESUME, memory_order_seq_cst);
    }
    void *failed;
    assert_int_equal(pthread_join(t, &failed), 0);
    assert_null(failed); /* setup, operation and clean-up all succeeded */
    zz_test_assert_valid(run.pool);
    zz_pool_destroy(run.pool);
    return result;
}

/* Forks at every point of fc's operation; returns how many there were. */
static unsigned fork_everywhere(const struct fork_case *fc)
{
    if (ZZ_UNDER_TSAN) {
        /* TSan's runtime is not fork-safe with a thread inside it; the
         * release and ASan builds run these tests. */
        skip();
    }
    unsigned k = 1;
    int result;
    while ((result = fork_at(fc, k)) >= 0) {
        if (result != 0)
            fail_msg("child forked at point %u: code %d (100 + a signal: 114 is SIGALRM, a hang)",
                     k, result);
        k++;
    }
    print_message("forked at %u points\n", k - 1);
    return k - 1;
}

static void test_fork_in_a_spilling_free(void **state)
{
    (void)state;
    /* The spill's count, its push, and the put's entry and count. */
    assert_true(fork_everywhere(&(struct fork_case){0, setup_full_cache, op_free_one}) >= 4);
}

static void test_fork_in_a_refilling_alloc(void **state)
{
    (void)state;
    assert_true(fork_everywhere(&(struct fork_case){0, setup_empty_cache, op_alloc_one}) >= 2);
}

static void test_fork_in_a_bulk_alloc(void **state)
{
    (void)state;
    assert_true(fork_everywhere(&(struct fork_case){0, setup_empty_cache, op_alloc_bulk}) >= 2);
}

static void test_fork_in_a_bulk_free(void **state)
{
    (void)state;
    assert_true(fork_everywhere(&(struct fork_case){0, setup_some_cached, op_free_bulk}) >= 2);
}

static void test_fork_in_a_flush(void **state)
{
    (void)state;
    assert_true(fork_everywhere(&(struct fork_case){0, setup_some_cached, op_flush}) >= 2);
}

static void test_fork_in_uncached_alloc_and_free(void **state)
{
    (void)state;
    assert_true(
        fork_everywhere(&(struct fork_case){ZZ_POOL_NO_CACHE, setup_nothing, op_alloc_one}) >= 1);
    assert_true(
        fork_everywhere(&(struct fork_case){ZZ_POOL_NO_CACHE, setup_nothing, op_free_one}) >= 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fork_in_a_spilling_free),
    cmocka_unit_test(test_fork_in_a_refilling_alloc),
    cmocka_unit_test(test_fork_in_a_bulk_alloc),
    cmocka_unit_test(test_fork_in_a_bulk_free),
    cmocka_unit_test(test_fork_in_a_flush),
    cmocka_unit_test(test_fork_in_uncached_alloc_and_free),
};

ZZ_TEST_MAIN(tests)
