/* SPDX-License-Identifier: MIT */
/*
 * The threaded workloads, all from one allocator shared by every thread:
 *   W3 (W5)  each of o->threads threads keeps o->live objects and replaces a
 *            random one per step: free it, allocate a new one, write to it.
 *            W5 is W3 with more threads than cores. Counted: operations
 *            (one alloc or one free each) per second, all threads together.
 *   W4       one producer allocates and passes objects through an SPSC ring;
 *            one consumer writes to each and frees it. Counted: objects per
 *            second through the ring.
 * Threads set themselves up (thread_ctx, first objects) before the clock
 * starts; the main thread releases them together, sleeps o->duration, raises
 * the stop flag, and takes the last thread's end as the end of the run.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sync.h"
#include "util.h"
#include "workloads.h"

/* Steps between two looks at the stop flag. */
#define STOP_POLL 64u
/* W4: objects a side of the ring passes before it publishes its index (sync.h). */
#define ZZB_RING_BATCH 32u

typedef struct run_shared {
    const zzb_candidate *c;
    const zzb_opts *o;
    void *state;
    zzb_flag ready; /* threads set up */
    zzb_flag go;    /* main: start */
    zzb_flag stop;  /* main: stop */
    zzb_ring ring;  /* W4 only */
} run_shared;

typedef struct worker {
    _Alignas(ZZB_LINE) run_shared *sh;
    int index;
    uint64_t count; /* W3: steps; W4: objects consumed */
    double end;
    double cpu; /* CPU seconds of the timed part */
    int failed;
    char why[128];
    pthread_t tid;
} worker;

static void *w3_thread(void *arg)
{
    worker *w = arg;
    const zzb_candidate *c = w->sh->c;
    size_t live = (size_t)w->sh->o->live;
    /* mmap, not calloc: the malloc candidates' heaps must hold only measured objects. */
    void **slot = zzb_map(live * sizeof(void *));
    void *ctx = c->thread_ctx(w->sh->state, w->index);
    uint64_t rng = w->sh->o->seed + (uint64_t)w->index * 0x9e3779b97f4a7c15u, steps = 0;
    size_t filled = 0;
    if (slot == NULL || ctx == NULL) {
        w->failed = 1;
        snprintf(w->why, sizeof(w->why), "thread setup failed (%s)", slot ? "thread_ctx" : "mmap");
    }
    for (; !w->failed && filled < live; filled++) {
        slot[filled] = c->alloc(ctx);
        if (slot[filled] == NULL) {
            w->failed = 1;
            snprintf(w->why, sizeof(w->why), "alloc returned NULL while filling");
        }
    }
    zzb_flag_add_relaxed(&w->sh->ready, 1);
    zzb_flag_wait_at_least(&w->sh->go, 1);
    w->cpu = zzb_thread_cpu();
    while (!w->failed && !zzb_flag_get_relaxed(&w->sh->stop)) {
        for (unsigned k = 0; k < STOP_POLL; k++) {
            /* Multiply-shift picks a slot in [0, live) without a division. */
            size_t i = (size_t)(((zzb_rand(&rng) >> 32) * live) >> 32);
            void *p;
            c->free(ctx, slot[i]);
            p = c->alloc(ctx);
            if (p == NULL) {
                slot[i] = NULL;
                w->failed = 1;
                snprintf(w->why, sizeof(w->why), "alloc returned NULL");
                break;
            }
            *(volatile uint64_t *)p = steps;
            slot[i] = p;
            steps++;
        }
    }
    w->end = zzb_now();
    w->cpu = zzb_thread_cpu() - w->cpu;
    w->count = steps;
    for (size_t i = 0; i < filled; i++)
        if (slot[i] != NULL)
            c->free(ctx, slot[i]);
    if (ctx != NULL)
        c->thread_done(w->sh->state, ctx);
    zzb_unmap(slot, live * sizeof(void *));
    return NULL;
}

static void *w4_producer(void *arg)
{
    worker *w = arg;
    const zzb_candidate *c = w->sh->c;
    void *ctx = c->thread_ctx(w->sh->state, w->index);
    if (ctx == NULL) {
        w->failed = 1;
        snprintf(w->why, sizeof(w->why), "producer thread_ctx failed");
    }
    zzb_flag_add_relaxed(&w->sh->ready, 1);
    zzb_flag_wait_at_least(&w->sh->go, 1);
    w->cpu = zzb_thread_cpu();
    while (!w->failed && !zzb_flag_get_relaxed(&w->sh->stop)) {
        for (unsigned k = 0; k < STOP_POLL; k++) {
            void *p = c->alloc(ctx);
            unsigned spins = 0;
            if (p == NULL) {
                w->failed = 1;
                snprintf(w->why, sizeof(w->why), "alloc returned NULL");
                break;
            }
            while (!zzb_ring_push(&w->sh->ring, p)) {
                /* Full: the consumer may be descheduled; give it the core now and then. */
                if (++spins % 256 == 0)
                    sched_yield();
                else
                    zzb_cpu_relax();
            }
            w->count++;
        }
    }
    /* NULL tells the consumer to finish; it must get through even after a failure. */
    while (!zzb_ring_push(&w->sh->ring, NULL))
        sched_yield();
    zzb_ring_publish_head(&w->sh->ring);
    w->end = zzb_now();
    w->cpu = zzb_thread_cpu() - w->cpu;
    if (ctx != NULL)
        c->thread_done(w->sh->state, ctx);
    return NULL;
}

static void *w4_consumer(void *arg)
{
    worker *w = arg;
    const zzb_candidate *c = w->sh->c;
    void *ctx = c->thread_ctx(w->sh->state, w->index);
    if (ctx == NULL) {
        w->failed = 1;
        snprintf(w->why, sizeof(w->why), "consumer thread_ctx failed");
    }
    zzb_flag_add_relaxed(&w->sh->ready, 1);
    zzb_flag_wait_at_least(&w->sh->go, 1);
    w->cpu = zzb_thread_cpu();
    for (;;) {
        void *p;
        unsigned spins = 0;
        while (!zzb_ring_pop(&w->sh->ring, &p)) {
            if (++spins % 256 == 0)
                sched_yield();
            else
                zzb_cpu_relax();
        }
        if (p == NULL)
            break;
        *(volatile uint64_t *)p = w->count;
        /* Without a context this thread may not call free; the block is lost with the pool. */
        if (ctx != NULL)
            c->free(ctx, p);
        w->count++;
    }
    w->end = zzb_now();
    w->cpu = zzb_thread_cpu() - w->cpu;
    if (ctx != NULL)
        c->thread_done(w->sh->state, ctx);
    return NULL;
}

/* Starts n workers on fn, times them, joins them; the start time goes to *t0. */
static int run_workers(run_shared *sh, worker *w, int n, void *(*fn[])(void *), double *t0,
                       zzb_result *r)
{
    int started = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        w[i].sh = sh;
        w[i].index = i;
        if (pthread_create(&w[i].tid, NULL, fn[i], &w[i]) != 0)
            break;
        started++;
    }
    if (started < n) {
        /* Let the started ones run to their end: they need go and stop. */
        snprintf(r->why, sizeof(r->why), "pthread_create failed after %d threads", started);
        failed = 1;
    }
    zzb_flag_wait_at_least(&sh->ready, (uint32_t)started);
    *t0 = zzb_now();
    zzb_flag_set_release(&sh->go, 1);
    if (!failed)
        zzb_sleep(sh->o->duration);
    zzb_flag_set_release(&sh->stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    for (int i = 0; i < started && !failed; i++) {
        if (w[i].failed) {
            snprintf(r->why, sizeof(r->why), "thread %d: %s", i, w[i].why);
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

/*
 * The share of the CPU time the run could use that its threads really got:
 * about 1 on a quiet machine, less when other processes took cores away.
 * Threads that are descheduled also contend less, which flatters shared
 * pools, so bench/driver.py repeats runs that fall well below 1.
 */
static double cpu_share(const worker *w, int n, double t0, double end)
{
    double cpu = 0;
    int usable = n < zzb_cpus() ? n : zzb_cpus();
    for (int i = 0; i < n; i++)
        cpu += w[i].cpu;
    return cpu / ((end - t0) * usable);
}

static run_shared *shared_new(const zzb_candidate *c, const zzb_opts *o, int threads, zzb_result *r)
{
    zzb_config cfg = {o->size, o->capacity, threads};
    run_shared *sh = zzb_map(sizeof(*sh));
    if (sh == NULL) {
        snprintf(r->why, sizeof(r->why), "mmap failed");
        return NULL;
    }
    sh->c = c;
    sh->o = o;
    sh->state = c->create(c, &cfg, r->why, sizeof(r->why));
    if (sh->state == NULL) {
        zzb_unmap(sh, sizeof(*sh));
        return NULL;
    }
    return sh;
}

int zzb_w3_shared(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    int n = o->threads;
    void *(*fn[256])(void *);
    worker *w;
    run_shared *sh;
    double t0, end = 0, share;
    uint64_t steps = 0;
    int rc;
    if (n < 1 || n > 256 || o->live < 1) {
        snprintf(r->why, sizeof(r->why), "threads must be 1..256 and live >= 1");
        return -1;
    }
    w = zzb_map(sizeof(*w) * (size_t)n);
    sh = w ? shared_new(c, o, n, r) : NULL;
    if (sh == NULL) {
        zzb_unmap(w, sizeof(*w) * (size_t)n);
        return -1;
    }
    for (int i = 0; i < n; i++)
        fn[i] = w3_thread;
    rc = run_workers(sh, w, n, fn, &t0, r);
    for (int i = 0; i < n; i++) {
        steps += w[i].count;
        end = w[i].end > end ? w[i].end : end;
    }
    share = cpu_share(w, n, t0, end);
    c->destroy(sh->state);
    zzb_unmap(sh, sizeof(*sh));
    zzb_unmap(w, sizeof(*w) * (size_t)n);
    if (rc != 0)
        return -1;
    r->value = 2.0 * (double)steps / (end - t0) / 1e6;
    r->unit = "Mops/s";
    zzb_result_extra(r, "steps", (double)steps);
    zzb_result_extra(r, "seconds", end - t0);
    zzb_result_extra(r, "cpu_share", share);
    return 0;
}

int zzb_w4_prodcons(const zzb_candidate *c, const zzb_opts *o, zzb_result *r)
{
    void *(*fn[2])(void *) = {w4_producer, w4_consumer};
    size_t slots_bytes = o->ring * sizeof(void *);
    worker *w = zzb_map(2 * sizeof(*w));
    run_shared *sh;
    double t0;
    int rc;
    if (o->ring < 2 || (o->ring & (o->ring - 1)) != 0) {
        snprintf(r->why, sizeof(r->why), "ring size must be a power of two >= 2");
        zzb_unmap(w, 2 * sizeof(*w));
        return -1;
    }
    sh = w ? shared_new(c, o, 2, r) : NULL;
    if (sh == NULL) {
        zzb_unmap(w, 2 * sizeof(*w));
        return -1;
    }
    sh->ring.slots = zzb_map(slots_bytes);
    sh->ring.mask = (uint32_t)(o->ring - 1);
    sh->ring.batch = (uint32_t)(o->ring / 2 < ZZB_RING_BATCH ? o->ring / 2 : ZZB_RING_BATCH);
    if (sh->ring.slots == NULL) {
        snprintf(r->why, sizeof(r->why), "mmap failed");
        rc = -1;
    } else {
        memset(sh->ring.slots, 0, slots_bytes);
        rc = run_workers(sh, w, 2, fn, &t0, r);
    }
    c->destroy(sh->state);
    zzb_unmap(sh->ring.slots, slots_bytes);
    zzb_unmap(sh, sizeof(*sh));
    if (rc == 0) {
        r->value = (double)w[1].count / (w[1].end - t0) / 1e6;
        r->unit = "Mobj/s";
        zzb_result_extra(r, "objects", (double)w[1].count);
        zzb_result_extra(r, "seconds", w[1].end - t0);
        zzb_result_extra(r, "cpu_share",
                         cpu_share(w, 2, t0, w[0].end > w[1].end ? w[0].end : w[1].end));
    }
    zzb_unmap(w, 2 * sizeof(*w));
    return rc;
}
