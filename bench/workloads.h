/* SPDX-License-Identifier: MIT */
/*
 * The workloads W1 to W6 (see docs/benchmarks.md for what each measures).
 * Each creates its allocator through the candidate interface, runs, gives
 * everything back and fills a zzb_result; it returns 0, or -1 with a reason
 * in result->why.
 */
#ifndef ZZB_WORKLOADS_H
#define ZZB_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "candidate.h"

typedef struct zzb_opts {
    size_t size;     /* bytes per object */
    size_t capacity; /* pool blocks for W1, W3, W4, W5 */
    size_t count;    /* objects of W2 (and its pool's capacity); capacity of W6's pool */
    int threads;     /* W3/W5 threads */
    int live;        /* W3/W5 live objects per thread */
    double duration; /* seconds of each timed loop (W1, W3, W4, W5) */
    uint64_t seed;   /* PRNG seed */
    size_t pairs;    /* W1 under callgrind: pairs counted */
    size_t ring;     /* W4 ring slots, a power of two */
} zzb_opts;

#define ZZB_MAX_EXTRA 6

typedef struct zzb_result {
    double value;
    const char *unit;
    int n_extra;
    struct {
        const char *key;
        double value;
    } extra[ZZB_MAX_EXTRA];
    char why[256];
} zzb_result;

/* Adds a named secondary figure to a result (printed as key=value). */
static inline void zzb_result_extra(zzb_result *r, const char *key, double value)
{
    if (r->n_extra < ZZB_MAX_EXTRA) {
        r->extra[r->n_extra].key = key;
        r->extra[r->n_extra].value = value;
        r->n_extra++;
    }
}

/* alloc+free pairs in a tight loop, no write; -1 if an alloc returned NULL. */
int zzb_hot_pairs(const zzb_candidate *c, void *ctx, size_t pairs);

int zzb_w1_hot(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w1_direct(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w1_callgrind(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w2_batch(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w3_shared(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w4_prodcons(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);
int zzb_w6_create(const zzb_candidate *c, const zzb_opts *o, zzb_result *r);

#endif
