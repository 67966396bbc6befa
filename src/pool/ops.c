/* SPDX-License-Identifier: MIT */
/*
 * The pool's hot operations: alloc, free, free-and-zero, ownership. Each is
 * a thin shell over the lock-free list in freelist.h: index <-> address
 * arithmetic and the O(1) check that a pointer is one of our block starts.
 */
#include "platform/os.h"
#include "pool/pool_internal.h"

/* A pop that found the list empty, or a block never handed out before.
 * Out of line and called last, so the usual path needs no stack frame. */
static ZZ_NOINLINE void *zz_pool_alloc_beyond_hwm(zz_pool *pool, uint32_t idx)
{
    if (idx == pool->fl.end)
        return NULL;
    zz__freelist_raise_hwm(&pool->fl, idx);
    return zz__pool_block(pool, idx);
}

void *zz_pool_alloc(zz_pool *pool)
{
    if (ZZ_UNLIKELY(pool == NULL))
        return NULL;
    uint32_t idx = zz__freelist_pop_mpmc(&pool->fl);
    if (ZZ_UNLIKELY(zz__freelist_beyond_hwm(&pool->fl, idx)))
        return zz_pool_alloc_beyond_hwm(pool, idx);
    return zz__pool_block(pool, idx);
}

int zz_pool_free(zz_pool *pool, void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (ZZ_UNLIKELY(pool == NULL))
        return ZZ_EINVAL;
    uint64_t idx = zz__pool_index(pool, ptr);
    if (ZZ_UNLIKELY(idx >= pool->fl.end))
        return ZZ_EFOREIGN;
    return zz__freelist_push_mpmc(&pool->fl, (uint32_t)idx, (pool->flags & ZZ_POOL_CHECKED) != 0);
}

int zz_pool_free_zeroed(zz_pool *pool, void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (pool == NULL)
        return ZZ_EINVAL;
    uint64_t idx = zz__pool_index(pool, ptr);
    if (idx >= pool->fl.end)
        return ZZ_EFOREIGN;
    /* Check before touching: a block that is free may already belong to
     * someone else. Relaxed: as the non-exclusive check in the push. */
    if (zz_atomic_load_relaxed_u32(&pool->fl.links[idx]) != ZZ_LINK_IN_USE)
        return ZZ_EDOUBLEFREE;
    zz__os_secure_zero(ptr, pool->stride);
    return zz__freelist_push_mpmc(&pool->fl, (uint32_t)idx, (pool->flags & ZZ_POOL_CHECKED) != 0);
}

bool zz_pool_owns(const zz_pool *pool, const void *ptr)
{
    return pool != NULL && zz__pool_index(pool, ptr) < pool->fl.end;
}
