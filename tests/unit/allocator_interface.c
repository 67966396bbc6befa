/* SPDX-License-Identifier: MIT */
/*
 * zz_alloc / zz_free / zz_allocator_is_null: the shared rules are checked
 * before a vtable is called, the arguments reach the vtable unchanged, and
 * the all-zero allocator is harmless. Uses a custom recording vtable.
 */
#include "test_main.h"

#include <stdalign.h>
#include <stdlib.h>

#include "allocator_conformance.h"
#include "zigzag.h"

/* A user-written allocator that does no checking of its own and records
 * what reaches it, over a small arena. */
typedef struct recorder {
    size_t alloc_calls, free_calls;
    size_t last_size, last_align;
    void *last_ptr;
    void *ctx_seen;
} recorder;

static alignas(4096) unsigned char arena[1 << 16];

static void *rec_alloc(void *ctx, size_t size, size_t align)
{
    recorder *r = ctx;
    r->alloc_calls++;
    r->ctx_seen = ctx;
    r->last_size = size;
    r->last_align = align;
    /* Any request that reaches here has passed zz_alloc's checks; serve the
     * arena's start when it fits, as a trivially simple allocator would. */
    return size <= sizeof arena && align <= 4096 ? arena : NULL;
}

static void rec_free(void *ctx, void *ptr, size_t size, size_t align)
{
    recorder *r = ctx;
    r->free_calls++;
    r->last_ptr = ptr;
    r->last_size = size;
    r->last_align = align;
}

static const zz_allocator_vtable rec_vtable = {.alloc = rec_alloc, .free = rec_free};

static void test_dispatch_passes_arguments(void **state)
{
    (void)state;
    recorder r = {0};
    zz_allocator a = {.ctx = &r, .vtable = &rec_vtable};
    void *p = zz_alloc(a, 123, 32);
    assert_ptr_equal(p, arena);
    assert_int_equal(r.alloc_calls, 1);
    assert_ptr_equal(r.ctx_seen, &r);
    assert_int_equal(r.last_size, 123);
    assert_int_equal(r.last_align, 32);
    zz_free(a, p, 123, 32);
    assert_int_equal(r.free_calls, 1);
    assert_ptr_equal(r.last_ptr, arena);
    assert_int_equal(r.last_size, 123);
    assert_int_equal(r.last_align, 32);
}

static void test_dispatch_size_zero_not_forwarded(void **state)
{
    (void)state;
    recorder r = {0};
    zz_allocator a = {.ctx = &r, .vtable = &rec_vtable};
    assert_null(zz_alloc(a, 0, 1));
    assert_null(zz_alloc(a, 0, 16));
    assert_int_equal(r.alloc_calls, 0);
}

static void test_dispatch_bad_align_not_forwarded(void **state)
{
    (void)state;
    recorder r = {0};
    zz_allocator a = {.ctx = &r, .vtable = &rec_vtable};
    const size_t bad[] = {0, 3, 5, 6, 12, 24, 100, 4095, SIZE_MAX, ((size_t)1 << 40) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(zz_alloc(a, 64, bad[i]));
    assert_int_equal(r.alloc_calls, 0);
    /* Every power of two passes, up to the largest. */
    for (unsigned k = 0; k < sizeof(size_t) * 8; k++)
        (void)zz_alloc(a, 64, (size_t)1 << k);
    assert_int_equal(r.alloc_calls, sizeof(size_t) * 8);
}

static void test_dispatch_free_null_not_forwarded(void **state)
{
    (void)state;
    recorder r = {0};
    zz_allocator a = {.ctx = &r, .vtable = &rec_vtable};
    zz_free(a, NULL, 64, 8);
    zz_free(a, NULL, 0, 0);
    assert_int_equal(r.free_calls, 0);
}

static void test_dispatch_null_allocator(void **state)
{
    (void)state;
    zz_allocator z = {0};
    assert_true(zz_allocator_is_null(z));
    assert_null(zz_alloc(z, 64, 8));
    zz_free(z, arena, 64, 8); /* nothing to call: must not crash */
    /* A ctx alone does not make an allocator. */
    recorder r = {0};
    zz_allocator ctx_only = {.ctx = &r, .vtable = NULL};
    assert_true(zz_allocator_is_null(ctx_only));
    assert_null(zz_alloc(ctx_only, 64, 8));
}

static void test_dispatch_partial_vtable(void **state)
{
    (void)state;
    /* A vtable with a missing function is treated as having no memory
     * rather than called through NULL. */
    static const zz_allocator_vtable no_alloc = {.alloc = NULL, .free = rec_free};
    static const zz_allocator_vtable no_free = {.alloc = rec_alloc, .free = NULL};
    recorder r = {0};
    zz_allocator a = {.ctx = &r, .vtable = &no_alloc};
    assert_false(zz_allocator_is_null(a));
    assert_null(zz_alloc(a, 64, 8));
    zz_allocator b = {.ctx = &r, .vtable = &no_free};
    void *p = zz_alloc(b, 64, 8);
    assert_non_null(p);
    zz_free(b, p, 64, 8);
    assert_int_equal(r.free_calls, 0);
}

static void test_library_allocators_not_null(void **state)
{
    (void)state;
    zz_fixed_buffer fb;
    zz_counting c;
    assert_int_equal(zz_fixed_buffer_init(&fb, arena, sizeof arena), 0);
    assert_int_equal(zz_counting_init(&c, zz_system_allocator()), 0);
    assert_false(zz_allocator_is_null(zz_system_allocator()));
    assert_false(zz_allocator_is_null(zz_page_allocator()));
    assert_false(zz_allocator_is_null(zz_fixed_buffer_allocator(&fb)));
    assert_false(zz_allocator_is_null(zz_counting_allocator(&c)));
    assert_ptr_not_equal(zz_system_allocator().vtable, zz_page_allocator().vtable);
}

/* A custom allocator built on malloc that relies on zz_alloc for the rules:
 * the conformance suite runs through zz_alloc only (skip_direct). */
typedef struct header_alloc {
    size_t live;
} header_alloc;

static void *ha_alloc(void *ctx, size_t size, size_t align)
{
    header_alloc *h = ctx;
    /* Over-allocate and align by hand, storing the raw pointer before the block. */
    if (size > ((size_t)1 << 40) || align > ((size_t)1 << 30))
        return NULL;
    size_t extra = align + sizeof(void *);
    unsigned char *raw = malloc(size + extra);
    if (raw == NULL)
        return NULL;
    uintptr_t u = ((uintptr_t)raw + sizeof(void *) + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((unsigned char *)u - sizeof(void *), &raw, sizeof raw);
    h->live++;
    return (void *)u;
}

static void ha_free(void *ctx, void *ptr, size_t size, size_t align)
{
    header_alloc *h = ctx;
    (void)size;
    (void)align;
    void *raw;
    memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof raw);
    free(raw);
    h->live--;
}

static const zz_allocator_vtable ha_vtable = {.alloc = ha_alloc, .free = ha_free};

static void test_custom_allocator_conformance(void **state)
{
    (void)state;
    header_alloc h = {0};
    zz_allocator a = {.ctx = &h, .vtable = &ha_vtable};
    zz_conformance_run(a, &(zz_conformance_opts){.skip_direct = true});
    assert_int_equal(h.live, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dispatch_passes_arguments),
    cmocka_unit_test(test_dispatch_size_zero_not_forwarded),
    cmocka_unit_test(test_dispatch_bad_align_not_forwarded),
    cmocka_unit_test(test_dispatch_free_null_not_forwarded),
    cmocka_unit_test(test_dispatch_null_allocator),
    cmocka_unit_test(test_dispatch_partial_vtable),
    cmocka_unit_test(test_library_allocators_not_null),
    cmocka_unit_test(test_custom_allocator_conformance),
};

ZZ_TEST_MAIN(tests)
