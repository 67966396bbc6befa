/* SPDX-License-Identifier: MIT */
/*
 * zz_alloc and zz_free: the calls through an allocator's vtable. The rules
 * every allocator shares (size 0 and bad alignments give NULL, NULL frees
 * nothing) are checked here once, so a user-written vtable never sees such a
 * request when it is reached through these functions. The library's own
 * allocators check the rules again, as their vtables may be called directly.
 * The counting allocator is the one exception: it counts a refused request
 * as a failed allocation, by whichever path it came.
 */
#include "internal.h"

void *zz_alloc(zz_allocator a, size_t size, size_t align)
{
    if (size == 0)
        return NULL;
    if (!zz__is_pow2(align))
        return a.vtable == &zz__counting_vtable ? a.vtable->alloc(a.ctx, size, align) : NULL;
    /* The all-zero allocator (or a vtable without alloc) has no memory to give. */
    if (a.vtable == NULL || a.vtable->alloc == NULL)
        return NULL;
    return a.vtable->alloc(a.ctx, size, align);
}

void zz_free(zz_allocator a, void *ptr, size_t size, size_t align)
{
    if (ptr == NULL || a.vtable == NULL || a.vtable->free == NULL)
        return;
    a.vtable->free(a.ctx, ptr, size, align);
}

int zz_allocator_is_null(zz_allocator a)
{
    return a.vtable == NULL;
}
