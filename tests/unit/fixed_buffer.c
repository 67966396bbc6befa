/* SPDX-License-Identifier: MIT */
/*
 * The fixed-buffer allocator over static arrays: init checks, the
 * conformance suite, pointers inside the buffer, alignment of the absolute
 * address, give-back of the last allocation, reset, peak, exhaustion.
 */
#include "test_main.h"

#include <stdalign.h>

#include "allocator_conformance.h"
#include "zigzag.h"

/* 8 MiB: room for 2 MiB alignments with 64 KiB sizes and their padding. */
static unsigned char big_buf[(size_t)8 << 20];
static alignas(64) unsigned char small_buf[1024];

static bool inside(const void *p, size_t n, const unsigned char *buf, size_t size)
{
    uintptr_t lo = (uintptr_t)buf, q = (uintptr_t)p;
    return q >= lo && q - lo <= size && n <= size - (q - lo);
}

static void test_fixed_init_rejects(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(NULL, small_buf, sizeof small_buf), ZZ_EINVAL);
    assert_int_equal(zz_fixed_buffer_init(&fb, NULL, 16), ZZ_EINVAL);
    assert_int_equal(zz_fixed_buffer_init(&fb, NULL, 0), 0);
    assert_null(fb.start);
    assert_int_equal(fb.size, 0);
    /* An empty buffer serves nothing. */
    assert_null(zz_alloc(zz_fixed_buffer_allocator(&fb), 1, 1));
    assert_int_equal(fb.used, 0);
}

static void test_fixed_init_fields(void **state)
{
    (void)state;
    zz_fixed_buffer fb = {.used = 99, .peak = 99};
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    assert_ptr_equal(fb.start, small_buf);
    assert_int_equal(fb.size, sizeof small_buf);
    assert_int_equal(fb.used, 0);
    assert_int_equal(fb.peak, 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    assert_ptr_equal(a.ctx, &fb);
    assert_false(zz_allocator_is_null(a));
}

static void test_fixed_conformance(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, big_buf, sizeof big_buf), 0);
    zz_conformance_run(zz_fixed_buffer_allocator(&fb), NULL);
    assert_true(fb.peak <= fb.size);
    assert_true(fb.used <= fb.size);
}

static void test_fixed_pointers_inside_buffer(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    size_t n = 0;
    for (;;) {
        size_t size = 1 + n % 13, align = (size_t)1 << (n % 5);
        void *p = zz_alloc(a, size, align);
        if (p == NULL)
            break;
        assert_true(inside(p, size, small_buf, sizeof small_buf));
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(fb.used <= fb.size);
        n++;
    }
    assert_true(n > 50);
}

static void test_fixed_absolute_alignment(void **state)
{
    (void)state;
    /* Start one byte into an aligned array: alignment must be of the
     * address, not of the offset in the buffer. */
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf + 1, sizeof small_buf - 1), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    unsigned char *p = zz_alloc(a, 8, 64);
    assert_ptr_equal(p, small_buf + 64);
    assert_int_equal(fb.used, 63 + 8); /* padding counts as used */
    unsigned char *q = zz_alloc(a, 1, 1);
    assert_ptr_equal(q, small_buf + 72);
    unsigned char *r = zz_alloc(a, 4, 4);
    assert_ptr_equal(r, small_buf + 76);
}

static void test_fixed_give_back_last(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    unsigned char *x = zz_alloc(a, 100, 1);
    unsigned char *y = zz_alloc(a, 50, 1);
    assert_ptr_equal(y, x + 100);
    assert_int_equal(fb.used, 150);
    /* Not the last: ignored. */
    zz_free(a, x, 100, 1);
    assert_int_equal(fb.used, 150);
    /* The last, with a wrong size: ignored too (it does not end at used). */
    zz_free(a, y, 49, 1);
    assert_int_equal(fb.used, 150);
    zz_free(a, y, 50, 1);
    assert_int_equal(fb.used, 100);
    /* The space is reused at once. */
    unsigned char *z = zz_alloc(a, 20, 1);
    assert_ptr_equal(z, y);
    zz_free(a, z, 20, 1);
    /* Now x is the last again. */
    zz_free(a, x, 100, 1);
    assert_int_equal(fb.used, 0);
    assert_int_equal(fb.peak, 150);
}

static void test_fixed_give_back_keeps_padding(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    assert_non_null(zz_alloc(a, 3, 1));
    unsigned char *p = zz_alloc(a, 16, 16);
    assert_ptr_equal(p, small_buf + 16);
    assert_int_equal(fb.used, 32);
    zz_free(a, p, 16, 16);
    assert_int_equal(fb.used, 16); /* back to p, its padding still counted */
}

static void test_fixed_foreign_free_ignored(void **state)
{
    (void)state;
    static unsigned char other[64];
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    assert_non_null(zz_alloc(a, 64, 1));
    zz_free(a, other, 64, 1);
    zz_free(a, small_buf + 1000, 8, 1);
    assert_int_equal(fb.used, 64);
}

static void test_fixed_reset(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    unsigned char *first = zz_alloc(a, 10, 8);
    assert_non_null(zz_alloc(a, 500, 8));
    size_t peak = fb.peak;
    assert_true(peak >= 510);
    zz_fixed_buffer_reset(&fb);
    assert_int_equal(fb.used, 0);
    assert_int_equal(fb.peak, peak); /* the high-water mark survives */
    assert_ptr_equal(zz_alloc(a, 10, 8), first);
    zz_fixed_buffer_reset(NULL); /* harmless */
}

static void test_fixed_exhaustion(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    /* Exactly the whole buffer fits. */
    unsigned char *all = zz_alloc(a, sizeof small_buf, 1);
    assert_ptr_equal(all, small_buf);
    assert_int_equal(fb.used, sizeof small_buf);
    assert_null(zz_alloc(a, 1, 1));
    assert_int_equal(fb.used, sizeof small_buf);
    zz_free(a, all, sizeof small_buf, 1);

    /* One byte too many fails and changes nothing. */
    assert_null(zz_alloc(a, sizeof small_buf + 1, 1));
    assert_int_equal(fb.used, 0);
    assert_non_null(zz_alloc(a, 1000, 1));
    assert_null(zz_alloc(a, 25, 1));
    assert_int_equal(fb.used, 1000);
    /* Fits in size but not once padded to the alignment. */
    assert_null(zz_alloc(a, 20, 64));
    assert_int_equal(fb.used, 1000);
    assert_non_null(zz_alloc(a, 24, 1));
    assert_int_equal(fb.used, sizeof small_buf);
    /* Huge sizes and alignments must not overflow into success. */
    assert_null(zz_alloc(a, SIZE_MAX, 1));
    assert_null(zz_alloc(a, 1, (size_t)1 << 62));
    assert_int_equal(fb.used, sizeof small_buf);
    assert_int_equal(fb.peak, sizeof small_buf);
}

static void test_fixed_huge_alignment_overflow(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf + 1, 64), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    /* Rounding the address up to 2^63 wraps or lands far past the buffer. */
    assert_null(zz_alloc(a, 1, (size_t)1 << 63));
    assert_null(zz_alloc(a, SIZE_MAX - 8, 16));
    assert_int_equal(fb.used, 0);
}

static void test_fixed_invalid_requests_change_nothing(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);
    assert_non_null(zz_alloc(a, 5, 1));
    assert_null(a.vtable->alloc(a.ctx, 0, 8));
    assert_null(a.vtable->alloc(a.ctx, 8, 0));
    assert_null(a.vtable->alloc(a.ctx, 8, 3));
    assert_null(zz_alloc(a, 0, 64));
    assert_int_equal(fb.used, 5);
    assert_int_equal(fb.peak, 5);
}

static void test_fixed_counting_wrapper(void **state)
{
    (void)state;
    /* A counting allocator around the fixed buffer sees exactly what the
     * test asks for, and the buffer accounts for all of it: nothing comes
     * from anywhere else. */
    zz_fixed_buffer fb;
    zz_counting c;
    assert_int_equal(zz_fixed_buffer_init(&fb, small_buf, sizeof small_buf), 0);
    assert_int_equal(zz_counting_init(&c, zz_fixed_buffer_allocator(&fb)), 0);
    zz_allocator a = zz_counting_allocator(&c);
    void *p = zz_alloc(a, 128, 8);
    void *q = zz_alloc(a, 128, 8);
    assert_true(inside(p, 128, small_buf, sizeof small_buf));
    assert_true(inside(q, 128, small_buf, sizeof small_buf));
    assert_int_equal(fb.used, 256);
    zz_counting_stats st;
    zz_counting_stats_get(&c, &st);
    assert_int_equal(st.live_bytes, fb.used);
    zz_free(a, q, 128, 8);
    zz_free(a, p, 128, 8);
    zz_counting_stats_get(&c, &st);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(fb.used, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixed_init_rejects),
    cmocka_unit_test(test_fixed_init_fields),
    cmocka_unit_test(test_fixed_conformance),
    cmocka_unit_test(test_fixed_pointers_inside_buffer),
    cmocka_unit_test(test_fixed_absolute_alignment),
    cmocka_unit_test(test_fixed_give_back_last),
    cmocka_unit_test(test_fixed_give_back_keeps_padding),
    cmocka_unit_test(test_fixed_foreign_free_ignored),
    cmocka_unit_test(test_fixed_reset),
    cmocka_unit_test(test_fixed_exhaustion),
    cmocka_unit_test(test_fixed_huge_alignment_overflow),
    cmocka_unit_test(test_fixed_invalid_requests_change_nothing),
    cmocka_unit_test(test_fixed_counting_wrapper),
};

ZZ_TEST_MAIN(tests)
