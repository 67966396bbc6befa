/* SPDX-License-Identifier: MIT */
/*
 * Thread slots (see thread_slot.h): a bitmap of ZZ_POOL_MAX_CACHED_THREADS
 * slots under a mutex, taken on a thread's first pool call and given back
 * by a pthread key destructor when the thread exits; fork handlers that keep
 * the locks and the bitmap true in the child; and the membarrier calls.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "platform/atomic.h"
#include "pool/thread_slot.h"

_Thread_local uint32_t zz__tls_slot __attribute__((tls_model("initial-exec"))) = ZZ_SLOT_UNCLAIMED;

static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static pthread_mutex_t slot_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reclaim_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Bit s set: slot s is held. Written under slot_mutex; read without it by
 * reclaims (relaxed: a slot's liveness only decides whether to keep waiting
 * for its holder, and a stale answer only makes that wait one round longer
 * or shorter; see zz__thread_slot_is_live). */
static zz_atomic_u64 slots_live;
/* Whether membarrier works here; set once under slot_once. */
static bool barrier_ok;

static long membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

static void slot_release(void *value)
{
    uint32_t s = (uint32_t)((uintptr_t)value - 1u);
    pthread_mutex_lock(&slot_mutex);
    zz_atomic_store_relaxed_u64(&slots_live,
                                zz_atomic_load_relaxed_u64(&slots_live) & ~((uint64_t)1 << s));
    pthread_mutex_unlock(&slot_mutex);
    /* Pool calls from later destructors of this thread use the shared lists. */
    zz__tls_slot = ZZ_SLOT_NONE;
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&reclaim_mutex);
    pthread_mutex_lock(&slot_mutex);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&slot_mutex);
    pthread_mutex_unlock(&reclaim_mutex);
}

static void fork_child(void)
{
    /* Only the forking thread lives on: its slot stays held, the others'
     * caches become takeable at once (see the wait in cache.c). */
    uint64_t mine = zz__tls_slot < ZZ_POOL_MAX_CACHED_THREADS ? (uint64_t)1 << zz__tls_slot : 0;
    zz_atomic_store_relaxed_u64(&slots_live, mine);
    /* The registration belongs to the address space: renew it for the new one. */
    if (barrier_ok && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
        barrier_ok = false;
    pthread_mutex_unlock(&slot_mutex);
    pthread_mutex_unlock(&reclaim_mutex);
}

static void slot_init(void)
{
    long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    barrier_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                 membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    if (pthread_key_create(&slot_key, slot_release) != 0 ||
        pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        barrier_ok = false;
}

uint32_t zz__thread_slot_claim(void)
{
    if (zz__tls_slot != ZZ_SLOT_UNCLAIMED)
        return zz__tls_slot;
    pthread_once(&slot_once, slot_init);
    uint32_t s = ZZ_SLOT_NONE;
    if (barrier_ok) {
        pthread_mutex_lock(&slot_mutex);
        uint64_t live = zz_atomic_load_relaxed_u64(&slots_live);
        if (~live != 0) {
            s = (uint32_t)__builtin_ctzll(~live);
            zz_atomic_store_relaxed_u64(&slots_live, live | ((uint64_t)1 << s));
        }
        pthread_mutex_unlock(&slot_mutex);
        if (s != ZZ_SLOT_NONE && pthread_setspecific(slot_key, (void *)(uintptr_t)(s + 1u)) != 0) {
            slot_release((void *)(uintptr_t)(s + 1u));
            s = ZZ_SLOT_NONE;
        }
    }
    zz__tls_slot = s;
    return s;
}

bool zz__thread_slot_is_live(uint32_t s)
{
    /* Relaxed: see slots_live. */
    return (zz_atomic_load_relaxed_u64(&slots_live) >> s) & 1u;
}

bool zz__heavy_barrier(void)
{
    /* Cannot fail once registered (slot_init); if it ever did, the caller
     * must not take other threads' caches. */
    return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
}

void zz__reclaim_lock(void)
{
    pthread_mutex_lock(&reclaim_mutex);
}

void zz__reclaim_unlock(void)
{
    pthread_mutex_unlock(&reclaim_mutex);
}
