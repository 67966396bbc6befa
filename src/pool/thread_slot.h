/* SPDX-License-Identifier: MIT */
/*
 * Thread slots: a small number, process-wide, that each thread holds while
 * it lives and that names its cache in every pool (pool->caches[slot]).
 * A pool keeps no per-thread pointers and a thread keeps no per-pool state,
 * so pools and threads may come and go in any order: a thread that exits
 * frees its slot (its cached blocks stay where they are, to be taken back
 * or reused by the slot's next holder), and a destroyed pool takes its
 * caches with it.
 *
 * Also here, because it belongs to the same handshake: the heavy barrier
 * (membarrier) that lets a rare reclaim take another thread's cache while
 * that thread's fast path uses plain loads and stores, and the one lock
 * that serialises reclaims.
 */
#ifndef ZZ_POOL_THREAD_SLOT_H
#define ZZ_POOL_THREAD_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "zigzag/pool.h"

/* Not yet claimed: the first pool call of the thread claims one. */
#define ZZ_SLOT_UNCLAIMED UINT32_MAX
/* No slot (all taken, the thread is exiting, or caches cannot work here):
 * the thread uses the shared lists. */
#define ZZ_SLOT_NONE (UINT32_MAX - 1u)

/* This thread's slot, or one of the two values above. Initial-exec TLS: one
 * load relative to the thread pointer, no call, also in the shared library. */
extern _Thread_local uint32_t zz__tls_slot __attribute__((tls_model("initial-exec")));

/* Claims a slot for the calling thread (or settles on ZZ_SLOT_NONE) and
 * returns it. */
uint32_t zz__thread_slot_claim(void);

/* Whether a thread holds slot s now (false for the slots of threads that
 * did not survive a fork). */
bool zz__thread_slot_is_live(uint32_t s);

/* Makes every other running thread of the process pass a full memory
 * barrier before it returns (membarrier, private expedited). Only called by
 * reclaims, which only exist when zz__thread_slot_claim could register for
 * it; false if it failed all the same. */
bool zz__heavy_barrier(void);

/* The lock that serialises reclaims, process-wide (they are rare). */
void zz__reclaim_lock(void);
void zz__reclaim_unlock(void);

#endif
