/* SPDX-License-Identifier: MIT */
/*
 * Proving that nothing leaks: a counting allocator wraps the page allocator
 * and backs a pool. Everything the pool takes (its header, bookkeeping and
 * slab) passes through the counter, so after zz_pool_destroy the counter's
 * live_bytes must be 0. Tests use the same pattern around any code that
 * takes a zz_allocator.
 *
 * Last line "leak_check: ok".
 */
#include <stdio.h>

#include <zigzag.h>

static int run_workload(zz_allocator backing)
{
    zz_pool *pool;
    int rc = zz_pool_create(
        &pool, &(zz_pool_options){
                   .size = 256, .capacity = 4096, .flags = ZZ_POOL_CHECKED, .backing = backing});
    if (rc != 0) {
        fprintf(stderr, "zz_pool_create: %s\n", zz_strerror(rc));
        return rc;
    }
    void *blocks[1000];
    for (int round = 0; round < 10 && rc == 0; round++) {
        for (int i = 0; i < 1000 && rc == 0; i++)
            if ((blocks[i] = zz_pool_alloc(pool)) == NULL)
                rc = ZZ_ENOMEM;
        for (int i = 0; i < 1000 && rc == 0; i++)
            rc = zz_pool_free(pool, blocks[i]);
    }
    /* Destroy gives everything back, even blocks still in use after an error. */
    zz_pool_destroy(pool);
    return rc;
}

int main(void)
{
    zz_counting counter;
    if (zz_counting_init(&counter, zz_page_allocator()) != 0)
        return 1;
    zz_allocator counted = zz_counting_allocator(&counter);

    int rc = run_workload(counted);
    zz_counting_stats st;
    zz_counting_stats_get(&counter, &st);
    printf("workload: %s\n", rc == 0 ? "done" : zz_strerror(rc));
    printf("backing allocator: %zu allocs, %zu frees, peak %zu bytes, %zu bytes live\n", st.allocs,
           st.frees, st.peak_bytes, st.live_bytes);
    if (rc != 0 || st.allocs == 0 || st.allocs != st.frees || st.live_bytes != 0 ||
        st.live_allocs != 0) {
        fprintf(stderr, "leak_check: the pool did not give back everything it took\n");
        return 1;
    }
    printf("leak_check: ok\n");
    return 0;
}
