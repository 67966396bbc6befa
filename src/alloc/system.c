/* SPDX-License-Identifier: MIT */
/*
 * zz_system_allocator: memory from the C library. Alignments malloc already
 * guarantees go to malloc; larger ones to posix_memalign, which (unlike C11
 * aligned_alloc) needs no size multiple of the alignment and is on every
 * POSIX system. Memory is not zeroed. Stateless, so ctx is unused.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

static void *system_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    /* The vtable may be called directly, without zz_alloc's checks. */
    if (size == 0 || !zz__is_pow2(align))
        return NULL;
    /* No C object may exceed PTRDIFF_MAX bytes; glibc would refuse too, but
     * sanitizer runtimes abort on such requests instead of returning NULL.
     * This also covers every size that overflows when rounded up to align,
     * as align <= SIZE_MAX / 2 + 1. */
    if (size > (size_t)PTRDIFF_MAX)
        return NULL;
    if (align <= alignof(max_align_t)) {
        /* malloc's result suits every fundamental alignment. */
        return malloc(size);
    }
    void *p = NULL;
    /* align > alignof(max_align_t) >= sizeof(void *), as posix_memalign needs. */
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    return p;
}

static void system_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)ctx;
    (void)size;
    (void)align;
    free(ptr); /* free(NULL) is a no-op, as our rule wants */
}

static const zz_allocator_vtable system_vtable = {
    .alloc = system_alloc,
    .free = system_free,
};

zz_allocator zz_system_allocator(void)
{
    return (zz_allocator){.ctx = NULL, .vtable = &system_vtable};
}
