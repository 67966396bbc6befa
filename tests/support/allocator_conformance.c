/* SPDX-License-Identifier: MIT */
/*
 * The allocator conformance suite of allocator_conformance.h. Each check is
 * a static function; zz_conformance_run calls them in an order that suits
 * bump allocators too: everything is freed in reverse order of allocation
 * except in the last check.
 */
#include "allocator_conformance.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MANY_MAX 256

/* Alignments that are not powers of two; each must give NULL. */
static const size_t bad_aligns[] = {0, 3, 6, 24, 48, 100, 4097, ((size_t)1 << 21) + 1, SIZE_MAX};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void check_aligned(const void *p, size_t align)
{
    assert_non_null(p);
    if (((uintptr_t)p & (align - 1)) != 0)
        fail_msg("%p is not aligned to %zu", p, align);
}

/* Checks p[0..size) reads as zero when asked, then writes and reads it all. */
static void check_writable(unsigned char *p, size_t size, unsigned char pattern, bool zeroed)
{
    if (zeroed) {
        for (size_t i = 0; i < size; i++) {
            if (p[i] != 0)
                fail_msg("byte %zu of %zu at %p is %u, not zero", i, size, (void *)p, p[i]);
        }
    }
    memset(p, pattern, size);
    for (size_t i = 0; i < size; i++) {
        if (p[i] != pattern)
            fail_msg("byte %zu of %zu at %p did not keep its value", i, size, (void *)p);
    }
}

static void check_size_zero(zz_allocator a, const zz_conformance_opts *o)
{
    const size_t aligns[] = {1, 8, 16, 4096, (size_t)1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        assert_null(zz_alloc(a, 0, aligns[i]));
        if (!o->skip_direct)
            assert_null(a.vtable->alloc(a.ctx, 0, aligns[i]));
    }
    for (size_t i = 0; i < sizeof bad_aligns / sizeof bad_aligns[0]; i++)
        assert_null(zz_alloc(a, 0, bad_aligns[i]));
}

static void check_bad_align(zz_allocator a, const zz_conformance_opts *o)
{
    const size_t sizes[] = {1, 8, 64, 4096};
    for (size_t i = 0; i < sizeof bad_aligns / sizeof bad_aligns[0]; i++) {
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t size = min_size(sizes[j], o->max_size);
            void *p = zz_alloc(a, size, bad_aligns[i]);
            if (p != NULL)
                fail_msg("alignment %zu (size %zu) gave %p, not NULL", bad_aligns[i], size, p);
            if (!o->skip_direct) {
                p = a.vtable->alloc(a.ctx, size, bad_aligns[i]);
                if (p != NULL)
                    fail_msg("vtable: alignment %zu (size %zu) gave %p", bad_aligns[i], size, p);
            }
        }
    }
}

/* Every power of two up to max_align, with sizes around it. */
static void check_alignments(zz_allocator a, const zz_conformance_opts *o)
{
    unsigned char pattern = 0x5a;
    for (size_t align = 1; align <= o->max_align; align <<= 1) {
        const size_t sizes[] = {1, 24, align, align + 1, 3 * align / 2, o->max_size};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t size = sizes[j];
            if (size == 0 || size > o->max_size)
                continue;
            unsigned char *p = zz_alloc(a, size, align);
            if (p == NULL)
                fail_msg("alloc of %zu bytes aligned to %zu failed", size, align);
            check_aligned(p, align);
            check_writable(p, size, pattern++, o->zeroed);
            zz_free(a, p, size, align);
        }
    }
}

/* Sizes no allocator can serve: they overflow when rounded up to the page
 * size or the alignment, or exceed the largest object C allows. */
static void check_overflow(zz_allocator a, const zz_conformance_opts *o)
{
    size_t page = zz_page_size();
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - page + 2, SIZE_MAX - page + 1,
                            (SIZE_MAX >> 1) + 1};
    const size_t aligns[] = {1, 16, page, o->max_align};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizeof aligns / sizeof aligns[0]; j++) {
            void *p = zz_alloc(a, sizes[i], aligns[j]);
            if (p != NULL)
                fail_msg("size %zu aligned to %zu gave %p, not NULL", sizes[i], aligns[j], p);
            if (!o->skip_direct) {
                p = a.vtable->alloc(a.ctx, sizes[i], aligns[j]);
                if (p != NULL)
                    fail_msg("vtable: size %zu aligned to %zu gave %p", sizes[i], aligns[j], p);
            }
        }
    }
}

static void check_free_null(zz_allocator a, const zz_conformance_opts *o)
{
    zz_free(a, NULL, 0, 1);
    zz_free(a, NULL, 64, 8);
    zz_free(a, NULL, 64, 3);
    if (!o->skip_direct)
        a.vtable->free(a.ctx, NULL, 64, 8);
}

/* The same request many times over: memory must come back each time. */
static void check_reuse(zz_allocator a, const zz_conformance_opts *o)
{
    size_t size = min_size(128, o->max_size);
    size_t align = min_size(16, o->max_align);
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = zz_alloc(a, size, align);
        check_aligned(p, align);
        p[0] = (unsigned char)i;
        p[size - 1] = (unsigned char)i;
        zz_free(a, p, size, align);
    }
}

struct many {
    unsigned char *p[MANY_MAX];
    size_t size[MANY_MAX];
    size_t align[MANY_MAX];
};

static void many_alloc(zz_allocator a, const zz_conformance_opts *o, struct many *m)
{
    uint32_t rng = 12345u;
    size_t small = min_size(o->max_size, 1000);
    for (size_t i = 0; i < o->many_count; i++) {
        rng = rng * 1664525u + 1013904223u; /* LCG: deterministic sizes */
        m->size[i] = 1 + (size_t)(rng >> 8) % small;
        m->align[i] = min_size((size_t)1 << (i % 7), o->max_align);
        m->p[i] = zz_alloc(a, m->size[i], m->align[i]);
        if (m->p[i] == NULL)
            fail_msg("allocation %zu of %zu (%zu bytes) failed", i, o->many_count, m->size[i]);
        check_aligned(m->p[i], m->align[i]);
        memset(m->p[i], (int)(i * 7 + 1), m->size[i]);
    }
    /* Every block still holds its own pattern: no allocation overwrote another. */
    for (size_t i = 0; i < o->many_count; i++) {
        for (size_t k = 0; k < m->size[i]; k++) {
            if (m->p[i][k] != (unsigned char)(i * 7 + 1))
                fail_msg("allocation %zu, byte %zu was overwritten", i, k);
        }
    }
    /* And their address ranges are disjoint. */
    for (size_t i = 0; i < o->many_count; i++) {
        uintptr_t lo = (uintptr_t)m->p[i], hi = lo + m->size[i];
        for (size_t j = i + 1; j < o->many_count; j++) {
            uintptr_t lo2 = (uintptr_t)m->p[j], hi2 = lo2 + m->size[j];
            if (!(hi <= lo2 || hi2 <= lo))
                fail_msg("allocations %zu and %zu overlap", i, j);
        }
    }
}

static void check_many(zz_allocator a, const zz_conformance_opts *o)
{
    struct many m;
    many_alloc(a, o, &m);
    for (size_t i = o->many_count; i-- > 0;)
        zz_free(a, m.p[i], m.size[i], m.align[i]);
    /* Again, freed in allocation order this time (a bump allocator keeps
     * most of it until reset, so this check runs last). */
    many_alloc(a, o, &m);
    for (size_t i = 0; i < o->many_count; i++)
        zz_free(a, m.p[i], m.size[i], m.align[i]);
}

void zz_conformance_run(zz_allocator a, const zz_conformance_opts *opts)
{
    zz_conformance_opts o = opts != NULL ? *opts : (zz_conformance_opts){0};
    if (o.max_align == 0)
        o.max_align = (size_t)1 << 21;
    if (o.max_size == 0)
        o.max_size = (size_t)64 << 10;
    if (o.many_count == 0)
        o.many_count = 64;
    assert_non_null(a.vtable);
    assert_true(o.max_align != 0 && (o.max_align & (o.max_align - 1)) == 0);
    assert_true(o.many_count <= MANY_MAX);

    check_size_zero(a, &o);
    check_bad_align(a, &o);
    check_overflow(a, &o);
    check_free_null(a, &o);
    check_alignments(a, &o);
    check_reuse(a, &o);
    check_many(a, &o);
}
