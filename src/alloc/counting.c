/* SPDX-License-Identifier: MIT */
/*
 * The counting allocator: forwards to an inner allocator and counts what
 * passes, so tests can prove that code frees all it allocates and that a
 * failed call leaked nothing. The counters are the plain size_t words of
 * the public struct, touched only through platform/atomic.h's word
 * wrappers, so any number of threads may allocate through one counter.
 *
 * Every counter is updated with relaxed atomics. They are statistics: no
 * other memory is published through them, so no ordering with the caller's
 * data is needed, only atomicity (no lost update). A reader that wants exact
 * totals must already be synchronised with the threads that allocated (a
 * pthread_join, a mutex), and that synchronisation orders their relaxed
 * updates before its loads.
 */
#include "internal.h"
#include "platform/atomic.h"

/* Indices into zz_counting.counters_private. */
enum {
    CNT_ALLOCS,
    CNT_FREES,
    CNT_FAILED,
    CNT_LIVE_BYTES,
    CNT_PEAK_BYTES,
    CNT_LIVE_ALLOCS, /* its own word: allocs - frees read at two moments could underflow */
    CNT_COUNT_
};

_Static_assert(CNT_COUNT_ == sizeof(((zz_counting *)0)->counters_private) / sizeof(size_t),
               "zz_counting.counters_private must have one word per counter");

/* Raises the peak to at least v. */
static void peak_raise(size_t *peak, size_t v)
{
    /* Relaxed load and CAS: the peak is a lone statistic (see the file header).
     * A failed CAS reloads cur, so the loop ends once the peak is >= v. */
    size_t cur = zz_atomic_word_load_relaxed(peak);
    while (v > cur && !zz_atomic_word_cas_weak_relaxed(peak, &cur, v)) {
    }
}

static void *counting_alloc(void *ctx, size_t size, size_t align)
{
    zz_counting *c = ctx;
    size_t *w = c->counters_private;
    /* Size 0 is not a request, so it counts as nothing. */
    if (size == 0)
        return NULL;
    /* The vtable may be called directly: apply the shared rules here rather
     * than hand a bad alignment to an inner allocator that may not check. */
    void *p = zz__is_pow2(align) ? zz_alloc(c->inner, size, align) : NULL;
    if (p == NULL) {
        zz_atomic_word_fetch_add_relaxed(&w[CNT_FAILED], 1); /* relaxed: file header */
        return NULL;
    }
    /* Relaxed: file header. For one block the add here precedes the sub in
     * zz_free in the counter's modification order (the free happens after
     * this call returned), so live_bytes and live_allocs never underflow. */
    zz_atomic_word_fetch_add_relaxed(&w[CNT_ALLOCS], 1);
    zz_atomic_word_fetch_add_relaxed(&w[CNT_LIVE_ALLOCS], 1);
    size_t live = zz_atomic_word_fetch_add_relaxed(&w[CNT_LIVE_BYTES], size) + size;
    peak_raise(&w[CNT_PEAK_BYTES], live);
    return p;
}

static void counting_free(void *ctx, void *ptr, size_t size, size_t align)
{
    zz_counting *c = ctx;
    size_t *w = c->counters_private;
    if (ptr == NULL)
        return;
    zz_free(c->inner, ptr, size, align);
    /* Relaxed: file header. Counted after the inner free so that a reader who
     * sees frees == allocs knows the inner allocator has the memory back. */
    zz_atomic_word_fetch_add_relaxed(&w[CNT_FREES], 1);
    zz_atomic_word_fetch_sub_relaxed(&w[CNT_LIVE_ALLOCS], 1);
    zz_atomic_word_fetch_sub_relaxed(&w[CNT_LIVE_BYTES], size);
}

const zz_allocator_vtable zz__counting_vtable = {
    .alloc = counting_alloc,
    .free = counting_free,
};

int zz_counting_init(zz_counting *c, zz_allocator inner)
{
    if (c == NULL || zz_allocator_is_null(inner))
        return ZZ_EINVAL;
    c->inner = inner;
    /* Relaxed stores: c is not shared yet; whatever later shares it (thread
     * creation, a mutex) orders these before any other thread's use. */
    for (size_t i = 0; i < CNT_COUNT_; i++)
        zz_atomic_word_store_relaxed(&c->counters_private[i], 0);
    return 0;
}

zz_allocator zz_counting_allocator(zz_counting *c)
{
    return (zz_allocator){.ctx = c, .vtable = &zz__counting_vtable};
}

void zz_counting_stats_get(const zz_counting *c, zz_counting_stats *out)
{
    if (c == NULL || out == NULL)
        return;
    const size_t *w = c->counters_private;
    /* Relaxed loads: file header. Each field is a value it had recently; all
     * are exact when the caller is synchronised with every allocating thread. */
    out->allocs = zz_atomic_word_load_relaxed(&w[CNT_ALLOCS]);
    out->frees = zz_atomic_word_load_relaxed(&w[CNT_FREES]);
    out->failed_allocs = zz_atomic_word_load_relaxed(&w[CNT_FAILED]);
    out->live_bytes = zz_atomic_word_load_relaxed(&w[CNT_LIVE_BYTES]);
    out->peak_bytes = zz_atomic_word_load_relaxed(&w[CNT_PEAK_BYTES]);
    out->live_allocs = zz_atomic_word_load_relaxed(&w[CNT_LIVE_ALLOCS]);
}
