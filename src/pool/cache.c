/* SPDX-License-Identifier: MIT */
/*
 * The slow paths around the per-thread caches (cache.h holds the structure
 * and the handshake): refilling an empty cache and spilling a full one in
 * batches, one CAS on the shared list per batch (batch.c); the reclaim that
 * takes free blocks back from other threads' caches so that zz_pool_alloc
 * returns NULL only when every block is really in use; zz_pool_flush; and
 * the count of blocks in use. The peak's bookkeeping is in peak.c.
 */
#include <sched.h>

#include "pool/batch.h"
#include "pool/cache.h"

/* Marks slot's cache as used in this pool, once: reclaims and statistics
 * look only at caches so marked. */
static void zz_cache_mark_used(struct zz_pool *pool, uint32_t slot)
{
    uint64_t bit = (uint64_t)1 << slot;
    /* Relaxed: the bit is set before the cache first holds a block, by the
     * same thread; a reader that misses it also misses that block's entry
     * in the cache, which a reclaim handles by rechecking (see below). */
    if (!(zz_atomic_load_relaxed_u64(&pool->cache_used) & bit)) {
        /* A used cache's floor is at least 1 (cache.h). Relaxed: nobody
         * else writes the floor of a cache not yet marked, and the owner
         * is the one to read it. */
        zz_atomic_store_relaxed_u32(&zz__cache_at(pool, slot)->floor, 1);
        zz_atomic_fetch_or_relaxed_u64(&pool->cache_used, bit);
    }
}

static uint32_t zz_slot_for(struct zz_pool *pool)
{
    uint32_t slot = zz__tls_slot;
    if (slot == ZZ_SLOT_UNCLAIMED)
        slot = zz__thread_slot_claim();
    if (slot >= pool->ncaches)
        return ZZ_SLOT_NONE;
    zz_cache_mark_used(pool, slot);
    return slot;
}

/* Blocks moved between the shared list and cache c (d in two's complement,
 * count moved by the same): c's net stays. The owner also moves its floor,
 * which is counted in entries, so that its tokens stay, down to 1 at most;
 * a reclaim leaves it, and the owner loses the tokens (cache.h). */
static void zz_cache_moved(struct zz_cache *c, uint32_t d, bool owner)
{
    zz__cache_move_base(c, d);
    if (!owner)
        return;
    /* The fast path trusts a fill above the floor to have a block, so the
     * floor is never below 1 in memory, not even for a moment (a child
     * forked meanwhile may give this cache to a thread of its own). Relaxed:
     * a statistic; a CAS, as others may raise it meanwhile. */
    uint32_t floor = zz_atomic_load_relaxed_u32(&c->floor), want;
    do {
        want = zz__cache_floor_at_least_1(floor + d);
    } while (!zz_atomic_cas_weak_relaxed_u32(&c->floor, &floor, want));
}

/* Fills an empty cache from the shared list: about half its size in
 * blocks, single or in batch nodes, in one CAS. */
static uint32_t zz_cache_refill(struct zz_pool *pool, struct zz_cache *c)
{
    uint32_t want = pool->cache_cap / 2 > 0 ? pool->cache_cap / 2 : 1;
    uint32_t n = zz__batch_take(pool, c->entries, want, pool->cache_cap, zz__cache_slot(pool, c));
    /* Blocks arrive top first; reverse them so that the cache, which hands
     * out its last entry first, keeps the list's order (a fresh pool then
     * hands out blocks 0, 1, 2, ... and touches memory in order). Relaxed:
     * our own cache, inside our own operation. */
    for (uint32_t i = 0, j = n - 1; n > 0 && i < j; i++, j--) {
        uint32_t a = c->entries[i];
        c->entries[i] = c->entries[j];
        c->entries[j] = a;
    }
    zz_cache_moved(c, n, true);
    return n;
}

uint32_t zz__cache_top_up(struct zz_pool *pool, struct zz_cache *c, uint32_t n, uint32_t want)
{
    /* Each take may bring a whole batch node: stop when one might not fit. */
    while (n < want && pool->cache_cap - n >= pool->batch_max) {
        uint32_t got = zz__batch_take(pool, &c->entries[n], want - n, pool->cache_cap - n,
                                      zz__cache_slot(pool, c));
        if (got == 0)
            break;
        n += got;
        zz__cache_set_count(c, n);
        zz_cache_moved(c, got, true);
    }
    return n;
}

/*
 * Moves the newer half of a full cache to the shared list, where the next
 * thread to refill finds blocks that are still warm; returns the entries
 * left. Order matters for fork(): one store of count takes the blocks out
 * of the cache before they reach the shared list, so a child forked in
 * between loses them instead of finding them in two places; shifting
 * entries down instead would list some twice for a moment. The same holds
 * for every move below.
 */
static uint32_t zz_cache_spill(struct zz_pool *pool, struct zz_cache *c, uint32_t n)
{
    uint32_t k = n / 2 > 0 ? n / 2 : 1;
    /* Relaxed: our own cache, inside our own operation; entries[n-k, n)
     * stay as they are until we store to them again. */
    zz__cache_set_count(c, n - k);
    zz_cache_moved(c, -k, true);
    zz__batch_push(pool, &c->entries[n - k], k, zz__cache_slot(pool, c));
    return n - k;
}

/* Empties a cache that is ours (owner) or held by a reclaim into the
 * shared list. */
static void zz_cache_empty(struct zz_pool *pool, struct zz_cache *c, bool owner)
{
    /* Relaxed: see the callers; count goes first, as in zz_cache_spill. The
     * entries stay readable: nobody else adds to this cache meanwhile. */
    uint32_t n = zz__cache_count(c);
    if (n > 0) {
        if (owner)
            zz__cache_set_count(c, 0);
        else /* a reclaim keeps its flag up until it lets the cache go */
            zz_atomic_store_relaxed_u32(&c->fill, 1u | ZZ_CACHE_STEAL);
        zz_cache_moved(c, -n, owner);
        zz__batch_push(pool, c->entries, n, zz__cache_slot(pool, c));
    }
}

static void *zz_block_taken(struct zz_pool *pool, uint32_t idx)
{
    /* Relaxed: the block is ours; see zz__freelist_pop_mpmc. */
    zz_atomic_store_relaxed_u32(&pool->fl.links[idx], ZZ_LINK_IN_USE);
    void *p = zz__pool_block(pool, idx);
    if (pool->retire_work)
        zz__pool_handout(pool, p);
    return p;
}

/* One block from the shared list, for a thread without a cache here; the
 * rest of a batch node it takes goes back as single blocks. */
static void *zz_pop_shared(struct zz_pool *pool)
{
    uint32_t got[ZZ_POOL_MAX_THREAD_CACHE];
    uint32_t n = zz__batch_take(pool, got, 1, ZZ_POOL_MAX_THREAD_CACHE, ZZ_SLOT_NONE);
    if (n == 0)
        return NULL;
    if (n > 1)
        zz__freelist_push_chain_mpmc(&pool->fl, &got[1], n - 1);
    return zz_block_taken(pool, got[0]);
}

/* Whether any cache may hold a block or is in the middle of moving some. */
static bool zz_caches_busy(struct zz_pool *pool)
{
    /* Relaxed: see zz_cache_mark_used. */
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used);
    while (used != 0) {
        uint32_t s = (uint32_t)__builtin_ctzll(used);
        used &= used - 1;
        struct zz_cache *c = zz__cache_at(pool, s);
        /* Acquire pairs with the owner's release in zz__cache_leave: if the
         * operation is over, its count is visible. Relaxed count: read after. */
        if (zz_atomic_load_acquire_u32(&c->active) || zz__cache_count(c))
            return true;
    }
    return false;
}

/* Empties every used cache into the shared list, its owner kept out by the
 * handshake of cache.h. Called with the reclaim lock held. */
static void zz_caches_take_all(struct zz_pool *pool)
{
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used); /* relaxed: as above */
    for (uint64_t u = used; u != 0; u &= u - 1) {
        /* Relaxed: ordered before the fence and the membarrier below. */
        zz_atomic_fetch_or_relaxed_u32(&zz__cache_at(pool, (uint32_t)__builtin_ctzll(u))->fill,
                                       ZZ_CACHE_STEAL);
    }
    /* Rounds until every cache is held: a cache is held once its owner is
     * seen out of any operation after a membarrier and STEAL is still in
     * its fill. An operation that read fill before our RMW may have stored
     * over the flag; then we raise it again for another round (cache.h). */
    uint64_t want = used, held = 0;
    while (want != 0) {
        /* Our own half of the handshake: the RMWs above (or at the end of
         * the last round) come before the kernel's barrier on the others. */
        zz_atomic_thread_fence_seq_cst();
        if (!zz__heavy_barrier())
            break;
        uint64_t again = 0;
        for (uint64_t u = want; u != 0; u &= u - 1) {
            uint32_t s = (uint32_t)__builtin_ctzll(u);
            struct zz_cache *c = zz__cache_at(pool, s);
            /* Acquire pairs with zz__cache_leave. A slot nobody holds cannot
             * be in an operation, except one its thread was in when another
             * thread forked: in the child that flag stays set forever. */
            while (zz_atomic_load_acquire_u32(&c->active) && zz__thread_slot_is_live(s))
                sched_yield();
            /* Relaxed: the acquire above ordered the owner's last store to
             * fill before this load; no operation that began after the
             * membarrier stores to fill while STEAL is there. */
            if (zz_atomic_load_relaxed_u32(&c->fill) & ZZ_CACHE_STEAL) {
                held |= (uint64_t)1 << s;
            } else {
                /* Relaxed: as above. */
                zz_atomic_fetch_or_relaxed_u32(&c->fill, ZZ_CACHE_STEAL);
                again |= (uint64_t)1 << s;
            }
        }
        want = again;
    }
    for (uint64_t u = held; u != 0; u &= u - 1)
        zz_cache_empty(pool, zz__cache_at(pool, (uint32_t)__builtin_ctzll(u)), false);
    for (uint64_t u = used; u != 0; u &= u - 1) {
        /* Release pairs with the acquire in zz__cache_enter_fill. An RMW:
         * the owner of a cache we did not get to hold may be storing its
         * count meanwhile. */
        zz_atomic_fetch_and_release_u32(&zz__cache_at(pool, (uint32_t)__builtin_ctzll(u))->fill,
                                        ~ZZ_CACHE_STEAL);
    }
}

/*
 * The shared list is empty. Returns NULL only at a moment when every block
 * is in use: the list was empty, and stayed so (same head, same tag: no pop
 * and no push in between) while every cache was seen empty and idle. A
 * cache seen idle with entries, or in an operation, is taken back.
 */
static void *zz_alloc_reclaim(struct zz_pool *pool)
{
    if (pool->ncaches == 0)
        return NULL; /* no caches: the shared list was the whole pool */
    for (int round = 0; round < 4; round++) {
        /* Acquire: as in zz__freelist_pop_mpmc, so that a refill that took
         * the last blocks is seen in its cache (its release CAS ordered its
         * `active` store first). */
        uint64_t before = zz_atomic_load_acquire_u64(&pool->fl.head);
        if ((uint32_t)before == pool->fl.end && !zz_caches_busy(pool) &&
            zz_atomic_load_acquire_u64(&pool->fl.head) == before)
            return NULL;
        void *p = zz_pop_shared(pool);
        if (p != NULL)
            return p;
        zz__reclaim_lock();
        p = zz_pop_shared(pool);
        if (p == NULL) {
            zz_caches_take_all(pool);
            p = zz_pop_shared(pool);
        }
        zz__reclaim_unlock();
        if (p != NULL)
            return p;
    }
    return NULL;
}

void *zz__pool_alloc_and_look(struct zz_pool *pool, struct zz_cache *c, uint32_t fill)
{
    uint32_t idx = zz__cache_take(c, fill);
    zz__cache_leave(c);
    zz__pool_peak_check(pool, c);
    return zz_block_taken(pool, idx);
}

void *zz__pool_alloc_slow(struct zz_pool *pool)
{
    uint32_t slot = zz_slot_for(pool);
    if (slot != ZZ_SLOT_NONE) {
        struct zz_cache *c = zz__cache_at(pool, slot);
        if (zz__cache_enter(c)) {
            /* Relaxed: our own cache, inside our own operation. */
            uint32_t n = zz__cache_count(c);
            if (n == 0)
                n = zz_cache_refill(pool, c);
            if (n > 0) {
                uint32_t idx = zz__cache_take(c, n + 1u);
                zz__cache_leave(c);
                if (zz__cache_peak_due(c, n)) /* the fill after the take */
                    zz__pool_peak_check(pool, c);
                return zz_block_taken(pool, idx);
            }
        }
        zz__cache_leave(c);
    }
    void *p = zz_pop_shared(pool);
    if (p == NULL)
        p = zz_alloc_reclaim(pool);
    if (p != NULL && pool->ncaches > 0) {
        /* Past any cache (ours, if we have one, may be held by a reclaim,
         * which writes its base): counted with the uncached. Relaxed: a
         * statistic. */
        zz_atomic_fetch_add_relaxed_u32(&pool->uncached_net, 1);
        zz__pool_peak_check(pool, NULL);
    }
    return p;
}

int zz__pool_release_slow(struct zz_pool *pool, uint32_t idx)
{
    uint32_t one = idx;
    uint32_t slot = zz_slot_for(pool);
    if (slot != ZZ_SLOT_NONE) {
        struct zz_cache *c = zz__cache_at(pool, slot);
        if (zz__cache_enter(c)) {
            /* Relaxed: our own cache, inside our own operation. */
            uint32_t n = zz__cache_count(c);
            if (n >= pool->cache_cap)
                n = zz_cache_spill(pool, c, n);
            zz__cache_put(c, n, idx);
            zz__cache_leave(c);
            return 0;
        }
        zz__cache_leave(c);
    }
    zz__freelist_push_chain_mpmc(&pool->fl, &one, 1);
    zz__pool_count_frees(pool, 1);
    return 0;
}

void zz__pool_count_frees(struct zz_pool *pool, uint32_t n)
{
    if (pool->ncaches == 0)
        return; /* the shared list's counters say it all */
    /* Past any cache, as in zz__pool_alloc_slow. Relaxed: a statistic. */
    zz_atomic_fetch_add_relaxed_u32(&pool->uncached_net, (uint32_t)-n);
}

int zz_pool_flush(zz_pool *pool)
{
    if (pool == NULL)
        return ZZ_EINVAL;
    uint32_t slot = zz__tls_slot;
    /* Relaxed: our own bit, set by this thread. */
    if (slot >= pool->ncaches || !((zz_atomic_load_relaxed_u64(&pool->cache_used) >> slot) & 1))
        return 0;
    struct zz_cache *c = zz__cache_at(pool, slot);
    if (zz__cache_enter(c))
        zz_cache_empty(pool, c, true);
    /* If a reclaim held the cache, it has emptied it (or is about to). */
    zz__cache_leave(c);
    return 0;
}

uint32_t zz__pool_in_use(const struct zz_pool *pool, uint32_t *cached_out)
{
    /* Exact at quiescence. While others run, read pops first, then the
     * caches, then pushes, so that what they do meanwhile can only make
     * the count smaller: a refill in between shows its entries but not its
     * pops, and a spill its smaller count with its pushes (or, while its
     * blocks are on their way to the list, without: those few count as
     * in use, as they are to everyone else). Read the other way round, a
     * reader preempted in between counted every pop of the meantime and
     * none of the pushes, up to the whole pool, and zz_pool_alloc_bulk
     * refused a request that a pool a fifth full could meet. */
    uint32_t popped = zz__freelist_popped(&pool->fl);
    ZZ_INTERLEAVE_POINT();
    uint32_t cached = 0;
    /* Relaxed, the mask and the counts: the fence below keeps them before
     * the read of pushes. */
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used);
    for (; used != 0; used &= used - 1)
        cached += zz__cache_count(zz__cache_at(pool, (uint32_t)__builtin_ctzll(used)));
    zz_atomic_thread_fence_acquire();
    ZZ_INTERLEAVE_POINT();
    uint32_t out = zz__freelist_clamp(&pool->fl, popped - zz__freelist_pushed(&pool->fl));
    if (cached > out)
        cached = out;
    if (cached_out != NULL)
        *cached_out = cached;
    return out - cached;
}
