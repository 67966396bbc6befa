/* SPDX-License-Identifier: MIT */
/*
 * Per-thread caches in front of the shared list (freelist.h).
 *
 * Concurrency contract
 *   Cache `slot` of a pool belongs to the thread holding that thread slot
 *   (thread_slot.h): only its owner pushes and pops entries, with plain
 *   (relaxed) loads and stores and no read-modify-write, bracketed by
 *   zz__cache_enter / zz__cache_leave. The one exception is a reclaim
 *   (cache.c), which empties other threads' caches when the shared list runs
 *   dry, so that capacity stays strict.
 *
 * The handshake (an asymmetric Dekker, as userspace RCU uses membarrier)
 *   owner:     active = 1; compiler fence; if (steal) bypass; ...; active = 0
 *   reclaimer: steal = 1; membarrier(); wait until !active; take; steal = 0
 *   membarrier makes every running thread execute a full fence before it
 *   returns. Either the owner's `active = 1` came before that fence, and the
 *   reclaimer sees it and waits for the operation to end; or it came after,
 *   and then the owner's read of `steal` also comes after the fence, which
 *   follows the reclaimer's `steal = 1`, so the owner sees it and leaves the
 *   cache alone. The owner pays a store and a load, no fence.
 *
 * Entries are block indices; a cached block's link is not ZZ_LINK_IN_USE,
 * so freeing it again is refused as a double free.
 */
#ifndef ZZ_POOL_CACHE_H
#define ZZ_POOL_CACHE_H

#include "pool/pool_internal.h"
#include "pool/thread_slot.h"

struct zz_cache {
    zz_atomic_u32 active;    /* owner: 1 during an operation */
    zz_atomic_u32 steal;     /* reclaimer: 1 while it wants the cache */
    zz_atomic_u32 count;     /* entries in use */
    zz_atomic_u32 net;       /* owner's allocs - frees, as int32: sum of all = in_use */
    zz_atomic_u32 next_high; /* owner's net at which the pool's peak may grow */
    zz_atomic_u32 entries[]; /* cache_cap block indices, the newest last */
};

static inline struct zz_cache *zz__cache_at(const struct zz_pool *pool, uint32_t slot)
{
    return (struct zz_cache *)(void *)(pool->caches + (size_t)slot * pool->cache_stride);
}

/* Starts an owner operation; false when a reclaim wants the cache, and the
 * caller must then use the shared list (and still call zz__cache_leave). */
static inline bool zz__cache_enter(struct zz_cache *c)
{
    /* Relaxed: the store only has to become visible before a reclaimer's
     * membarrier returns, which the kernel guarantees (see above). */
    zz_atomic_store_relaxed_u32(&c->active, 1);
    /* Keeps the compiler from moving the load below above the store. */
    zz_atomic_signal_fence_seq_cst();
    /* Acquire pairs with the reclaimer's release of `steal`: what it did to
     * the cache is visible before we touch the cache again. */
    return zz_atomic_load_acquire_u32(&c->steal) == 0;
}

static inline void zz__cache_leave(struct zz_cache *c)
{
    /* Release pairs with the reclaimer's acquire of `active`: our changes
     * to the cache, and to the blocks we put in it, are visible to it. */
    zz_atomic_store_release_u32(&c->active, 0);
}

/* Takes the newest of the n > 0 entries of the caller's own cache, inside
 * its operation. Relaxed: the cache is the owner's while it is inside. */
static inline uint32_t zz__cache_take(struct zz_cache *c, uint32_t n)
{
    uint32_t idx = zz_atomic_load_relaxed_u32(&c->entries[n - 1]);
    zz_atomic_store_relaxed_u32(&c->count, n - 1);
    return idx;
}

/* Adds idx after the n entries of the caller's own cache (n < its size),
 * inside its operation. Relaxed: as above. */
static inline void zz__cache_put(struct zz_cache *c, uint32_t n, uint32_t idx)
{
    zz_atomic_store_relaxed_u32(&c->entries[n], idx);
    zz_atomic_store_relaxed_u32(&c->count, n + 1);
}

/* Called when an owner's net reached next_high: the sum of all nets (the
 * pool's in_use) may be a new peak. */
void zz__pool_peak_check(struct zz_pool *pool, struct zz_cache *c);

/*
 * Peak bookkeeping, owner only. The pool's peak is the largest sum of nets
 * seen; a thread recomputes that sum only when its own net reaches a
 * threshold set, at its last look, to where the sum would pass the peak if
 * the others had not moved. One thread alone thus keeps an exact peak at
 * the cost of a compare; threads that hand blocks to each other look now
 * and then. Relaxed, all: statistics, and only the owner writes these.
 */
static inline bool zz__cache_count_alloc_due(struct zz_cache *c)
{
    uint32_t net = zz_atomic_load_relaxed_u32(&c->net) + 1u;
    zz_atomic_store_relaxed_u32(&c->net, net);
    return (int32_t)(net - zz_atomic_load_relaxed_u32(&c->next_high)) >= 0;
}

static inline void zz__cache_count_alloc(struct zz_pool *pool, struct zz_cache *c)
{
    if (ZZ_UNLIKELY(zz__cache_count_alloc_due(c)))
        zz__pool_peak_check(pool, c);
}

/* zz__pool_peak_check, then returns p: the alloc fast path's tail call. */
void *zz__pool_peak_check_then(struct zz_pool *pool, struct zz_cache *c, void *p);

static inline void zz__cache_count_free(struct zz_cache *c)
{
    zz_atomic_store_relaxed_u32(&c->net, zz_atomic_load_relaxed_u32(&c->net) - 1u);
}

/* The slow paths, in cache.c: taken when the cache is empty or full, the
 * thread has no slot yet, caching is off, or a reclaim is under way. */
void *zz__pool_alloc_slow(struct zz_pool *pool);
/* Gives back block idx, already claimed (zz__freelist_claim). */
void zz__pool_release_slow(struct zz_pool *pool, uint32_t idx);
/* zz_batch_reader for the validator: the members of a batch node. */
uint32_t zz__pool_batch_members(const void *ctx, uint32_t head, uint32_t *out);
/* Counts n frees of the calling thread that bypassed the release paths. */
void zz__pool_count_frees(struct zz_pool *pool, uint32_t n);

#endif
