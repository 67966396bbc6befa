/* SPDX-License-Identifier: MIT */
/*
 * The fixed-size object pool: one slab of equal blocks, handed out and taken
 * back in O(1) from any number of threads without locks.
 *
 * Memory. A block's stride is the object size rounded up to the alignment,
 * and at least ZZ_POOL_MIN_BLOCK bytes. Free blocks are linked by 32-bit
 * indices kept in a side array, outside the blocks: 4 bytes of bookkeeping
 * per block, plus a bitmap of 1 bit per block in ZZ_POOL_CHECKED mode. The
 * pool never reads or writes a block's bytes except when asked to zero it.
 *
 * Creation is O(1): no block is visited, and memory from the default page
 * allocator is committed only as blocks are first handed out.
 *
 * Thread safety. zz_pool_alloc, zz_pool_free, zz_pool_free_zeroed,
 * zz_pool_owns and zz_pool_stats_get may be called from any thread at once.
 * zz_pool_create, zz_pool_destroy and zz_pool_wipe need the caller to be
 * the pool's only user at that moment.
 *
 * Misuse. Freeing a pointer that is not the start of one of this pool's
 * blocks returns ZZ_EFOREIGN in every mode. A double free is rejected with
 * ZZ_EDOUBLEFREE in every mode when the two frees do not run at the same
 * time; ZZ_POOL_CHECKED also rejects two frees of one block that race each
 * other. A rejected call changes nothing.
 */
#ifndef ZIGZAG_POOL_H
#define ZIGZAG_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "allocator.h"
#include "defs.h"

ZZ_EXTERN_C_BEGIN

/** An opaque pool. */
typedef struct zz_pool zz_pool;

/** Flags for zz_pool_options.flags. */
enum {
    /** Detect every double free, racing ones included, and every foreign or
     *  interior pointer; each is rejected with its code, the pool intact. */
    ZZ_POOL_CHECKED = 1u << 0,
    /** zz_pool_destroy zeroes every block ever handed out before giving the
     *  slab back, with stores the compiler cannot drop. */
    ZZ_POOL_ZERO_ON_DESTROY = 1u << 1,
    /** Let the kernel back the slab with transparent huge pages: fewer TLB
     *  misses when most of the pool is used, but memory is committed 2 MiB at
     *  a time. By default a pool asks for small pages so that a large, mostly
     *  idle pool stays small in memory. */
    ZZ_POOL_HUGE_PAGES = 1u << 2,
};

/** Every flag this version knows; others make zz_pool_create fail. */
#define ZZ_POOL_VALID_FLAGS (ZZ_POOL_CHECKED | ZZ_POOL_ZERO_ON_DESTROY | ZZ_POOL_HUGE_PAGES)

/** The smallest block stride. */
#define ZZ_POOL_MIN_BLOCK 8u

/** The largest capacity of one pool (indices are 32 bits, one value reserved). */
#define ZZ_POOL_MAX_CAPACITY ((size_t)0x7fffffff)

/** How to build a pool. Zero in any field means its default. */
typedef struct zz_pool_options {
    size_t size;          /**< bytes per object; > 0 */
    size_t align;         /**< power of two; 0 means alignof(max_align_t) */
    size_t capacity;      /**< blocks; > 0 and <= ZZ_POOL_MAX_CAPACITY */
    unsigned flags;       /**< ZZ_POOL_* bits, 0 for defaults */
    zz_allocator backing; /**< where the slab comes from; all-zero means zz_page_allocator() */
} zz_pool_options;

/** Options for a pool of `capacity` objects of `type`: size and alignment from the type. */
#ifdef __cplusplus
#define ZZ_POOL_OPTIONS_FOR(type_, capacity_)                                                      \
    (zz_pool_options{sizeof(type_), alignof(type_), (size_t)(capacity_), 0u, zz_allocator{}})
#else
#define ZZ_POOL_OPTIONS_FOR(type_, capacity_)                                                      \
    ((zz_pool_options){.size = sizeof(type_), .align = _Alignof(type_), .capacity = (capacity_)})
#endif

/**
 * Creates a pool. The options are copied; opts is not read afterwards.
 * @param out receives the pool; written only on success.
 * @return 0, or
 *   ZZ_EINVAL  out or opts NULL, size 0, capacity 0 or above
 *              ZZ_POOL_MAX_CAPACITY, align not a power of two, an unknown
 *              flag, a backing allocator with ctx but no vtable, or a slab
 *              size that overflows; nothing is allocated;
 *   ZZ_ENOMEM  the backing allocator failed (it cannot give the size or
 *              the alignment); nothing is leaked.
 */
ZZ_API int zz_pool_create(zz_pool **out, const zz_pool_options *opts);

/**
 * Gives the slab and the pool back to the backing allocator. Blocks still
 * in use become invalid. NULL does nothing. No other call on the pool may
 * run at the same time or after.
 */
ZZ_API void zz_pool_destroy(zz_pool *pool);

/**
 * Takes one block. Lock-free; O(1).
 * @return a block of stats.block_size bytes aligned to the pool's alignment,
 *         with unspecified contents, or NULL when every block is in use.
 */
ZZ_API void *zz_pool_alloc(zz_pool *pool);

/**
 * Gives a block back. Lock-free; O(1). NULL is a no-op returning 0.
 * @return 0, or
 *   ZZ_EFOREIGN     ptr is not the start of one of this pool's blocks;
 *   ZZ_EDOUBLEFREE  the block is already free (see "Misuse" above).
 * On error nothing changes.
 */
ZZ_API int zz_pool_free(zz_pool *pool, void *ptr);

/**
 * Like zz_pool_free, but first zeroes the block's stride with stores the
 * compiler cannot remove, so no secret outlives the allocation.
 * The block is checked before it is touched: a rejected pointer is not zeroed.
 */
ZZ_API int zz_pool_free_zeroed(zz_pool *pool, void *ptr);

/**
 * Zeroes every block ever handed out (blocks never handed out were never
 * written), with stores the compiler cannot remove. For teardown.
 * @return 0, or ZZ_EBUSY when blocks are in use (nothing is zeroed), or
 *         ZZ_EINVAL when pool is NULL.
 */
ZZ_API int zz_pool_wipe(zz_pool *pool);

/** True when ptr is the start of one of this pool's blocks (free or in use). O(1). */
ZZ_API bool zz_pool_owns(const zz_pool *pool, const void *ptr);

/**
 * The pool as a zz_allocator. It serves any request whose size is at most
 * the block size and whose alignment the block alignment satisfies, one
 * block each, and returns NULL for any other, the pool unchanged. Freeing
 * through it ignores size and align. Valid while the pool lives.
 */
ZZ_API zz_allocator zz_pool_allocator(zz_pool *pool);

/** A pool's figures. */
typedef struct zz_pool_stats {
    size_t capacity;    /**< blocks the pool can hold now */
    size_t in_use;      /**< blocks handed out and not yet freed */
    size_t peak_in_use; /**< high-water mark of in_use */
    size_t block_size;  /**< stride of one block in bytes */
    size_t block_align; /**< alignment of every block */
    unsigned flags;     /**< the ZZ_POOL_* flags the pool was created with */
    size_t slab_bytes;  /**< bytes of the slab (capacity * block_size) */
    size_t meta_bytes;  /**< bytes of bookkeeping beside the slab */
} zz_pool_stats;

/**
 * Reads the figures in O(1), without locks. Exact whenever no operation is
 * in flight; while others run, each field is a value it had recently.
 */
ZZ_API void zz_pool_stats_get(const zz_pool *pool, zz_pool_stats *out);

ZZ_EXTERN_C_END

#endif
