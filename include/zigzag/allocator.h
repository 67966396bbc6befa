/* SPDX-License-Identifier: MIT */
/*
 * The explicit allocator interface: a context pointer plus a table of two
 * functions, passed by value to any code that needs memory, as Zig's
 * std.mem.Allocator is. Four allocators come with the library:
 *
 *   zz_system_allocator()            aligned memory from the C library
 *   zz_page_allocator()              mmap/munmap, page-granular, zeroed, lazy
 *   zz_fixed_buffer_allocator(&fb)   bump allocation in caller memory, no heap
 *   zz_counting_allocator(&c)        wraps another and counts what passes
 *
 * Rules shared by every allocator of this library:
 *   - size 0 returns NULL; it is not an error and allocates nothing;
 *   - align must be a power of two (1, 2, 4, ...); any other value, 0
 *     included, returns NULL;
 *   - any power-of-two alignment is honoured, also above the page size;
 *   - a size that overflows when rounded up to the alignment or the page
 *     size returns NULL;
 *   - zz_free(a, NULL, ...) does nothing;
 *   - size and align given to zz_free must equal those given to zz_alloc.
 */
#ifndef ZIGZAG_ALLOCATOR_H
#define ZIGZAG_ALLOCATOR_H

#include <stddef.h>

#include "defs.h"

ZZ_EXTERN_C_BEGIN

/** The functions behind an allocator. Both take the allocator's ctx first. */
typedef struct zz_allocator_vtable {
    /** Returns size bytes aligned to align, or NULL on failure. */
    void *(*alloc)(void *ctx, size_t size, size_t align);
    /** Gives back memory from alloc; size and align as given to alloc. */
    void (*free)(void *ctx, void *ptr, size_t size, size_t align);
} zz_allocator_vtable;

/** An allocator: its state and its functions. Cheap to copy; pass by value. */
typedef struct zz_allocator {
    void *ctx;
    const zz_allocator_vtable *vtable;
} zz_allocator;

/**
 * Allocates from any allocator.
 * @param size bytes wanted; 0 returns NULL.
 * @param align a power of two; anything else returns NULL.
 * @return memory aligned to align, or NULL when the request is invalid or
 *         the allocator has no memory. Thread safety is the allocator's.
 */
ZZ_API void *zz_alloc(zz_allocator a, size_t size, size_t align);

/**
 * Frees memory from zz_alloc of the same allocator.
 * `size`/`align` must equal those given to zz_alloc. NULL does nothing.
 */
ZZ_API void zz_free(zz_allocator a, void *ptr, size_t size, size_t align);

/** True (1) when an allocator has no vtable, as the all-zero value has. */
ZZ_API int zz_allocator_is_null(zz_allocator a);

/**
 * Aligned allocation from the C library (aligned_alloc / posix_memalign).
 * Thread-safe. Memory is not zeroed.
 */
ZZ_API zz_allocator zz_system_allocator(void);

/**
 * Whole pages from the kernel with mmap/munmap. Sizes are rounded up to the
 * page size; memory is zeroed and committed only when first touched; any
 * power-of-two alignment is served by mapping more and trimming the rest.
 * Mappings of ZZ_PAGE_HUGE_HINT_MIN bytes or more are advised to use
 * transparent huge pages. Thread-safe.
 */
ZZ_API zz_allocator zz_page_allocator(void);

/** Mappings at least this large get the transparent-huge-page hint. */
#define ZZ_PAGE_HUGE_HINT_MIN ((size_t)4 << 20)

/** The system page size (sysconf), cached after the first call. */
ZZ_API size_t zz_page_size(void);

/**
 * A bump allocator over memory the caller provides: a static array works,
 * and no heap is touched at all. Allocation moves `used` forward; freeing
 * the most recent allocation moves it back to that allocation's start (its
 * alignment padding stays used); other frees are ignored until
 * zz_fixed_buffer_reset. Not thread-safe: use one per thread or guard it.
 * The fields are readable; change them only through the functions.
 */
typedef struct zz_fixed_buffer {
    unsigned char *start; /**< the caller's buffer */
    size_t size;          /**< its length in bytes */
    size_t used;          /**< bytes handed out from start, padding included */
    size_t peak;          /**< high-water mark of used */
} zz_fixed_buffer;

/**
 * Prepares fb to hand out buf[0..size). buf may be NULL only with size 0.
 * @return 0, or ZZ_EINVAL when fb is NULL or buf is NULL with size > 0.
 */
ZZ_API int zz_fixed_buffer_init(zz_fixed_buffer *fb, void *buf, size_t size);

/** The zz_allocator view of fb; fb must outlive every use of it. */
ZZ_API zz_allocator zz_fixed_buffer_allocator(zz_fixed_buffer *fb);

/** Forgets every allocation: the whole buffer is free again. */
ZZ_API void zz_fixed_buffer_reset(zz_fixed_buffer *fb);

/** Totals kept by a counting allocator. A request with a bad alignment is
 *  a failed allocation, whether it came through zz_alloc or the vtable. */
typedef struct zz_counting_stats {
    size_t allocs;        /**< successful allocations */
    size_t frees;         /**< frees of non-NULL pointers */
    size_t failed_allocs; /**< allocations that returned NULL (size 0 excluded) */
    size_t live_bytes;    /**< bytes allocated and not yet freed */
    size_t peak_bytes;    /**< high-water mark of live_bytes */
    size_t live_allocs;   /**< allocs - frees */
} zz_counting_stats;

/**
 * Wraps another allocator and counts what passes through it, with atomic
 * counters: any number of threads may use it at once. Use it in tests to
 * prove that code frees everything it allocates.
 * The fields are private; read them with zz_counting_stats_get.
 */
typedef struct zz_counting {
    zz_allocator inner;
    size_t counters_private[6];
} zz_counting;

/**
 * Prepares c to count allocations served by inner.
 * @return 0, or ZZ_EINVAL when c is NULL or inner has no vtable.
 */
ZZ_API int zz_counting_init(zz_counting *c, zz_allocator inner);

/** The zz_allocator view of c; c must outlive every use of it. */
ZZ_API zz_allocator zz_counting_allocator(zz_counting *c);

/** Copies the totals into out. Exact when no call is in flight. */
ZZ_API void zz_counting_stats_get(const zz_counting *c, zz_counting_stats *out);

ZZ_EXTERN_C_END

#endif
