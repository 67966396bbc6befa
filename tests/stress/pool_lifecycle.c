/* SPDX-License-Identifier: MIT */
/*
 * Threads and pools that come and go: threads that exit leave their caches
 * behind and the blocks come back; a pool destroyed while a thread that
 * cached its blocks lives on, and a new pool created in its place (same
 * address), are both safe and exact; fork() with blocks in other threads'
 * caches leaves the child a whole pool.
 *
 * Threads never call cmocka asserts; CHECK counts and prints failures,
 * which the main thread asserts to be zero. Every wait is bounded, so a
 * broken pool fails a test instead of hanging it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform/atomic.h"
#include "pool_checks.h"
#include "thread_checks.h"
#include "zigzag.h"

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

/* Opens the survivor's gates and starts its worker. */
static pthread_t survivor_start(struct survivor *s)
{
    gate_init(&s->step);
    gate_init(&s->progress);
    gate_init(&s->release);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, survivor_main, s), 0);
    return t;
}

/* Closes the gates of a survivor whose worker was joined, and frees it. */
static void survivor_free(struct survivor *s)
{
    gate_destroy(&s->step);
    gate_destroy(&s->progress);
    gate_destroy(&s->release);
    free(s);
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
    pthread_t t = survivor_start(s);
    assert_true(gate_wait(&s->progress, 1));
    zz_pool_destroy(s->p1);
    gate_add(&s->step, 1);
    assert_true(gate_wait(&s->progress, 2));
    gate_add(&s->release, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_no_errors();
    assert_exact_capacity(s->p2, s->cap2);
    zz_pool_destroy(s->p2);
    survivor_free(s);
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
    pthread_t t = survivor_start(s);
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
    survivor_free(s);
}

static void test_recreate_while_thread_lives(void **state)
{
    (void)state;
    run_recreate(true, 64, 256);
    run_recreate(true, 32, 512); /* same slab bytes, another shape */
    run_recreate(false, 64, 256);
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

/* A fork test's pool (FORK_CAP blocks, caches of 32) and its helper's gates. */
static struct forker *forker_new(void)
{
    struct forker *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->pool = make(64, FORK_CAP, 0, 32);
    gate_init(&f->idle);
    gate_init(&f->release);
    return f;
}

static void forker_free(struct forker *f)
{
    gate_destroy(&f->idle);
    gate_destroy(&f->release);
    zz_pool_destroy(f->pool);
    free(f);
}

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
    struct forker *f = forker_new();
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
    forker_free(f);
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
    struct forker *f = forker_new();
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
    forker_free(f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_thread_exit_leaves_cache),
    cmocka_unit_test(test_destroy_while_thread_lives),
    cmocka_unit_test(test_recreate_while_thread_lives),
    cmocka_unit_test(test_fork_with_idle_cache),
    cmocka_unit_test(test_fork_while_thread_busy),
};

ZZ_TEST_MAIN(tests)
