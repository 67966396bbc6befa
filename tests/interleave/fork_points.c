/* SPDX-License-Identifier: MIT */
/*
 * fork() at every step of another thread's operation. The child gets a copy
 * of memory taken wherever the parent's other threads happen to be, and the
 * pool promises that it may lose the blocks such a thread was moving, but
 * never hands a block out twice (pool.h). Built over the interleaving pool
 * (ZZ_TEST_INTERLEAVE): a second thread runs a free that spills its full
 * cache to the shared list and then keeps the block, and stops at its k-th
 * interleave point while the main thread forks; for every k, the child
 * takes every block it can and checks that none came twice. The points sit
 * between the stores of a cache's entries and of its count, among others,
 * so an order that lets a copy count an entry before it is written (a
 * stale entry: a block the spill has just put on the shared list) fails.
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

enum { CAPACITY = 64, CACHE = 4, TAKEN = 2 * CACHE + 2 };

static struct {
    zz_pool *pool;
    unsigned stop_at; /* the interleave point of the last free to fork at */
    unsigned passed;  /* points that free has passed */
    size_t kept;      /* blocks the other thread holds through the fork */
    atomic_int state; /* enum below */
} run;

enum { RUNNING, PAUSED, RESUME, DONE };

/* The free's interleave points: counted, and the stop_at-th waits for the
 * main thread's fork. */
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
    void *p[TAKEN];
    int bad = 0;
    for (size_t i = 0; i < TAKEN; i++)
        bad |= (p[i] = zz_pool_alloc(run.pool)) == NULL;
    /* Frees until the cache is full (refills leave it part full); the
     * next free finds it so and spills. */
    size_t i = 0;
    for (; !bad && i < TAKEN - 1 && zz_test_stats(run.pool).cached < CACHE; i++)
        bad |= zz_pool_free(run.pool, p[i]) != 0;
    bad |= zz_test_stats(run.pool).cached != CACHE;
    run.kept = TAKEN - i - 1;
    run.passed = 0;
    zz__test_interleave_action = at_point;
    bad |= !bad && zz_pool_free(run.pool, p[i]) != 0;
    zz__test_interleave_action = NULL;
    atomic_store_explicit(&run.state, DONE, memory_order_seq_cst);
    return (void *)(intptr_t)bad;
}

/* In the child: takes every block; 0 when none came twice, none is
 * foreign, and at most the moving ones are lost. */
static int child_check(zz_pool *pool)
{
    void *p[CAPACITY + 1];
    size_t n = 0;
    while (n <= CAPACITY && (p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    /* Lost at most: the blocks kept there, the one being freed and the
     * half cache spilled. */
    if (n > CAPACITY || n < CAPACITY - run.kept - 1 - CACHE / 2)
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

/* Forks at the free's stop_at-th point; -1 when the free passed fewer. */
static int fork_at(unsigned k)
{
    run.pool = zz_test_pool_make(64, 0, CAPACITY, 0, CACHE);
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
    void *bad;
    assert_int_equal(pthread_join(t, &bad), 0);
    assert_null(bad);
    zz_pool_destroy(run.pool);
    return result;
}

static void test_fork_at_every_point_of_a_spilling_free(void **state)
{
    (void)state;
    if (ZZ_UNDER_TSAN) {
        /* TSan's runtime is not fork-safe with a thread inside it; the
         * release and ASan builds run this test. */
        skip();
    }
    unsigned k = 1;
    int result;
    while ((result = fork_at(k)) >= 0) {
        if (result != 0)
            fail_msg("child forked at point %u of the free: code %d (100 + a signal: 114 is "
                     "SIGALRM, a hang)",
                     k, result);
        k++;
    }
    print_message("forked at %u points\n", k - 1);
    /* The spill's count, its push and the put's entry and count at least. */
    assert_true(k - 1 >= 4);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fork_at_every_point_of_a_spilling_free),
};

ZZ_TEST_MAIN(tests)
