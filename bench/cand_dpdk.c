/* SPDX-License-Identifier: MIT */
/*
 * DPDK's rte_mempool with its per-lcore object cache: the pool of a widely
 * used packet-processing framework. Built only when pkg-config finds libdpdk.
 *
 * DPDK needs its runtime (EAL) started first. init starts it the way an
 * unprivileged process in a container can: no hugepages (plain anonymous
 * memory), no PCI, no shared configuration files, no telemetry socket, one
 * lcore (the first CPU the process may use). The EAL pins the calling thread to that lcore's CPU;
 * init puts the old affinity back so that workload threads float like every other candidate's. A
 * thread gets a cache only when it has an lcore id, so thread_ctx registers every thread that has
 * none (rte_thread_register). If the EAL cannot start here, init says why and the run is reported
 * as unavailable.
 */
#include <sched.h>
#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include "candidate.h"

/* Per-lcore cache size: half the maximum, as DPDK's own examples use (256 of 512). */
#define ZZB_DPDK_CACHE 256u

/* Whether this thread called rte_thread_register, so thread_done undoes only that. */
static _Thread_local int registered;

static int dp_init(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    cpu_set_t saved;
    char mem[32], lcore[16];
    int first = 0;
    /* Objects take header + element + padding (about 3 cache lines for 64 bytes) and
     * the ring 8 to 16 bytes more; the EAL maps this lazily, so a generous bound costs nothing. */
    size_t per_obj = ((cfg->size + 63) & ~(size_t)63) + 3 * 64 + 16;
    size_t mb = (per_obj * cfg->capacity / 4 * 5 >> 20) + 128;
    char *argv[] = {"zzbench", "--no-huge", "--no-pci",          "--no-shconf", "--no-telemetry",
                    "-l",      "0",         "--log-level=error", "-m",          mem,
                    NULL};
    (void)self;
    snprintf(mem, sizeof(mem), "%zu", mb);
    if (sched_getaffinity(0, sizeof(saved), &saved) != 0)
        CPU_ZERO(&saved);
    /* The lcore must be a CPU this process may run on (containers often get a cpuset). */
    while (CPU_COUNT(&saved) > 0 && first < CPU_SETSIZE - 1 && !CPU_ISSET(first, &saved))
        first++;
    snprintf(lcore, sizeof(lcore), "%d", first);
    if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
        snprintf(why, n, "rte_eal_init failed: %s", rte_strerror(rte_errno));
        return ZZB_INIT_UNAVAILABLE;
    }
    if (CPU_COUNT(&saved) > 0)
        sched_setaffinity(0, sizeof(saved), &saved);
    return 0;
}

static void *dp_create(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    static unsigned serial;
    char name[RTE_MEMPOOL_NAMESIZE];
    struct rte_mempool *mp;
    (void)self;
    snprintf(name, sizeof(name), "zzb%u", serial++);
    mp = rte_mempool_create(name, (unsigned)cfg->capacity, (unsigned)cfg->size, ZZB_DPDK_CACHE, 0,
                            NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
    if (mp == NULL)
        snprintf(why, n, "rte_mempool_create: %s", rte_strerror(rte_errno));
    return mp;
}

static void *dp_thread_ctx(void *state, int index)
{
    (void)index;
    if (rte_lcore_id() == LCORE_ID_ANY) {
        if (rte_thread_register() != 0)
            return NULL;
        registered = 1;
    }
    return state;
}

static void dp_thread_done(void *state, void *ctx)
{
    (void)state;
    (void)ctx;
    if (registered) {
        rte_thread_unregister();
        registered = 0;
    }
}

static void *dp_alloc(void *ctx)
{
    void *obj;
    return rte_mempool_get(ctx, &obj) == 0 ? obj : NULL;
}

static void dp_free(void *ctx, void *ptr)
{
    rte_mempool_put(ctx, ptr);
}

ZZB_DIRECT_LOOP(dp_hot_direct, dp_alloc, dp_free)

static void dp_destroy(void *state)
{
    rte_mempool_free(state);
}

static void dp_version(const zzb_candidate *self, char *buf, size_t n)
{
    (void)self;
    snprintf(buf, n, "%s", rte_version());
}

const zzb_candidate zzb_cand_dpdk = {
    .name = "dpdk-mempool",
    .note = "rte_mempool_create(cache 256, flags 0), EAL --no-huge; threads registered as lcores",
    .caps = ZZB_CAP_POOL | ZZB_CAP_CROSS_FREE,
    .init = dp_init,
    .create = dp_create,
    .thread_ctx = dp_thread_ctx,
    .thread_done = dp_thread_done,
    .alloc = dp_alloc,
    .free = dp_free,
    .hot_direct = dp_hot_direct,
    .destroy = dp_destroy,
    .version = dp_version,
};
