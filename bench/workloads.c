/* SPDX-License-Identifier: MIT */
/*
 * The one-thread workloads:
 *   W1 hot churn   allocate one, free it, again, for o->duration seconds,
 *                  through the candidate's table (zzb_w1_hot) or with its
 *                  API called directly (zzb_w1_direct);
 *   W2 batch       o->count allocations (each written), frees in a shuffled
 *                  order, o->count allocations again, from a pool of exactly
 *                  o->count blocks;
 *   W6 creation    a pool of o->count blocks: creation time and resident
 *                  memory after creation and after 1,000 written allocations.
 * Harness memory (pointer arrays) comes from mmap, never from malloc, so the
 * malloc candidates' heaps hold only what is measured.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "workloads.h"

/* Pairs between two clock reads in W1: long enough that reading the clock costs nothing. */
#define W1_CHUNK 4096u

static void *setup(const zzb_candidate *c, const zzb_config *cfg, void **ctx, zzb_result *r)
{
    void *state = c->create(c, cfg, r->why, sizeof(r->why));
    if (state == NULL)
        return NULL;
    *ctx = c->thread_ctx(state, 0);
    if (*ctx == NULL) {
        snprintf(r->why, sizeof(r->why), "thread_ctx failed");
        c->destroy(state);
        return NULL;
    }
    return state;
}

/* One chunk of W1's pairs: through the table, or the candidate's own loop. */
static int w1_chunk(const zzb_candidate *c, void *ctx, bool direct)
{
    return direct ? c->hot_direct(ctx, W1_CHUNK) : zzb_hot_pairs(c, ctx, W1_CHUNK);
}

static int w1_run(const zzb_candidate *c, const zzb_opts *o, zzb_result *r, bool direct)
{
    zzb_config cfg = {o->size, o->capacity, 1};
    void *ctx, *state = setup(c, &cfg, &ctx, r);
    double t0, t1, cpu, warm = o->duration / 10;
    size_t pairs = 0;
    int rc = 0;
    if (state == NULL)
        return -1;
    /* Warm-up: caches, branch predictors and CPU frequency settle before timing. */
    t0 = zzb_now();
    do {
        rc = w1_chunk(c, ctx, direct);
    } while (rc == 0 && zzb_now() - t0 < warm);
    cpu = zzb_thread_cpu();
    t0 = zzb_now();
    do {
        rc |= w1_chunk(c, ctx, direct);
        pairs += W1_CHUNK;
        t1 = zzb_now();
    } while (rc == 0 && t1 - t0 < o->duration);
    cpu = zzb_thread_cpu() - cpu;
    c->thread_done(state, ctx);
    c->destroy(state);
    if (rc != 0) {
        snprintf(r->why, sizeof(r->why), "alloc returned NULL");
        return -1;
    }
    r->value = (t1 - t0) * 1e9 / (double)pairs;
    r->unit = "ns/pair";
    zzb_result_extra(r, "pairs", (double)pairs);
    zzb_result_extra(r, "cpu_share", cpu / (t1 - t0));
    return 0;
}

int zzb_w1_hot(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    return w1_run(c, o, r, false);
}

int zzb_w1_direct(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    if (c->hot_direct == NULL) {
        snprintf(r->why, sizeof(r->why), "no direct loop");
        return -1;
    }
    return w1_run(c, o, r, true);
}

/* Allocates n objects into ptrs, writing one word to each; -1 on NULL. */
static int fill(const zzb_candidate *c, void *ctx, void **ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = c->alloc(ctx);
        if (p == NULL)
            return -1;
        *(volatile size_t *)p = i;
        ptrs[i] = p;
    }
    return 0;
}

int zzb_w2_batch(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    zzb_config cfg = {o->size, o->count, 1};
    size_t n = o->count, bytes = n * sizeof(void *);
    void **ptrs = zzb_map(bytes);
    void *ctx, *state;
    double t_alloc, t_free = 0, t_again = 0, t, cpu = 0;
    uint64_t rng = o->seed;
    int rc;
    if (ptrs == NULL) {
        snprintf(r->why, sizeof(r->why), "mmap of the pointer array failed");
        return -1;
    }
    memset(ptrs, 0, bytes); /* commit the array now, not inside the timed loops */
    state = setup(c, &cfg, &ctx, r);
    if (state == NULL) {
        zzb_unmap(ptrs, bytes);
        return -1;
    }
    cpu -= zzb_thread_cpu();
    t = zzb_now();
    rc = fill(c, ctx, ptrs, n);
    t_alloc = zzb_now() - t;
    cpu += zzb_thread_cpu();
    if (rc == 0) {
        /* Fisher-Yates with the seeded PRNG: the same order for every candidate's addresses. */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(zzb_rand(&rng) % (i + 1));
            void *tmp = ptrs[i];
            ptrs[i] = ptrs[j];
            ptrs[j] = tmp;
        }
        cpu -= zzb_thread_cpu();
        t = zzb_now();
        for (size_t i = 0; i < n; i++)
            c->free(ctx, ptrs[i]);
        t_free = zzb_now() - t;
        t = zzb_now();
        rc = fill(c, ctx, ptrs, n);
        t_again = zzb_now() - t;
        cpu += zzb_thread_cpu();
        for (size_t i = 0; i < n && ptrs[i] != NULL; i++)
            c->free(ctx, ptrs[i]);
    } else {
        for (size_t i = 0; i < n && ptrs[i] != NULL; i++)
            c->free(ctx, ptrs[i]);
    }
    c->thread_done(state, ctx);
    c->destroy(state);
    zzb_unmap(ptrs, bytes);
    if (rc != 0) {
        snprintf(r->why, sizeof(r->why), "alloc returned NULL before %zu objects", n);
        return -1;
    }
    r->value = (t_alloc + t_free + t_again) * 1e9 / (3.0 * (double)n);
    r->unit = "ns/op";
    zzb_result_extra(r, "alloc_ns", t_alloc * 1e9 / (double)n);
    zzb_result_extra(r, "free_ns", t_free * 1e9 / (double)n);
    zzb_result_extra(r, "realloc_ns", t_again * 1e9 / (double)n);
    zzb_result_extra(r, "cpu_share", cpu / (t_alloc + t_free + t_again));
    return 0;
}

#define W6_ALLOCS 1000

int zzb_w6_create(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    zzb_config cfg = {o->size, o->count, 1};
    static void *ptrs[W6_ALLOCS];
    void *ctx, *state;
    size_t rss0, rss1, rss2;
    double t0, t1, t2;
    int rc = 0;
    memset(ptrs, 0, sizeof(ptrs));
    rss0 = zzb_rss_bytes();
    t0 = zzb_now();
    state = setup(c, &cfg, &ctx, r);
    t1 = zzb_now();
    if (state == NULL)
        return -1;
    rss1 = zzb_rss_bytes();
    rc = fill(c, ctx, ptrs, W6_ALLOCS);
    rss2 = zzb_rss_bytes();
    for (size_t i = 0; i < W6_ALLOCS && ptrs[i] != NULL; i++)
        c->free(ctx, ptrs[i]);
    t2 = zzb_now();
    c->thread_done(state, ctx);
    c->destroy(state);
    t2 = zzb_now() - t2;
    if (rc != 0) {
        snprintf(r->why, sizeof(r->why), "alloc returned NULL");
        return -1;
    }
    r->value = (t1 - t0) * 1e3;
    r->unit = "ms";
    zzb_result_extra(r, "rss_create_mib", ((double)rss1 - (double)rss0) / (1 << 20));
    zzb_result_extra(r, "rss_alloc_mib", ((double)rss2 - (double)rss0) / (1 << 20));
    zzb_result_extra(r, "destroy_ms", t2 * 1e3);
    return 0;
}
