/* SPDX-License-Identifier: MIT */
/*
 * The one interface every allocator under test sits behind. A workload sees
 * only this table of functions, so every candidate pays the same indirect
 * call per operation and the difference between two results is the
 * allocator alone.
 *
 * Life of a candidate in one process:
 *   init       once, before anything else: start a runtime (DPDK's EAL) or
 *              check that the intended malloc is the one really linked;
 *   create     one allocator of cfg->capacity blocks of cfg->size bytes;
 *   thread_ctx in each thread that will allocate (the main thread too),
 *              giving that thread's handle: the pool itself, or a private
 *              list, or a registered DPDK lcore;
 *   alloc/free with that handle, any number of times;
 *   thread_done in the same thread, when it has freed what it holds;
 *   destroy    once every thread is done.
 *
 * Adding a candidate: write its table (see cand_*.c) and list it in
 * candidates.c.
 *
 * One workload, W1 direct, runs each candidate without the table: a loop
 * of its own with its alloc and free called as a program written for it
 * would call them (ZZB_DIRECT_LOOP), so that what the indirect calls hide
 * (or add) shows.
 */
#ifndef ZZB_CANDIDATE_H
#define ZZB_CANDIDATE_H

#include <stddef.h>

typedef struct zzb_config {
    size_t size;     /* bytes per object */
    size_t capacity; /* blocks, for pools; mallocs ignore it */
    int threads;     /* how many threads will ask for a thread_ctx */
} zzb_config;

/* Capability bits: which workloads make sense for a candidate. */
enum {
    ZZB_CAP_POOL = 1u << 0,       /* a pool with a capacity: W6 (creation) applies */
    ZZB_CAP_CROSS_FREE = 1u << 1, /* a block may be freed by another thread: W4 applies */
};

/* init's answers besides 0. */
enum {
    ZZB_INIT_UNAVAILABLE = -1, /* cannot run here; why says so */
    ZZB_INIT_NEED_PRELOAD = 1, /* run me again with LD_PRELOAD=preload */
};

typedef struct zzb_candidate zzb_candidate;
struct zzb_candidate {
    const char *name;    /* as given to --candidate */
    const char *note;    /* one line for the notes under the tables */
    unsigned caps;       /* ZZB_CAP_* */
    unsigned long arg;   /* the implementation's own: zigzag's pool flags, say */
    const char *preload; /* library to LD_PRELOAD, or NULL */

    int (*init)(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n);
    void *(*create)(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n);
    void *(*thread_ctx)(void *state, int index);
    void (*thread_done)(void *state, void *ctx);
    void *(*alloc)(void *ctx);
    void (*free)(void *ctx, void *ptr);
    void (*destroy)(void *state);
    /* W1 with alloc and free called directly: `pairs` alloc+free pairs;
     * -1 if an alloc returned NULL. Made by ZZB_DIRECT_LOOP. */
    int (*hot_direct)(void *ctx, size_t pairs);
    /* Name and version of the code really running, e.g. "jemalloc 5.3.0-0-g54eaed1d". */
    void (*version)(const zzb_candidate *self, char *buf, size_t n);
};

/*
 * Defines `static int name(void *ctx, size_t pairs)`: W1's loop over the
 * candidate's own static alloc_fn and free_fn, which the compiler sees
 * and inlines, so that the library's API is called directly (through the
 * PLT for a shared library, inline for a header-only one such as DPDK's
 * mempool or ck_stack). The empty asm makes each block escape to memory
 * the compiler cannot see into, as a caller that uses the block would: no
 * alloc/free pair is elided, and nothing cached in registers survives it.
 */
#define ZZB_DIRECT_LOOP(name, alloc_fn, free_fn)                                                   \
    static int name(void *ctx, size_t pairs)                                                       \
    {                                                                                              \
        for (size_t i = 0; i < pairs; i++) {                                                       \
            void *p = alloc_fn(ctx);                                                               \
            if (p == NULL)                                                                         \
                return -1;                                                                         \
            __asm__ volatile("" : : "r"(p) : "memory");                                            \
            free_fn(ctx, p);                                                                       \
        }                                                                                          \
        return 0;                                                                                  \
    }

/* Every candidate built into this binary, in display order, NULL-terminated. */
extern const zzb_candidate *const zzb_candidates[];

/* The candidate called name, or NULL. */
const zzb_candidate *zzb_candidate_find(const char *name);

/* Helpers for candidates whose thread handle is the shared state itself. */
void *zzb_ctx_is_state(void *state, int index);
void zzb_ctx_done_nothing(void *state, void *ctx);
int zzb_init_nothing(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n);

#endif
