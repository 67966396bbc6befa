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

/* Starts fetching p's line for reading. */
static inline void zz__prefetch_read(const void *p)
{
    __builtin_prefetch(p, 0);
}

/* Starts fetching p's line owned, for a store to come: one request instead
 * of a read followed by a second one for ownership. GCC emits prefetchw for
 * __builtin_prefetch(p, 1) only when told the CPU has it (-mprfchw), and a
 * plain read prefetch otherwise, so x86-64 says it here: every x86-64 CPU
 * runs the instruction, as prefetchw or, on the oldest, as a no-op. */
static inline void zz__prefetch_write(const void *p)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

/* The counting allocator's vtable, which zz_alloc hands even the requests
 * it refuses, so that they are counted (alloc/dispatch.c). */
extern const zz_allocator_vtable zz__counting_vtable;

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
