/* SPDX-License-Identifier: MIT */
/*
 * Do-nothing pieces shared by candidates whose threads all use one shared
 * object (zigzag, ck, malloc): kept apart from the registry so that a
 * program linking a single candidate (perf_w1) needs no other.
 */
#include "candidate.h"

void *zzb_ctx_is_state(void *state, int index)
{
    (void)index;
    return state;
}

void zzb_ctx_done_nothing(void *state, void *ctx)
{
    (void)state;
    (void)ctx;
}

int zzb_init_nothing(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    (void)self;
    (void)cfg;
    (void)why;
    (void)n;
    return 0;
}
