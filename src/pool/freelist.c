/* SPDX-License-Identifier: MIT */
/*
 * The cold half of the lock-free core (freelist.h holds the hot half, inline
 * so that zz_pool_alloc and zz_pool_free compile to straight-line code):
 * set-up, counters, and a validator for tests and ZZ_DEBUG builds.
 */
#include "pool/freelist.h"

void zz__freelist_init(struct zz_freelist *fl, zz_atomic_u32 *links, uint32_t capacity)
{
    /* Relaxed: the pool is published to other threads by whatever hands
     * them its pointer after zz_pool_create returns. */
    zz_atomic_store_relaxed_u64(&fl->head, zz__head_make(0, 0));
    zz_atomic_store_relaxed_u32(&fl->pushes, 0);
    zz_atomic_store_relaxed_u32(&fl->hwm, 0);
    zz_atomic_store_relaxed_u32(&fl->extra, 0);
    fl->links = links;
    fl->end = capacity;
}

uint32_t zz__freelist_popped(const struct zz_freelist *fl)
{
    /* Acquire, both: the caller's later reads (pushes, caches) stay after
     * these, on any processor. The counts only grow (mod 2^32). */
    uint32_t nodes = (uint32_t)(zz_atomic_load_acquire_u64(&fl->head) >> 32);
    return nodes + zz_atomic_load_acquire_u32(&fl->extra);
}

uint32_t zz__freelist_pushed(const struct zz_freelist *fl)
{
    /* Relaxed: read last; a statistic that pairs with nothing. */
    return zz_atomic_load_relaxed_u32(&fl->pushes);
}

uint32_t zz__freelist_clamp(const struct zz_freelist *fl, uint32_t taken)
{
    if (taken > UINT32_MAX / 2)
        return 0;
    return taken > fl->end ? fl->end : taken;
}

uint32_t zz__freelist_taken(const struct zz_freelist *fl)
{
    /* Pops before pushes: both only grow, so operations that land between
     * the two reads can only make the difference smaller than it was at
     * either read, never larger (read the other way round, a reader
     * preempted between them saw every pop of the meantime and none of the
     * pushes, up to the whole capacity). Exact at quiescence. */
    uint32_t popped = zz__freelist_popped(fl);
    ZZ_INTERLEAVE_POINT();
    return zz__freelist_clamp(fl, popped - zz__freelist_pushed(fl));
}

uint32_t zz__freelist_hwm(const struct zz_freelist *fl)
{
    /* Relaxed: a statistic, exact at quiescence. */
    return zz_atomic_load_relaxed_u32(&fl->hwm);
}

void zz__freelist_raise_hwm(struct zz_freelist *fl, uint32_t idx)
{
    /* Relaxed: a monotonic maximum; pops of fresh blocks happen in index
     * order but their updates here may arrive in any order, hence the loop. */
    uint32_t seen = zz_atomic_load_relaxed_u32(&fl->hwm);
    while (seen <= idx && !zz_atomic_cas_weak_relaxed_u32(&fl->hwm, &seen, idx + 1u)) {
    }
}

uint32_t zz__freelist_pop_contended(struct zz_freelist *fl)
{
    struct zz_backoff backoff = ZZ_BACKOFF_INIT;
    uint32_t idx;
    do {
        zz__backoff_wait(&backoff);
        /* Acquire: as in zz__freelist_pop_mpmc. */
    } while (!zz__freelist_try_pop(fl, zz_atomic_load_acquire_u64(&fl->head), &idx));
    return idx;
}

void zz__freelist_push_contended(struct zz_freelist *fl, uint32_t first, uint32_t last,
                                 uint32_t last_flag)
{
    struct zz_backoff backoff = ZZ_BACKOFF_INIT;
    do {
        zz__backoff_wait(&backoff);
        /* Relaxed: as in zz__freelist_push_linked_mpmc. */
    } while (
        !zz__freelist_try_push(fl, zz_atomic_load_relaxed_u64(&fl->head), first, last, last_flag));
}

bool zz__freelist_validate_unsync(const struct zz_freelist *fl, unsigned char *seen,
                                  zz_batch_reader members, const void *ctx, const char **why)
{
    uint32_t hwm = zz__freelist_hwm(fl);
    /* Walk the list: every index in range, none in use, none seen before (in
     * a cache, or earlier in the walk: a cycle or a double push), and as many
     * blocks as the counters say are on the list. */
    uint64_t free_blocks = (uint64_t)fl->end - zz__freelist_taken(fl);
    uint64_t steps = 0;
    uint32_t idx = (uint32_t)zz_atomic_load_relaxed_u64(&fl->head);
    uint32_t buf[ZZ_POOL_MAX_THREAD_CACHE];
    while (idx != fl->end) {
        if (idx >= hwm && idx < fl->end) {
            /* Links from hwm on were never written: the rest of the list is
             * the implicit chain idx, idx + 1, ..., end - 1. */
            steps += fl->end - idx;
            break;
        }
        if (idx > fl->end) {
            *why = "list index out of range";
            return false;
        }
        uint32_t link = zz_atomic_load_relaxed_u32(&fl->links[idx]);
        if (link == ZZ_LINK_IN_USE || link == ZZ_LINK_CACHED) {
            *why = "block in use or cached is on the free list";
            return false;
        }
        uint32_t m = zz__link_is_batch(link) ? members(ctx, idx, buf) : 0;
        if (m > ZZ_POOL_MAX_THREAD_CACHE) {
            *why = "batch node too large";
            return false;
        }
        for (uint32_t i = 0; i <= m; i++) {
            uint32_t b = i == 0 ? idx : buf[i - 1];
            if (b >= fl->end || seen[b]++ || ++steps > free_blocks) {
                *why = "block on the free list twice, or also in a cache";
                return false;
            }
        }
        idx = zz__link_next(idx, link);
    }
    if (steps != free_blocks) {
        *why = "free list is not as long as the counters say (lost block)";
        return false;
    }
    return true;
}
