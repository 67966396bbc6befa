/* SPDX-License-Identifier: MIT */
/*
 * The peak of in_use with thread caches: the tokens each cache holds, and
 * the look an allocation takes when its cache has none left (cache.h,
 * "Peak bookkeeping", says why the peak stays exact).
 */
#include "pool/cache.h"

/* Raises c's floor to at least `to`. Relaxed: a statistic; a CAS, as
 * others may raise it meanwhile. */
static void zz_cache_raise_floor(struct zz_cache *c, uint32_t to)
{
    uint32_t floor = zz_atomic_load_relaxed_u32(&c->floor);
    while ((int32_t)(to - floor) > 0 && !zz_atomic_cas_weak_relaxed_u32(&c->floor, &floor, to)) {
    }
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
    zz_atomic_store_relaxed_u32(&c->floor, zz__cache_floor_at_least_1(count + 1u - tokens));
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
