/* SPDX-License-Identifier: MIT */
/*
 * The benchmark's only atomics: start/stop flags and a ready counter for
 * worker threads, and the single-producer/single-consumer ring of W4. Like
 * the library, the benchmark reaches atomics only through
 * src/platform/atomic.h, whose function names carry the memory order.
 */
#ifndef ZZB_SYNC_H
#define ZZB_SYNC_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/atomic.h"

#define ZZB_LINE 64

/* A flag or counter on a cache line of its own, so that polling it never
 * slows the stores of the thread that owns the neighbouring data. */
typedef struct zzb_flag {
    _Alignas(ZZB_LINE) zz_atomic_u32 v;
} zzb_flag;

/* Release, paired with zzb_flag_get_acquire: what the setter wrote before
 * (the shared state of the run) is visible to whoever sees the new value. */
static inline void zzb_flag_set_release(zzb_flag *f, uint32_t v)
{
    zz_atomic_store_release_u32(&f->v, v);
}

static inline uint32_t zzb_flag_get_acquire(zzb_flag *f)
{
    return zz_atomic_load_acquire_u32(&f->v);
}

/* Relaxed: the stop flag polled inside timed loops, where nothing is read
 * because of it; the pthread_join that follows orders everything else. */
static inline uint32_t zzb_flag_get_relaxed(zzb_flag *f)
{
    return zz_atomic_load_relaxed_u32(&f->v);
}

/* Relaxed: the ready count only says "set up"; no data is passed through it
 * (results travel through pthread_join). */
static inline void zzb_flag_add_relaxed(zzb_flag *f, uint32_t v)
{
    zz_atomic_fetch_add_relaxed_u32(&f->v, v);
}

/* Waits until f holds at least v; yields, since threads may outnumber cores. */
static inline void zzb_flag_wait_at_least(zzb_flag *f, uint32_t v)
{
    while (zzb_flag_get_acquire(f) < v)
        sched_yield();
}

static inline void zzb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/*
 * Bounded SPSC ring of pointers (Lamport's queue with cached indices).
 * head is written only by the producer, tail only by the consumer; each
 * side keeps a private copy of the other's index and reloads it only when
 * the ring looks full (producer) or empty (consumer), so in steady state a
 * push or pop touches one shared line. Indices are free-running 32-bit
 * counters: differences stay right across wrap-around.
 */
typedef struct zzb_ring {
    _Alignas(ZZB_LINE) zz_atomic_u32 head; /* next slot to fill; producer's */
    uint32_t tail_seen;                    /* producer's last view of tail */
    _Alignas(ZZB_LINE) zz_atomic_u32 tail; /* next slot to empty; consumer's */
    uint32_t head_seen;                    /* consumer's last view of head */
    _Alignas(ZZB_LINE) void **slots;
    uint32_t mask; /* capacity - 1, capacity a power of two */
} zzb_ring;

/* 1 when p was queued, 0 when the ring is full. Producer only. */
static inline int zzb_ring_push(zzb_ring *r, void *p)
{
    /* Relaxed: only this thread writes head. */
    uint32_t h = zz_atomic_load_relaxed_u32(&r->head);
    if ((uint32_t)(h - r->tail_seen) > r->mask) {
        /* Acquire, paired with the consumer's release of tail: its read of
         * the slot happened before we overwrite it. */
        r->tail_seen = zz_atomic_load_acquire_u32(&r->tail);
        if ((uint32_t)(h - r->tail_seen) > r->mask)
            return 0;
    }
    r->slots[h & r->mask] = p;
    /* Release: the slot's content is visible before the consumer sees it counted. */
    zz_atomic_store_release_u32(&r->head, h + 1);
    return 1;
}

/* 1 and *out set when an item was taken, 0 when the ring is empty. Consumer only. */
static inline int zzb_ring_pop(zzb_ring *r, void **out)
{
    /* Relaxed: only this thread writes tail. */
    uint32_t t = zz_atomic_load_relaxed_u32(&r->tail);
    if (t == r->head_seen) {
        /* Acquire, paired with the producer's release of head: the slot is filled. */
        r->head_seen = zz_atomic_load_acquire_u32(&r->head);
        if (t == r->head_seen)
            return 0;
    }
    *out = r->slots[t & r->mask];
    /* Release: our read of the slot happens before the producer may reuse it. */
    zz_atomic_store_release_u32(&r->tail, t + 1);
    return 1;
}

#endif
