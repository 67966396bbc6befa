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
 *   owner:     active = 1; compiler fence; f = fill; if (f & STEAL) bypass;
 *              ...; fill = f'; active = 0
 *   reclaimer: fill |= STEAL; membarrier(); wait until !active;
 *              if STEAL is gone from fill, start again; take; clear STEAL
 *   membarrier makes every running thread execute a full fence before it
 *   returns. Either the owner's `active = 1` came before that fence, and the
 *   reclaimer sees it and waits for the operation to end; or it came after,
 *   and then the owner's read of `fill` also comes after the fence, which
 *   follows the reclaimer's RMW, so the owner sees STEAL and leaves the
 *   cache alone. The flag lives in `fill` because the owner reads fill on
 *   every operation anyway: one load and one compare test both "may I"
 *   and "can I". The owner writes fill with a plain store, so an operation
 *   that read fill before the reclaimer's RMW may store over the flag; the
 *   reclaimer, having waited for that operation to end, then finds STEAL
 *   gone and raises it again, with a new membarrier. Once it finds STEAL
 *   still there after the wait, no operation that began before its
 *   membarrier can store to fill any more, and every later one sees the
 *   flag. Each new round needs the owner to be between its load and its
 *   store of fill at the moment of the RMW, a window of a few instructions.
 *   The owner pays a store, no fence and no extra load.
 *
 * Entries are block indices; a cached block's link is not ZZ_LINK_IN_USE,
 * so freeing it again is refused as a double free.
 */
#ifndef ZZ_POOL_CACHE_H
#define ZZ_POOL_CACHE_H

#include "pool/pool_internal.h"
#include "pool/thread_slot.h"

/* Set in a cache's fill by a reclaim that wants the cache. */
#define ZZ_CACHE_STEAL 0x80000000u

struct zz_cache {
    zz_atomic_u32 active; /* owner: 1 during an operation */
    zz_atomic_u32 fill;   /* 0: never used in this pool; else 1 + entries in use; | STEAL */
    zz_atomic_u32 floor;  /* owner: no look while fill > floor (int32, >= 1 once used) */
    zz_atomic_u32 base;   /* blocks moved in from the shared list, net (see below) */
    uint32_t entries[];   /* cache_cap block indices, the newest last (see below) */
};

static inline struct zz_cache *zz__cache_at(const struct zz_pool *pool, uint32_t slot)
{
    return (struct zz_cache *)(void *)(pool->caches + (size_t)slot * pool->cache_stride);
}

/* The slot whose cache c is: the inverse of zz__cache_at. Slow paths only. */
static inline uint32_t zz__cache_slot(const struct zz_pool *pool, const struct zz_cache *c)
{
    return (uint32_t)((size_t)((const unsigned char *)c - pool->caches) / pool->cache_stride);
}

/* Starts an owner operation and returns the cache's fill. With
 * ZZ_CACHE_STEAL set a reclaim wants the cache, and the caller must use the
 * shared list instead (and still call zz__cache_leave); the fast paths'
 * tests below fail on such a fill. */
static inline uint32_t zz__cache_enter_fill(struct zz_cache *c)
{
    /* Relaxed: the store only has to become visible before a reclaimer's
     * membarrier returns, which the kernel guarantees (see above). */
    zz_atomic_store_relaxed_u32(&c->active, 1);
    /* Keeps the compiler from moving the load below above the store. */
    zz_atomic_signal_fence_seq_cst();
    /* Acquire pairs with the reclaimer's release RMW that clears STEAL:
     * what it did to the cache is visible before we touch the cache. */
    return zz_atomic_load_acquire_u32(&c->fill);
}

/* zz__cache_enter_fill for the slow paths: false when a reclaim wants it. */
static inline bool zz__cache_enter(struct zz_cache *c)
{
    return !(zz__cache_enter_fill(c) & ZZ_CACHE_STEAL);
}

static inline void zz__cache_leave(struct zz_cache *c)
{
    /* Release pairs with the reclaimer's acquire of `active`: our changes
     * to the cache, and to the blocks we put in it, are visible to it. */
    zz_atomic_store_release_u32(&c->active, 0);
}

/*
 * `fill` is the entry count plus one, so that the zeros of a fresh pool's
 * memory mean "never used here": the fast paths, which read only fill,
 * send such a cache to the slow path, which marks it used in the pool
 * (cache.c) before it first holds a block, and the count of a used cache
 * can be zero without costing its free a slow path. Its top bit is
 * ZZ_CACHE_STEAL, which a reclaim may set at any moment. Relaxed, the
 * loads: the owner's own field inside its operation; others read it
 * (statistics) or write it while they hold the cache (a reclaim). The
 * owner's stores are release, for fork() (zz__cache_set_count).
 */
static inline uint32_t zz__cache_count(const struct zz_cache *c)
{
    uint32_t f = zz_atomic_load_relaxed_u32(&c->fill) & ~ZZ_CACHE_STEAL;
    return f > 0 ? f - 1u : 0;
}

/* Whether the cache has been used in this pool (see above). */
static inline bool zz__cache_is_used(const struct zz_cache *c)
{
    return (zz_atomic_load_relaxed_u32(&c->fill) & ~ZZ_CACHE_STEAL) > 0;
}

/* The owner's store: it may store over a STEAL raised since the owner's
 * enter, which the reclaim then notices and raises again (see above).
 * Release, for fork(): the child gets a copy of the parent's memory taken
 * at any instruction of its other threads, so every store to a cache is
 * ordered, for the compiler and for the processor, so that the copy never
 * shows an entry counted before it was written. Entries for a larger count
 * are written before it, and a smaller count is stored before its entries
 * leave (cache.c); a child forked in between loses those blocks instead of
 * finding a stale entry, perhaps a block a spill has put on the shared
 * list, which it would hand out twice. On x86 a release store is the plain
 * store a relaxed one is. */
static inline void zz__cache_set_count(struct zz_cache *c, uint32_t n)
{
    ZZ_INTERLEAVE_POINT(); /* test builds: stretch the window a reclaim must handle */
    zz_atomic_store_release_u32(&c->fill, n + 1u);
}

/* The fast paths' tests of a fill: a used cache holding a block to take,
 * and a used cache with room for one more, neither wanted by a reclaim.
 * One compare each: STEAL makes the first negative and the second huge. */
static inline bool zz__cache_fill_can_take(uint32_t fill)
{
    return (int32_t)fill > 1;
}

/* The alloc fast path's one test: a block to take and a token to spend
 * (see below), and no reclaim. A used cache's floor is at least 1, so a
 * fill above it has a block; an unused one's zeros fail; STEAL makes the
 * fill negative. Relaxed: others only raise the floor, and an owner that
 * misses a raise spends a token it just lost, as under any overlap. */
static inline bool zz__cache_fill_has_token(const struct zz_cache *c, uint32_t fill)
{
    return zz_atomic_load_relaxed_below_i32(&c->floor, fill);
}

static inline bool zz__cache_fill_has_room(const struct zz_pool *pool, uint32_t fill)
{
    return fill - 1u < pool->cache_cap;
}

/* Takes the newest entry of the caller's own cache, whose fill (count + 1)
 * is `fill` > 1, inside its operation; the fill becomes fill - 1. Entries
 * are plain memory: only the cache's holder touches them, the owner inside
 * its operation or a reclaim that holds the cache, and the handshake
 * orders the two (the owner's release of `active` before the reclaim's
 * acquire, the reclaim's release RMW clearing STEAL before the owner's
 * acquire). The count (fill) stays atomic: statistics read it. */
static inline uint32_t zz__cache_take(struct zz_cache *c, uint32_t fill)
{
    /* Indexed by the new fill, widened, minus one: the fast path computes
     * fill - 1 once, for the load and the store. */
    uint32_t left = fill - 1u;
    zz__cache_set_count(c, left - 1u);
    return c->entries[(size_t)left - 1u];
}

/* Adds idx after the n entries of the caller's own cache (n < its size),
 * inside its operation. As above; the entry goes first, the count after
 * (see zz__cache_set_count). Indexed by the new fill, n + 2, widened,
 * minus two: the free fast path, whose n is fill - 1, computes fill + 1
 * once, for the store and the index. */
static inline void zz__cache_put(struct zz_cache *c, uint32_t n, uint32_t idx)
{
    uint32_t grown = n + 2u;
    c->entries[(size_t)grown - 2u] = idx;
    ZZ_INTERLEAVE_POINT(); /* test builds: a fork between the two stores */
    zz__cache_set_count(c, n + 1u);
}

/*
 * Peak bookkeeping. A slot's share of in_use is its net, base - count:
 * taking a block from the cache raises it, putting one back lowers it, and
 * moving blocks between the cache and the shared list moves base and count
 * together, leaving it as it was. The pool's peak is the largest sum of
 * nets seen; summing them on every allocation would touch every cache, so
 * each cache holds tokens instead: allocations it may make without looking,
 * fill - floor of them. An allocation spends one (count falls), a
 * free earns one (count rises), and an allocation that finds none left
 * looks: it adds the nets up, raises the peak if the sum passed it, and
 * takes as tokens the headroom under the peak that no other cache holds.
 * When other caches hold more than the headroom (a consumer that only
 * frees earns without end), it first takes theirs back, raising their
 * floor. So the tokens of all caches together never exceed peak - in_use,
 * and in_use cannot pass the peak without somebody looking: the peak is
 * exact whenever operations do not overlap, whichever threads take turns,
 * and the fast paths pay nothing: alloc's test of the fill is against the
 * floor, and an allocation without a token takes the out-of-line way,
 * which takes the block and looks. Under real concurrency the sums are
 * read while others move, and the peak is then only close.
 *
 * Memory safety rests on one invariant here: the floor of a used cache is
 * never below 1 in memory, not even for a moment, so that the fast path's
 * fill above the floor always has a block. Tokens beyond a cache's blocks
 * are given up to keep it, and every writer keeps it atomically: a store
 * of 1 before the cache is first used, raises by CAS, the owner's clamped
 * store after a look, and a clamped CAS where the owner moves the floor
 * down (a child forked between two steps could hand the cache to a thread
 * of its own).
 *
 * Writers: count and base, by the owner inside its operation or by a
 * reclaim that holds the cache (the handshake keeps them apart); floor,
 * by the owner, and raised by others taking tokens back, always with
 * read-modify-writes except for the owner's store after its own look. A
 * reclaim that empties a cache lowers count and base together, which only
 * costs the owner tokens. Relaxed, all: statistics.
 */
/* f, or 1 if f is below 1 (int32): a used cache's floor, as kept above. */
static inline uint32_t zz__cache_floor_at_least_1(uint32_t f)
{
    return (int32_t)f < 1 ? 1u : f;
}

/* Whether an allocation that left the cache's fill at `fill` (its count
 * plus one) had no token to spend, and so must look. */
static inline bool zz__cache_peak_due(const struct zz_cache *c, uint32_t fill)
{
    return (int32_t)fill < (int32_t)zz_atomic_load_relaxed_u32(&c->floor);
}

/* Moves d blocks (two's complement) between the shared list and the
 * cache, whose count moves by d too: its net stays as it was. Inside the
 * owner's operation, or by a reclaim holding the cache. */
static inline void zz__cache_move_base(struct zz_cache *c, uint32_t d)
{
    zz_atomic_store_relaxed_u32(&c->base, zz_atomic_load_relaxed_u32(&c->base) + d);
}

/* Called when the owner ran out of tokens: the sum of all nets (the
 * pool's in_use) may be a new peak. c may be NULL for a thread without a
 * cache here. In peak.c. */
void zz__pool_peak_check(struct zz_pool *pool, struct zz_cache *c);

/* The alloc fast path's way for a cache with a block but no token: takes
 * the block from c, whose fill is `fill`, inside the owner's operation,
 * ends it, and looks. */
void *zz__pool_alloc_and_look(struct zz_pool *pool, struct zz_cache *c, uint32_t fill);

/* Adds blocks from the shared list after the n entries of the caller's own
 * cache (used here: fill > 0), inside its operation, until it holds at
 * least `want`, the list runs dry, or a batch node might not fit; returns
 * the new count. Never reclaims: that is for the slow paths. */
uint32_t zz__cache_top_up(struct zz_pool *pool, struct zz_cache *c, uint32_t n, uint32_t want);

/* The slow paths, in cache.c: taken when the cache is empty or full, the
 * thread has no slot yet, caching is off, or a reclaim is under way. */
void *zz__pool_alloc_slow(struct zz_pool *pool);
/* Gives back block idx, already claimed (zz__link_claim); returns 0,
 * so that the free fast path can end in a tail call. */
int zz__pool_release_slow(struct zz_pool *pool, uint32_t idx);
/* Counts n frees of the calling thread that bypassed the release paths. */
void zz__pool_count_frees(struct zz_pool *pool, uint32_t n);

#endif
