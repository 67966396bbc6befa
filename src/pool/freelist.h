/* SPDX-License-Identifier: MIT */
/*
 * The lock-free core of the pool: a Treiber stack of 32-bit block indices
 * whose links live in a side array, never inside the blocks. Nothing else
 * lives here: no allocation, no I/O, no knowledge of block addresses. The
 * pool (pool.c) turns indices into addresses and back.
 *
 * Concurrency contract
 *   zz__freelist_pop_mpmc and zz__freelist_push_mpmc may run on any number
 *   of threads at once. zz__freelist_init and the _unsync readers need the
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
 *   The tag counts pops; `pushes` counts pushes; in_use = pops - pushes
 *   (mod 2^32, exact since in_use < 2^31). Fresh blocks leave the list in
 *   index order and only when every block below them is in use, so the
 *   peak of in_use equals the fresh high-water mark `hwm`, kept without
 *   any work on the usual path beyond one compare.
 */
#ifndef ZZ_POOL_FREELIST_H
#define ZZ_POOL_FREELIST_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "platform/atomic.h"

/* The link of a block in use: never an encoded successor. */
#define ZZ_LINK_IN_USE UINT32_MAX

struct zz_freelist {
    /* One cache line, written by every operation. `pushes` and `hwm` sit
     * beside the head because whoever writes them has just won a CAS on the
     * head and so holds the line; `links` and `end` are read-only but every
     * operation reads them together with the head, so they cost no extra
     * line. The owner (struct zz_pool) starts its next field on a new line. */
    _Alignas(ZZ_CACHE_LINE) zz_atomic_u64 head;
    zz_atomic_u32 pushes;
    zz_atomic_u32 hwm;
    zz_atomic_u32 *links;
    uint32_t end;
};

/* Prepares fl over links[0..capacity), which must read as zero. O(1). */
void zz__freelist_init(struct zz_freelist *fl, zz_atomic_u32 *links, uint32_t capacity);

/* Blocks handed out and not returned; exact when nothing is in flight. */
uint32_t zz__freelist_in_use(const struct zz_freelist *fl);

/* High-water mark of in_use, which is also the number of blocks ever
 * handed out: blocks [0, hwm) are the only ones ever written. */
uint32_t zz__freelist_hwm(const struct zz_freelist *fl);

/* Raises hwm to at least idx + 1, after a pop returned the fresh block idx. */
void zz__freelist_raise_hwm(struct zz_freelist *fl, uint32_t idx);

/* Checks every invariant by walking the list. Single-threaded use only;
 * returns false and names the broken invariant in *why. */
bool zz__freelist_validate_unsync(const struct zz_freelist *fl, const char **why);

static inline uint32_t zz__link_encode(uint32_t idx, uint32_t next)
{
    return next ^ (idx + 1u);
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

/* Takes the top index, or returns fl->end when the list is empty. */
static inline uint32_t zz__freelist_pop_mpmc(struct zz_freelist *fl)
{
    /* Acquire pairs with the release CAS of the push that put the top index
     * there (or any later RMW of its release sequence): its link store, and
     * every write the freeing thread made to the block, are visible to us. */
    uint64_t head = zz_atomic_load_acquire_u64(&fl->head);
    uint32_t idx;
    for (;;) {
        idx = (uint32_t)head;
        if (ZZ_UNLIKELY(idx == fl->end))
            return idx;
        /* Relaxed: a value that is stale, or ZZ_LINK_IN_USE because another
         * thread popped idx since our load, only reaches a CAS that fails,
         * since that pop moved the tag. */
        uint32_t next = zz_atomic_load_relaxed_u32(&fl->links[idx]) ^ (idx + 1u);
        uint64_t want = zz__head_make(next, (uint32_t)(head >> 32) + 1u);
        ZZ_INTERLEAVE_POINT();
        /* Acq_rel on success: acquire as for the load above, in case the head
         * was rewritten with equal bits; release orders our earlier reads
         * before the block's next owner's writes. On failure the new head is
         * loaded with acquire, as at the top. */
        if (ZZ_LIKELY(zz_atomic_cas_weak_acq_rel_u64(&fl->head, &head, want)))
            break;
    }
    /* Relaxed: only the block's owner (us, now) writes its link while it is
     * in use, and the owner's later free is ordered after this store by
     * program order or by whatever hand-off passed the block on. */
    zz_atomic_store_relaxed_u32(&fl->links[idx], ZZ_LINK_IN_USE);
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
 * Returns idx (which the caller has checked is below end) to the list.
 * ZZ_EDOUBLEFREE, with nothing changed, when the block is not in use. With
 * exclusive=false the check is one load and catches every double free that
 * does not race with the first free; with exclusive=true a CAS claims the
 * link, so of two racing frees exactly one succeeds.
 */
static inline int zz__freelist_push_mpmc(struct zz_freelist *fl, uint32_t idx, bool exclusive)
{
    zz_atomic_u32 *link = &fl->links[idx];
    /* Relaxed: see the head load below for what must be visible. */
    uint64_t head = zz_atomic_load_relaxed_u64(&fl->head);
    if (exclusive) {
        uint32_t expected = ZZ_LINK_IN_USE;
        /* Relaxed: the CAS only decides which free owns the block; the
         * block's contents are published by the release CAS on the head. */
        if (ZZ_UNLIKELY(!zz_atomic_cas_strong_relaxed_u32(link, &expected,
                                                          zz__link_encode(idx, (uint32_t)head))))
            return ZZ_EDOUBLEFREE;
    } else {
        /* Relaxed: ZZ_LINK_IN_USE was stored by the pop that handed the
         * block out, which happens-before this free (same thread, or a
         * hand-off the user synchronised). */
        if (ZZ_UNLIKELY(zz_atomic_load_relaxed_u32(link) != ZZ_LINK_IN_USE))
            return ZZ_EDOUBLEFREE;
        zz_atomic_store_relaxed_u32(link, zz__link_encode(idx, (uint32_t)head));
    }
    /* Release: publishes the link store above, and the caller's writes to
     * the block, to the acquire load of whoever pops idx. On failure the
     * head is reloaded relaxed: nothing is read through it but its index. */
    while (!zz_atomic_cas_weak_release_u64(&fl->head, &head,
                                           zz__head_make(idx, (uint32_t)(head >> 32)))) {
        /* Relaxed: we own the block, so its link is ours to rewrite; the
         * release CAS that follows orders this store too. */
        zz_atomic_store_relaxed_u32(link, zz__link_encode(idx, (uint32_t)head));
    }
    /* Relaxed: a statistic; it pairs with nothing and is read at quiescence. */
    zz_atomic_fetch_add_relaxed_u32(&fl->pushes, 1u);
    return 0;
}

#endif
