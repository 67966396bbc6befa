/* SPDX-License-Identifier: MIT */
/*
 * A tour of every allocator zigzag ships, and a pool on top of one of them.
 * Each is used through the same two calls, zz_alloc and zz_free, which is the
 * point of the explicit allocator interface: code that takes a zz_allocator
 * does not care where its memory comes from.
 *
 * Prints what it did; its last line is "allocators_tour: ok".
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zigzag.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* Knows nothing but zz_allocator: the same code runs on every allocator below. */
static void *make_greeting(zz_allocator a, const char *who, size_t *size)
{
    *size = strlen("hello, ") + strlen(who) + 1;
    char *s = zz_alloc(a, *size, 1);
    if (s != NULL)
        snprintf(s, *size, "hello, %s", who);
    return s;
}

static void tour_system(void)
{
    zz_allocator sys = zz_system_allocator();
    /* Any power-of-two alignment; a cache line here, to keep two threads' data apart. */
    void *p = zz_alloc(sys, 1000, 64);
    CHECK(p != NULL && is_aligned(p, 64));
    zz_free(sys, p, 1000, 64);

    size_t n;
    char *s = make_greeting(sys, "system", &n);
    CHECK(s != NULL);
    printf("system:       1000 bytes aligned to 64, then \"%s\"\n", s);
    zz_free(sys, s, n, 1);
}

static void tour_page(void)
{
    zz_allocator pages = zz_page_allocator();
    size_t page = zz_page_size();
    size_t size = 3 * page + 1; /* rounded up to 4 pages inside */
    unsigned char *p = zz_alloc(pages, size, 1);
    CHECK(p != NULL && is_aligned(p, page));
    /* Fresh pages come zeroed from the kernel. */
    for (size_t i = 0; i < size; i += 512)
        CHECK(p[i] == 0);
    memset(p, 0xab, size);
    zz_free(pages, p, size, 1);
    printf("page:         %zu bytes from mmap, page size %zu, zeroed\n", size, page);
}

static void tour_fixed_buffer(void)
{
    /* No heap at all: the memory is this static array. */
    static alignas(64) unsigned char arena[4096];
    zz_fixed_buffer fb;
    CHECK(zz_fixed_buffer_init(&fb, arena, sizeof arena) == 0);
    zz_allocator a = zz_fixed_buffer_allocator(&fb);

    void *first = zz_alloc(a, 100, 8);
    void *second = zz_alloc(a, 200, 64);
    CHECK(first != NULL && second != NULL && is_aligned(second, 64));
    CHECK((unsigned char *)first >= arena && (unsigned char *)second < arena + sizeof arena);
    size_t n;
    char *s = make_greeting(a, "fixed buffer", &n);
    CHECK(s != NULL);
    /* Too big for what is left: NULL, and nothing changes. */
    size_t used = fb.used;
    CHECK(zz_alloc(a, sizeof arena, 1) == NULL && fb.used == used);
    printf("fixed buffer: \"%s\", %zu of %zu bytes used\n", s, fb.used, fb.size);

    zz_fixed_buffer_reset(&fb);
    CHECK(fb.used == 0);
}

static void tour_counting(void)
{
    zz_counting counter;
    CHECK(zz_counting_init(&counter, zz_page_allocator()) == 0);
    zz_allocator a = zz_counting_allocator(&counter);

    void *blocks[4];
    for (int i = 0; i < 4; i++) {
        blocks[i] = zz_alloc(a, 8192, 16);
        CHECK(blocks[i] != NULL);
    }
    for (int i = 0; i < 4; i++)
        zz_free(a, blocks[i], 8192, 16);

    zz_counting_stats st;
    zz_counting_stats_get(&counter, &st);
    CHECK(st.allocs == 4 && st.frees == 4 && st.live_bytes == 0);
    printf("counting:     %zu allocs, %zu frees, peak %zu bytes, %zu live\n", st.allocs, st.frees,
           st.peak_bytes, st.live_bytes);
}

static void tour_pool(void)
{
    struct order {
        uint64_t id;
        double price;
        char symbol[16];
    };
    zz_pool *pool;
    zz_pool_options opts = ZZ_POOL_OPTIONS_FOR(struct order, 1000);
    int rc = zz_pool_create(&pool, &opts);
    if (rc != 0) {
        fprintf(stderr, "zz_pool_create: %s\n", zz_strerror(rc));
        exit(1);
    }

    struct order *orders[10];
    for (int i = 0; i < 10; i++) {
        orders[i] = zz_pool_alloc(pool);
        CHECK(orders[i] != NULL && is_aligned(orders[i], alignof(struct order)));
        orders[i]->id = (uint64_t)i;
    }
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    CHECK(st.in_use == 10);
    printf("pool:         %zu of %zu blocks of %zu bytes in use\n", st.in_use, st.capacity,
           st.block_size);

    /* Freeing twice is caught and changes nothing. */
    CHECK(zz_pool_free(pool, orders[0]) == 0);
    rc = zz_pool_free(pool, orders[0]);
    CHECK(rc == ZZ_EDOUBLEFREE);
    printf("pool:         second free of one block -> %s (%s)\n", zz_err_name(rc), zz_strerror(rc));

    for (int i = 1; i < 10; i++)
        CHECK(zz_pool_free(pool, orders[i]) == 0);
    zz_pool_stats_get(pool, &st);
    CHECK(st.in_use == 0 && st.peak_in_use == 10);
    zz_pool_destroy(pool);
}

int main(void)
{
    tour_system();
    tour_page();
    tour_fixed_buffer();
    tour_counting();
    tour_pool();
    printf("allocators_tour: ok\n");
    return 0;
}
