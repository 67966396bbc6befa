/* SPDX-License-Identifier: MIT */
/*
 * zz_system_allocator: the conformance suite, alignments below and above
 * malloc's, and the shared rules when the vtable is called directly.
 */
#include "test_main.h"

#include <stdalign.h>

#include "allocator_conformance.h"
#include "zigzag.h"

static void test_system_conformance(void **state)
{
    (void)state;
    zz_conformance_run(zz_system_allocator(), NULL);
}

static void test_system_is_stateless(void **state)
{
    (void)state;
    zz_allocator a = zz_system_allocator();
    zz_allocator b = zz_system_allocator();
    assert_false(zz_allocator_is_null(a));
    assert_null(a.ctx);
    assert_ptr_equal(a.vtable, b.vtable);
}

static void test_system_small_alignments(void **state)
{
    (void)state;
    zz_allocator a = zz_system_allocator();
    /* Below sizeof(void *), which posix_memalign alone would reject. */
    for (size_t align = 1; align <= alignof(max_align_t); align <<= 1) {
        for (size_t size = 1; size <= 33; size += 8) {
            unsigned char *p = zz_alloc(a, size, align);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            memset(p, 0xab, size);
            zz_free(a, p, size, align);
        }
    }
}

static void test_system_large_alignments(void **state)
{
    (void)state;
    zz_allocator a = zz_system_allocator();
    size_t page = zz_page_size();
    const size_t aligns[] = {alignof(max_align_t) * 2, 64, page, page * 4, (size_t)1 << 21,
                             (size_t)1 << 24};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        /* Sizes not multiples of the alignment, which aligned_alloc may refuse. */
        const size_t sizes[] = {1, aligns[i] - 1, aligns[i] + 3};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            unsigned char *p = zz_alloc(a, sizes[j], aligns[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % aligns[i], 0);
            p[0] = 1;
            p[sizes[j] - 1] = 2;
            zz_free(a, p, sizes[j], aligns[i]);
        }
    }
}

static void test_system_direct_vtable_rules(void **state)
{
    (void)state;
    zz_allocator a = zz_system_allocator();
    assert_null(a.vtable->alloc(a.ctx, 0, 8));
    assert_null(a.vtable->alloc(a.ctx, 8, 0));
    assert_null(a.vtable->alloc(a.ctx, 8, 12));
    assert_null(a.vtable->alloc(a.ctx, SIZE_MAX, 1));
    assert_null(a.vtable->alloc(a.ctx, SIZE_MAX - 8, 64));
    assert_null(a.vtable->alloc(a.ctx, (size_t)PTRDIFF_MAX + 1, 8));
    a.vtable->free(a.ctx, NULL, 8, 8);
}

static void test_system_memory_independent(void **state)
{
    (void)state;
    /* Two live blocks keep their contents while a third comes and goes. */
    zz_allocator a = zz_system_allocator();
    unsigned char *x = zz_alloc(a, 1000, 64);
    unsigned char *y = zz_alloc(a, 1000, 4096);
    assert_non_null(x);
    assert_non_null(y);
    memset(x, 0x11, 1000);
    memset(y, 0x22, 1000);
    unsigned char *z = zz_alloc(a, 5000, 1);
    assert_non_null(z);
    memset(z, 0x33, 5000);
    zz_free(a, z, 5000, 1);
    for (size_t i = 0; i < 1000; i++) {
        assert_int_equal(x[i], 0x11);
        assert_int_equal(y[i], 0x22);
    }
    zz_free(a, x, 1000, 64);
    zz_free(a, y, 1000, 4096);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_system_conformance),
    cmocka_unit_test(test_system_is_stateless),
    cmocka_unit_test(test_system_small_alignments),
    cmocka_unit_test(test_system_large_alignments),
    cmocka_unit_test(test_system_direct_vtable_rules),
    cmocka_unit_test(test_system_memory_independent),
};

ZZ_TEST_MAIN(tests)
