/* SPDX-License-Identifier: MIT */
/*
 * A producer thread fills packet buffers taken from a pool and hands them
 * through a small ring to a consumer thread, which checks ("writes out") each
 * packet and gives its buffer back to the pool. The two threads allocate and
 * free in the same pool at once, with no lock around the pool, and both work
 * in bursts: the producer takes BURST buffers with one zz_pool_alloc_bulk,
 * the consumer gives back BURST with one zz_pool_free_bulk.
 *
 * The pool is smaller than the ring, so the pool is what limits the packets
 * in flight: when zz_pool_alloc_bulk says ZZ_ENOMEM (it takes all or
 * nothing) the producer waits for the consumer to free a burst. That is
 * back-pressure from a fixed memory budget.
 *
 * The ring is a plain mutex and condition variable queue: it is not what this
 * example is about. Prints the counts and the pool's figures; last line
 * "packet_pipeline: ok".
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zigzag.h>

#define PACKETS 20000
#define BURST 8
#define POOL_BLOCKS 16
#define RING_SLOTS 32

_Static_assert(PACKETS % BURST == 0 && POOL_BLOCKS >= 2 * BURST,
               "bursts must tile the stream and fit the pool twice");

struct packet {
    uint32_t seq;
    uint32_t len;
    unsigned char payload[1500];
};

/* A bounded queue of pointers; NULL is the end-of-stream marker. */
struct ring {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct packet *slot[RING_SLOTS];
    size_t head, count;
};

static void ring_push(struct ring *r, struct packet *p)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == RING_SLOTS)
        pthread_cond_wait(&r->not_full, &r->lock);
    r->slot[(r->head + r->count) % RING_SLOTS] = p;
    r->count++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
}

static struct packet *ring_pop(struct ring *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == 0)
        pthread_cond_wait(&r->not_empty, &r->lock);
    struct packet *p = r->slot[r->head];
    r->head = (r->head + 1) % RING_SLOTS;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->lock);
    return p;
}

struct pipeline {
    zz_pool *pool;
    struct ring ring;
    unsigned long produced, waits;  /* producer's own */
    unsigned long consumed, errors; /* consumer's own */
    uint64_t bytes;
};

static unsigned char payload_byte(uint32_t seq, uint32_t i)
{
    return (unsigned char)(seq * 31u + i);
}

static void *producer(void *arg)
{
    struct pipeline *pl = arg;
    for (uint32_t seq = 0; seq < PACKETS; seq += BURST) {
        struct packet *burst[BURST];
        /* Every buffer in flight: wait for the consumer to give a burst back. */
        while (zz_pool_alloc_bulk(pl->pool, (void **)burst, BURST) != 0) {
            pl->waits++;
            sched_yield();
        }
        for (uint32_t k = 0; k < BURST; k++) {
            struct packet *p = burst[k];
            p->seq = seq + k;
            p->len = 64 + p->seq % (sizeof p->payload - 64);
            for (uint32_t i = 0; i < p->len; i++)
                p->payload[i] = payload_byte(p->seq, i);
            ring_push(&pl->ring, p);
            pl->produced++;
        }
    }
    ring_push(&pl->ring, NULL);
    return NULL;
}

static void *consumer(void *arg)
{
    struct pipeline *pl = arg;
    uint32_t expect = 0;
    void *done[BURST];
    size_t ndone = 0;
    struct packet *p;
    while ((p = ring_pop(&pl->ring)) != NULL) {
        int good = p->seq == expect++;
        for (uint32_t i = 0; good && i < p->len; i++)
            good = p->payload[i] == payload_byte(p->seq, i);
        pl->errors += !good;
        pl->bytes += p->len;
        pl->consumed++;
        done[ndone++] = p;
        if (ndone == BURST) {
            pl->errors += zz_pool_free_bulk(pl->pool, done, ndone) != 0;
            ndone = 0;
        }
    }
    pl->errors += zz_pool_free_bulk(pl->pool, done, ndone) != 0;
    return NULL;
}

int main(void)
{
    static struct pipeline pl = {
        .ring = {.lock = PTHREAD_MUTEX_INITIALIZER,
                 .not_empty = PTHREAD_COND_INITIALIZER,
                 .not_full = PTHREAD_COND_INITIALIZER},
    };
    /* ZZ_POOL_PREFAULT: every buffer's memory is committed here, so that the
     * data path never stalls on a page fault. */
    int rc = zz_pool_create(&pl.pool, &(zz_pool_options){.size = sizeof(struct packet),
                                                         .capacity = POOL_BLOCKS,
                                                         .flags = ZZ_POOL_PREFAULT});
    if (rc != 0) {
        fprintf(stderr, "zz_pool_create: %s\n", zz_strerror(rc));
        return 1;
    }

    pthread_t prod, cons;
    if (pthread_create(&cons, NULL, consumer, &pl) != 0 ||
        pthread_create(&prod, NULL, producer, &pl) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);

    zz_pool_stats st;
    zz_pool_stats_get(pl.pool, &st);
    printf("packets: %lu produced, %lu consumed, %llu payload bytes, %lu bad\n", pl.produced,
           pl.consumed, (unsigned long long)pl.bytes, pl.errors);
    printf("producer waited for a free buffer %lu times\n", pl.waits);
    printf("pool: capacity %zu, block %zu bytes, in_use %zu, peak_in_use %zu\n", st.capacity,
           st.block_size, st.in_use, st.peak_in_use);
    zz_pool_destroy(pl.pool);

    if (pl.produced != PACKETS || pl.consumed != PACKETS || pl.errors != 0 || st.in_use != 0 ||
        st.peak_in_use > POOL_BLOCKS) {
        fprintf(stderr, "packet_pipeline: wrong counts\n");
        return 1;
    }
    printf("packet_pipeline: ok\n");
    return 0;
}
