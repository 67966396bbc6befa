/* SPDX-License-Identifier: MIT */
/*
 * zz_page_allocator: the conformance suite, page alignment and rounding,
 * zeroed memory, alignments above the page size, and that memory is
 * committed only when touched (measured with the resident set size).
 */
#include "test_main.h"

#include <stdlib.h>
#include <unistd.h>

#include "allocator_conformance.h"
#include "internal.h"
#include "platform/os.h"
#include "zigzag.h"

#define MIB ((size_t)1 << 20)

/* Resident anonymous memory in bytes, from /proc/self/statm: resident
 * minus shared (file-backed) pages, so that the program's own code, read in
 * around its first faults, does not count. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long size_pages = 0, resident_pages = 0, shared_pages = 0;
    int n = fscanf(f, "%lu %lu %lu", &size_pages, &resident_pages, &shared_pages);
    fclose(f);
    assert_int_equal(n, 3);
    return (size_t)(resident_pages - shared_pages) * (size_t)sysconf(_SC_PAGESIZE);
}

static void test_page_conformance(void **state)
{
    (void)state;
    zz_conformance_run(zz_page_allocator(), &(zz_conformance_opts){.zeroed = true});
}

static void test_page_size(void **state)
{
    (void)state;
    size_t ps = zz_page_size();
    assert_true(ps >= 4096);
    assert_int_equal(ps & (ps - 1), 0);
    assert_int_equal(ps, (size_t)sysconf(_SC_PAGESIZE));
    assert_int_equal(zz_page_size(), ps); /* cached value agrees */
    assert_int_equal(zz__os_page_size(), ps);
}

static void test_page_vtable_is_internal_one(void **state)
{
    (void)state;
    zz_allocator a = zz_page_allocator();
    assert_ptr_equal(a.vtable, &zz__page_vtable);
    assert_null(a.ctx);
    assert_false(zz_allocator_is_null(a));
}

static void test_page_aligned_and_zeroed(void **state)
{
    (void)state;
    zz_allocator a = zz_page_allocator();
    size_t ps = zz_page_size();
    const size_t sizes[] = {1, 100, ps - 1, ps, ps + 1, 3 * ps + 7};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        /* Alignment 1 still gives a page start, and the whole rounded page is usable. */
        unsigned char *p = zz_alloc(a, sizes[i], 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ps, 0);
        size_t rounded = (sizes[i] + ps - 1) / ps * ps;
        for (size_t k = 0; k < rounded; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xee, rounded);
        zz_free(a, p, sizes[i], 1);
    }
}

static void test_page_fresh_memory_zeroed_after_reuse(void **state)
{
    (void)state;
    /* Memory dirtied and given back must come back zeroed, even if the
     * kernel hands the same address out again. */
    zz_allocator a = zz_page_allocator();
    for (int round = 0; round < 8; round++) {
        unsigned char *p = zz_alloc(a, 64 << 10, 16);
        assert_non_null(p);
        for (size_t k = 0; k < (64u << 10); k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xff, 64 << 10);
        zz_free(a, p, 64 << 10, 16);
    }
}

static void test_page_alignment_above_page(void **state)
{
    (void)state;
    zz_allocator a = zz_page_allocator();
    size_t ps = zz_page_size();
    for (size_t align = ps * 2; align <= ((size_t)1 << 26); align <<= 1) {
        const size_t sizes[] = {1, ps, align, align + ps, 3 * align};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = zz_alloc(a, sizes[i], align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            p[0] = 1;
            p[sizes[i] - 1] = 1;
            zz_free(a, p, sizes[i], align);
        }
    }
}

static void test_page_trim_leaves_no_mapping(void **state)
{
    (void)state;
    /* Over-map-and-trim must give the head and tail back: many 2 MiB-aligned
     * 1-page allocations would otherwise each keep 2 MiB of address space.
     * Measure the mapped size (first field of statm). */
    zz_allocator a = zz_page_allocator();
    size_t ps = zz_page_size();
    enum { N = 64 };
    void *p[N];
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long vm_before = 0, vm_after = 0;
    assert_int_equal(fscanf(f, "%lu", &vm_before), 1);
    fclose(f);
    for (int i = 0; i < N; i++) {
        p[i] = zz_alloc(a, ps, (size_t)1 << 21);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % ((size_t)1 << 21), 0);
    }
    f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lu", &vm_after), 1);
    fclose(f);
    for (int i = 0; i < N; i++)
        zz_free(a, p[i], ps, (size_t)1 << 21);
    /* N pages plus slack for the stdio buffer; untrimmed would be N * 2 MiB. */
    size_t grown =
        (vm_after > vm_before ? vm_after - vm_before : 0) * (size_t)sysconf(_SC_PAGESIZE);
    if (grown > N * ps + 4 * MIB)
        fail_msg("address space grew by %zu bytes for %d pages", grown, N);
}

static void test_page_lazy_commit(void **state)
{
    (void)state;
    zz_allocator a = zz_page_allocator();
    size_t ps = zz_page_size();
    const size_t size = 256 * MIB;
    size_t before = rss_bytes();
    unsigned char *p = zz_alloc(a, size, 1);
    assert_non_null(p);
    size_t mapped = rss_bytes();
    if (mapped > before + MIB)
        fail_msg("mapping 256 MiB grew RSS by %zu bytes before any touch", mapped - before);
    /* Touch one byte in four regions 32 MiB apart. With transparent huge
     * pages each touch may commit up to a 2 MiB huge page; without, 1 page. */
    for (size_t i = 0; i < 4; i++)
        p[i * 32 * MIB] = 1;
    size_t touched = rss_bytes();
    assert_true(touched >= mapped + 4 * ps - ps); /* the touches did commit */
    if (touched > mapped + 4 * 2 * MIB + MIB)
        fail_msg("touching 4 bytes grew RSS by %zu bytes", touched - mapped);
    zz_free(a, p, size, 1);
    size_t after = rss_bytes();
    assert_true(after <= touched);
}

static void test_page_overflow_rounding(void **state)
{
    (void)state;
    zz_allocator a = zz_page_allocator();
    size_t ps = zz_page_size();
    assert_null(zz_alloc(a, SIZE_MAX - ps + 2, 1));
    assert_null(zz_alloc(a, SIZE_MAX, ps));
    /* Rounds fine, but align + size overflows in the over-map. */
    assert_null(zz_alloc(a, SIZE_MAX - 2 * ps + 1, (size_t)1 << 21));
    assert_null(a.vtable->alloc(NULL, SIZE_MAX - ps + 2, 1));
    assert_null(a.vtable->alloc(NULL, 0, 1));
    assert_null(a.vtable->alloc(NULL, 1, 0));
    assert_null(a.vtable->alloc(NULL, 1, 12));
}

static void test_page_huge_hint_threshold(void **state)
{
    (void)state;
    /* Mappings at and above ZZ_PAGE_HUGE_HINT_MIN get the THP hint. The
     * hint shows in /proc/self/smaps as the "hg" VmFlag of the mapping. */
    zz_allocator a = zz_page_allocator();
    unsigned char *big = zz_alloc(a, ZZ_PAGE_HUGE_HINT_MIN, 1);
    unsigned char *small = zz_alloc(a, ZZ_PAGE_HUGE_HINT_MIN - zz_page_size(), 1);
    assert_non_null(big);
    assert_non_null(small);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL) {
        zz_free(a, big, ZZ_PAGE_HUGE_HINT_MIN, 1);
        zz_free(a, small, ZZ_PAGE_HUGE_HINT_MIN - zz_page_size(), 1);
        skip();
    }
    char line[512];
    int in_big = 0, in_small = 0, big_hg = -1, small_hg = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in_big = lo <= (uintptr_t)big && (uintptr_t)big < hi;
            in_small = lo <= (uintptr_t)small && (uintptr_t)small < hi;
        } else if (strncmp(line, "VmFlags:", 8) == 0) {
            int hg = strstr(line, " hg") != NULL;
            if (in_big)
                big_hg = hg;
            if (in_small)
                small_hg = hg;
        }
    }
    fclose(f);
    zz_free(a, big, ZZ_PAGE_HUGE_HINT_MIN, 1);
    zz_free(a, small, ZZ_PAGE_HUGE_HINT_MIN - zz_page_size(), 1);
    /* The kernel may merge the two adjacent anonymous mappings only if their
     * flags match, which they do not when the hint took effect. */
    if (big_hg == -1 || small_hg == -1)
        skip(); /* no VmFlags line (old kernel) */
    if (big_hg == 0)
        skip(); /* kernel without THP: madvise failed, as advice may */
    assert_int_equal(small_hg, 0);
}

static void test_page_many_distinct(void **state)
{
    (void)state;
    zz_conformance_run(zz_page_allocator(),
                       &(zz_conformance_opts){.max_size = 3 * 4096, .many_count = 256});
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_page_conformance),
    cmocka_unit_test(test_page_size),
    cmocka_unit_test(test_page_vtable_is_internal_one),
    cmocka_unit_test(test_page_aligned_and_zeroed),
    cmocka_unit_test(test_page_fresh_memory_zeroed_after_reuse),
    cmocka_unit_test(test_page_alignment_above_page),
    cmocka_unit_test(test_page_trim_leaves_no_mapping),
    cmocka_unit_test(test_page_lazy_commit),
    cmocka_unit_test(test_page_overflow_rounding),
    cmocka_unit_test(test_page_huge_hint_threshold),
    cmocka_unit_test(test_page_many_distinct),
};

ZZ_TEST_MAIN(tests)
