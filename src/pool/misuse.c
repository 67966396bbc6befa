/* SPDX-License-Identifier: MIT */
/*
 * Catching what the application does wrong with a pool: reporting a misuse
 * (count, handler, abort), ZZ_POOL_CHECKED's fill pattern in free blocks and
 * its check at handout, and the walk over live blocks for leak reports.
 * Everything here is off the fast paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool_internal.h"
#include "pool/tool_hooks.h"

size_t zz_pool_misuse_format(const zz_pool_misuse *r, char *buf, size_t size)
{
    if (r == NULL) {
        if (size > 0)
            buf[0] = '\0';
        return 0;
    }
    char detail[64] = "";
    if (r->error == ZZ_ECORRUPT)
        (void)snprintf(detail, sizeof(detail), ", first changed byte at offset %zu", r->offset);
    else if (r->error == ZZ_ELEAK)
        (void)snprintf(detail, sizeof(detail), ", %zu block%s in use", r->count,
                       r->count == 1 ? "" : "s");
    int n = snprintf(buf, size, "zigzag: %s(): %s (%s): pool %p, block %p%s",
                     r->function != NULL ? r->function : "?", zz_strerror(r->error),
                     zz_err_name(r->error), (const void *)r->pool, r->ptr, detail);
    return n > 0 ? (size_t)n : 0;
}

ZZ_NOINLINE int zz__pool_misuse(const struct zz_pool *pool, const char *function, const void *ptr,
                                int err, size_t offset, size_t count)
{
    /* Relaxed: a statistic; the counter publishes nothing. The cast drops a
     * const that only the counter's atomicity needs dropped. */
    zz_atomic_fetch_add_relaxed_u64((zz_atomic_u64 *)&pool->misuses, 1);
    zz_pool_misuse report = {function, pool, ptr, err, offset, count};
    if (pool->on_misuse != NULL)
        pool->on_misuse(pool->misuse_ctx, &report);
    if (pool->flags & ZZ_POOL_ABORT_ON_MISUSE) {
        char line[256];
        (void)zz_pool_misuse_format(&report, line, sizeof(line));
        (void)fprintf(stderr, "%s\n", line);
        (void)fflush(stderr);
        abort();
    }
    return err;
}

void zz__pool_retire(const struct zz_pool *pool, void *block)
{
    if (pool->checked) {
        memset(block, ZZ_POOL_FREE_PATTERN, pool->stride);
        pool->freed[zz__pool_index(pool, block)] = 1;
    }
    zz__hook_retire(pool, block, pool->stride);
}

/* The offset of the first byte of p[0..n) that is not the fill pattern, or
 * n. Word-wide: a checked pool compares every byte of every block reused. */
static size_t zz_pattern_mismatch(const unsigned char *p, size_t n)
{
    const uint64_t word = 0x0101010101010101u * ZZ_POOL_FREE_PATTERN;
    size_t i = 0;
    for (; i + sizeof(word) <= n; i += sizeof(word)) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        if (w != word)
            break;
    }
    for (; i < n; i++) {
        if (p[i] != ZZ_POOL_FREE_PATTERN)
            return i;
    }
    return n;
}

void zz__pool_handout(const struct zz_pool *pool, void *block)
{
    if (pool->checked && pool->freed[zz__pool_index(pool, block)]) {
        zz__hook_open(block, pool->stride);
        size_t at = zz_pattern_mismatch(block, pool->stride);
        if (at < pool->stride)
            (void)zz__pool_misuse(pool, "zz_pool_alloc", block, ZZ_ECORRUPT, at, 0);
    }
    zz__hook_handout(pool, block, pool->stride);
}

size_t zz_pool_visit_live(const zz_pool *pool, void (*visit)(void *ctx, void *block), void *ctx)
{
    if (pool == NULL)
        return 0;
    size_t live = 0;
    uint32_t hwm = zz__freelist_hwm(&pool->fl);
    for (uint32_t i = 0; i < hwm; i++) {
        /* Relaxed: the caller promises quiescence. */
        if (zz_atomic_load_relaxed_u32(&pool->fl.links[i]) != ZZ_LINK_IN_USE)
            continue;
        live++;
        if (visit != NULL)
            visit(ctx, zz__pool_block(pool, i));
    }
    return live;
}
