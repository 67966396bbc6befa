/* SPDX-License-Identifier: MIT */
/*
 * The pool's hot operations: alloc, free, their bulk forms, free-and-zero,
 * ownership. The usual path works on the calling thread's cache (cache.h)
 * with plain loads and stores; everything else is in cache.c (with batch.c
 * and peak.c). Checking a pointer is O(1) arithmetic (zz__pool_index) and
 * one load of its link.
 */
#include "platform/os.h"
#include "pool/cache.h"

/* A pop that found the list empty, or a block never handed out before.
 * Out of line and called last, so the usual path needs no stack frame. */
static ZZ_NOINLINE void *zz_pool_alloc_beyond_hwm(zz_pool *pool, uint32_t idx)
{
    if (idx == pool->end)
        return NULL;
    zz__freelist_raise_hwm(&pool->fl, idx);
    return zz__pool_block(pool, idx);
}

void *zz_pool_alloc(zz_pool *pool)
{
    if (ZZ_UNLIKELY(pool == NULL))
        return NULL;
    uint32_t slot = zz__tls_slot;
    if (ZZ_LIKELY(slot < pool->fast_slots)) {
        struct zz_cache *c = zz__cache_at(pool, slot);
        /* A fill above the floor: a block to take, a token to spend, and
         * no reclaim that wants the cache (cache.h). */
        uint32_t fill = zz__cache_enter_fill(c);
        if (ZZ_LIKELY(zz__cache_fill_has_token(c, fill))) {
            uint32_t idx = zz__cache_take(c, fill);
            zz__cache_leave(c);
            /* Relaxed: the block is ours; see zz__freelist_pop_mpmc. */
            zz_atomic_store_relaxed_u32_folded(&pool->links[idx], ZZ_LINK_IN_USE);
            return zz__pool_block(pool, idx);
        }
        /* A block but no token: take it and look, out of line. */
        if (zz__cache_fill_can_take(fill))
            return zz__pool_alloc_and_look(pool, c, fill);
        zz__cache_leave(c);
    } else if (pool->fast_shared) {
        /* A pool without caches: straight to the shared list. */
        uint32_t idx = zz__freelist_pop_mpmc(&pool->fl);
        if (ZZ_UNLIKELY(zz__freelist_beyond_hwm(&pool->fl, idx)))
            return zz_pool_alloc_beyond_hwm(pool, idx);
        return zz__pool_block(pool, idx);
    }
    return zz__pool_alloc_slow(pool);
}

/* Gives back block idx, already claimed, into the cache of the caller's
 * slot (below fast_slots) while it has room, else the slow way. Returns 0,
 * for the callers' tail calls. */
static inline int zz_pool_release_cached(zz_pool *pool, uint32_t slot, uint32_t idx)
{
    struct zz_cache *c = zz__cache_at(pool, slot);
    /* A fill with room for one more is also one no reclaim wants. */
    uint32_t fill = zz__cache_enter_fill(c);
    if (ZZ_LIKELY(zz__cache_fill_has_room(pool, fill))) {
        zz__cache_put(c, fill - 1u, idx);
        zz__cache_leave(c);
        return 0;
    }
    zz__cache_leave(c);
    return zz__pool_release_slow(pool, idx);
}

/* Gives back a block already claimed: into our cache while it has room,
 * straight to the shared list for a pool without caches. Returns 0. */
static inline int zz_pool_release(zz_pool *pool, uint32_t idx)
{
    uint32_t slot = zz__tls_slot;
    if (ZZ_LIKELY(slot < pool->fast_slots))
        return zz_pool_release_cached(pool, slot, idx);
    if (pool->fast_shared) {
        zz__freelist_push_linked_mpmc(&pool->fl, idx, idx, 1, 0);
        return 0;
    }
    return zz__pool_release_slow(pool, idx);
}

/* Checks and claims ptr for a free: its index, or a negative error code. */
static inline int64_t zz_pool_claim_quiet(zz_pool *pool, const void *ptr)
{
    uint64_t idx = zz__pool_index(pool, ptr);
    if (ZZ_UNLIKELY(idx >= pool->end))
        return ZZ_EFOREIGN;
    int rc = zz__link_claim(pool->links, (uint32_t)idx, pool->checked);
    if (ZZ_UNLIKELY(rc != 0))
        return rc;
    return (int64_t)idx;
}

/* The same, for a free by `function`, reporting a refusal as a misuse. */
static inline int64_t zz_pool_claim(zz_pool *pool, const void *ptr, const char *function)
{
    int64_t idx = zz_pool_claim_quiet(pool, ptr);
    if (ZZ_UNLIKELY(idx < 0))
        return zz__pool_misuse(pool, function, ptr, (int)idx, 0, 0);
    return idx;
}

/* zz_pool_free of a pointer that is no block start here, given by its
 * zz__pool_index x: NULL, or a misuse. */
static ZZ_NOINLINE int zz_pool_free_unknown(zz_pool *pool, uint64_t x)
{
    const void *ptr = zz__pool_unindex(pool, x);
    if (ptr == NULL)
        return 0;
    return zz__pool_misuse(pool, "zz_pool_free", ptr, ZZ_EFOREIGN, 0, 0);
}

/* zz_pool_free of a block that is not in use. */
static ZZ_NOINLINE int zz_pool_free_twice(zz_pool *pool, uint64_t idx)
{
    return zz__pool_misuse(pool, "zz_pool_free", zz__pool_block(pool, (uint32_t)idx),
                           ZZ_EDOUBLEFREE, 0, 0);
}

/* zz_pool_free off the cache fast path: a pool without caches, a thread
 * without one yet, or a pool whose freed blocks need more work
 * (retire_work: checked mode, tool hooks). */
static ZZ_NOINLINE int zz_pool_free_careful(zz_pool *pool, uint32_t block)
{
    void *ptr = zz__pool_block(pool, block);
    int64_t idx = zz_pool_claim(pool, ptr, "zz_pool_free");
    if (idx < 0)
        return (int)idx;
    if (pool->retire_work)
        zz__pool_retire(pool, ptr);
    return zz_pool_release(pool, (uint32_t)idx);
}

int zz_pool_free(zz_pool *pool, void *ptr)
{
    if (ZZ_UNLIKELY(pool == NULL))
        return ptr == NULL ? 0 : ZZ_EINVAL;
    /* NULL needs no test of its own: it maps to an index past the end, as
     * block 0 would have to start at 2^64 - k * stride for it not to. From
     * here on ptr is known by its index alone, which the cold paths turn
     * back into it: the fast path keeps no copy of it. */
    uint64_t idx = zz__pool_index(pool, ptr);
    if (ZZ_UNLIKELY(idx >= pool->end))
        return zz_pool_free_unknown(pool, idx);
    /* fast_slots is 0, and fast_shared false, for pools that need the
     * careful path (pool.c). */
    uint32_t slot = zz__tls_slot;
    bool cached = slot < pool->fast_slots;
    if (ZZ_UNLIKELY(!cached && !pool->fast_shared))
        return zz_pool_free_careful(pool, (uint32_t)idx);
    /* The claim of zz__link_claim (default mode). Relaxed, as there. */
    zz_atomic_u32 *link = &pool->links[idx];
    if (ZZ_LIKELY(cached)) {
        if (ZZ_UNLIKELY(!zz_atomic_replace_relaxed_u32(link, ZZ_LINK_IN_USE, ZZ_LINK_CACHED)))
            return zz_pool_free_twice(pool, idx);
        return zz_pool_release_cached(pool, slot, (uint32_t)idx);
    }
    /* A pool without caches: the push rewrites the link anyway. */
    if (ZZ_UNLIKELY(!zz_atomic_load_relaxed_equals_u32(link, ZZ_LINK_IN_USE)))
        return zz_pool_free_twice(pool, idx);
    zz__freelist_push_linked_mpmc(&pool->fl, (uint32_t)idx, (uint32_t)idx, 1, 0);
    return 0;
}

int zz_pool_free_zeroed(zz_pool *pool, void *ptr)
{
    if (ptr == NULL)
        return 0;
    if (pool == NULL)
        return ZZ_EINVAL;
    /* Claim before touching: a block that is free may belong to someone else. */
    int64_t idx = zz_pool_claim(pool, ptr, "zz_pool_free_zeroed");
    if (idx < 0)
        return (int)idx;
    zz__os_secure_zero(ptr, pool->stride);
    if (pool->retire_work)
        zz__pool_retire(pool, ptr);
    return zz_pool_release(pool, (uint32_t)idx);
}

/* Retires the n blocks chained from first by their links, handed out by a
 * bulk alloc that then failed, before they go back. */
static void zz_pool_retire_chain(zz_pool *pool, uint32_t first, uint32_t n)
{
    for (uint32_t i = 0; pool->retire_work && i < n; i++) {
        zz__pool_retire(pool, zz__pool_block(pool, first));
        /* Relaxed: our own blocks' links. */
        first = zz__link_next(first, zz_atomic_load_relaxed_u32(&pool->links[first]));
    }
}

/* zz_pool_alloc_bulk's usual case: all n blocks straight out of the
 * caller's cache, topped up from the shared list if need be, under one
 * handshake. False, with nothing taken from the cache, when it cannot hold
 * or get them (what a top-up brought stays cached) or cannot be used. */
static bool zz_alloc_bulk_cached(zz_pool *pool, void **out, size_t n)
{
    uint32_t slot = zz__tls_slot;
    if (slot >= pool->fast_slots)
        return false;
    struct zz_cache *c = zz__cache_at(pool, slot);
    bool done = false;
    uint32_t left = 0;
    if (zz__cache_enter(c)) {
        uint32_t have = zz__cache_count(c);
        /* Short: top the cache up from the shared list first, when the
         * burst fits in it and the cache is in use here (a fill of 0 is
         * marked by the slow path first). Relaxed: ours. */
        if (have < n && n <= pool->cache_cap && zz__cache_is_used(c))
            have = zz__cache_top_up(pool, c, have, (uint32_t)n);
        if (have >= n) {
            left = have - (uint32_t)n;
            for (size_t i = 0; i < n; i++) {
                uint32_t idx = c->entries[left + i]; /* our cache (cache.h) */
                /* Relaxed: our own block (see zz__freelist_pop_mpmc). */
                zz_atomic_store_relaxed_u32(&pool->links[idx], ZZ_LINK_IN_USE);
                out[i] = zz__pool_block(pool, idx);
            }
            zz__cache_set_count(c, left);
            done = true;
        }
    }
    zz__cache_leave(c);
    /* One look for the n allocations: in_use only grew meanwhile, so the
     * sum now is the largest of them. */
    if (done && zz__cache_peak_due(c, left + 1u))
        zz__pool_peak_check(pool, c);
    return done;
}

/* zz_pool_free_bulk's usual case: the blocks of ptrs[0..n), claimed, go
 * into the caller's cache under one handshake while it has room. Returns
 * how many entries of ptrs (NULLs included) it dealt with. */
static size_t zz_free_bulk_cached(zz_pool *pool, void *const *ptrs, size_t n)
{
    uint32_t slot = zz__tls_slot;
    size_t i = 0;
    if (slot >= pool->fast_slots)
        return 0;
    struct zz_cache *c = zz__cache_at(pool, slot);
    /* Relaxed: our own cache inside our operation. A fill of 0 is a cache
     * not yet used here: the slow path marks it first. */
    if (zz__cache_enter(c) && zz__cache_is_used(c)) {
        uint32_t have = zz__cache_count(c);
        for (; i < n && have < pool->cache_cap; i++) {
            if (ptrs[i] != NULL)
                c->entries[have++] = (uint32_t)zz__pool_index(pool, ptrs[i]);
        }
        zz__cache_set_count(c, have);
    }
    zz__cache_leave(c);
    return i;
}

int zz_pool_alloc_bulk(zz_pool *pool, void **out, size_t n)
{
    if (pool == NULL || (out == NULL && n > 0))
        return ZZ_EINVAL;
    if (n == 0)
        return 0;
    /* A request that cannot be met takes nothing, so that the peak and the
     * fresh frontier stay as they were: exact when nobody else runs. When
     * others take blocks meanwhile, the loop below still gives back what it
     * took. O(threads with a cache here). */
    if (n > (size_t)(pool->end - zz__pool_in_use(pool, NULL)))
        return ZZ_ENOMEM;
    if (zz_alloc_bulk_cached(pool, out, n))
        return 0;
    /* All or nothing, and out untouched on failure: the blocks taken so far
     * are chained through their own links (they are ours, and not yet
     * handed out, so a stray free of one is refused meanwhile); on failure
     * the chain goes back to the shared list in one push. */
    uint32_t end = (uint32_t)pool->end, first = end, last = end;
    for (size_t taken = 0; taken < n; taken++) {
        void *p = zz_pool_alloc(pool);
        if (p == NULL) {
            if (taken > 0) {
                zz_pool_retire_chain(pool, first, (uint32_t)taken);
                zz__freelist_push_linked_mpmc(&pool->fl, first, last, (uint32_t)taken, 0);
                zz__pool_count_frees(pool, (uint32_t)taken);
            }
            return ZZ_ENOMEM;
        }
        uint32_t idx = (uint32_t)zz__pool_index(pool, p);
        /* Relaxed: our own block's link. */
        zz_atomic_store_relaxed_u32(&pool->links[idx], zz__link_encode(idx, first));
        last = taken == 0 ? idx : last;
        first = idx;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t next = zz_atomic_load_relaxed_u32(&pool->links[first]) ^ (first + 1u);
        zz_atomic_store_relaxed_u32(&pool->links[first], ZZ_LINK_IN_USE);
        out[i] = zz__pool_block(pool, first);
        first = next;
    }
    return 0;
}

/* Undoes the claims of ptrs[0..upto), for a refused bulk free. */
static void zz_unclaim_all(zz_pool *pool, void *const *ptrs, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        if (ptrs[i] != NULL)
            zz__freelist_unclaim(&pool->fl, (uint32_t)zz__pool_index(pool, ptrs[i]));
    }
}

int zz_pool_free_bulk(zz_pool *pool, void *const *ptrs, size_t n)
{
    if (pool == NULL || (ptrs == NULL && n > 0))
        return ZZ_EINVAL;
    /* All or nothing: claim every block in order, undoing the claims at the
     * first refusal (a pointer given twice is refused at its second claim),
     * and only then give them back. */
    for (size_t i = 0; i < n; i++) {
        if (ptrs[i] == NULL)
            continue;
        int64_t rc = zz_pool_claim_quiet(pool, ptrs[i]);
        if (rc < 0) {
            /* Undone before the report: the handler sees the pool as the
             * refused call leaves it. */
            zz_unclaim_all(pool, ptrs, i);
            return zz__pool_misuse(pool, "zz_pool_free_bulk", ptrs[i], (int)rc, 0, 0);
        }
    }
    /* Into our cache while it has room (not for pools whose freed blocks
     * need more work: fast_slots is 0 there), the rest one by one. */
    for (size_t i = zz_free_bulk_cached(pool, ptrs, n); i < n; i++) {
        if (ptrs[i] == NULL)
            continue;
        if (pool->retire_work)
            zz__pool_retire(pool, ptrs[i]);
        (void)zz_pool_release(pool, (uint32_t)zz__pool_index(pool, ptrs[i]));
    }
    return 0;
}

bool zz_pool_owns(const zz_pool *pool, const void *ptr)
{
    return pool != NULL && zz__pool_index(pool, ptr) < pool->end;
}
