/* SPDX-License-Identifier: MIT */
/*
 * A lock-free pool on Concurrency Kit's ck_stack: the state of the art for a
 * shared, cache-less, ABA-safe free list. Every free block holds its
 * ck_stack_entry in its first bytes (an intrusive Treiber stack);
 * ck_stack_pop_mpmc pairs the head pointer with a generation counter in a
 * double-width CAS, which is what makes it safe against ABA. Popping reads a
 * block that another thread may just have taken; that is harmless because
 * the slab stays mapped, which is how ck expects its stacks to be used.
 *
 * Creation pushes every block, so it touches the whole slab (see W6).
 */
#include <ck_stack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "candidate.h"
#include "util.h"

#ifndef ZZB_CK_VERSION
#define ZZB_CK_VERSION "?"
#endif

typedef struct ck_pool {
    /* cmpxchg16b needs the 16-byte {head, generation} pair 16-byte aligned; a
     * line of its own keeps the slab pointers below from sharing its misses. */
    _Alignas(64) struct ck_stack stack;
    _Alignas(64) unsigned char *slab;
    size_t slab_bytes;
} ck_pool;

static void *ckp_create(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    size_t stride = zzb_stride(cfg->size);
    ck_pool *p = zzb_map(sizeof(*p));
    (void)self;
    if (p == NULL) {
        snprintf(why, n, "mmap failed");
        return NULL;
    }
    p->slab_bytes = stride * cfg->capacity;
    p->slab = zzb_map(p->slab_bytes);
    if (p->slab == NULL) {
        snprintf(why, n, "mmap of %zu bytes failed", p->slab_bytes);
        zzb_unmap(p, sizeof(*p));
        return NULL;
    }
    ck_stack_init(&p->stack);
    /* Push from the end so that the first pops hand out blocks in address order. */
    for (size_t i = cfg->capacity; i-- > 0;)
        ck_stack_push_spnc(&p->stack, (ck_stack_entry_t *)(void *)(p->slab + i * stride));
    return p;
}

static void *ckp_alloc(void *ctx)
{
    ck_pool *p = ctx;
    return ck_stack_pop_mpmc(&p->stack);
}

static void ckp_free(void *ctx, void *ptr)
{
    ck_pool *p = ctx;
    ck_stack_push_mpmc(&p->stack, ptr);
}

ZZB_DIRECT_LOOP(ckp_hot_direct, ckp_alloc, ckp_free)

static void ckp_destroy(void *state)
{
    ck_pool *p = state;
    zzb_unmap(p->slab, p->slab_bytes);
    zzb_unmap(p, sizeof(*p));
}

static void ckp_version(const zzb_candidate *self, char *buf, size_t n)
{
    (void)self;
    snprintf(buf, n, "ck %s", ZZB_CK_VERSION);
}

const zzb_candidate zzb_cand_ck = {
    .name = "ck-stack",
    .note = "blocks on a ck_stack (pop_mpmc/push_mpmc, entry inside the free block)",
    .caps = ZZB_CAP_POOL | ZZB_CAP_CROSS_FREE,
    .init = zzb_init_nothing,
    .create = ckp_create,
    .thread_ctx = zzb_ctx_is_state,
    .thread_done = zzb_ctx_done_nothing,
    .alloc = ckp_alloc,
    .free = ckp_free,
    .hot_direct = ckp_hot_direct,
    .destroy = ckp_destroy,
    .version = ckp_version,
};
