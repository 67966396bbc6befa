/* SPDX-License-Identifier: MIT */
/*
 * The shared list's side of the thread caches (batch.h): a spill's push of
 * batch nodes, a refill's take of them, the records in the nodes' head
 * blocks and their recovery after a misuse. The callers are in cache.c.
 */
#include <string.h>

#include "pool/batch.h"
#include "pool/thread_slot.h"
#include "pool/tool_hooks.h"

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
 * that pushed the node (6 bits, see zz__batch_take) and an 18-bit keyed
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

/* See batch.h. */
void zz__batch_push(struct zz_pool *pool, const uint32_t *entries, uint32_t n, uint32_t slot)
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

/* See batch.h. */
uint32_t zz__batch_take(struct zz_pool *pool, uint32_t *out, uint32_t want, uint32_t room,
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
