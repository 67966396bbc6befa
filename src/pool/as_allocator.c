/* SPDX-License-Identifier: MIT */
/*
 * The pool seen through the zz_allocator interface, so that code written
 * against any allocator can take its objects from a pool. One request is
 * one block; requests a block cannot satisfy get NULL and change nothing.
 */
#include "pool/pool_internal.h"

static void *zz_pool_vt_alloc(void *ctx, size_t size, size_t align)
{
    struct zz_pool *pool = ctx;
    if (size == 0 || size > pool->stride || !zz__is_pow2(align) || align > pool->align)
        return NULL;
    return zz_pool_alloc(pool);
}

static void zz_pool_vt_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)size;
    (void)align;
    /* The interface has no way to report misuse; the pool still refuses it. */
    (void)zz_pool_free(ctx, ptr);
}

static const zz_allocator_vtable zz_pool_vtable = {zz_pool_vt_alloc, zz_pool_vt_free};

zz_allocator zz_pool_allocator(zz_pool *pool)
{
    zz_allocator a = {pool, pool != NULL ? &zz_pool_vtable : NULL};
    return a;
}
