/* SPDX-License-Identifier: MIT */
/*
 * Pool lifecycle: option checks, creation in O(1), destruction, wiping and
 * statistics. The hot operations are in ops.c; the lock-free list they
 * share is in freelist.h.
 */
#include <stdlib.h>
#include <string.h>

#include "platform/os.h"
#include "pool/batch.h"
#include "pool/cache.h"
#include "pool/tool_hooks.h"

/* Transparent huge pages come in 2 MiB; advice on smaller slabs is moot. */
#define ZZ_HUGE_PAGE_SIZE ((size_t)2 << 20)

/* The resolved shape of a pool, computed before anything is allocated. */
struct zz_pool_plan {
    size_t stride, align, capacity, slab_bytes, meta_offset, mem_size, mem_align;
    size_t caches_offset, cache_stride, cache_cap, ncaches;
    size_t guard_offset, guard_size, freed_offset;
    zz_allocator backing;
    unsigned flags;
};

static bool zz_backing_is_valid(zz_allocator a)
{
    if (a.vtable == NULL)
        return a.ctx == NULL; /* all-zero: the default */
    return a.vtable->alloc != NULL && a.vtable->free != NULL;
}

static int zz_pool_plan_make(const zz_pool_options *o, struct zz_pool_plan *plan)
{
    if (o->size == 0 || o->capacity == 0 || o->capacity > ZZ_POOL_MAX_CAPACITY)
        return ZZ_EINVAL;
    if ((o->flags & ~(unsigned)ZZ_POOL_VALID_FLAGS) != 0 || !zz_backing_is_valid(o->backing))
        return ZZ_EINVAL;
    size_t align = o->align != 0 ? o->align : _Alignof(max_align_t);
    if (!zz__is_pow2(align) || align > ZZ_POOL_MAX_ALIGN)
        return ZZ_EINVAL;

    if (o->thread_cache > ZZ_POOL_MAX_THREAD_CACHE)
        return ZZ_EINVAL;
    size_t stride, slab_bytes, meta_offset, links_bytes, mem_size;
    if (!zz__align_up(o->size < ZZ_POOL_MIN_BLOCK ? ZZ_POOL_MIN_BLOCK : o->size, align, &stride))
        return ZZ_EINVAL;
    if (__builtin_mul_overflow(stride, o->capacity, &slab_bytes) ||
        !zz__align_up(slab_bytes, ZZ_CACHE_LINE, &meta_offset))
        return ZZ_EINVAL;
    /* A guard page: the slab rounded up to whole pages, then one page that
     * is made inaccessible; the memory is page-aligned so that it can be. */
    size_t page = zz__os_page_size();
    plan->guard_offset = plan->guard_size = 0;
    if (o->flags & ZZ_POOL_GUARD_PAGES) {
        if (!zz__align_up(slab_bytes, page, &plan->guard_offset) ||
            __builtin_add_overflow(plan->guard_offset, page, &meta_offset))
            return ZZ_EINVAL;
        plan->guard_size = page;
        align = align > page ? align : page;
    }
    if (__builtin_mul_overflow(o->capacity, sizeof(zz_atomic_u32), &links_bytes) ||
        __builtin_add_overflow(meta_offset, offsetof(struct zz_pool, links), &mem_size) ||
        __builtin_add_overflow(mem_size, links_bytes, &mem_size))
        return ZZ_EINVAL;

    /* Thread caches: by default one block in 64 of the capacity, a power of
     * two from 16 up to the largest cache. Larger caches move blocks between
     * threads in larger batches: a producer/consumer pair (W4) made 23 to
     * 28 Mobj/s with caches of 64 and 35 to 39 with 256. Small pools get
     * caches of 16: without caches two threads on a pool of 64 blocks made
     * 22 Mops/s, with them about 900; caches of 4 spilled 2 blocks a CAS
     * (docs/design.md). */
    size_t cap = o->thread_cache;
    if (cap == 0 && !(o->flags & ZZ_POOL_NO_CACHE)) {
        for (cap = ZZ_POOL_MAX_THREAD_CACHE; cap > 16 && cap > o->capacity / 64; cap /= 2) {
        }
    }
    if (o->flags & ZZ_POOL_NO_CACHE)
        cap = 0;
    plan->cache_cap = cap;
    plan->ncaches = cap > 0 ? ZZ_POOL_MAX_CACHED_THREADS : 0;
    plan->cache_stride = 0;
    plan->caches_offset = mem_size;
    if (cap > 0) {
        /* Fits: cap <= ZZ_POOL_MAX_THREAD_CACHE, and 64 caches of it. */
        plan->cache_stride =
            (sizeof(struct zz_cache) + cap * sizeof(zz_atomic_u32) + ZZ_CACHE_LINE - 1) &
            ~(size_t)(ZZ_CACHE_LINE - 1);
        if (!zz__align_up(mem_size, ZZ_CACHE_LINE, &plan->caches_offset) ||
            __builtin_add_overflow(plan->caches_offset, plan->ncaches * plan->cache_stride,
                                   &mem_size))
            return ZZ_EINVAL;
    }
    /* Checked pools remember which blocks were ever freed: a byte each. */
    plan->freed_offset = mem_size;
    if ((o->flags & ZZ_POOL_CHECKED) && __builtin_add_overflow(mem_size, o->capacity, &mem_size))
        return ZZ_EINVAL;

    plan->stride = stride;
    plan->align = o->align != 0 ? o->align : _Alignof(max_align_t);
    plan->capacity = o->capacity;
    plan->slab_bytes = slab_bytes;
    plan->meta_offset = meta_offset;
    plan->mem_size = mem_size;
    plan->mem_align = align > ZZ_CACHE_LINE ? align : ZZ_CACHE_LINE; /* with the guard's */
    plan->backing = o->backing.vtable != NULL ? o->backing : zz_page_allocator();
    plan->flags = o->flags;
    return 0;
}

/* The inverse of an odd number modulo 2^64, by Newton's iteration: each
 * step doubles the number of correct low bits, and x = d is right in 3. */
static uint64_t zz_inverse_odd(uint64_t d)
{
    uint64_t x = d;
    for (int i = 0; i < 5; i++)
        x *= 2 - d * x;
    return x;
}

/* Whether the backing's memory comes from the page allocator, zeroed and
 * committed lazily: the page allocator itself, or counting allocators
 * wrapped around it, which hand on its memory as it is. */
static bool zz_backing_is_page(zz_allocator a)
{
    while (a.vtable == &zz__counting_vtable)
        a = ((const zz_counting *)a.ctx)->inner;
    return a.vtable == &zz__page_vtable;
}

/*
 * Page advice for a pool from the page allocator, which advised huge pages
 * on mappings of ZZ_PAGE_HUGE_HINT_MIN bytes or more. A pool committed as
 * it is used takes small pages throughout: a big, mostly idle pool commits
 * only what it hands out, and a first pass over fresh memory pays for each
 * 4 KiB as it reaches it. Huge pages would save faults and TLB misses, but
 * a fresh huge page is often memory its host (a hypervisor) must back
 * again, and then a fault costs milliseconds: W2, measured after another
 * program ran and a pause, as any benchmark harness runs it, took 36 ns an
 * operation at 64 B and 222 at 256 B with huge pages against 19 and 45
 * with small ones (docs/design.md). Pools committed 2 MiB at a time
 * anyway (ZZ_POOL_HUGE_PAGES), or all at creation (ZZ_POOL_PREFAULT), keep
 * huge pages over the slab.
 */
static void zz_pool_advise_pages(unsigned char *mem, const struct zz_pool_plan *plan)
{
    if (plan->flags & (ZZ_POOL_HUGE_PAGES | ZZ_POOL_PREFAULT))
        zz__os_advise_huge(mem, plan->slab_bytes, true);
    else /* up to the end of the mapping's last page, which is ours */
        zz__os_advise_huge(mem, plan->mem_size + zz__os_page_size() - 1, false);
}

/* ZZ_POOL_PREFAULT: commits the slab and the bookkeeping after it, but not
 * the guard page between them. */
static bool zz_pool_prefault(unsigned char *mem, const struct zz_pool_plan *plan)
{
    return zz__os_populate(mem, plan->slab_bytes) &&
           zz__os_populate(mem + plan->meta_offset, plan->mem_size - plan->meta_offset);
}

int zz_pool_footprint(const zz_pool_options *opts, size_t *bytes, size_t *align)
{
    if (opts == NULL || bytes == NULL || align == NULL)
        return ZZ_EINVAL;
    struct zz_pool_plan plan;
    int rc = zz_pool_plan_make(opts, &plan);
    if (rc != 0)
        return rc;
    *bytes = plan.mem_size;
    *align = plan.mem_align;
    return 0;
}

/*
 * Why the backing returned NULL for the pool's memory. A pool aligned
 * beyond a cache line asks once more for the same size at a cache line's
 * alignment, and gives it straight back: when that is served, what the
 * backing cannot give is the alignment (ZZ_EINVAL); otherwise it has no
 * memory (ZZ_ENOMEM). Nothing is kept either way.
 */
static int zz_pool_backing_refusal(const struct zz_pool_plan *plan)
{
    if (plan->mem_align <= ZZ_CACHE_LINE)
        return ZZ_ENOMEM;
    void *probe = zz_alloc(plan->backing, plan->mem_size, ZZ_CACHE_LINE);
    if (probe == NULL)
        return ZZ_ENOMEM;
    zz_free(plan->backing, probe, plan->mem_size, ZZ_CACHE_LINE);
    return ZZ_EINVAL;
}

int zz_pool_create(zz_pool **out, const zz_pool_options *opts)
{
    if (out == NULL || opts == NULL)
        return ZZ_EINVAL;
    struct zz_pool_plan plan;
    int rc = zz_pool_plan_make(opts, &plan);
    if (rc != 0)
        return rc;

    unsigned char *mem = zz_alloc(plan.backing, plan.mem_size, plan.mem_align);
    if (mem == NULL)
        return zz_pool_backing_refusal(&plan);
    if (((uintptr_t)mem & (plan.mem_align - 1)) != 0) {
        /* A backing allocator that ignores alignment cannot serve this pool. */
        zz_free(plan.backing, mem, plan.mem_size, plan.mem_align);
        return ZZ_EINVAL;
    }

    /* meta_offset is a multiple of the cache line, and mem is aligned to it. */
    struct zz_pool *pool = (void *)(mem + plan.meta_offset);
    zz_atomic_u32 *links = pool->links;
    bool zeroed = zz_backing_is_page(plan.backing);
    if (!zeroed) {
        /* Only the page allocator is known to return zeroed memory; other
         * backings get their links cleared: 4 bytes a block, no block touched. */
        memset(pool, 0, offsetof(struct zz_pool, links) + plan.capacity * sizeof(*links));
        memset(mem + plan.caches_offset, 0, plan.ncaches * plan.cache_stride);
        memset(mem + plan.freed_offset, 0, plan.mem_size - plan.freed_offset);
    }
    if (plan.guard_size > 0 && !zz__os_protect(mem + plan.guard_offset, plan.guard_size, false)) {
        zz_free(plan.backing, mem, plan.mem_size, plan.mem_align);
        return ZZ_ENOMEM; /* the system would not protect the page */
    }
    if (zeroed && plan.slab_bytes >= ZZ_HUGE_PAGE_SIZE)
        zz_pool_advise_pages(mem, &plan);
    if ((plan.flags & ZZ_POOL_PREFAULT) && !zz_pool_prefault(mem, &plan)) {
        if (plan.guard_size > 0)
            (void)zz__os_protect(mem + plan.guard_offset, plan.guard_size, true);
        zz_free(plan.backing, mem, plan.mem_size, plan.mem_align);
        return ZZ_ENOMEM;
    }

    zz__freelist_init(&pool->fl, links, (uint32_t)plan.capacity);
    pool->end = plan.capacity;
    pool->base = (uintptr_t)mem;
    pool->stride = plan.stride;
    pool->stride_shift = (unsigned)__builtin_ctzll(plan.stride);
    pool->stride_inv = zz_inverse_odd((uint64_t)plan.stride >> pool->stride_shift);
    pool->flags = plan.flags;
    pool->checked = (plan.flags & ZZ_POOL_CHECKED) != 0;
    pool->retire_work = pool->checked || ZZ_TOOL_HOOKS;
    pool->freed = pool->checked ? mem + plan.freed_offset : NULL;
    pool->secret = zz__os_random_u64();
    pool->align = plan.align;
    pool->caches = mem + plan.caches_offset;
    pool->ncaches = (uint32_t)plan.ncaches;
    pool->cache_cap = (uint32_t)plan.cache_cap;
    pool->cache_stride = plan.cache_stride;
    /* A batch node's head records its size and the other members' indices
     * in its own bytes: 4 bytes a block of the node. */
    size_t batch = plan.stride / 4 < plan.cache_cap / 2 ? plan.stride / 4 : plan.cache_cap / 2;
    pool->batch_max = batch > 1 ? (uint32_t)batch : 1;
    /* Checked pools and tool hooks need every handout and free to pass
     * through the slow paths, which do the extra work. */
    pool->fast_slots = pool->retire_work ? 0 : pool->ncaches;
    pool->fast_shared = !pool->retire_work && pool->ncaches == 0;
    zz_atomic_store_relaxed_u64(&pool->misuses, 0);
    pool->on_misuse = opts->on_misuse;
    pool->misuse_ctx = opts->misuse_ctx;
    pool->guard_offset = plan.guard_offset;
    pool->guard_size = plan.guard_size;
    zz_atomic_store_relaxed_u64(&pool->cache_used, 0);
    zz_atomic_store_relaxed_u32(&pool->peak, 0);
    zz_atomic_store_relaxed_u32(&pool->uncached_net, 0);
    pool->backing = plan.backing;
    pool->mem = mem;
    pool->mem_size = plan.mem_size;
    pool->mem_align = plan.mem_align;
    zz__hook_create(pool, mem, plan.slab_bytes);
    *out = pool;
    return 0;
}

void zz_pool_destroy(zz_pool *pool)
{
    if (pool == NULL)
        return;
    if (pool->checked) {
        size_t live = zz__pool_in_use(pool, NULL);
        if (live > 0) {
            uint32_t first = 0, hwm = zz__freelist_hwm(&pool->fl);
            /* Relaxed: the caller is the pool's only user. */
            while (first < hwm &&
                   zz_atomic_load_relaxed_u32(&pool->fl.links[first]) != ZZ_LINK_IN_USE)
                first++;
            (void)zz__pool_misuse(pool, "zz_pool_destroy",
                                  first < hwm ? zz__pool_block(pool, first) : NULL, ZZ_ELEAK, 0,
                                  live);
        }
    }
    size_t used_bytes = (size_t)zz__freelist_hwm(&pool->fl) * pool->stride;
    if (pool->flags & ZZ_POOL_ZERO_ON_DESTROY) {
        zz__hook_open(pool->mem, used_bytes);
        zz__os_secure_zero(pool->mem, used_bytes);
    }
    zz__hook_destroy(pool, pool->mem, (size_t)pool->fl.end * pool->stride);
    if (pool->guard_size > 0)
        (void)zz__os_protect((unsigned char *)pool->mem + pool->guard_offset, pool->guard_size,
                             true);
    /* The pool lives inside the memory it frees: copy what free needs. */
    zz_allocator backing = pool->backing;
    void *mem = pool->mem;
    size_t size = pool->mem_size, align = pool->mem_align;
    zz_free(backing, mem, size, align);
}

int zz_pool_wipe(zz_pool *pool)
{
    if (pool == NULL)
        return ZZ_EINVAL;
    if (zz__pool_in_use(pool, NULL) != 0)
        return ZZ_EBUSY;
    size_t used_bytes = (size_t)zz__freelist_hwm(&pool->fl) * pool->stride;
    zz__hook_open(pool->mem, used_bytes);
    zz__os_secure_zero(pool->mem, used_bytes);
    zz__hook_close(pool->mem, used_bytes);
    /* Zeroed blocks no longer hold the fill pattern: they count as fresh. */
    if (pool->checked)
        memset(pool->freed, 0, zz__freelist_hwm(&pool->fl));
    /* Free blocks that head batch nodes kept their members' indices in
     * their bytes, just wiped: every block is free, so start the list over
     * as the fresh chain 0, 1, ..., capacity - 1 (zero links), with the
     * caches empty. Relaxed, all: the caller is the pool's only user. */
    uint32_t hwm = zz__freelist_hwm(&pool->fl);
    for (uint32_t i = 0; i < hwm; i++)
        zz_atomic_store_relaxed_u32(&pool->fl.links[i], 0);
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used);
    for (; used != 0; used &= used - 1) {
        /* The cached blocks join the fresh chain: count and base fall
         * together, and the slot's net stays (cache.h). */
        struct zz_cache *c = zz__cache_at(pool, (uint32_t)__builtin_ctzll(used));
        zz__cache_move_base(c, -zz__cache_count(c));
        zz__cache_set_count(c, 0);
    }
    uint32_t tag = (uint32_t)(zz_atomic_load_relaxed_u64(&pool->fl.head) >> 32) + 1u;
    uint32_t popped = tag + zz_atomic_load_relaxed_u32(&pool->fl.extra);
    zz_atomic_store_relaxed_u32(&pool->fl.pushes, popped); /* nothing taken: in_use stays 0 */
    zz_atomic_store_relaxed_u64(&pool->fl.head, zz__head_make(0, tag));
    return 0;
}

void zz_pool_stats_get(const zz_pool *pool, zz_pool_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (pool == NULL)
        return;
    out->capacity = pool->fl.end;
    uint32_t cached;
    out->in_use = zz__pool_in_use(pool, &cached);
    out->cached = cached;
    out->thread_cache = pool->cache_cap;
    /* Relaxed: a statistic. Without caches the fresh high-water mark is
     * the peak (freelist.h); with them, the caches keep it (cache.h). */
    out->peak_in_use =
        pool->ncaches == 0 ? zz__freelist_hwm(&pool->fl) : zz_atomic_load_relaxed_u32(&pool->peak);
    out->block_size = pool->stride;
    out->block_align = pool->align;
    out->flags = pool->flags;
    out->slab_bytes = (size_t)pool->fl.end * pool->stride;
    out->meta_bytes = pool->mem_size - out->slab_bytes;
    out->misuses = (size_t)zz_atomic_load_relaxed_u64(&pool->misuses); /* relaxed: a statistic */
}

bool zz__pool_validate(const zz_pool *pool, const char **why)
{
    /* Every block is exactly one of: in use (link says so), in one cache
     * entry, or on the shared list (walked by the freelist validator). */
    uint32_t end = pool->fl.end, cached = 0, in_use = zz__pool_in_use(pool, &cached);
    unsigned char *seen = calloc(end, 1);
    if (seen == NULL) {
        *why = "no memory to validate";
        return false;
    }
    bool ok = true;
    uint64_t used = zz_atomic_load_relaxed_u64(&pool->cache_used); /* relaxed: quiescent */
    for (; ok && used != 0; used &= used - 1) {
        const struct zz_cache *c = zz__cache_at(pool, (uint32_t)__builtin_ctzll(used));
        uint32_t n = zz__cache_count(c);
        for (uint32_t i = 0; ok && i < n; i++) {
            uint32_t idx = c->entries[i];
            if (idx >= end || seen[idx]++ ||
                zz_atomic_load_relaxed_u32(&pool->fl.links[idx]) == ZZ_LINK_IN_USE) {
                *why = "cache entry out of range, repeated, or in use";
                ok = false;
            }
        }
    }
    uint32_t marked = 0;
    for (uint32_t i = 0; ok && i < zz__freelist_hwm(&pool->fl); i++)
        marked += zz_atomic_load_relaxed_u32(&pool->fl.links[i]) == ZZ_LINK_IN_USE;
    if (ok && marked != in_use) {
        *why = "blocks marked in use differ from the in_use count";
        ok = false;
    }
    ok = ok && zz__freelist_validate_unsync(&pool->fl, seen, zz__pool_batch_members, pool, why);
    free(seen);
    return ok;
}
