/* SPDX-License-Identifier: MIT */
/*
 * A pool handed to code that only knows zz_allocator. The linked-list
 * functions below were written for "some allocator"; given
 * zz_pool_allocator(pool) every node comes from the pool, in O(1) and
 * without locks, and the list code does not change.
 *
 * The pool serves a request when it fits one block (size at most the block
 * size, alignment at most the block alignment) and returns NULL otherwise.
 * Last line "pool_as_allocator: ok".
 */
#include <stdalign.h>
#include <stdio.h>

#include <zigzag.h>

struct node {
    struct node *next;
    long value;
};

/* Builds the list n-1, ..., 1, 0; on failure frees what it built and returns NULL. */
static struct node *list_build(zz_allocator a, long n);
static void list_free(zz_allocator a, struct node *head);

static struct node *list_build(zz_allocator a, long n)
{
    struct node *head = NULL;
    for (long i = 0; i < n; i++) {
        struct node *nd = zz_alloc(a, sizeof *nd, alignof(struct node));
        if (nd == NULL) {
            list_free(a, head);
            return NULL;
        }
        nd->value = i;
        nd->next = head;
        head = nd;
    }
    return head;
}

static void list_free(zz_allocator a, struct node *head)
{
    while (head != NULL) {
        struct node *next = head->next;
        zz_free(a, head, sizeof *head, alignof(struct node));
        head = next;
    }
}

static long list_sum(const struct node *head)
{
    long sum = 0;
    for (; head != NULL; head = head->next)
        sum += head->value;
    return sum;
}

int main(void)
{
    /* The same function, first on the C library's allocator... */
    struct node *list = list_build(zz_system_allocator(), 1000);
    if (list == NULL)
        return 1;
    printf("system allocator: 1000 nodes, sum %ld\n", list_sum(list));
    list_free(zz_system_allocator(), list);

    /* ...then on a pool of node-sized blocks. */
    zz_pool *pool;
    int rc = zz_pool_create(&pool, &(zz_pool_options){.size = sizeof(struct node),
                                                      .align = alignof(struct node),
                                                      .capacity = 1000});
    if (rc != 0) {
        fprintf(stderr, "zz_pool_create: %s\n", zz_strerror(rc));
        return 1;
    }
    zz_allocator a = zz_pool_allocator(pool);
    list = list_build(a, 1000);
    if (list == NULL)
        return 1;
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    printf("pool allocator:   1000 nodes, sum %ld, pool in_use %zu of %zu\n", list_sum(list),
           st.in_use, st.capacity);
    long sum = list_sum(list);

    /* The pool is full: one more node is refused, and list_build cleans up after itself. */
    struct node *extra = list_build(a, 1);
    printf("one node more:    %s\n", extra == NULL ? "refused (pool full)" : "given?");

    /* A request larger than a block is refused too; the pool is unchanged. */
    void *big = zz_alloc(a, st.block_size + 1, 1);
    printf("%zu bytes:        %s\n", st.block_size + 1,
           big == NULL ? "refused (too big)" : "given?");

    list_free(a, list);
    zz_pool_stats_get(pool, &st);
    printf("after list_free:  in_use %zu, peak_in_use %zu\n", st.in_use, st.peak_in_use);
    zz_pool_destroy(pool);

    if (sum != 999L * 1000 / 2 || extra != NULL || big != NULL || st.in_use != 0 ||
        st.peak_in_use != 1000)
        return 1;
    printf("pool_as_allocator: ok\n");
    return 0;
}
