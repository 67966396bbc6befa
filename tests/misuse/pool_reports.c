/* SPDX-License-Identifier: MIT */
/*
 * Misuse is reported, not only refused: the handler in the options sees
 * every foreign pointer, double free, write after free and leak with the
 * function, pool, pointer and detail; stats.misuses counts them;
 * ZZ_POOL_ABORT_ON_MISUSE prints one line and aborts (checked in a child
 * process); a batch record overwritten in a free block is detected and its
 * blocks recovered; a guard page stops an overflow off the slab.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/pool_internal.h"
#include "pool_checks.h"
#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

enum { MAX_REPORTS = 64 };

struct reports {
    size_t n;
    zz_pool_misuse r[MAX_REPORTS];
    size_t live_seen; /* ZZ_ELEAK: blocks the handler visited */
    void *live[MAX_REPORTS];
};

static void collect_live(void *ctx, void *block)
{
    struct reports *rs = ctx;
    if (rs->live_seen < MAX_REPORTS)
        rs->live[rs->live_seen] = block;
    rs->live_seen++;
}

static void record(void *ctx, const zz_pool_misuse *r)
{
    struct reports *rs = ctx;
    if (r->error == ZZ_ELEAK)
        (void)zz_pool_visit_live(r->pool, collect_live, rs);
    if (rs->n < MAX_REPORTS)
        rs->r[rs->n] = *r;
    rs->n++;
}

static zz_pool *make(size_t size, size_t cap, unsigned flags, size_t cache, struct reports *rs)
{
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = size,
                         .capacity = cap,
                         .flags = flags,
                         .thread_cache = cache,
                         .on_misuse = rs != NULL ? record : NULL,
                         .misuse_ctx = rs};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    return pool;
}

static void assert_report(const struct reports *rs, size_t i, const char *fn, const zz_pool *pool,
                          const void *ptr, int err)
{
    assert_true(i < rs->n);
    assert_string_equal(rs->r[i].function, fn);
    assert_ptr_equal(rs->r[i].pool, pool);
    assert_ptr_equal(rs->r[i].ptr, ptr);
    assert_int_equal(rs->r[i].error, err);
}

static void check_foreign_and_double(unsigned flags)
{
    struct reports rs = {0};
    zz_pool *pool = make(48, 16, flags, 0, &rs);
    unsigned char *p = zz_pool_alloc(pool);
    unsigned char *q = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, p + 1), ZZ_EFOREIGN);
    assert_report(&rs, 0, "zz_pool_free", pool, p + 1, ZZ_EFOREIGN);
    assert_int_equal(zz_pool_free(pool, p), 0);
    assert_int_equal(zz_pool_free(pool, p), ZZ_EDOUBLEFREE);
    assert_report(&rs, 1, "zz_pool_free", pool, p, ZZ_EDOUBLEFREE);
    assert_int_equal(zz_pool_free_zeroed(pool, p), ZZ_EDOUBLEFREE);
    assert_report(&rs, 2, "zz_pool_free_zeroed", pool, p, ZZ_EDOUBLEFREE);
    void *both[] = {q, p};
    assert_int_equal(zz_pool_free_bulk(pool, both, 2), ZZ_EDOUBLEFREE);
    assert_report(&rs, 3, "zz_pool_free_bulk", pool, p, ZZ_EDOUBLEFREE);
    /* Through the allocator interface, which returns nothing: still seen. */
    zz_free(zz_pool_allocator(pool), q + 8, 8, 8);
    assert_report(&rs, 4, "zz_pool_free", pool, q + 8, ZZ_EFOREIGN);
    assert_int_equal(rs.n, 5);
    assert_int_equal(zz_test_stats(pool).misuses, 5);
    assert_int_equal(zz_test_stats(pool).in_use, 1); /* q, still ours */
    assert_int_equal(zz_pool_free(pool, q), 0);
    assert_int_equal(zz_test_stats(pool).misuses, 5);
    zz_test_assert_valid(pool);
    zz_pool_destroy(pool);
}

static void test_handler_sees_foreign_and_double_frees(void **state)
{
    (void)state;
    check_foreign_and_double(0);
    check_foreign_and_double(ZZ_POOL_CHECKED);
    check_foreign_and_double(ZZ_POOL_NO_CACHE);
}

/* The free path keeps only the index of the pointer it was given and
 * turns it back into the pointer for the report: every kind of foreign
 * pointer, for strides of every shape (odd parts, powers of two, huge
 * alignments), reaches the handler exactly as it was passed. */
static void test_handler_sees_the_exact_foreign_pointer(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{8, 0},   {24, 0},   {48, 16}, {64, 64},  {72, 8},
                                       {100, 4}, {4096, 0}, {40, 8},  {8, 4096}, {1000, 8}};
    static const unsigned flag_sets[] = {0, ZZ_POOL_NO_CACHE, ZZ_POOL_CHECKED};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
            struct reports rs = {0};
            zz_pool *pool = NULL;
            zz_pool_options o = {.size = shapes[s][0],
                                 .align = shapes[s][1],
                                 .capacity = 8,
                                 .flags = flag_sets[f],
                                 .on_misuse = record,
                                 .misuse_ctx = &rs};
            assert_int_equal(zz_pool_create(&pool, &o), 0);
            size_t stride = zz_test_stats(pool).block_size;
            unsigned char *first = zz_pool_alloc(pool);
            assert_non_null(first);
            int local;
            uintptr_t base = (uintptr_t)pool->base;
            const uintptr_t foreign[] = {
                (uintptr_t)first + 1,
                (uintptr_t)first + stride - 1,
                base - 1,
                base - stride,
                base + 8 * stride,
                base + 9 * stride,
                (uintptr_t)&local,
                (uintptr_t)16,
                UINTPTR_MAX - 7,
                (uintptr_t)1 << 63,
            };
            size_t n = sizeof(foreign) / sizeof(foreign[0]);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(zz_pool_free(pool, (void *)foreign[i]), ZZ_EFOREIGN);
            assert_int_equal(rs.n, n);
            for (size_t i = 0; i < n; i++)
                assert_report(&rs, i, "zz_pool_free", pool, (const void *)foreign[i], ZZ_EFOREIGN);
            assert_int_equal(zz_pool_free(pool, first), 0);
            assert_int_equal(zz_pool_free(pool, first), ZZ_EDOUBLEFREE);
            assert_report(&rs, n, "zz_pool_free", pool, first, ZZ_EDOUBLEFREE);
            assert_int_equal(zz_test_stats(pool).in_use, 0);
            zz_test_assert_valid(pool);
            zz_pool_destroy(pool);
        }
    }
}

/* The handler of a refused bulk free sees the pool as the call leaves it:
 * the claims made before the refusal are already undone (found by the
 * fuzzer). */
struct live_probe {
    size_t live;
};

static void probe_live(void *ctx, const zz_pool_misuse *r)
{
    struct live_probe *lp = ctx;
    lp->live = zz_pool_visit_live(r->pool, NULL, NULL);
}

static void test_bulk_refusal_reported_after_undo(void **state)
{
    (void)state;
    struct live_probe lp = {0};
    zz_pool *pool;
    zz_pool_options o = {.size = 64, .capacity = 16, .on_misuse = probe_live, .misuse_ctx = &lp};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    void *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = zz_pool_alloc(pool);
    int local;
    void *mix[] = {p[0], p[1], p[2], &local};
    assert_int_equal(zz_pool_free_bulk(pool, mix, 4), ZZ_EFOREIGN);
    assert_int_equal(lp.live, 4);
    assert_int_equal(zz_pool_free_bulk(pool, p, 4), 0);
    zz_pool_destroy(pool);
}

static void test_misuses_counted_without_handler(void **state)
{
    (void)state;
    zz_pool *pool = make(64, 8, 0, 0, NULL);
    void *p = zz_pool_alloc(pool);
    int local;
    assert_int_equal(zz_pool_free(pool, &local), ZZ_EFOREIGN);
    assert_int_equal(zz_pool_free(pool, p), 0);
    assert_int_equal(zz_pool_free(pool, p), ZZ_EDOUBLEFREE);
    assert_int_equal(zz_test_stats(pool).misuses, 2);
    assert_int_equal(zz_pool_free(pool, NULL), 0); /* not a misuse */
    assert_int_equal(zz_test_stats(pool).misuses, 2);
    zz_pool_destroy(pool);
}

/* Writes one byte after free at `offset`, then takes the block back. */
static void check_write_after_free(size_t size, size_t cap, unsigned flags, size_t cache,
                                   size_t offset)
{
    struct reports rs = {0};
    zz_pool *pool = make(size, cap, ZZ_POOL_CHECKED | flags, cache, &rs);
    size_t stride = zz_test_stats(pool).block_size;
    unsigned char *p = zz_pool_alloc(pool);
    memset(p, 0x11, stride);
    assert_int_equal(zz_pool_free(pool, p), 0);
    ZZ_TEST_UNPOISON(p, stride);
    p[offset] = 0x42; /* the bug */
    unsigned char *again = zz_pool_alloc(pool);
    assert_ptr_equal(again, p); /* the last block freed comes back first */
    assert_int_equal(rs.n, 1);
    assert_report(&rs, 0, "zz_pool_alloc", pool, p, ZZ_ECORRUPT);
    assert_int_equal(rs.r[0].offset, offset);
    assert_int_equal(zz_test_stats(pool).misuses, 1);
    assert_int_equal(zz_pool_free(pool, again), 0);
    zz_pool_destroy(pool);
}

static void test_write_after_free_reported(void **state)
{
    (void)state;
    const size_t sizes[] = {8, 24, 64, 100, 4096};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t s = sizes[i];
        check_write_after_free(s, 1, 0, 0, 0);
        check_write_after_free(s, 1, 0, 0, s - 1);
        check_write_after_free(s, 64, ZZ_POOL_NO_CACHE, 0, s / 2);
        check_write_after_free(s, 512, 0, 8, s / 3); /* through a thread cache */
    }
}

/* Blocks pass through batch nodes, whose records the pool writes into free
 * blocks: only the application's own write is reported. */
static void test_write_after_free_found_through_batches(void **state)
{
    (void)state;
    enum { CAP = 2048 };
    struct reports rs = {0};
    /* 256-byte blocks: a record (at most 16 members here) stays below 68. */
    zz_pool *pool = make(256, CAP, ZZ_POOL_CHECKED, 32, &rs);
    void **p = malloc(CAP * sizeof(*p));
    assert_non_null(p);
    assert_int_equal(zz_pool_alloc_bulk(pool, p, CAP), 0); /* fresh: nothing to check */
    assert_int_equal(rs.n, 0);
    for (size_t i = 0; i < CAP; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    unsigned char *victim = p[CAP / 3];
    ZZ_TEST_UNPOISON(victim, 256);
    victim[200] = 0;
    assert_int_equal(zz_pool_flush(pool), 0);
    assert_int_equal(zz_pool_alloc_bulk(pool, p, CAP), 0);
    assert_int_equal(rs.n, 1);
    assert_report(&rs, 0, "zz_pool_alloc", pool, victim, ZZ_ECORRUPT);
    assert_int_equal(rs.r[0].offset, 200);
    assert_int_equal(zz_pool_free_bulk(pool, p, CAP), 0);
    assert_int_equal(rs.n, 1);
    zz_test_assert_valid(pool);
    free(p);
    zz_pool_destroy(pool);
}

static void test_clean_reuse_reports_nothing(void **state)
{
    (void)state;
    struct reports rs = {0};
    zz_pool *pool = make(40, 300, ZZ_POOL_CHECKED, 16, &rs);
    void *held[301];
    for (int round = 0; round < 20; round++) {
        size_t n = 0;
        while ((held[n] = zz_pool_alloc(pool)) != NULL)
            n++;
        assert_int_equal(n, 300);
        for (size_t i = 0; i < n; i += 2)
            assert_int_equal(zz_pool_free(pool, held[i]), 0);
        for (size_t i = 1; i < n; i += 2)
            assert_int_equal(zz_pool_free_zeroed(pool, held[i]), 0);
        if (round % 5 == 4) {
            assert_int_equal(zz_pool_wipe(pool), 0); /* blocks count as fresh again */
        }
    }
    assert_int_equal(rs.n, 0);
    assert_int_equal(zz_test_stats(pool).misuses, 0);
    zz_pool_destroy(pool);
}

static void test_leak_reported_at_destroy(void **state)
{
    (void)state;
    struct reports rs = {0};
    zz_pool *pool = make(32, 100, ZZ_POOL_CHECKED, 0, &rs);
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, p[1]), 0);
    assert_int_equal(zz_pool_free(pool, p[3]), 0);
    zz_pool *seen = pool;
    zz_pool_destroy(pool);
    assert_int_equal(rs.n, 1);
    assert_report(&rs, 0, "zz_pool_destroy", seen, p[0], ZZ_ELEAK);
    assert_int_equal(rs.r[0].count, 3);
    /* The handler could list them: p[0], p[2], p[4], in address order. */
    assert_int_equal(rs.live_seen, 3);
    assert_ptr_equal(rs.live[0], p[0]);
    assert_ptr_equal(rs.live[1], p[2]);
    assert_ptr_equal(rs.live[2], p[4]);
}

static void test_no_leak_report_when_clean_or_unchecked(void **state)
{
    (void)state;
    struct reports rs = {0};
    zz_pool *pool = make(32, 100, ZZ_POOL_CHECKED, 0, &rs);
    void *p = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, p), 0);
    zz_pool_destroy(pool);
    assert_int_equal(rs.n, 0);
    /* Without ZZ_POOL_CHECKED, destroying a pool in use is allowed. */
    pool = make(32, 100, 0, 0, &rs);
    (void)zz_pool_alloc(pool);
    zz_pool_destroy(pool);
    assert_int_equal(rs.n, 0);
}

static void count_visit(void *ctx, void *block)
{
    void ***cursor = ctx;
    *(*cursor)++ = block;
}

static void test_visit_live(void **state)
{
    (void)state;
    zz_pool *pool = make(24, 5000, 0, 0, NULL);
    void *p[100], *seen[100], **cursor = seen;
    for (int i = 0; i < 100; i++)
        p[i] = zz_pool_alloc(pool);
    for (int i = 1; i < 100; i += 2)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_int_equal(zz_pool_visit_live(pool, count_visit, &cursor), 50);
    assert_int_equal(cursor - seen, 50);
    for (int i = 1; i < 50; i++)
        assert_true((uintptr_t)seen[i - 1] < (uintptr_t)seen[i]); /* address order */
    for (int i = 0; i < 50; i++)
        assert_true(zz_pool_owns(pool, seen[i]));
    assert_int_equal(zz_pool_visit_live(pool, NULL, NULL), zz_test_stats(pool).in_use);
    assert_int_equal(zz_pool_visit_live(NULL, count_visit, &cursor), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(zz_pool_free(pool, seen[i]), 0);
    assert_int_equal(zz_pool_visit_live(pool, NULL, NULL), 0);
    zz_pool_destroy(pool);
}

static void test_format(void **state)
{
    (void)state;
    int x;
    zz_pool_misuse r = {
        "zz_pool_free", (const zz_pool *)(uintptr_t)0x1000, &x, ZZ_EDOUBLEFREE, 0, 0};
    char want[256], line[256];
    snprintf(want, sizeof(want), "zigzag: zz_pool_free(): %s (ZZ_EDOUBLEFREE): pool %p, block %p",
             zz_strerror(ZZ_EDOUBLEFREE), (void *)(uintptr_t)0x1000, (void *)&x);
    assert_int_equal(zz_pool_misuse_format(&r, line, sizeof(line)), strlen(want));
    assert_string_equal(line, want);
    /* Like snprintf: truncated but terminated, full length returned. */
    char small[10];
    assert_int_equal(zz_pool_misuse_format(&r, small, sizeof(small)), strlen(want));
    assert_int_equal(strlen(small), 9);
    assert_memory_equal(small, want, 9);
    assert_int_equal(zz_pool_misuse_format(&r, NULL, 0), strlen(want));
    r.error = ZZ_ECORRUPT;
    r.offset = 37;
    zz_pool_misuse_format(&r, line, sizeof(line));
    assert_non_null(strstr(line, "(ZZ_ECORRUPT)"));
    assert_non_null(strstr(line, "offset 37"));
    r.error = ZZ_ELEAK;
    r.count = 3;
    zz_pool_misuse_format(&r, line, sizeof(line));
    assert_non_null(strstr(line, "3 blocks in use"));
    assert_int_equal(zz_pool_misuse_format(NULL, line, sizeof(line)), 0);
    assert_string_equal(line, "");
}

/* Runs body in a child whose stderr is captured into out; returns the
 * child's wait status. */
static int in_child(void (*body)(void), char *out, size_t size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        /* The test framework turns faults into failures; the child must die. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        body();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < size && (k = read(fds[0], out + got, size - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_aborted(int status)
{
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void double_free_aborts(void)
{
    zz_pool *pool;
    zz_pool_options o = {.size = 64, .capacity = 4, .flags = ZZ_POOL_ABORT_ON_MISUSE};
    if (zz_pool_create(&pool, &o) != 0)
        _exit(3);
    void *p = zz_pool_alloc(pool);
    zz_pool_free(pool, p);
    fprintf(stderr, "pool %p block %p\n", (void *)pool, p);
    zz_pool_free(pool, p);
    _exit(4); /* not reached */
}

static void test_abort_on_double_free(void **state)
{
    (void)state;
    char err[1024];
    assert_aborted(in_child(double_free_aborts, err, sizeof(err)));
    void *pool, *p;
    assert_int_equal(sscanf(err, "pool %p block %p", &pool, &p), 2);
    char want[256];
    snprintf(want, sizeof(want), "zigzag: zz_pool_free(): %s (ZZ_EDOUBLEFREE): pool %p, block %p\n",
             zz_strerror(ZZ_EDOUBLEFREE), pool, p);
    assert_non_null(strstr(err, want));
}

static void say_handled(void *ctx, const zz_pool_misuse *r)
{
    (void)ctx;
    fprintf(stderr, "handler saw %s\n", zz_err_name(r->error));
}

static void foreign_free_with_handler_aborts(void)
{
    zz_pool *pool;
    zz_pool_options o = {
        .size = 64, .capacity = 4, .flags = ZZ_POOL_ABORT_ON_MISUSE, .on_misuse = say_handled};
    if (zz_pool_create(&pool, &o) != 0)
        _exit(3);
    int local;
    zz_pool_free(pool, &local);
    _exit(4);
}

static void test_abort_after_handler(void **state)
{
    (void)state;
    char err[1024];
    assert_aborted(in_child(foreign_free_with_handler_aborts, err, sizeof(err)));
    const char *handled = strstr(err, "handler saw ZZ_EFOREIGN\n");
    const char *line = strstr(err, "zz_pool_free(): ");
    assert_non_null(handled);
    assert_non_null(line);
    assert_true(handled < line); /* the handler runs first */
    assert_non_null(strstr(err, "(ZZ_EFOREIGN)"));
}

static void write_after_free_aborts(void)
{
    zz_pool *pool;
    zz_pool_options o = {
        .size = 64, .capacity = 4, .flags = ZZ_POOL_ABORT_ON_MISUSE | ZZ_POOL_CHECKED};
    if (zz_pool_create(&pool, &o) != 0)
        _exit(3);
    unsigned char *p = zz_pool_alloc(pool);
    zz_pool_free(pool, p);
    ZZ_TEST_UNPOISON(p, 64);
    p[5] = 1;
    (void)zz_pool_alloc(pool);
    _exit(4);
}

static void leak_aborts(void)
{
    zz_pool *pool;
    zz_pool_options o = {
        .size = 64, .capacity = 4, .flags = ZZ_POOL_ABORT_ON_MISUSE | ZZ_POOL_CHECKED};
    if (zz_pool_create(&pool, &o) != 0)
        _exit(3);
    (void)zz_pool_alloc(pool);
    (void)zz_pool_alloc(pool);
    zz_pool_destroy(pool);
    _exit(4);
}

static void test_abort_on_write_after_free_and_leak(void **state)
{
    (void)state;
    char err[1024];
    assert_aborted(in_child(write_after_free_aborts, err, sizeof(err)));
    assert_non_null(strstr(err, "zigzag: zz_pool_alloc(): "));
    assert_non_null(strstr(err, "(ZZ_ECORRUPT)"));
    assert_non_null(strstr(err, "offset 5"));
    assert_aborted(in_child(leak_aborts, err, sizeof(err)));
    assert_non_null(strstr(err, "zigzag: zz_pool_destroy(): "));
    assert_non_null(strstr(err, "(ZZ_ELEAK)"));
    assert_non_null(strstr(err, "2 blocks in use"));
}

/* The record of the batch node on top of the shared list, overwritten with
 * a plausible plain one (count 2, two blocks still in use): detected, and
 * neither block is handed out twice; the node's real members come back. */
static void test_forged_batch_record_is_not_followed(void **state)
{
    (void)state;
    enum { CAP = 4096 };
    struct reports rs = {0};
    zz_pool *pool = make(64, CAP, 0, 64, &rs);
    void **p = malloc(CAP * sizeof(*p));
    assert_non_null(p);
    assert_int_equal(zz_pool_alloc_bulk(pool, p, CAP), 0);
    for (size_t i = 0; i < CAP / 2; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    assert_int_equal(zz_pool_flush(pool), 0);
    uint32_t top = (uint32_t)atomic_load_explicit(&pool->fl.head, memory_order_relaxed);
    uint32_t link = atomic_load_explicit(&pool->fl.links[top], memory_order_relaxed);
    assert_true(zz__link_is_batch(link));
    uint32_t forged[3] = {2, (uint32_t)zz__pool_index(pool, p[CAP - 1]),
                          (uint32_t)zz__pool_index(pool, p[CAP - 2])};
    void *head = zz__pool_block(pool, top);
    ZZ_TEST_UNPOISON(head, sizeof(forged));
    memcpy(head, forged, sizeof(forged));

    size_t n = 0;
    while ((p[n] = zz_pool_alloc(pool)) != NULL)
        n++;
    assert_int_equal(n, CAP / 2); /* what was free, no more, no less */
    assert_int_equal(rs.n, 1);
    assert_report(&rs, 0, "zz_pool_alloc", pool, head, ZZ_ECORRUPT);
    for (size_t i = 0; i < n; i++)
        assert_true(p[i] != zz__pool_block(pool, forged[1]) &&
                    p[i] != zz__pool_block(pool, forged[2]));
    zz_test_assert_distinct_owned(pool, p, n);
    assert_int_equal(zz_test_stats(pool).in_use, CAP);
    zz_test_assert_valid(pool);
    free(p);
    zz_pool_destroy(pool);
}

/* The same record read by another pool's key does not check out: the
 * secret differs per pool. */
static void test_records_are_keyed_per_pool(void **state)
{
    (void)state;
    zz_pool *a = make(64, 4096, 0, 64, NULL);
    zz_pool *b = make(64, 4096, 0, 64, NULL);
    assert_true(a->secret != b->secret);
    zz_pool_destroy(a);
    zz_pool_destroy(b);
}

static void guard_overflow(void)
{
    zz_pool *pool;
    zz_pool_options o = {.size = 64, .capacity = 64, .flags = ZZ_POOL_GUARD_PAGES};
    if (zz_pool_create(&pool, &o) != 0)
        _exit(3);
    unsigned char *last = NULL, *b;
    while ((b = zz_pool_alloc(pool)) != NULL)
        last = b > last ? b : last;
    memset(last, 1, 64);                                                          /* fine */
    ((volatile unsigned char *)last)[64 + (size_t)sysconf(_SC_PAGESIZE) / 2] = 1; /* the guard */
    _exit(4);
}

static void test_guard_page_stops_overflow(void **state)
{
    (void)state;
    if ((size_t)sysconf(_SC_PAGESIZE) != 4096)
        skip(); /* the layout below assumes a slab of exactly one page */
    char err[4096];
    int status = in_child(guard_overflow, err, sizeof(err));
    /* A sanitizer's runtime catches the fault itself, reports it and exits. */
    bool faulted = (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) ||
                   (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3 &&
                    WEXITSTATUS(status) != 4 && strstr(err, "SEGV"));
    assert_true(faulted);
}

static void test_guard_pages_on_any_backing(void **state)
{
    (void)state;
    static _Alignas(4096) unsigned char buf[64 * 1024];
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, buf, sizeof(buf)), 0);
    zz_allocator backings[] = {zz_page_allocator(), zz_system_allocator(),
                               zz_fixed_buffer_allocator(&fb)};
    for (size_t i = 0; i < 3; i++) {
        zz_pool *pool;
        zz_pool_options o = {
            .size = 24, .capacity = 100, .flags = ZZ_POOL_GUARD_PAGES, .backing = backings[i]};
        assert_int_equal(zz_pool_create(&pool, &o), 0);
        void *p[100];
        for (int k = 0; k < 100; k++) {
            p[k] = zz_pool_alloc(pool);
            assert_non_null(p[k]);
            memset(p[k], k, 24);
        }
        zz_test_assert_distinct_owned(pool, p, 100);
        assert_true(zz_test_stats(pool).meta_bytes >= (size_t)sysconf(_SC_PAGESIZE));
        for (int k = 0; k < 100; k++)
            assert_int_equal(zz_pool_free(pool, p[k]), 0);
        zz_pool_destroy(pool);
    }
    /* The guard is lifted on destroy: the whole buffer is writable again. */
    assert_int_equal(fb.used, 0);
    memset(buf, 0, sizeof(buf));
    /* A buffer too small for the page-aligned layout fails cleanly. */
    zz_fixed_buffer tiny;
    assert_int_equal(zz_fixed_buffer_init(&tiny, buf, 4096), 0);
    zz_pool *pool;
    zz_pool_options o = {.size = 24,
                         .capacity = 100,
                         .flags = ZZ_POOL_GUARD_PAGES,
                         .backing = zz_fixed_buffer_allocator(&tiny)};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_int_equal(tiny.used, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handler_sees_foreign_and_double_frees),
    cmocka_unit_test(test_handler_sees_the_exact_foreign_pointer),
    cmocka_unit_test(test_misuses_counted_without_handler),
    cmocka_unit_test(test_bulk_refusal_reported_after_undo),
    cmocka_unit_test(test_write_after_free_reported),
    cmocka_unit_test(test_write_after_free_found_through_batches),
    cmocka_unit_test(test_clean_reuse_reports_nothing),
    cmocka_unit_test(test_leak_reported_at_destroy),
    cmocka_unit_test(test_no_leak_report_when_clean_or_unchecked),
    cmocka_unit_test(test_visit_live),
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_abort_on_double_free),
    cmocka_unit_test(test_abort_after_handler),
    cmocka_unit_test(test_abort_on_write_after_free_and_leak),
    cmocka_unit_test(test_forged_batch_record_is_not_followed),
    cmocka_unit_test(test_records_are_keyed_per_pool),
    cmocka_unit_test(test_guard_page_stops_overflow),
    cmocka_unit_test(test_guard_pages_on_any_backing),
};

ZZ_TEST_MAIN(tests)
