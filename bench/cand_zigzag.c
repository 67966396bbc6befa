/* SPDX-License-Identifier: MIT */
/*
 * zigzag's pool as benchmark candidates: one table per set of pool flags.
 * A new variant (caching disabled, say) is one ZZB_ZIGZAG line here and one
 * line in candidates.c.
 */
#include <stdio.h>
#include <zigzag.h>

#include "candidate.h"

static void *zz_create(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    zz_pool *pool = NULL;
    int rc = zz_pool_create(&pool, &(zz_pool_options){.size = cfg->size,
                                                      .capacity = cfg->capacity,
                                                      .flags = (unsigned)self->arg});
    if (rc != 0) {
        snprintf(why, n, "zz_pool_create: %s", zz_strerror(rc));
        return NULL;
    }
    return pool;
}

static void *zz_alloc_one(void *ctx)
{
    return zz_pool_alloc(ctx);
}

/* A rejected free would mean a harness bug; the workloads' own checks catch it. */
static void zz_free_one(void *ctx, void *ptr)
{
    (void)zz_pool_free(ctx, ptr);
}

ZZB_DIRECT_LOOP(zz_hot_direct, zz_alloc_one, zz_free_one)

static void zz_destroy(void *state)
{
    zz_pool_destroy(state);
}

static void zz_version(const zzb_candidate *self, char *buf, size_t n)
{
    (void)self;
    snprintf(buf, n, "zigzag %d.%d.%d", ZZ_VERSION_MAJOR, ZZ_VERSION_MINOR, ZZ_VERSION_PATCH);
}

#define ZZB_ZIGZAG(id, label, flags, what)                                                         \
    const zzb_candidate id = {                                                                     \
        .name = label,                                                                             \
        .note = what,                                                                              \
        .caps = ZZB_CAP_POOL | ZZB_CAP_CROSS_FREE,                                                 \
        .arg = (flags),                                                                            \
        .init = zzb_init_nothing,                                                                  \
        .create = zz_create,                                                                       \
        .thread_ctx = zzb_ctx_is_state,                                                            \
        .thread_done = zzb_ctx_done_nothing,                                                       \
        .alloc = zz_alloc_one,                                                                     \
        .free = zz_free_one,                                                                       \
        .hot_direct = zz_hot_direct,                                                               \
        .destroy = zz_destroy,                                                                     \
        .version = zz_version,                                                                     \
    }

ZZB_ZIGZAG(zzb_cand_zigzag, "zigzag", 0u, "zz_pool_create with default options");
ZZB_ZIGZAG(zzb_cand_zigzag_checked, "zigzag-checked", ZZ_POOL_CHECKED,
           "zz_pool_create with ZZ_POOL_CHECKED");
ZZB_ZIGZAG(zzb_cand_zigzag_nocache, "zigzag-nocache", ZZ_POOL_NO_CACHE,
           "zz_pool_create with ZZ_POOL_NO_CACHE: the shared lock-free list alone");
ZZB_ZIGZAG(zzb_cand_zigzag_prefault, "zigzag-prefault", ZZ_POOL_PREFAULT,
           "zz_pool_create with ZZ_POOL_PREFAULT: every page committed at creation, as DPDK does");
