/* SPDX-License-Identifier: MIT */
/*
 * The pool object, shared by the pool's source files and the tests.
 *
 * Memory: one allocation from the backing allocator holds, in order,
 *   [ slab: capacity * stride ][ guard ][ struct zz_pool, ending in links: capacity * 4 ]
 *   [ caches ][ freed: capacity bytes ]
 * where the guard page is there only with ZZ_POOL_GUARD_PAGES, the caches
 * only with thread caching, and `freed` only with ZZ_POOL_CHECKED.
 * The slab comes first so that its alignment costs no padding. Blocks are
 * named by 32-bit indices, never by pointers, in every shared structure:
 * a later multi-slab pool maps index ranges to slabs, and a pool in memory
 * shared between processes needs only its own `base` per process.
 *
 * Invariants, exact whenever no operation is in flight:
 *   in_use + cached + (blocks on the shared list) == capacity
 *   tag - pushes == in_use + cached   (blocks outside the shared list)
 *   blocks [hwm, capacity) were never taken from the shared list
 *   links[i] == ZZ_LINK_IN_USE  <=>  block i is handed out
 */
#ifndef ZZ_POOL_INTERNAL_H
#define ZZ_POOL_INTERNAL_H

#include "pool/freelist.h"

struct zz_pool {
    struct zz_freelist fl;

    /* Read-only after creation; read by every operation. */
    _Alignas(ZZ_CACHE_LINE) uintptr_t base; /* address of block 0 */
    /* fl.end again, for the fast paths: fl's line moves from core to core
     * with every CAS on the head, and a field beside it would make a
     * thread's next cached operation miss after every refill or spill of
     * another thread (measured: W4 producer/consumer). */
    uint64_t end;          /* 64 bits: the free path compares a 64-bit index to it in memory */
    size_t stride;         /* bytes from one block to the next */
    uint64_t stride_inv;   /* inverse of stride's odd part mod 2^64 */
    unsigned stride_shift; /* log2 of stride's power-of-two part */
    unsigned flags;
    size_t align;
    /* Thread caches (cache.h): caches[slot] for slots below ncaches. */
    unsigned char *caches;
    uint32_t ncaches;    /* ZZ_POOL_MAX_CACHED_THREADS, or 0 without caching */
    uint32_t cache_cap;  /* blocks one cache holds */
    size_t cache_stride; /* bytes from one cache to the next */
    uint32_t batch_max;  /* blocks per batch node on the shared list (batch.c) */
    /* What the inline fast paths of ops.c may do: use caches of slots below
     * fast_slots, or go straight to the shared list (fast_shared). Both are
     * off when every block handed out or freed needs more work (checked
     * mode, sanitizer hooks), which the slow paths do. */
    uint32_t fast_slots;
    bool fast_shared;
    bool checked;     /* ZZ_POOL_CHECKED */
    bool retire_work; /* a freed block needs zz__pool_retire */
    uint64_t secret;  /* masks and keys batch node headers (batch.c) */
    /* ZZ_POOL_CHECKED: freed[i] != 0 once block i has been freed, so that
     * only such blocks have their fill pattern checked at handout. Written
     * by the freeing thread, read by the next owner after the hand-over. */
    unsigned char *freed;

    /* Bit s: slot s has used its cache here. Set once per (thread, pool) on
     * a slow path; read by reclaims, flushes and statistics. */
    _Alignas(ZZ_CACHE_LINE) zz_atomic_u64 cache_used;
    /* With caches: the peak of in_use (the largest sum of nets seen, see
     * cache.h), and the net of allocations and frees that passed by every
     * cache (threads without one here, and the rare bypass of one). */
    zz_atomic_u32 peak;
    zz_atomic_u32 uncached_net;

    zz_atomic_u64 misuses; /* stats.misuses */

    /* Needed only on misuse, or to give the memory back. */
    zz_pool_misuse_fn on_misuse;
    void *misuse_ctx;
    size_t guard_offset, guard_size; /* the guard page in mem, when asked for */
    zz_allocator backing;
    void *mem;
    size_t mem_size;
    size_t mem_align;

    /* The links (freelist.h), fl.links: at a fixed offset from the pool,
     * so that the fast paths address a link from the pool and an index
     * alone, without loading a pointer first. */
    _Alignas(ZZ_CACHE_LINE) zz_atomic_u32 links[];
};

static inline uint64_t zz__rotr64(uint64_t x, unsigned r)
{
    return (x >> r) | (x << ((64u - r) & 63u));
}

/*
 * The index of the block that starts at ptr, or a value >= capacity when ptr
 * is not a block start of this pool, in one multiply and no division: with
 * stride = odd * 2^shift and inv the inverse of odd modulo 2^64, an offset
 * that is a multiple of stride maps to offset / stride exactly, while any
 * other offset (interior, misaligned, below base, past the end) maps to a
 * value above UINT64_MAX / stride, which is at least capacity (Hacker's
 * Delight, 10-17: divisibility by rotated multiplicative inverse).
 */
static inline uint64_t zz__pool_index(const struct zz_pool *pool, const void *ptr)
{
    uint64_t offset = (uint64_t)((uintptr_t)ptr - pool->base);
    return zz__rotr64(offset * pool->stride_inv, pool->stride_shift);
}

/* The pointer whose zz__pool_index is x, for any x: the map is a rotation
 * and a multiplication by an odd number, both one-to-one modulo 2^64, so a
 * cold path can turn an index back into the pointer it came from. */
static inline const void *zz__pool_unindex(const struct zz_pool *pool, uint64_t x)
{
    uint64_t odd = (uint64_t)pool->stride >> pool->stride_shift;
    uint64_t offset = zz__rotr64(x, (64u - pool->stride_shift) & 63u) * odd;
    return (const void *)(pool->base + (uintptr_t)offset);
}

static inline void *zz__pool_block(const struct zz_pool *pool, uint32_t idx)
{
    return (void *)(pool->base + (uintptr_t)idx * pool->stride);
}

/* Reports a misuse (misuse.c): counts it, calls the handler, aborts when
 * the pool says so; returns err. Cold. */
int zz__pool_misuse(const struct zz_pool *pool, const char *function, const void *ptr, int err,
                    size_t offset, size_t count);

/* A block whose free was accepted, before it joins a cache or the list:
 * ZZ_POOL_CHECKED's fill pattern, and the tools' view (tool_hooks.h). */
void zz__pool_retire(const struct zz_pool *pool, void *block);

/* A block about to be handed out: checks the fill pattern of a block freed
 * before (not of a fresh one) in checked mode, and tells the tools. */
void zz__pool_handout(const struct zz_pool *pool, void *block);

/* Blocks handed out, and blocks resting in caches; O(cache slots). */
uint32_t zz__pool_in_use(const struct zz_pool *pool, uint32_t *cached);

/* Checks every invariant; single-threaded. Returns false and a reason. */
bool zz__pool_validate(const zz_pool *pool, const char **why);

#endif
