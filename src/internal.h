/* SPDX-License-Identifier: MIT */
/*
 * Definitions shared between the library's source files and never exported.
 * Internal non-static names start with zz__.
 */
#ifndef ZZ_INTERNAL_H
#define ZZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zigzag.h"

#if defined(__GNUC__)
#define ZZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZZ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZZ_NOINLINE __attribute__((noinline))
#else
#define ZZ_LIKELY(x) (x)
#define ZZ_UNLIKELY(x) (x)
#define ZZ_NOINLINE
#endif

#define ZZ_CACHE_LINE 64

static inline bool zz__is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* Rounds x up to a multiple of align (a power of two); false on overflow. */
static inline bool zz__align_up(size_t x, size_t align, size_t *out)
{
    size_t r = (x + (align - 1)) & ~(align - 1);
    if (r < x)
        return false;
    *out = r;
    return true;
}

/* ---- alloc/page.c ---- */
extern const zz_allocator_vtable zz__page_vtable;

#endif
