/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every benchmark file shares: a monotonic clock, the resident
 * set size, a seeded PRNG, anonymous mappings for harness and slab memory,
 * and block-stride rounding. No allocator is called here, so the helpers never
 * disturb the heap of the candidate being measured.
 */
#ifndef ZZB_UTIL_H
#define ZZB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Every pool of the benchmark aligns blocks as zigzag does by default. */
#define ZZB_ALIGN 16u

/* Seconds from an arbitrary start, CLOCK_MONOTONIC. */
double zzb_now(void);

/* CPU seconds used by the calling thread, CLOCK_THREAD_CPUTIME_ID. */
double zzb_thread_cpu(void);

/* CPUs this process may run on (its affinity mask), at least 1. */
int zzb_cpus(void);

/* Sleeps for s seconds, resuming after signals. */
void zzb_sleep(double s);

/* Resident anonymous and shared memory of this process in bytes (RssAnon +
 * RssShmem from /proc/self/status: not its code); 0 if unknown. */
size_t zzb_rss_bytes(void);

/* splitmix64: one 64-bit state word, good enough to pick slots and shuffle. */
static inline uint64_t zzb_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Anonymous private read-write mapping, or NULL. Memory is committed on first touch. */
void *zzb_map(size_t bytes);
void zzb_unmap(void *p, size_t bytes);

/* Block stride used by the benchmark's own pools: size rounded up to ZZB_ALIGN, >= 16. */
size_t zzb_stride(size_t size);

/* snprintf into a reason buffer; buf may be NULL. */
void zzb_why(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
