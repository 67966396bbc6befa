/* SPDX-License-Identifier: MIT */
/*
 * Plants one bug of an application in a pool's blocks, named by argv[1],
 * for AddressSanitizer or Valgrind's memcheck to report (tests/CMakeLists.txt
 * runs it and matches the tool's report). "clean" plants nothing: the tools
 * must stay silent on correct use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zigzag.h"

enum { SIZE = 64 };

/* Reachable at exit (see "leak"). */
void *zz_plant_reachable;

static zz_pool *make(zz_allocator backing, size_t capacity)
{
    zz_pool *pool;
    zz_pool_options o = {.size = SIZE, .capacity = capacity, .backing = backing};
    if (zz_pool_create(&pool, &o) != 0) {
        fprintf(stderr, "plant_bug: cannot create a pool\n");
        exit(3);
    }
    return pool;
}

/* Touches memory through a volatile pointer, so the access is not removed. */
static void poke(void *p, size_t at)
{
    ((volatile unsigned char *)p)[at] = 1;
}

static int peek(const void *p, size_t at)
{
    return ((const volatile unsigned char *)p)[at];
}

int main(int argc, char **argv)
{
    const char *bug = argc > 1 ? argv[1] : "";
    /* Enough blocks for thread caches, so the blocks pass through them. */
    zz_pool *pool = make((zz_allocator){0}, 4096);
    unsigned char *p = zz_pool_alloc(pool);
    memset(p, 7, SIZE);

    if (strcmp(bug, "clean") == 0) {
        /* Correct use, over every backing: nothing to report. */
        zz_allocator backings[] = {zz_page_allocator(), zz_system_allocator()};
        for (size_t b = 0; b < 2; b++) {
            zz_pool *other = make(backings[b], 300);
            void *q[300];
            for (int i = 0; i < 300; i++) {
                q[i] = zz_pool_alloc(other);
                memset(q[i], i, SIZE);
            }
            for (int i = 0; i < 300; i++)
                zz_pool_free(other, q[i]);
            zz_pool_destroy(other);
        }
        /* The system allocator has the slab back, usable in full. */
        unsigned char *heap = malloc(1 << 20);
        memset(heap, 1, 1 << 20);
        free(heap);
        zz_pool_free(pool, p);
    } else if (strcmp(bug, "use-after-free-write") == 0) {
        zz_pool_free(pool, p);
        poke(p, 10);
    } else if (strcmp(bug, "use-after-free-read") == 0) {
        zz_pool_free(pool, p);
        printf("%d\n", peek(p, 10));
    } else if (strcmp(bug, "overflow") == 0) {
        /* One past the block: the next block, never handed out. */
        poke(p, SIZE);
    } else if (strcmp(bug, "uninitialised-read") == 0) {
        unsigned char *q = zz_pool_alloc(pool);
        if (peek(q, 3) == 42) /* q's bytes were never written */
            printf("forty-two\n");
        zz_pool_free(pool, q);
    } else if (strcmp(bug, "leak") == 0) {
        /* One block lost: its only pointer is dropped. The pool stays.
         * memcheck skips its leak search in a process with no malloc block
         * alive at exit; any real program has some, so keep one. */
        zz_plant_reachable = malloc(16);
        unsigned char *volatile lost = zz_pool_alloc(pool);
        lost[0] = 1;
        lost = NULL;
        zz_pool_free(pool, p);
        return 0;
    } else {
        fprintf(stderr, "plant_bug: unknown bug '%s'\n", bug);
        return 2;
    }
    zz_pool_destroy(pool);
    return 0;
}
