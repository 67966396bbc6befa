/* SPDX-License-Identifier: MIT */
/*
 * The slow paths around the per-thread caches (cache.h holds the structure
 * and the handshake): refilling an empty cache and spilling a full one in
 * batches, one CAS on the shared list per batch; the reclaim that takes
 * free blocks back from other threads' caches so that zz_pool_alloc returns
 * NULL only when every block is really in use; and zz_pool_flush.
 */
#include <sched.h>
#include <string.h>

#include "pool/cache.h"
#include "pool/tool_hooks.h"

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

/*
 * Batch nodes. A cache gives blocks back to the shared list in nodes of up
 * to pool->batch_max blocks: the node's first block (its head, on the list)
 * records how many others follow and their indices, in its own bytes, so
 * that the thread taking the node learns all of them from one cache line
 * instead of walking one link per block through the side array. Only the
 * block's owner touches those bytes: the thread that pushes the node (the
 * block is free and ours until the release CAS) and the thread whose CAS
 * takes it (acquire); a stale pop reads only the link, then fails its CAS.
 *
 * The record sits in a free block, where a use after free or an overflow
 * in the application may write. So it is masked and keyed with the pool's
 * secret: word 0 holds the member count (8 bits), the slot of the cache
 * that pushed the node (6 bits, see zz_take_shared) and an 18-bit keyed
 * check of the whole record, each member index is masked, and a record
 * that does not check out is never followed. The members can still be
 * found without it: each member's link says ZZ_LINK_MEMBER | head
 * (freelist.h), so the pool reports the corruption and recovers them from
 * the links, losing nothing.
 */
/* Word 0 of a record: count, pushing slot, check, from the low bits up. */
#define ZZ_BATCH_COUNT_BITS 8u
#define ZZ_BATCH_SLOT_BITS 6u
#define ZZ_BATCH_CHECK_SHIFT (ZZ_BATCH_COUNT_BITS + ZZ_BATCH_SLOT_BITS)
_Static_assert((1u << ZZ_BATCH_COUNT_BITS) >= ZZ_POOL_MAX_THREAD_CACHE / 2,
               "a node's member count (below cache_cap / 2) fits its field");
_Static_assert((1u << ZZ_BATCH_SLOT_BITS) >= ZZ_POOL_MAX_CACHED_THREADS,
               "every cache slot fits the record's field");

struct zz_batch_key {
    uint64_t hash;
    uint32_t mask;
};

static struct zz_batch_key zz_batch_key(const struct zz_pool *pool, uint32_t head)
{
    /* splitmix64's finaliser over secret and head: a fresh key per node. */
    uint64_t x = pool->secret ^ ((uint64_t)head * 0x9e3779b97f4a7c15u);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    x ^= x >> 31;
    return (struct zz_batch_key){x, (uint32_t)(x >> 32)};
}

static inline uint64_t zz_batch_hash_step(uint64_t h, uint32_t v)
{
    return (h ^ v) * 0x100000001b3u;
}

/* The keyed check over the members hashed into h and word 0's other
 * fields, f: 32 - ZZ_BATCH_CHECK_SHIFT bits. */
static uint32_t zz_batch_check(uint64_t h, uint32_t f)
{
    h = zz_batch_hash_step(h, f);
    h ^= h >> 29;
    return (uint32_t)(h >> (32u + ZZ_BATCH_CHECK_SHIFT));
}

/* Bytes of the record of a node of m members. */
static size_t zz_batch_bytes(uint32_t m)
{
    return sizeof(uint32_t) * (m + 1u);
}

static void zz_batch_write(struct zz_pool *pool, uint32_t head, const uint32_t *members, uint32_t m,
                           uint32_t slot)
{
    unsigned char *b = zz__pool_block(pool, head);
    struct zz_batch_key key = zz_batch_key(pool, head);
    uint64_t h = key.hash;
    zz__hook_open(b, zz_batch_bytes(m));
    for (uint32_t i = 0; i < m; i++) {
        uint32_t idx = members[i]; /* ours */
        h = zz_batch_hash_step(h, idx);
        uint32_t word = idx ^ key.mask;
        memcpy(b + sizeof(word) * (i + 1), &word, sizeof(word));
        /* Relaxed: ordered before the release CAS that publishes the node. */
        zz_atomic_store_relaxed_u32(&pool->fl.links[idx], ZZ_LINK_MEMBER | head);
    }
    uint32_t f = m | slot << ZZ_BATCH_COUNT_BITS;
    uint32_t word0 = (f | zz_batch_check(h, f) << ZZ_BATCH_CHECK_SHIFT) ^ key.mask;
    memcpy(b, &word0, sizeof(word0));
    zz__hook_close(b, zz_batch_bytes(m));
}

/* Decodes the record of the node headed by head into out[0..m) and *slot
 * and returns m, or returns UINT32_MAX when the record does not check out. */
static uint32_t zz_batch_decode(const struct zz_pool *pool, uint32_t head, uint32_t *out,
                                uint32_t *slot)
{
    unsigned char *b = zz__pool_block(pool, head);
    struct zz_batch_key key = zz_batch_key(pool, head);
    uint32_t word0;
    zz__hook_open(b, sizeof(word0));
    memcpy(&word0, b, sizeof(word0));
    word0 ^= key.mask;
    uint32_t f = word0 & ((1u << ZZ_BATCH_CHECK_SHIFT) - 1u);
    uint32_t m = f & ((1u << ZZ_BATCH_COUNT_BITS) - 1u);
    *slot = f >> ZZ_BATCH_COUNT_BITS;
    bool ok = m < pool->batch_max;
    uint64_t h = key.hash;
    if (ok) {
        zz__hook_open(b, zz_batch_bytes(m));
        for (uint32_t i = 0; i < m; i++) {
            uint32_t word;
            memcpy(&word, b + sizeof(word) * (i + 1), sizeof(word));
            out[i] = word ^ key.mask;
            h = zz_batch_hash_step(h, out[i]);
            ok = ok && out[i] < pool->fl.end;
        }
        ok = ok && (word0 >> ZZ_BATCH_CHECK_SHIFT) == zz_batch_check(h, f);
    }
    zz__hook_close(b, zz_batch_bytes(pool->batch_max - 1));
    return ok ? m : UINT32_MAX;
}

/* Finds the members of the node headed by head from their links, when its
 * record was overwritten: O(blocks ever handed out), only after a misuse. */
static uint32_t zz_batch_recover(const struct zz_pool *pool, uint32_t head, uint32_t *out)
{
    uint32_t m = 0, hwm = zz__freelist_hwm(&pool->fl);
    for (uint32_t i = 0; i < hwm && m + 1 < pool->batch_max; i++) {
        /* Relaxed: the members are ours since the CAS that took the node
         * (acquire), which ordered their links' stores before it. */
        if (zz_atomic_load_relaxed_u32(&pool->fl.links[i]) == (ZZ_LINK_MEMBER | head))
            out[m++] = i;
    }
    return m;
}

/* Reads the members of the batch node headed by head (ours now) into
 * out[0..m) and the slot that pushed it into *slot (ZZ_SLOT_NONE when
 * unknown), and returns m; a corrupted record is reported and recovered.
 * The members' links go back to ZZ_LINK_CACHED: they are in a cache now,
 * and a later node headed by the same block must not find them. */
static uint32_t zz_batch_read(const struct zz_pool *pool, uint32_t head, uint32_t *out,
                              uint32_t *slot)
{
    /* Decoded in place: out has room for batch_max - 1, and what a record
     * that does not check out left there is overwritten by the recovery. */
    uint32_t m = zz_batch_decode(pool, head, out, slot);
    if (ZZ_UNLIKELY(m == UINT32_MAX)) {
        *slot = ZZ_SLOT_NONE;
        (void)zz__pool_misuse(pool, "zz_pool_alloc", zz__pool_block(pool, head), ZZ_ECORRUPT, 0, 0);
        m = zz_batch_recover(pool, head, out);
    }
    if (pool->checked) {
        /* The record overwrote the fill pattern: put it back, over all the
         * room a record may take when this one was not to be trusted. */
        unsigned char *b = zz__pool_block(pool, head);
        size_t bytes = zz_batch_bytes(pool->batch_max - 1);
        zz__hook_open(b, bytes);
        memset(b, ZZ_POOL_FREE_PATTERN, bytes);
        zz__hook_close(b, bytes);
    }
    for (uint32_t i = 0; i < m; i++) {
        /* Relaxed: the members are ours. Taking their links' lines now,
         * all at once, also spares the allocations that hand them out a
         * miss each on their own store. */
        zz_atomic_store_relaxed_u32(&pool->fl.links[out[i]], ZZ_LINK_CACHED);
    }
    return m;
}

uint32_t zz__pool_batch_members(const void *ctx, uint32_t head, uint32_t *out)
{
    uint32_t slot;
    uint32_t m = zz_batch_decode(ctx, head, out, &slot);
    return m == UINT32_MAX ? ZZ_POOL_MAX_THREAD_CACHE + 1 : m; /* the validator reports it */
}

/* Pushes entries[0..n) (owned by the caller, links not in use) from the
 * cache of `slot` to the shared list in one CAS, as nodes of up to
 * batch_max blocks. */
static void zz_push_entries(struct zz_pool *pool, const uint32_t *entries, uint32_t n,
                            uint32_t slot)
{
    uint32_t k = pool->batch_max;
    uint32_t first = entries[0]; /* ours */
    uint32_t prev = first, prev_flag = 0;
    /* The records go into the heads' blocks, which may be cold (a batch
     * freed long after it was written: W2), and the release CAS below waits
     * for every store before it. Fetching all the heads first overlaps
     * their misses instead of taking them one node after another.
     * Measured, W2's free pass at 64 B: 12.0 to 9.7 ns per free. */
    for (uint32_t at = 0; at < n; at += k)
        zz__prefetch_write(zz__pool_block(pool, entries[at]));
    for (uint32_t at = 0; at < n; at += k) {
        uint32_t head = entries[at];
        uint32_t m = n - at - 1 < k - 1 ? n - at - 1 : k - 1;
        if (at > 0) {
            /* Relaxed: ordered before the release CAS that publishes it. */
            zz_atomic_store_relaxed_u32(&pool->fl.links[prev],
                                        zz__link_encode(prev, head) | prev_flag);
        }
        if (m > 0)
            zz_batch_write(pool, head, &entries[at + 1], m, slot);
        prev = head;
        prev_flag = m > 0 ? ZZ_LINK_BATCH : 0;
    }
    zz__freelist_push_linked_mpmc(&pool->fl, first, prev, n, prev_flag);
}

/* Takes at least one block and about `want` from the shared list into
 * out[0..room) (room >= batch_max), in one CAS, reading the members of the
 * batch nodes it takes, for the cache of `self` (ZZ_SLOT_NONE for none);
 * returns the count. */
static uint32_t zz_take_shared(struct zz_pool *pool, uint32_t *out, uint32_t want, uint32_t room,
                               uint32_t self)
{
    uint32_t taken[ZZ_POOL_MAX_THREAD_CACHE];
    uint32_t nodes = zz__freelist_pop_batch_mpmc(&pool->fl, taken, want, room, pool->batch_max);
    uint32_t n = 0, members = 0, top = 0;
    /* Records are read one node after another: fetch them all first, so
     * that their misses overlap (another thread wrote them, on another
     * core). */
    for (uint32_t i = 1; i < nodes; i++)
        zz__prefetch_read(zz__pool_block(pool, taken[i] & ~ZZ_LINK_BATCH));
    for (uint32_t i = 0; i < nodes; i++) {
        uint32_t head = taken[i] & ~ZZ_LINK_BATCH;
        out[n++] = head;
        /* Handing a block out writes its link, which the walk only read:
         * fetch the line owned now, so that those misses overlap. The
         * members' links are written below. */
        zz__prefetch_write((const void *)&pool->fl.links[head]);
        if (!(taken[i] & ZZ_LINK_BATCH)) {
            /* Only a single block can be fresh: a batch node's blocks all
             * passed through a cache, so were handed out before. */
            top = head > top ? head : top;
        } else {
            uint32_t pusher;
            uint32_t m = zz_batch_read(pool, head, &out[n], &pusher);
            /* Blocks this cache pushed itself were freed here, most likely
             * long ago (a batch freed, then allocated again: W2), and are
             * cold: start fetching them all now, rather than take one miss
             * per allocation, each stalling the next one's refill.
             * Measured, W2's second pass: 51 to 39 ns per allocation.
             * Blocks another thread pushed are likely still in its core's
             * cache, and in a producer/consumer pipeline that thread, the
             * consumer, is the next to write them: fetched here, even to be
             * read, a line becomes shared, and the consumer's write must
             * then take it back from this core. So those are left alone.
             * Measured, W4: 48 to 83 Mobj/s. */
            for (uint32_t j = 0; pusher == self && j < m; j++)
                zz__prefetch_read(zz__pool_block(pool, out[n + j]));
            n += m;
            members += m;
        }
    }
    if (members > 0) {
        /* Relaxed: a statistic (blocks off the list), read at quiescence. */
        zz_atomic_fetch_add_relaxed_u32(&pool->fl.extra, members);
    }
    if (n > 0 && zz__freelist_beyond_hwm(&pool->fl, top))
        zz__freelist_raise_hwm(&pool->fl, top);
    return n;
}

/* f, or 1 if f is below 1 (int32): a used cache's floor (cache.h). */
static uint32_t zz_floor_at_least_1(uint32_t f)
{
    return (int32_t)f < 1 ? 1u : f;
}

/* Raises c's floor to at least `to`. Relaxed: a statistic; a CAS, as
 * others may raise it meanwhile. */
static void zz_cache_raise_floor(struct zz_cache *c, uint32_t to)
{
    uint32_t floor = zz_atomic_load_relaxed_u32(&c->floor);
    while ((int32_t)(to - floor) > 0 && !zz_atomic_cas_weak_relaxed_u32(&c->floor, &floor, to)) {
    }
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
        want = zz_floor_at_least_1(floor + d);
    } while (!zz_atomic_cas_weak_relaxed_u32(&c->floor, &floor, want));
}

/* Fills an empty cache from the shared list: about half its size in
 * blocks, single or in batch nodes, in one CAS. */
static uint32_t zz_cache_refill(struct zz_pool *pool, struct zz_cache *c)
{
    uint32_t want = pool->cache_cap / 2 > 0 ? pool->cache_cap / 2 : 1;
    uint32_t n = zz_take_shared(pool, c->entries, want, pool->cache_cap, zz__cache_slot(pool, c));
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
        uint32_t got = zz_take_shared(pool, &c->entries[n], want - n, pool->cache_cap - n,
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
    zz_push_entries(pool, &c->entries[n - k], k, zz__cache_slot(pool, c));
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
        zz_push_entries(pool, c->entries, n, zz__cache_slot(pool, c));
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
    uint32_t n = zz_take_shared(pool, got, 1, ZZ_POOL_MAX_THREAD_CACHE, ZZ_SLOT_NONE);
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

/* Tokens cache o holds: allocations it may still make without a look. */
static uint32_t zz_cache_tokens(const struct zz_cache *o)
{
    /* Relaxed: statistics (cache.h). */
    int32_t t = (int32_t)(zz__cache_count(o) + 1u - zz_atomic_load_relaxed_u32(&o->floor));
    return t > 0 ? (uint32_t)t : 0;
}

/* Takes back every token of the used caches other than c: each then looks
 * at its next allocation. */
static void zz_caches_take_tokens(struct zz_pool *pool, const struct zz_cache *c)
{
    /* Relaxed, all: statistics (cache.h). */
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used);
    for (; used != 0; used &= used - 1) {
        struct zz_cache *o = zz__cache_at(pool, (uint32_t)__builtin_ctzll(used));
        if (o == c)
            continue;
        zz_cache_raise_floor(o, zz__cache_count(o) + 1u);
    }
}

/* The owner's store of its tokens after a look: the floor under which its
 * count of `count` may fall by `tokens` without a look, never below 1. */
static void zz_cache_set_tokens(struct zz_cache *c, uint32_t count, uint32_t tokens)
{
    /* Relaxed: a statistic; see cache.h. */
    zz_atomic_store_relaxed_u32(&c->floor, zz_floor_at_least_1(count + 1u - tokens));
}

/*
 * The look of cache c's owner when it is the pool's only user so far (no
 * other cache used, nothing uncached); false otherwise. The sum of nets is
 * then its own net, nobody else holds tokens, and nobody else writes the
 * peak, so a plain store does, without the locked CAS that would wait for
 * the caller's stores to fresh blocks. A pool filling up looks on every
 * allocation; this keeps that look short (W2's first pass).
 */
static bool zz_peak_check_alone(struct zz_pool *pool, struct zz_cache *c)
{
    /* Relaxed, all: statistics; see cache.h. */
    uint32_t slot = zz__tls_slot;
    if (slot >= 64 || zz_atomic_load_relaxed_u64(&pool->cache_used) != (uint64_t)1 << slot ||
        zz_atomic_load_relaxed_u32(&pool->uncached_net) != 0)
        return false;
    uint32_t count = zz__cache_count(c);
    uint32_t sum = zz_atomic_load_relaxed_u32(&c->base) - count;
    uint32_t peak = zz_atomic_load_relaxed_u32(&pool->peak);
    if ((int32_t)sum > (int32_t)peak) {
        zz_atomic_store_relaxed_u32(&pool->peak, sum);
        peak = sum;
    }
    zz_cache_set_tokens(c, count, peak - sum);
    return true;
}

void zz__pool_peak_check(struct zz_pool *pool, struct zz_cache *c)
{
    if (c != NULL && zz_peak_check_alone(pool, c))
        return;
    /* Relaxed, all: statistics; see cache.h. */
    uint32_t sum = zz_atomic_load_relaxed_u32(&pool->uncached_net), others = 0;
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used);
    for (; used != 0; used &= used - 1) {
        const struct zz_cache *o = zz__cache_at(pool, (uint32_t)__builtin_ctzll(used));
        sum += zz_atomic_load_relaxed_u32(&o->base) - zz__cache_count(o);
        others += o == c ? 0 : zz_cache_tokens(o);
    }
    /* Nets read one after another while their owners run may add up to
     * more than ever was in use at once; never more than the pool holds. */
    if ((int32_t)sum > (int32_t)pool->fl.end)
        sum = pool->fl.end;
    uint32_t peak = zz_atomic_load_relaxed_u32(&pool->peak);
    while ((int32_t)sum > (int32_t)peak &&
           !zz_atomic_cas_weak_relaxed_u32(&pool->peak, &peak, sum)) {
    }
    peak = (int32_t)sum > (int32_t)peak ? sum : peak;
    uint32_t headroom = (int32_t)(peak - sum) > 0 ? peak - sum : 0;
    if (others > headroom) {
        zz_caches_take_tokens(pool, c);
        others = 0;
    }
    if (c != NULL) {
        /* Our tokens: the headroom nobody else holds; we look again when
         * our count has fallen by one more than that. */
        zz_cache_set_tokens(c, zz__cache_count(c), headroom - others);
    }
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
