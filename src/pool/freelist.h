/* SPDX-License-Identifier: MIT */
/*
 * The lock-free core of the pool: a Treiber stack of 32-bit block indices
 * whose links live in a side array, never inside the blocks. Nothing else
 * lives here: no allocation, no I/O, no knowledge of block addresses. The
 * pool (pool.c) turns indices into addresses and back.
 *
 * Concurrency contract
 *   The _mpmc functions may run on any number of threads at once, and so
 *   may zz__freelist_claim (with exclusive=true, racing claims of one block
 *   are decided by a CAS). zz__freelist_init and the _unsync readers need the
 *   caller to be the only user.
 *
 * Layout
 *   head   64 bits: the index on top (low 32) and a pop tag (high 32).
 *   links  one 32-bit word per block, outside the blocks. For a free block
 *          it holds its successor, encoded as next ^ (index + 1), so that a
 *          word never written (zero) means "index + 1": a fresh list is the
 *          chain 0 -> 1 -> ... -> capacity-1 -> end without a single store,
 *          which is what makes creation O(1) and keeps untouched memory
 *          uncommitted. For a block in use it holds ZZ_LINK_IN_USE, which no
 *          encoded successor can equal (both terms are below 2^31).
 *   end    the index that terminates the list: capacity.
 *
 * ABA
 *   A pop reads head = (A, tag), then links[A] = B, then swings the head to
 *   B with a compare-and-swap. Between the read and the CAS other threads
 *   may pop A, pop B and push A back: the index is A again but B is in use.
 *   The tag defeats this: every successful pop adds one to it, and the head
 *   cannot return to A without A being popped (a push never moves an index
 *   that is already on the list), so the stale CAS fails. Pushes keep the
 *   tag: as Concurrency Kit's ck_stack argues, only pops need one. The tag
 *   wraps after 2^32 pops; a thread would have to sleep between its load
 *   and its CAS through exactly a multiple of that many pops for ABA to
 *   return, which we accept, as ck_stack and DPDK's lock-free stack do.
 *
 * No data race
 *   Links are atomics in memory the pool owns. A stale pop may read a link
 *   that another thread is rewriting; it reads some value of that atomic,
 *   and its CAS fails because the tag moved. No thread ever reads or writes
 *   the bytes of a block through this code.
 *
 * Counting
 *   The tag counts nodes popped (a walk of n single blocks adds n),
 *   `extra` the blocks that batch nodes carried beyond their heads, and
 *   `pushes` blocks pushed; tag + extra - pushes (mod 2^32, exact since it
 *   is below 2^31) is the number of blocks off the list. Fresh blocks leave the
 *   list in index order and only when every block below them is off it, so
 *   the peak of that number equals the fresh high-water mark `hwm`, kept
 *   without any work on the usual path beyond one compare.
 */
#ifndef ZZ_POOL_FREELIST_H
#define ZZ_POOL_FREELIST_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "platform/atomic.h"
#include "platform/backoff.h"

/* The link of a block in use: never an encoded successor. */
#define ZZ_LINK_IN_USE UINT32_MAX

/* The link of a free block that rests in a thread cache (or is being
 * freed): not in use, not on the shared list. Never an encoded successor. */
#define ZZ_LINK_CACHED (UINT32_MAX - 1u)

/* The link of a free block that is a member of the batch node headed by
 * block h is ZZ_LINK_MEMBER | h. No encoded successor has bit 30 set (both
 * of its terms are below 2^30), and no other marker has bit 31 clear, so
 * the pool can find a node's members from the links alone when the node's
 * own record of them was overwritten (batch.c). */
#define ZZ_LINK_MEMBER 0x40000000u

/* Set in the link of a free block that heads a batch node: the block itself
 * holds the node's other members (see the pool's batch functions). The
 * encoded successor stays below 2^30 (ZZ_POOL_MAX_CAPACITY), so a flagged
 * link never equals ZZ_LINK_IN_USE or ZZ_LINK_CACHED. */
#define ZZ_LINK_BATCH 0x80000000u

struct zz_freelist {
    /* One cache line, written by every operation. `pushes` and `hwm` sit
     * beside the head because whoever writes them has just won a CAS on the
     * head and so holds the line; `links` and `end` are read-only but every
     * list operation reads them together with the head, so they cost no
     * extra line. The owner (struct zz_pool) starts its next field on a new
     * line, and keeps copies of both for code that does not touch the head. */
    _Alignas(ZZ_CACHE_LINE) zz_atomic_u64 head;
    zz_atomic_u32 pushes;
    zz_atomic_u32 hwm;
    zz_atomic_u32 extra; /* blocks taken inside batch nodes, beyond their heads */
    zz_atomic_u32 *links;
    uint32_t end;
};

/* Prepares fl over links[0..capacity), which must read as zero. O(1). */
void zz__freelist_init(struct zz_freelist *fl, zz_atomic_u32 *links, uint32_t capacity);

/* Blocks taken from the list and not returned (handed out, or resting in
 * thread caches); exact when nothing is in flight, and while others run
 * never more than at either of its two reads (see freelist.c). */
uint32_t zz__freelist_taken(const struct zz_freelist *fl);

/* Its parts, for a caller that reads more in between (zz__pool_in_use):
 * blocks popped, then blocks pushed, in that order; the difference goes
 * through zz__freelist_clamp. */
uint32_t zz__freelist_popped(const struct zz_freelist *fl);
uint32_t zz__freelist_pushed(const struct zz_freelist *fl);
uint32_t zz__freelist_clamp(const struct zz_freelist *fl, uint32_t taken);

/* High-water mark of in_use, which is also the number of blocks ever
 * handed out: blocks [0, hwm) are the only ones ever written. */
uint32_t zz__freelist_hwm(const struct zz_freelist *fl);

/* Raises hwm to at least idx + 1, after a pop returned the fresh block idx. */
void zz__freelist_raise_hwm(struct zz_freelist *fl, uint32_t idx);

/* Reads the other members of the batch node headed by `head` into out[];
 * returns their number. */
typedef uint32_t (*zz_batch_reader)(const void *ctx, uint32_t head, uint32_t *out);

/* Checks the list by walking it, marking each index in seen[0..end) and
 * failing on one already marked; batch nodes are read through `members`.
 * Single-threaded use only; returns false and names the broken invariant. */
bool zz__freelist_validate_unsync(const struct zz_freelist *fl, unsigned char *seen,
                                  zz_batch_reader members, const void *ctx, const char **why);

static inline uint32_t zz__link_encode(uint32_t idx, uint32_t next)
{
    return next ^ (idx + 1u);
}

/* The successor in a stored link (batch flag ignored). In-use and cached
 * markers decode to values above end, which callers treat as stale. */
static inline uint32_t zz__link_next(uint32_t idx, uint32_t link)
{
    return (link & ~ZZ_LINK_BATCH) ^ (idx + 1u);
}

/* Whether a stored link heads a batch node. */
static inline bool zz__link_is_batch(uint32_t link)
{
    return (link & ZZ_LINK_BATCH) && link < ZZ_LINK_CACHED;
}

static inline uint64_t zz__head_make(uint32_t idx, uint32_t tag)
{
    return ((uint64_t)tag << 32) | idx;
}

/* Tests build the pool a second time with ZZ_TEST_INTERLEAVE defined, to
 * stretch the window between a load and its CAS (where ABA lives) from a
 * few instructions to a reschedule. Nothing in a normal build. */
#ifdef ZZ_TEST_INTERLEAVE
void zz__test_interleave(void);
#define ZZ_INTERLEAVE_POINT() zz__test_interleave()
#else
#define ZZ_INTERLEAVE_POINT() ((void)0)
#endif

/* The retry loops of a pop and of a push whose first CAS failed, with
 * backoff between the tries (freelist.c). Out of line, so that the usual,
 * uncontended operation carries none of it. */
uint32_t zz__freelist_pop_contended(struct zz_freelist *fl);
void zz__freelist_push_contended(struct zz_freelist *fl, uint32_t first, uint32_t last,
                                 uint32_t last_flag);

/* One try at taking the top, from `head` as loaded with acquire: true when
 * done, with *idx the index taken, or fl->end when the list is empty; false
 * when the CAS failed and the caller should try again with a fresh head. */
static inline bool zz__freelist_try_pop(struct zz_freelist *fl, uint64_t head, uint32_t *idx)
{
    uint32_t top = (uint32_t)head;
    *idx = top;
    if (ZZ_UNLIKELY(top == fl->end))
        return true;
    /* Relaxed: a value that is stale, or ZZ_LINK_IN_USE because another
     * thread popped top since our load, only reaches a CAS that fails,
     * since that pop moved the tag. */
    uint32_t next = zz_atomic_load_relaxed_u32(&fl->links[top]) ^ (top + 1u);
    /* No batch flag to strip: this list has no batch nodes, and a stale
     * value fails the CAS. The tag + 1 is added in place. */
    uint64_t want = ((head + ((uint64_t)1 << 32)) & ~(uint64_t)UINT32_MAX) | next;
    ZZ_INTERLEAVE_POINT();
    /* Acq_rel on success: acquire as for the caller's load of the head, in
     * case the head was rewritten with equal bits; release orders our
     * earlier reads before the block's next owner's writes. The value a
     * failure loads is not used: the caller reloads after its backoff. */
    if (ZZ_UNLIKELY(!zz_atomic_cas_weak_acq_rel_u64(&fl->head, &head, want)))
        return false;
    /* Relaxed: only the block's owner (us, now) writes its link while it is
     * in use, and the owner's later free is ordered after this store by
     * program order or by whatever hand-off passed the block on. */
    zz_atomic_store_relaxed_u32(&fl->links[top], ZZ_LINK_IN_USE);
    return true;
}

/* Takes the top index, or returns fl->end when the list is empty. Only for
 * lists without batch nodes (pools without caches): a batch node's other
 * members would be lost. */
static inline uint32_t zz__freelist_pop_mpmc(struct zz_freelist *fl)
{
    /* Acquire pairs with the release CAS of the push that put the top index
     * there (or any later RMW of its release sequence): its link store, and
     * every write the freeing thread made to the block, are visible to us. */
    uint64_t head = zz_atomic_load_acquire_u64(&fl->head);
    uint32_t idx;
    if (ZZ_UNLIKELY(!zz__freelist_try_pop(fl, head, &idx)))
        return zz__freelist_pop_contended(fl);
    return idx;
}

/*
 * The caller's check after a pop: true when idx is fresh (never handed out
 * before) or the end marker. One compare covers both, since hwm <= end; the
 * caller then takes its slow path, which calls zz__freelist_raise_hwm for a
 * fresh block. Relaxed: hwm is a statistic and a bound for zz_pool_wipe,
 * read when nothing is in flight; a stale value only sends a pop to the
 * slow path, which rechecks.
 */
static inline bool zz__freelist_beyond_hwm(const struct zz_freelist *fl, uint32_t idx)
{
    return idx >= zz_atomic_load_relaxed_u32(&fl->hwm);
}

/*
 * Whether top, read from the head with acquire, starts the fresh run: top
 * and every index after it never taken, so that the list from top is the
 * implicit chain top, top + 1, ..., end - 1 and walking its links would
 * only read zeros. Relaxed is enough for hwm: a block on the list that was
 * ever taken got there by a push, whose taker raised hwm past it before
 * handing it on, and whose release CAS our acquire load of the head
 * synchronises with (every later write of the head is a read-modify-write,
 * which continues that push's release sequence); so hwm <= top is never a
 * stale view of a taken top. And blocks leave the fresh run in index
 * order, so none after an untaken top was ever taken either.
 */
static inline bool zz__freelist_fresh_run(const struct zz_freelist *fl, uint32_t top)
{
    return top >= zz_atomic_load_relaxed_u32(&fl->hwm) && top < fl->end;
}

/*
 * Takes from the top in one CAS, into out[0..n), and returns n (0 when the
 * list is empty): single blocks and batch nodes, top first, until `want`
 * blocks are counted, counting a batch node as `node_max` blocks (an upper
 * bound of its size), and never more than `room` so counted. The head of a
 * batch node is stored with ZZ_LINK_BATCH set: the caller reads the other
 * members from the head block, which it now owns, and adds their number to
 * fl->extra. The first node is always taken, whatever its size (room must
 * be at least node_max). Links are left as they are: not ZZ_LINK_IN_USE,
 * so a free of one of them is refused as a double free until it is handed
 * out. The tag grows by the number of nodes taken.
 */
static inline uint32_t zz__freelist_pop_batch_mpmc(struct zz_freelist *fl, uint32_t *out,
                                                   uint32_t want, uint32_t room, uint32_t node_max)
{
    struct zz_backoff backoff = ZZ_BACKOFF_INIT;
    /* Acquire: as in zz__freelist_pop_mpmc. */
    uint64_t head = zz_atomic_load_acquire_u64(&fl->head);
    for (;; zz__backoff_wait(&backoff), head = zz_atomic_load_acquire_u64(&fl->head)) {
        uint32_t n = 0, counted = 0, cur = (uint32_t)head;
        bool stale = false;
        /* A top at or above hwm: the rest of the list is the fresh run
         * cur, cur + 1, ..., end - 1 (see zz__freelist_fresh_run), taken
         * without reading a link. */
        bool fresh = zz__freelist_fresh_run(fl, cur);
        if (fresh) {
            uint32_t left = fl->end - cur;
            n = want < room ? want : room;
            n = n < left ? n : left;
            for (uint32_t i = 0; i < n; i++)
                out[i] = cur + i; /* the caller's own */
            cur += n;
        }
        /* Otherwise walk the chain below the top. If no pop lands before our
         * CAS, the chain is intact: blocks leave only through pops, which
         * move the tag, and pushes only stack on top. A walk over links that
         * others are rewriting reads values of atomics, may meet an index
         * beyond end (an in-use or cached marker), and then only restarts. */
        while (!fresh && counted < want && cur < fl->end) {
            /* Relaxed: stale values only reach a CAS that fails. */
            uint32_t link = zz_atomic_load_relaxed_u32(&fl->links[cur]);
            bool batch = zz__link_is_batch(link);
            uint32_t size = batch ? node_max : 1u;
            if (n > 0 && counted + size > room)
                break;
            out[n++] = cur | (batch ? ZZ_LINK_BATCH : 0); /* the caller's own */
            counted += size;
            cur = zz__link_next(cur, link);
            stale = cur > fl->end;
        }
        if (n == 0)
            return 0;
        /* A stale walk met a pop of the meantime: back off and look at the
         * head again (acquire, as at the top), as after a failed CAS. */
        if (stale)
            continue;
        ZZ_INTERLEAVE_POINT();
        /* Acq_rel: as in zz__freelist_try_pop; the acquire also makes the
         * batch heads' contents visible. A failure's value is not used. */
        if (zz_atomic_cas_weak_acq_rel_u64(&fl->head, &head,
                                           zz__head_make(cur, (uint32_t)(head >> 32) + n)))
            return n;
    }
}

/*
 * Claims block idx (below end) for a free, given the list's links: its link goes from
 * ZZ_LINK_IN_USE to ZZ_LINK_CACHED. ZZ_EDOUBLEFREE, with nothing changed, when the block is not in
 * use. With exclusive=false the check is one load and catches every double free that does not race
 * with the first free; with exclusive=true a CAS claims the link, so of two racing frees exactly
 * one succeeds.
 */
static inline int zz__link_claim(zz_atomic_u32 *links, uint32_t idx, bool exclusive)
{
    zz_atomic_u32 *link = &links[idx];
    if (ZZ_UNLIKELY(exclusive)) {
        uint32_t expected = ZZ_LINK_IN_USE;
        /* Relaxed: the CAS only decides which free owns the block; the
         * block's contents are published later by a release CAS on the head
         * or by the cache hand-off. */
        if (ZZ_UNLIKELY(!zz_atomic_cas_strong_relaxed_u32(link, &expected, ZZ_LINK_CACHED)))
            return ZZ_EDOUBLEFREE;
        return 0;
    }
    /* Relaxed: ZZ_LINK_IN_USE was stored when the block was handed out,
     * which happens-before this free (same thread, or a hand-off the user
     * synchronised). */
    if (ZZ_UNLIKELY(zz_atomic_load_relaxed_u32(link) != ZZ_LINK_IN_USE))
        return ZZ_EDOUBLEFREE;
    zz_atomic_store_relaxed_u32(link, ZZ_LINK_CACHED);
    return 0;
}

/* Undoes a claim, for an all-or-nothing bulk free that met a refusal. */
static inline void zz__freelist_unclaim(struct zz_freelist *fl, uint32_t idx)
{
    /* Relaxed: the block is ours since the claim; nobody else writes it. */
    zz_atomic_store_relaxed_u32(&fl->links[idx], ZZ_LINK_IN_USE);
}

/* One try at putting the chain first..last, already linked but for last's
 * link, on top of the list whose head was `head`: false when the CAS failed
 * and the caller should try again with a fresh head. */
static inline bool zz__freelist_try_push(struct zz_freelist *fl, uint64_t head, uint32_t first,
                                         uint32_t last, uint32_t last_flag)
{
    /* Relaxed: ordered before the release CAS that publishes it. */
    zz_atomic_store_relaxed_u32(&fl->links[last],
                                zz__link_encode(last, (uint32_t)head) | last_flag);
    ZZ_INTERLEAVE_POINT();
    /* Release: publishes the chain's links and the callers' writes to the
     * blocks to the acquire load of whoever pops them. The value a failure
     * loads is not used: the caller reloads after its backoff. */
    return zz_atomic_cas_weak_release_u64(&fl->head, &head,
                                          zz__head_make(first, (uint32_t)(head >> 32)));
}

/*
 * Pushes a chain of nodes owned by the caller, already linked from first to
 * last (last's link is set here, with last_flag: ZZ_LINK_BATCH when it heads
 * a batch node), in one CAS, first on top; n counts the blocks.
 */
static inline void zz__freelist_push_linked_mpmc(struct zz_freelist *fl, uint32_t first,
                                                 uint32_t last, uint32_t n, uint32_t last_flag)
{
    /* Relaxed: only the index of the head is used, and it is checked by the
     * CAS; what must be visible is published by that CAS. */
    uint64_t head = zz_atomic_load_relaxed_u64(&fl->head);
    if (ZZ_UNLIKELY(!zz__freelist_try_push(fl, head, first, last, last_flag)))
        zz__freelist_push_contended(fl, first, last, last_flag);
    /* Relaxed: a statistic; it pairs with nothing and is read at quiescence. */
    zz_atomic_fetch_add_relaxed_u32(&fl->pushes, n);
}

/*
 * Pushes the n >= 1 blocks entries[0..n) (claimed, or taken from a cache:
 * owned by the caller, links not in use) in one CAS, entries[0] on top.
 */
static inline void zz__freelist_push_chain_mpmc(struct zz_freelist *fl, const uint32_t *entries,
                                                uint32_t n)
{
    uint32_t first = entries[0]; /* the caller's own array */
    uint32_t prev = first;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t cur = entries[i];
        /* Relaxed: the blocks are ours until the push publishes them. */
        zz_atomic_store_relaxed_u32(&fl->links[prev], zz__link_encode(prev, cur));
        prev = cur;
    }
    zz__freelist_push_linked_mpmc(fl, first, prev, n, 0);
}

#endif
