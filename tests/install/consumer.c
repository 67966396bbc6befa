/* SPDX-License-Identifier: MIT */
/*
 * A program outside the project, built against an installed zigzag by
 * tests/install/run.sh, once through pkg-config and once through CMake's
 * find_package. It runs the usage example of the public contract and one
 * allocator; it prints "consumer: ok" last, so a crash cannot look like a pass.
 */
#include <stdio.h>

#include <zigzag.h>

int main(void)
{
    zz_pool *pool;
    int rc = zz_pool_create(&pool, &(zz_pool_options){.size = 64, .capacity = 1 << 20});
    if (rc != 0) {
        fprintf(stderr, "%s\n", zz_strerror(rc));
        return 1;
    }
    void *p = zz_pool_alloc(pool);
    if (p == NULL || zz_pool_free(pool, p) != 0) {
        fprintf(stderr, "consumer: pool alloc/free failed\n");
        return 1;
    }
    zz_pool_destroy(pool);

    zz_allocator sys = zz_system_allocator();
    void *q = zz_alloc(sys, 100, 64);
    if (q == NULL || ((size_t)q % 64) != 0) {
        fprintf(stderr, "consumer: system allocator failed\n");
        return 1;
    }
    zz_free(sys, q, 100, 64);

    printf("consumer: zigzag %d.%d.%d\n", ZZ_VERSION_MAJOR, ZZ_VERSION_MINOR, ZZ_VERSION_PATCH);
    printf("consumer: ok\n");
    return 0;
}
