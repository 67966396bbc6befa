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
 * Bounded SPSC ring of pointers (Lamport's queue with cached indices and
 * batched publication). head is written only by the producer, tail only by
 * the consumer. Each side works on private indices and publishes its own
 * index once per `batch` items, or before it waits (ring full or empty);
 * it reloads the other's index only when the ring looks full or empty. So a
 * cache line crosses between the two cores once per batch for the indices
 * and once per 8 items for the slots, and the ring does not limit what W4
 * measures: a ring that published every item spent about 36 ns per object
 * here (one index line moving each way per item), more than the allocators
 * under test. Indices are free-running 32-bit counters: differences stay
 * right across wrap-around. batch <= capacity / 2, so that the two sides
 * can never both wait, each on what the other has not published.
 */
typedef struct zzb_ring {
    _Alignas(ZZB_LINE) zz_atomic_u32 head; /* published: slots below are filled */
    _Alignas(ZZB_LINE) uint32_t head_next; /* producer: next slot to fill */
    uint32_t head_pub;                     /* producer: last value published */
    uint32_t tail_seen;                    /* producer: last view of tail */
    _Alignas(ZZB_LINE) zz_atomic_u32 tail; /* published: slots below are emptied */
    _Alignas(ZZB_LINE) uint32_t tail_next; /* consumer: next slot to empty */
    uint32_t tail_pub;                     /* consumer: last value published */
    uint32_t head_seen;                    /* consumer: last view of head */
    _Alignas(ZZB_LINE) void **slots;
    uint32_t mask;  /* capacity - 1, capacity a power of two */
    uint32_t batch; /* items per publication, 1 <= batch <= capacity / 2 */
} zzb_ring;

/* Makes every slot filled so far visible to the consumer. Producer only. */
static inline void zzb_ring_publish_head(zzb_ring *r)
{
    if (r->head_pub != r->head_next) {
        r->head_pub = r->head_next;
        /* Release: the slots' contents are visible before the consumer
         * sees them counted. */
        zz_atomic_store_release_u32(&r->head, r->head_pub);
    }
}

/* Hands every slot emptied so far back to the producer. Consumer only. */
static inline void zzb_ring_publish_tail(zzb_ring *r)
{
    if (r->tail_pub != r->tail_next) {
        r->tail_pub = r->tail_next;
        /* Release: our reads of the slots happen before the producer may
         * reuse them. */
        zz_atomic_store_release_u32(&r->tail, r->tail_pub);
    }
}

/* 1 when p was queued, 0 when the ring is full. Producer only. */
static inline int zzb_ring_push(zzb_ring *r, void *p)
{
    uint32_t h = r->head_next;
    if ((uint32_t)(h - r->tail_seen) > r->mask) {
        zzb_ring_publish_head(r); /* the consumer must be able to drain it */
        /* Acquire, paired with the consumer's release of tail: its read of
         * the slot happened before we overwrite it. */
        r->tail_seen = zz_atomic_load_acquire_u32(&r->tail);
        if ((uint32_t)(h - r->tail_seen) > r->mask)
            return 0;
    }
    r->slots[h & r->mask] = p;
    r->head_next = h + 1;
    if (r->head_next - r->head_pub >= r->batch)
        zzb_ring_publish_head(r);
    return 1;
}

/* 1 and *out set when an item was taken, 0 when the ring is empty. Consumer only. */
static inline int zzb_ring_pop(zzb_ring *r, void **out)
{
    uint32_t t = r->tail_next;
    if (t == r->head_seen) {
        zzb_ring_publish_tail(r); /* the producer must be able to refill it */
        /* Acquire, paired with the producer's release of head: the slot is filled. */
        r->head_seen = zz_atomic_load_acquire_u32(&r->head);
        if (t == r->head_seen)
            return 0;
    }
    *out = r->slots[t & r->mask];
    r->tail_next = t + 1;
    if (r->tail_next - r->tail_pub >= r->batch)
        zzb_ring_publish_tail(r);
    return 1;
}

#endif
