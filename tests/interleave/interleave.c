/* SPDX-License-Identifier: MIT */
/*
 * The hook that ZZ_TEST_INTERLEAVE builds of the pool call between a load
 * of the list head and the CAS that depends on it: now and then it gives
 * the processor away, so other threads run whole pops and pushes inside a
 * window that is otherwise a few instructions wide.
 */
#include <sched.h>
#include <stdint.h>

void zz__test_interleave(void);

void zz__test_interleave(void)
{
    static _Thread_local uint32_t rng = 0x12345678u;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    if ((rng & 7) == 0)
        sched_yield();
}
