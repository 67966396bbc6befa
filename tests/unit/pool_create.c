/* SPDX-License-Identifier: MIT */
/*
 * Pool creation and destruction: option checks and their error codes,
 * block geometry, the typed helper, creation in O(1) with lazy commit, and
 * failure injection proving that a failed create leaks nothing.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <unistd.h>

#include "failing_allocator.h"
#include "sanitizer.h"
#include "pool/pool_internal.h"
#include "test_main.h"
#include "zigzag.h"

/* A counting allocator over the system allocator, fresh for each test. */
static zz_counting counting;

static zz_allocator counted(void)
{
    assert_int_equal(zz_counting_init(&counting, zz_system_allocator()), 0);
    return zz_counting_allocator(&counting);
}

static zz_counting_stats counts(void)
{
    zz_counting_stats s;
    zz_counting_stats_get(&counting, &s);
    return s;
}

static void test_create_defaults(void **state)
{
    (void)state;
    zz_pool *pool = NULL;
    assert_int_equal(zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = 1 << 20}), 0);
    assert_non_null(pool);
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    assert_int_equal(st.capacity, 1 << 20);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.peak_in_use, 0);
    assert_int_equal(st.block_size, 64);
    assert_int_equal(st.block_align, alignof(max_align_t));
    assert_int_equal(st.flags, 0);
    assert_int_equal(st.slab_bytes, (size_t)64 << 20);
    /* Bookkeeping: at most 4 bytes a block, plus a fixed header and the
     * thread caches (a fixed number, each of 16 bytes and its entries). */
    assert_int_equal(st.thread_cache, ZZ_POOL_MAX_THREAD_CACHE);
    size_t caches = ZZ_POOL_MAX_CACHED_THREADS * (16 + 4 * st.thread_cache + 64);
    assert_true(st.meta_bytes <= 4 * st.capacity + 512 + caches);
    zz_pool_destroy(pool);
}

static void test_create_geometry(void **state)
{
    (void)state;
    static const struct {
        size_t size, align, stride, block_align;
    } cases[] = {
        {1, 1, 8, 1},          {3, 0, 16, 16},           {8, 8, 8, 8},
        {24, 8, 24, 8},        {40, 8, 40, 8},           {100, 4, 100, 4},
        {17, 16, 32, 16},      {64, 64, 64, 64},         {65, 64, 128, 64},
        {1, 4096, 4096, 4096}, {4097, 4096, 8192, 4096}, {96, 32, 96, 32},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        zz_pool *pool;
        zz_pool_options o = {.size = cases[i].size, .align = cases[i].align, .capacity = 7};
        assert_int_equal(zz_pool_create(&pool, &o), 0);
        zz_pool_stats st;
        zz_pool_stats_get(pool, &st);
        assert_int_equal(st.block_size, cases[i].stride);
        assert_int_equal(st.block_align, cases[i].block_align);
        for (int k = 0; k < 7; k++) {
            unsigned char *p = zz_pool_alloc(pool);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % st.block_align, 0);
            memset(p, 0xab, cases[i].size);
        }
        assert_null(zz_pool_alloc(pool));
        zz_pool_destroy(pool);
    }
}

struct order {
    long id;
    double price;
    alignas(32) char note[40];
};

static void test_options_for_type(void **state)
{
    (void)state;
    zz_pool_options o = ZZ_POOL_OPTIONS_FOR(struct order, 4096);
    assert_int_equal(o.size, sizeof(struct order));
    assert_int_equal(o.align, alignof(struct order));
    assert_int_equal(o.capacity, 4096);
    assert_int_equal(o.flags, 0);
    assert_null(o.backing.vtable);
    zz_pool *pool;
    assert_int_equal(zz_pool_create(&pool, &ZZ_POOL_OPTIONS_FOR(struct order, 4096)), 0);
    struct order *ord = zz_pool_alloc(pool);
    assert_non_null(ord);
    assert_int_equal((uintptr_t)ord % alignof(struct order), 0);
    ord->id = 1;
    assert_int_equal(zz_pool_free(pool, ord), 0);
    zz_pool_destroy(pool);
}

/* Every invalid option gives ZZ_EINVAL, leaves *out alone and allocates nothing. */
static void test_create_invalid(void **state)
{
    (void)state;
    zz_allocator a = counted();
    const zz_allocator_vtable no_free = {zz_system_allocator().vtable->alloc, NULL};
    int dummy;
    const zz_pool_options bad[] = {
        {.size = 0, .capacity = 8, .backing = a},
        {.size = 8, .capacity = 0, .backing = a},
        {.size = 8, .capacity = (size_t)ZZ_POOL_MAX_CAPACITY + 1, .backing = a},
        {.size = 8, .capacity = SIZE_MAX, .backing = a},
        {.size = 8, .align = 3, .capacity = 8, .backing = a},
        {.size = 8, .align = 24, .capacity = 8, .backing = a},
        {.size = 8, .align = ZZ_POOL_MAX_ALIGN * 2, .capacity = 8, .backing = a},
        {.size = 8, .align = (size_t)1 << 40, .capacity = 8, .backing = a},
        {.size = SIZE_MAX, .capacity = 1, .backing = a},
        {.size = SIZE_MAX - 7, .align = 16, .capacity = 1, .backing = a},
        {.size = (SIZE_MAX / 2) + 1, .capacity = 2, .backing = a},
        {.size = (size_t)1 << 40, .capacity = (size_t)1 << 30, .backing = a},
        {.size = 8, .capacity = 8, .flags = 1u << 31, .backing = a},
        {.size = 8, .capacity = 8, .flags = ~(unsigned)ZZ_POOL_VALID_FLAGS, .backing = a},
        {.size = 8, .capacity = 8, .backing = {.ctx = &dummy, .vtable = NULL}},
        {.size = 8, .capacity = 8, .backing = {.ctx = NULL, .vtable = &no_free}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        zz_pool *pool = (zz_pool *)(void *)&dummy;
        assert_int_equal(zz_pool_create(&pool, &bad[i]), ZZ_EINVAL);
        assert_ptr_equal(pool, (void *)&dummy); /* out untouched */
        size_t bytes = 7, align = 9;
        assert_int_equal(zz_pool_footprint(&bad[i], &bytes, &align), ZZ_EINVAL);
        assert_int_equal(bytes, 7);
        assert_int_equal(align, 9);
    }
    zz_pool *pool;
    assert_int_equal(zz_pool_create(NULL, &(zz_pool_options){.size = 8, .capacity = 8}), ZZ_EINVAL);
    assert_int_equal(zz_pool_create(&pool, NULL), ZZ_EINVAL);
    zz_counting_stats s = counts();
    assert_int_equal(s.allocs + s.failed_allocs, 0);
}

/* zz_pool_footprint names the one request zz_pool_create makes: a fixed
 * buffer of exactly that size holds the pool, one byte less does not. */
static void test_footprint_is_what_create_takes(void **state)
{
    (void)state;
    const zz_pool_options shapes[] = {
        {.size = 64, .capacity = 1 << 16},
        {.size = 12, .align = 4, .capacity = 128},
        {.size = 24, .capacity = 1000, .flags = ZZ_POOL_NO_CACHE},
        {.size = 40, .capacity = 300, .flags = ZZ_POOL_CHECKED},
        {.size = 100, .align = 4096, .capacity = 5, .thread_cache = 4},
        {.size = 32, .capacity = 77, .flags = ZZ_POOL_GUARD_PAGES},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        size_t bytes = 0, align = 0;
        assert_int_equal(zz_pool_footprint(&shapes[i], &bytes, &align), 0);
        assert_true(bytes >= shapes[i].size * shapes[i].capacity);
        assert_true(align >= (shapes[i].align ? shapes[i].align : alignof(max_align_t)));

        /* The counting allocator sees exactly that request. */
        zz_pool_options o = shapes[i];
        o.backing = counted();
        zz_pool *pool;
        assert_int_equal(zz_pool_create(&pool, &o), 0);
        assert_int_equal(counts().live_bytes, bytes);
        assert_int_equal(counts().allocs, 1);
        zz_pool_destroy(pool);

        /* Exactly that much caller memory at that alignment is enough... */
        unsigned char *buf = aligned_alloc(align, (bytes + align - 1) / align * align);
        assert_non_null(buf);
        zz_fixed_buffer fb;
        assert_int_equal(zz_fixed_buffer_init(&fb, buf, bytes), 0);
        o.backing = zz_fixed_buffer_allocator(&fb);
        assert_int_equal(zz_pool_create(&pool, &o), 0);
        assert_int_equal(fb.used, bytes);
        void *p = zz_pool_alloc(pool);
        assert_non_null(p);
        assert_int_equal(zz_pool_free(pool, p), 0);
        zz_pool_destroy(pool);
        /* ...and a byte less is not, with nothing taken. */
        assert_int_equal(zz_fixed_buffer_init(&fb, buf, bytes - 1), 0);
        assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
        assert_int_equal(fb.used, 0);
        free(buf);
    }
    size_t bytes, align;
    zz_pool_options ok = {.size = 8, .capacity = 8};
    assert_int_equal(zz_pool_footprint(NULL, &bytes, &align), ZZ_EINVAL);
    assert_int_equal(zz_pool_footprint(&ok, NULL, &align), ZZ_EINVAL);
    assert_int_equal(zz_pool_footprint(&ok, &bytes, NULL), ZZ_EINVAL);
}

/* The backing allocator's failure is ZZ_ENOMEM, with nothing leaked. */
static void test_create_backing_fails(void **state)
{
    (void)state;
    zz_allocator a = counted();
    zz_failing f;
    zz_failing_init(&f, a, 0, true);
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = 32, .capacity = 100, .backing = zz_failing_allocator(&f)};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_null(pool);
    assert_int_equal(f.failures, 1);
    zz_counting_stats s = counts();
    assert_int_equal(s.live_bytes, 0);
    assert_int_equal(s.allocs, 0);

    /* A request no allocator can meet: the page allocator says no. */
    o = (zz_pool_options){.size = (size_t)1 << 30, .capacity = ZZ_POOL_MAX_CAPACITY};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
}

static int create_scenario(zz_allocator a, void *arg)
{
    (void)arg;
    zz_pool *pool;
    int rc = zz_pool_create(&pool, &(zz_pool_options){.size = 48, .capacity = 33, .backing = a});
    if (rc != 0)
        return rc;
    void *p[33];
    for (int i = 0; i < 33; i++)
        p[i] = zz_pool_alloc(pool);
    for (int i = 0; i < 33; i++)
        if (p[i] == NULL || zz_pool_free(pool, p[i]) != 0)
            return -100;
    zz_pool_destroy(pool);
    return 0;
}

/* Every allocation a pool's life makes, failed in turn: always reported,
 * never leaked (the helper checks a counting allocator after each run). */
static void test_create_failure_injection(void **state)
{
    (void)state;
    size_t calls = zz_failing_check_all(zz_system_allocator(), create_scenario, NULL);
    assert_true(calls >= 1);
}

/* Destroy gives back exactly what create took. */
static void test_destroy_returns_everything(void **state)
{
    (void)state;
    zz_allocator a = counted();
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool, &(zz_pool_options){.size = 24, .capacity = 1000, .backing = a}), 0);
    zz_counting_stats s = counts();
    assert_int_equal(s.allocs, 1);
    assert_true(s.live_bytes >= 24 * 1000);
    for (int i = 0; i < 500; i++)
        assert_non_null(zz_pool_alloc(pool));
    zz_pool_destroy(pool);
    s = counts();
    assert_int_equal(s.frees, 1);
    assert_int_equal(s.live_bytes, 0);
    zz_pool_destroy(NULL);
}

/* A backing allocator that ignores alignment cannot serve a pool. */
static void *misaligned_alloc(void *ctx, size_t size, size_t align)
{
    (void)align;
    unsigned char *p = zz_alloc(*(zz_allocator *)ctx, size + 64, 64);
    return p == NULL ? NULL : p + 8;
}

static void misaligned_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)align;
    zz_free(*(zz_allocator *)ctx, (unsigned char *)ptr - 8, size + 64, 64);
}

static void test_create_misaligned_backing(void **state)
{
    (void)state;
    zz_allocator inner = counted();
    static const zz_allocator_vtable vt = {misaligned_alloc, misaligned_free};
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = 64, .capacity = 10, .backing = {.ctx = &inner, .vtable = &vt}};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    assert_null(pool);
    assert_int_equal(counts().live_bytes, 0);
}

/* A backing allocator that serves alignments up to 64 only, as a cache
 * line aligned arena might, and says no to anything more. */
static void *align64_alloc(void *ctx, size_t size, size_t align)
{
    return align > 64 ? NULL : zz_alloc(*(zz_allocator *)ctx, size, align);
}

static void align64_free(void *ctx, void *ptr, size_t size, size_t align)
{
    zz_free(*(zz_allocator *)ctx, ptr, size, align);
}

/* An alignment the backing allocator cannot give is ZZ_EINVAL, with
 * nothing kept; a backing with no memory at all is still ZZ_ENOMEM. */
static void test_create_alignment_backing_cannot_give(void **state)
{
    (void)state;
    zz_allocator inner = counted();
    static const zz_allocator_vtable vt = {align64_alloc, align64_free};
    zz_allocator align64 = {.ctx = &inner, .vtable = &vt};
    zz_pool *pool = NULL;
    zz_pool_options o = {.size = 64, .align = 4096, .capacity = 10, .backing = align64};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    assert_null(pool);
    zz_counting_stats s = counts();
    assert_int_equal(s.live_bytes, 0);
    assert_int_equal(s.allocs, s.frees);
    o.align = 64; /* what it can give */
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    zz_pool_destroy(pool);

    /* A fixed buffer with room for the pool, but not for its alignment. */
    size_t bytes, align;
    o = (zz_pool_options){.size = 64, .align = 4096, .capacity = 10};
    assert_int_equal(zz_pool_footprint(&o, &bytes, &align), 0);
    assert_int_equal(align, 4096);
    unsigned char *buf = aligned_alloc(4096, (bytes + 2 * 4096 - 1) / 4096 * 4096);
    assert_non_null(buf);
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, buf + 64, bytes), 0);
    o.backing = zz_fixed_buffer_allocator(&fb);
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_EINVAL);
    assert_int_equal(fb.used, 0);
    /* Too small for the pool at any alignment: no memory. */
    assert_int_equal(zz_fixed_buffer_init(&fb, buf + 64, bytes - 1), 0);
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_int_equal(fb.used, 0);
    free(buf);

    /* A backing that fails every request is out of memory, aligned or not. */
    zz_failing f;
    zz_failing_init(&f, counted(), 0, true);
    o = (zz_pool_options){
        .size = 64, .align = 4096, .capacity = 10, .backing = zz_failing_allocator(&f)};
    assert_int_equal(zz_pool_create(&pool, &o), ZZ_ENOMEM);
    assert_int_equal(counts().live_bytes, 0);
}

/* Resident anonymous memory in bytes: resident minus shared (file-backed)
 * pages, from /proc/self/statm. The program's own code counts as resident
 * too, and the kernel reads it in around each first fault, tens or
 * hundreds of KiB more or less by chance: that is not the pool's. */
static size_t rss_bytes(void)
{
    long pages = 0, resident = 0, shared = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld %ld", &pages, &resident, &shared), 3);
    fclose(f);
    return (size_t)(resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

/* 16,777,216 blocks of 64 bytes from `backing`: 1 GiB reserved, almost
 * nothing committed, even after 1,000 blocks are handed out. */
static void check_create_is_lazy(zz_allocator backing)
{
    if (ZZ_UNDER_ASAN || ZZ_UNDER_TSAN) {
        /* A sanitizer's shadow and allocator pages make RSS meaningless here. */
        skip();
    }
    size_t before = rss_bytes();
    zz_pool *pool;
    assert_int_equal(
        zz_pool_create(&pool,
                       &(zz_pool_options){.size = 64, .capacity = 1 << 24, .backing = backing}),
        0);
    size_t after_create = rss_bytes();
    void *p[1000];
    for (int i = 0; i < 1000; i++) {
        p[i] = zz_pool_alloc(pool);
        assert_non_null(p[i]);
        memset(p[i], 0x5a, 64);
    }
    size_t after_alloc = rss_bytes();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(zz_pool_free(pool, p[i]), 0);
    print_message("anonymous memory growth: create %zu KiB, +1000 blocks %zu KiB\n",
                  (after_create - before) >> 10, (after_alloc - before) >> 10);
    assert_true(after_create - before < ((size_t)256 << 10));
    assert_true(after_alloc - before < ((size_t)2 << 20));
    zz_pool_destroy(pool);
}

static void test_create_is_lazy(void **state)
{
    (void)state;
    check_create_is_lazy((zz_allocator){0});
}

/* A counting allocator over the page allocator hands on the same zeroed,
 * lazily committed memory: creation stays O(1) under a leak check. */
static void test_create_is_lazy_through_counting(void **state)
{
    (void)state;
    zz_counting outer, inner;
    assert_int_equal(zz_counting_init(&inner, zz_page_allocator()), 0);
    assert_int_equal(zz_counting_init(&outer, zz_counting_allocator(&inner)), 0);
    check_create_is_lazy(zz_counting_allocator(&outer));
    zz_counting_stats s;
    zz_counting_stats_get(&outer, &s);
    assert_int_equal(s.allocs, 1);
    assert_int_equal(s.live_bytes, 0);
}

/* Blocks never handed out are never written, with any backing. */
static void test_untouched_blocks_stay_untouched(void **state)
{
    (void)state;
    static unsigned char buf[64 * 1024];
    memset(buf, 0xa5, sizeof(buf));
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, buf, sizeof(buf)), 0);
    zz_pool *pool;
    zz_pool_options o = {.size = 64, .capacity = 100, .backing = zz_fixed_buffer_allocator(&fb)};
    assert_int_equal(zz_pool_create(&pool, &o), 0);
    unsigned char *first = zz_pool_alloc(pool);
    unsigned char *second = zz_pool_alloc(pool);
    assert_int_equal(zz_pool_free(pool, second), 0);
    assert_int_equal(zz_pool_free(pool, first), 0);
    /* Blocks 2..99 still hold the pattern; so do the two handed out. */
    ZZ_TEST_UNPOISON(first, 100 * 64);
    for (size_t i = 0; i < 100 * 64; i++)
        assert_int_equal(first[i], 0xa5);
    zz_pool_destroy(pool);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create_defaults),
    cmocka_unit_test(test_create_geometry),
    cmocka_unit_test(test_options_for_type),
    cmocka_unit_test(test_create_invalid),
    cmocka_unit_test(test_footprint_is_what_create_takes),
    cmocka_unit_test(test_create_backing_fails),
    cmocka_unit_test(test_create_failure_injection),
    cmocka_unit_test(test_destroy_returns_everything),
    cmocka_unit_test(test_create_misaligned_backing),
    cmocka_unit_test(test_create_alignment_backing_cannot_give),
    cmocka_unit_test(test_create_is_lazy),
    cmocka_unit_test(test_create_is_lazy_through_counting),
    cmocka_unit_test(test_untouched_blocks_stay_untouched),
};

ZZ_TEST_MAIN(tests)
