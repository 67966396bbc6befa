/* SPDX-License-Identifier: MIT */
/*
 * Embedded style: a pool whose memory is a static array, through the
 * fixed-buffer allocator. Nothing here calls malloc or mmap, so the memory
 * budget is fixed at link time and visible in the map file.
 *
 * The pool keeps its bookkeeping (a few bytes per block) beside the blocks,
 * all taken from the same array in one request, whose size
 * zz_pool_footprint tells before anything is created: a firmware build can
 * print it once and size the array to match. Last line "static_pool: ok".
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>

#include <zigzag.h>

struct reading {
    uint32_t sensor;
    uint32_t timestamp_ms;
    float value;
};

#define READINGS 128

/* Room for the pool header, READINGS blocks and their bookkeeping. */
#define ARENA_ALIGN 64
static alignas(ARENA_ALIGN) unsigned char arena[16 * 1024];

int main(void)
{
    zz_fixed_buffer fb;
    if (zz_fixed_buffer_init(&fb, arena, sizeof arena) != 0)
        return 1;

    zz_pool_options opts = ZZ_POOL_OPTIONS_FOR(struct reading, READINGS);
    size_t need, align;
    if (zz_pool_footprint(&opts, &need, &align) != 0 || align > ARENA_ALIGN ||
        need > sizeof arena) {
        fprintf(stderr, "the arena is too small for the pool\n");
        return 1;
    }
    printf("a pool of %d readings needs %zu bytes aligned to %zu\n", READINGS, need, align);
    opts.backing = zz_fixed_buffer_allocator(&fb);
    zz_pool *pool;
    int rc = zz_pool_create(&pool, &opts);
    if (rc != 0) {
        fprintf(stderr, "zz_pool_create: %s\n", zz_strerror(rc));
        return 1;
    }
    printf("pool of %d readings took %zu of %zu static bytes\n", READINGS, fb.used, fb.size);

    /* Fill the pool: exactly READINGS allocations succeed, then NULL. */
    struct reading *r[READINGS];
    for (int i = 0; i < READINGS; i++) {
        r[i] = zz_pool_alloc(pool);
        if (r[i] == NULL || (unsigned char *)r[i] < arena ||
            (unsigned char *)r[i] >= arena + sizeof arena) {
            fprintf(stderr, "reading %d is not in the arena\n", i);
            return 1;
        }
        *r[i] = (struct reading){.sensor = (uint32_t)i % 4,
                                 .timestamp_ms = 10u * (uint32_t)i,
                                 .value = 20.0f + (float)i / 8};
    }
    if (zz_pool_alloc(pool) != NULL) {
        fprintf(stderr, "pool gave more than its capacity\n");
        return 1;
    }
    printf("all %d blocks handed out; the next zz_pool_alloc returned NULL\n", READINGS);

    float sum = 0;
    for (int i = 0; i < READINGS; i++) {
        sum += r[i]->value;
        if (zz_pool_free(pool, r[i]) != 0)
            return 1;
    }
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    printf("average reading %.3f; in_use %zu, peak_in_use %zu\n", sum / READINGS, st.in_use,
           st.peak_in_use);
    zz_pool_destroy(pool);

    /* The arena is ours again, whatever the pool's frees left behind. */
    zz_fixed_buffer_reset(&fb);
    if (st.in_use != 0 || st.peak_in_use != READINGS || fb.used != 0)
        return 1;
    printf("static_pool: ok\n");
    return 0;
}
