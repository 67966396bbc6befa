/* SPDX-License-Identifier: MIT */
/*
 * Bounded exponential backoff, for the retry loops of the lock-free list.
 *
 * A compare-and-swap on the list's head that fails means another core has
 * just taken the head's cache line. Retrying at once pulls the line back,
 * often while the winner is still between its own load and CAS, and two
 * cores can go on taking it from each other, every operation paying a
 * transfer or two. Waiting after a failure lets the winner finish, and the
 * line stays with one core for a run of operations.
 *
 * The wait doubles with each failure of one operation, from one pause up to
 * ZZ_BACKOFF_MAX_SPINS, and starts again with the next operation: a thread
 * that keeps losing waits at most that many pauses between two tries
 * (about 1.3 us where a pause takes 10 ns, 7 us where it takes 140 cycles),
 * never sleeps and never gives up. Nothing is paid until a CAS fails.
 */
#ifndef ZZ_PLATFORM_BACKOFF_H
#define ZZ_PLATFORM_BACKOFF_H

#include <stdint.h>

#ifndef ZZ_BACKOFF_MAX_SPINS
#define ZZ_BACKOFF_MAX_SPINS 128u
#endif

struct zz_backoff {
    uint32_t spins; /* pauses of the next wait */
};

#define ZZ_BACKOFF_INIT                                                                            \
    {                                                                                              \
        1u                                                                                         \
    }

/* Tells the core that this is a spin-wait: on x86 it frees the sibling
 * hyper-thread's share of the core and avoids the memory-order flush at the
 * end of the loop. */
static inline void zz__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* Waits after a failed try, longer each time, up to the bound. */
static inline void zz__backoff_wait(struct zz_backoff *b)
{
    for (uint32_t i = 0; i < b->spins; i++)
        zz__cpu_relax();
    if (b->spins < ZZ_BACKOFF_MAX_SPINS)
        b->spins *= 2u;
}

#endif
