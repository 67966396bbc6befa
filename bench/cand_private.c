/* SPDX-License-Identifier: MIT */
/*
 * The limit: plain, non-atomic free lists that only their own thread uses.
 * Nothing a shared pool can do is cheaper, so these bound what is possible.
 * Two shapes:
 *   private-list   the free list threaded through the free blocks (intrusive):
 *                  pop = one load, push = one store; creating it writes every
 *                  block;
 *   private-array  a stack of free pointers in an array beside the slab:
 *                  the blocks are never touched by the allocator, creating it
 *                  writes the array only.
 * In the shared workloads each thread gets a list of its own over its own
 * slab (thread_ctx), so they measure no sharing at all; W4 cannot run, as a
 * block freed by the consumer can never return to the producer.
 */
#include <stdio.h>

#include "candidate.h"
#include "util.h"

enum { SHAPE_LIST, SHAPE_ARRAY };

typedef struct priv_list {
    void *head;   /* SHAPE_LIST: first free block */
    void **stack; /* SHAPE_ARRAY: free pointers, stack[0..top) */
    size_t top;
    unsigned char *slab;
    size_t slab_bytes;
    size_t stack_bytes;
} priv_list;

typedef struct priv_state {
    int shape;
    zzb_config cfg;
} priv_state;

static void *pv_create(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    priv_state *s = zzb_map(sizeof(*s));
    if (s == NULL) {
        snprintf(why, n, "mmap failed");
        return NULL;
    }
    s->shape = (int)self->arg;
    s->cfg = *cfg;
    return s;
}

/* Each caller builds its own list; the main thread of a one-thread workload is index 0. */
static void *pv_thread_ctx(void *state, int index)
{
    const priv_state *s = state;
    size_t stride = zzb_stride(s->cfg.size), cap = s->cfg.capacity;
    priv_list *l = zzb_map(sizeof(*l));
    (void)index;
    if (l == NULL)
        return NULL;
    l->slab_bytes = stride * cap;
    l->slab = zzb_map(l->slab_bytes);
    if (l->slab == NULL)
        goto fail;
    if (s->shape == SHAPE_LIST) {
        for (size_t i = cap; i-- > 0;) {
            void **block = (void **)(void *)(l->slab + i * stride);
            *block = l->head;
            l->head = block;
        }
    } else {
        l->stack_bytes = cap * sizeof(void *);
        l->stack = zzb_map(l->stack_bytes);
        if (l->stack == NULL)
            goto fail;
        for (size_t i = cap; i-- > 0;)
            l->stack[l->top++] = l->slab + i * stride;
    }
    return l;
fail:
    zzb_unmap(l->slab, l->slab_bytes);
    zzb_unmap(l, sizeof(*l));
    return NULL;
}

static void pv_thread_done(void *state, void *ctx)
{
    priv_list *l = ctx;
    (void)state;
    zzb_unmap(l->stack, l->stack_bytes);
    zzb_unmap(l->slab, l->slab_bytes);
    zzb_unmap(l, sizeof(*l));
}

static void *pv_list_alloc(void *ctx)
{
    priv_list *l = ctx;
    void **block = l->head;
    if (block != NULL)
        l->head = *block;
    return block;
}

static void pv_list_free(void *ctx, void *ptr)
{
    priv_list *l = ctx;
    *(void **)ptr = l->head;
    l->head = ptr;
}

static void *pv_array_alloc(void *ctx)
{
    priv_list *l = ctx;
    return l->top > 0 ? l->stack[--l->top] : NULL;
}

static void pv_array_free(void *ctx, void *ptr)
{
    priv_list *l = ctx;
    l->stack[l->top++] = ptr;
}

ZZB_DIRECT_LOOP(pv_list_hot_direct, pv_list_alloc, pv_list_free)
ZZB_DIRECT_LOOP(pv_array_hot_direct, pv_array_alloc, pv_array_free)

static void pv_destroy(void *state)
{
    zzb_unmap(state, sizeof(priv_state));
}

static void pv_version(const zzb_candidate *self, char *buf, size_t n)
{
    snprintf(buf, n, "%s (benchmark code)", self->name);
}

#define ZZB_PRIVATE(id, label, shape, what, alloc_fn, free_fn, direct_fn)                          \
    const zzb_candidate id = {                                                                     \
        .name = label,                                                                             \
        .note = what,                                                                              \
        .caps = ZZB_CAP_POOL,                                                                      \
        .arg = (shape),                                                                            \
        .init = zzb_init_nothing,                                                                  \
        .create = pv_create,                                                                       \
        .thread_ctx = pv_thread_ctx,                                                               \
        .thread_done = pv_thread_done,                                                             \
        .alloc = alloc_fn,                                                                         \
        .free = free_fn,                                                                           \
        .hot_direct = direct_fn,                                                                   \
        .destroy = pv_destroy,                                                                     \
        .version = pv_version,                                                                     \
    }

ZZB_PRIVATE(zzb_cand_private_list, "private-list", SHAPE_LIST,
            "limit: non-atomic intrusive free list, one per thread", pv_list_alloc, pv_list_free,
            pv_list_hot_direct);
ZZB_PRIVATE(zzb_cand_private_array, "private-array", SHAPE_ARRAY,
            "limit: non-atomic array stack of free pointers, one per thread", pv_array_alloc,
            pv_array_free, pv_array_hot_direct);
