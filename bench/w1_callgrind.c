/* SPDX-License-Identifier: MIT */
/*
 * W1's inner loop, and W1 counted in instructions under callgrind.
 *
 * The count is deterministic where time is not, so it is what the
 * regression test perf.callgrind_w1 compares with bench/baseline. That test
 * builds this file into its own small program (bench/perf_w1.c); zzbench
 * runs the very same code, so both give the same number for the same
 * compiler and flags. Collection is switched on only around the measured
 * pairs (valgrind --collect-atstart=no + CALLGRIND_TOGGLE_COLLECT), after a
 * warm-up, so the count is instructions per pair in steady state: the
 * candidate's alloc and free, its wrapper and the loop.
 */
#include <stdio.h>

#include "workloads.h"

#ifdef ZZB_HAVE_VALGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#define RUNNING_ON_VALGRIND 0
#endif

/* noinline: one copy of the loop, the same in every caller and program. */
__attribute__((noinline)) int zzb_hot_pairs(const zzb_candidate *c, void *ctx, size_t pairs)
{
    for (size_t i = 0; i < pairs; i++) {
        void *p = c->alloc(ctx);
        if (p == NULL)
            return -1;
        c->free(ctx, p);
    }
    return 0;
}

int zzb_w1_callgrind(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    zzb_config cfg = {o->size, o->capacity, 1};
    void *state, *ctx;
    int rc;
    if (!RUNNING_ON_VALGRIND) {
        snprintf(r->why, sizeof(r->why),
                 "w1cg must run under valgrind --tool=callgrind "
                 "--collect-atstart=no");
        return -1;
    }
    state = c->create(c, &cfg, r->why, sizeof(r->why));
    if (state == NULL)
        return -1;
    ctx = c->thread_ctx(state, 0);
    if (ctx == NULL) {
        snprintf(r->why, sizeof(r->why), "thread_ctx failed");
        c->destroy(state);
        return -1;
    }
    /* Warm-up outside the count: first-use paths (lazy setup, cache refills) are not W1. */
    rc = zzb_hot_pairs(c, ctx, 10000);
    if (rc == 0) {
        CALLGRIND_TOGGLE_COLLECT;
        rc = zzb_hot_pairs(c, ctx, o->pairs);
        CALLGRIND_TOGGLE_COLLECT;
    }
    c->thread_done(state, ctx);
    c->destroy(state);
    if (rc != 0) {
        snprintf(r->why, sizeof(r->why), "alloc returned NULL");
        return -1;
    }
    r->value = (double)o->pairs;
    r->unit = "pairs";
    return 0;
}
