/* SPDX-License-Identifier: MIT */
/*
 * ZZ_POOL_PREFAULT: every page committed at creation, so that handing out
 * every block and writing it takes no page fault; no byte of the backing's
 * memory changed; the guard page left alone; and a pool whose memory
 * cannot be committed is not created, with nothing left allocated.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sanitizer.h"
#include "test_main.h"
#include "zigzag.h"

static long minor_faults(void)
{
    struct rusage u;
    assert_int_equal(getrusage(RUSAGE_SELF, &u), 0);
    return u.ru_minflt;
}

/* Hands out every block of pool, writes a word into each, gives them back;
 * returns the page faults this took. */
static long faults_of_full_pass(zz_pool *pool, size_t capacity)
{
    void **blocks = malloc(capacity * sizeof(void *));
    assert_non_null(blocks);
    memset(blocks, 0, capacity * sizeof(void *)); /* its own faults, before counting */
    long before = minor_faults();
    for (size_t i = 0; i < capacity; i++) {
        blocks[i] = zz_pool_alloc(pool);
        assert_non_null(blocks[i]);
        *(volatile size_t *)blocks[i] = i;
    }
    long faults = minor_faults() - before;
    assert_null(zz_pool_alloc(pool));
    for (size_t i = 0; i < capacity; i++)
        assert_int_equal(zz_pool_free(pool, blocks[i]), 0);
    free(blocks);
    return faults;
}

/* 16 MiB of blocks: the lazy pool faults its way through them, the
 * prefaulted one does not fault at all. */
static void test_prefault_takes_no_fault_in_use(void **state)
{
    (void)state;
    if (ZZ_UNDER_ASAN || ZZ_UNDER_TSAN)
        skip(); /* their shadow memory faults on its own first use */
    const size_t n = (size_t)1 << 18;
    zz_pool *lazy, *eager;
    assert_int_equal(zz_pool_create(&lazy, &(zz_pool_options){.size = 64, .capacity = n}), 0);
    assert_int_equal(
        zz_pool_create(&eager,
                       &(zz_pool_options){.size = 64, .capacity = n, .flags = ZZ_POOL_PREFAULT}),
        0);
    long lazy_faults = faults_of_full_pass(lazy, n);
    long eager_faults = faults_of_full_pass(eager, n);
    print_message("page faults in a first pass over 16 MiB: lazy %ld, prefaulted %ld\n",
                  lazy_faults, eager_faults);
    /* One a page when lazy, as a lazy pool keeps small pages (a huge page
     * would take one for 2 MiB); a handful at most, and none of them the
     * pool's, when prefaulted. */
    assert_true(lazy_faults >= (long)(n * 64 / (size_t)sysconf(_SC_PAGESIZE)));
    assert_true(eager_faults < 8);
    zz_pool_stats st;
    zz_pool_stats_get(eager, &st);
    assert_int_equal(st.flags & ZZ_POOL_PREFAULT, ZZ_POOL_PREFAULT);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.peak_in_use, n);
    zz_pool_destroy(lazy);
    zz_pool_destroy(eager);
}

/* Committing writes no byte: a pool in a fixed buffer finds its blocks as
 * the buffer held them, and the system allocator's pool works as usual. */
static void test_prefault_other_backings(void **state)
{
    (void)state;
    static _Alignas(64) unsigned char buf[256 * 1024];
    memset(buf, 0xa5, sizeof(buf));
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, buf, sizeof(buf)), 0);
    zz_pool *pool;
    zz_pool_options o = {.size = 64,
                         .capacity = 1000,
                         .flags = ZZ_POOL_PREFAULT,
                         .backing = zz_fixed_buffer_allocator(&fb)};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    unsigned char *first = zz_pool_alloc(pool);
    assert_ptr_equal(first, buf);
    assert_int_equal(zz_pool_free(pool, first), 0);
    ZZ_TEST_UNPOISON(buf, 1000 * 64);
    for (size_t i = 0; i < 1000 * 64; i++)
        assert_int_equal(buf[i], 0xa5);
    zz_pool_destroy(pool);

    o.backing = zz_system_allocator();
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    void *p[1000];
    for (int i = 0; i < 1000; i++)
        assert_non_null(p[i] = zz_pool_alloc(pool));
    assert_null(zz_pool_alloc(pool));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    zz_pool_destroy(pool);
}

/* The guard page is not committed (it cannot be): creation succeeds, and
 * the page is not resident. */
static void test_prefault_with_guard_pages(void **state)
{
    (void)state;
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 100,
                                                 .capacity = 5000,
                                                 .flags = ZZ_POOL_PREFAULT | ZZ_POOL_GUARD_PAGES}),
        0);
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    unsigned char *first = zz_pool_alloc(pool);
    assert_non_null(first);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    assert_int_equal((uintptr_t)first % page, 0); /* block 0, the slab's start */
    unsigned char *guard = first + ((st.slab_bytes + page - 1) & ~(page - 1));
    unsigned char resident = 1;
    assert_int_equal(mincore(guard, page, &resident), 0);
    assert_int_equal(resident & 1, 0);
    assert_int_equal(zz_pool_free(pool, first), 0);
    zz_pool_destroy(pool);
}

/* A backing whose memory cannot all be committed: its fifth page, inside
 * the slab of the pool below, is inaccessible. */
static int backing_frees;

static void *half_protected_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (align > page)
        return NULL;
    size_t len = (size + page - 1) & ~(page - 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (len > 5 * page)
        assert_int_equal(mprotect((unsigned char *)p + 4 * page, page, PROT_NONE), 0);
    return p;
}

static void half_protected_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)ctx;
    (void)align;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    assert_int_equal(munmap(ptr, (size + page - 1) & ~(page - 1)), 0);
    backing_frees++;
}

/* Whether this kernel commits with MADV_POPULATE_WRITE; where it does not,
 * the pool touches every page, and an inaccessible one would crash it. */
static bool kernel_populates(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    int rc = madvise(p, page, 23 /* MADV_POPULATE_WRITE */);
    munmap(p, page);
    return rc == 0;
}

static void test_prefault_failure_leaves_nothing(void **state)
{
    (void)state;
    if (!kernel_populates())
        skip();
    static const zz_allocator_vtable vt = {half_protected_alloc, half_protected_free};
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = 64,
                         .capacity = 1000,
                         .flags = ZZ_POOL_PREFAULT,
                         .backing = {.ctx = NULL, .vtable = &vt}};
    backing_frees = 0;
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_null(pool);
    assert_int_equal(backing_frees, 1); /* the memory went back */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_prefault_takes_no_fault_in_use),
    cmocka_unit_test(test_prefault_other_backings),
    cmocka_unit_test(test_prefault_with_guard_pages),
    cmocka_unit_test(test_prefault_failure_leaves_nothing),
};

ZZ_TEST_MAIN(tests)
