/* SPDX-License-Identifier: MIT */
/*
 * The hook that ZZ_TEST_INTERLEAVE builds of the pool call between a load
 * of the list head and the CAS that depends on it: now and then it gives
 * the processor away, so other threads run whole pops and pushes inside a
 * window that is otherwise a few instructions wide. A test can also ask
 * for one point to sleep, or to run an action of its own.
 */
#include <sched.h>
#include <stdint.h>
#include <time.h>

void zz__test_interleave(void);

/* How many of this thread's next interleave points sleep (300 us each),
 * for a test that needs other threads to run whole operations at a given
 * point rather than now and then; 0, the default, for the random yields. */
_Thread_local unsigned zz__test_interleave_sleeps;

/* Interleave points this thread has passed: a count that grows by more
 * than one within a single pop or push shows that it tried again. */
_Thread_local unsigned long zz__test_interleave_points;

/* Run, once, at this thread's next interleave point instead of its sleep
 * or yield, then cleared: a test's way to land whole operations of other
 * threads exactly between one load of the head and its CAS. */
_Thread_local void (*zz__test_interleave_action)(void);

void zz__test_interleave(void)
{
    zz__test_interleave_points++;
    if (zz__test_interleave_action != NULL) {
        void (*action)(void) = zz__test_interleave_action;
        zz__test_interleave_action = NULL;
        action();
        return;
    }
    if (zz__test_interleave_sleeps > 0) {
        zz__test_interleave_sleeps--;
        struct timespec ts = {0, 300000L};
        nanosleep(&ts, NULL);
        return;
    }
    static _Thread_local uint32_t rng = 0x12345678u;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    if ((rng & 7) == 0)
        sched_yield();
}
