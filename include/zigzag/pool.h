/* SPDX-License-Identifier: MIT */
/*
 * The fixed-size object pool: one slab of equal blocks, handed out and taken
 * back in O(1) from any number of threads without locks.
 *
 * Memory. A block's stride is the object size rounded up to the alignment,
 * and at least ZZ_POOL_MIN_BLOCK bytes. Free blocks are linked by 32-bit
 * indices kept in a side array, outside the blocks: 4 bytes of bookkeeping
 * per block, in every mode. Pools with caching add 64 per-thread caches of
 * 4 * thread_cache + 16 bytes each, rounded up to 64, committed only for
 * the threads that use the pool: by default thread_cache is 16, or at
 * most capacity / 64 in larger pools, so the caches take at most
 * 4 * capacity + 8192 bytes (4 more bytes per block in a large pool, at
 * most 8 KiB more in a small one). The pool
 * writes into a block only while it is free and owned by the pool: when
 * asked to zero it, and when a thread's cache hands a batch of free blocks
 * to the shared list, the batch's first block records the others' indices
 * (read back by the thread that takes the batch).
 *
 * Creation is O(1): no block is visited, and memory from the default page
 * allocator (used directly or through counting allocators) is committed
 * only as blocks are first handed out. Other backings' memory is not known
 * to be zero, so creation clears the 4-byte links there: O(capacity), a
 * memset of 4 bytes a block, still without touching a block.
 *
 * Thread safety. zz_pool_alloc, zz_pool_free, zz_pool_free_zeroed, the bulk
 * calls, zz_pool_flush, zz_pool_owns and zz_pool_stats_get may be called
 * from any thread at once. zz_pool_create, zz_pool_destroy and zz_pool_wipe
 * need the caller to be the pool's only user at that moment.
 *
 * Thread caches. Unless ZZ_POOL_NO_CACHE is given, each thread keeps a few
 * free blocks of each pool it uses (options.thread_cache), so that alloc and
 * free usually touch no shared cache line and do no atomic read-modify-write;
 * caches refill from and spill to the shared list in batches. Capacity stays
 * strict: zz_pool_alloc returns NULL only when every block is really in use,
 * taking free blocks back from other threads' caches when it must. A thread
 * that exits leaves its cached blocks to be taken back that way, and a pool
 * may be destroyed while threads that used it live on. After fork(), the
 * child's pool holds the blocks cached by the parent's other threads as
 * free, except blocks such a thread was moving at the instant of the fork
 * (one block, at most a cache's worth between its cache and the shared
 * list, or a bulk call's blocks), which the child loses; it never hands out
 * a block twice.
 *
 * Misuse. Freeing a pointer that is not the start of one of this pool's
 * blocks returns ZZ_EFOREIGN in every mode. A double free is rejected with
 * ZZ_EDOUBLEFREE in every mode when the two frees do not run at the same
 * time; ZZ_POOL_CHECKED also rejects two frees of one block that race each
 * other. A rejected call changes nothing. ZZ_POOL_CHECKED further fills
 * every freed block with ZZ_POOL_FREE_PATTERN and checks it when the block
 * is handed out again (a write after free is reported as ZZ_ECORRUPT, with
 * the first changed byte; the block is still handed out), and reports the
 * blocks still in use at zz_pool_destroy (ZZ_ELEAK; see
 * zz_pool_visit_live). Every misuse is counted (stats.misuses) and given to
 * options.on_misuse when set; ZZ_POOL_ABORT_ON_MISUSE then prints one line
 * to stderr and aborts, as glibc does on a double free.
 *
 * Tools. In a build of the library with AddressSanitizer, free blocks are
 * poisoned and blocks in use are not, so ASan itself reports a use after
 * free or an overflow into a neighbouring block; built with -DZZ_MEMCHECK=ON,
 * the pool describes itself to Valgrind's memcheck as a mempool (use after
 * free, reads of uninitialised block memory, leaked blocks). In other builds
 * neither costs anything. The free list's links live outside the blocks;
 * the one thing the pool keeps inside free blocks, the member lists of
 * batch nodes, is masked and checksummed with a per-pool random secret, so
 * that a stray write is detected (ZZ_ECORRUPT) and never followed.
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
    /** Ask for transparent huge pages over the whole slab: a pool used at
     *  scale then takes one fault and one TLB entry per 2 MiB, and memory
     *  is committed 2 MiB at a time from the first block on. By default, on
     *  the page allocator, a pool keeps small pages, so that a big, mostly
     *  idle pool commits only what it hands out, and a first pass over
     *  fresh memory never waits for a whole huge page (which under a
     *  hypervisor may take milliseconds). */
    ZZ_POOL_HUGE_PAGES = 1u << 2,
    /** No per-thread caches: every alloc and free goes to the shared
     *  lock-free list. Slower from many threads; peak_in_use always exact. */
    ZZ_POOL_NO_CACHE = 1u << 3,
    /** On any misuse, after options.on_misuse (if set) returns: print one
     *  line naming the function, the pool, the pointer and the error to
     *  stderr, then abort(). */
    ZZ_POOL_ABORT_ON_MISUSE = 1u << 4,
    /** Put an inaccessible page right after the slab, so that an overflow
     *  off the last block faults at once instead of reaching the pool's
     *  bookkeeping. The slab is then page-aligned and rounded up to pages. */
    ZZ_POOL_GUARD_PAGES = 1u << 5,
    /** Commit every page of the slab and of the bookkeeping at creation, as
     *  DPDK's mempool does, so that no alloc or free ever takes a page
     *  fault: for latency-bound code (trading, packet processing) that must
     *  not stall on first use. Creation then takes time and resident memory
     *  in proportion to the capacity, and returns ZZ_ENOMEM, with nothing
     *  allocated, when the memory cannot be committed. On the page
     *  allocator the slab gets huge pages throughout, as with
     *  ZZ_POOL_HUGE_PAGES; other backings' memory is committed in place,
     *  without changing a byte. */
    ZZ_POOL_PREFAULT = 1u << 6,
};

/** Every flag this version knows; others make zz_pool_create fail. */
#define ZZ_POOL_VALID_FLAGS                                                                        \
    (ZZ_POOL_CHECKED | ZZ_POOL_ZERO_ON_DESTROY | ZZ_POOL_HUGE_PAGES | ZZ_POOL_NO_CACHE |           \
     ZZ_POOL_ABORT_ON_MISUSE | ZZ_POOL_GUARD_PAGES | ZZ_POOL_PREFAULT)

/** The byte ZZ_POOL_CHECKED fills free blocks with. */
#define ZZ_POOL_FREE_PATTERN 0xDBu

/** One misuse of a pool, as given to zz_pool_options.on_misuse. */
typedef struct zz_pool_misuse {
    const char *function; /**< the public function that found it, e.g. "zz_pool_free" */
    const struct zz_pool *pool;
    const void *ptr; /**< the pointer given; for ZZ_ECORRUPT the block written
                          after free; for ZZ_ELEAK the first block still in use */
    int error;       /**< ZZ_EFOREIGN, ZZ_EDOUBLEFREE, ZZ_ECORRUPT or ZZ_ELEAK */
    size_t offset;   /**< ZZ_ECORRUPT: the first changed byte's offset in the block */
    size_t count;    /**< ZZ_ELEAK: blocks still in use */
} zz_pool_misuse;

/** A misuse handler. It runs on the thread that made the call, inside it;
 *  it may read the pool (stats, zz_pool_visit_live) but not change it. */
typedef void (*zz_pool_misuse_fn)(void *ctx, const zz_pool_misuse *report);

/** Threads of a process that get a cache in each pool; further threads use
 *  the shared list directly (correct, only slower). */
#define ZZ_POOL_MAX_CACHED_THREADS 64u

/** The largest per-thread cache, in blocks. */
#define ZZ_POOL_MAX_THREAD_CACHE 512u

/** The smallest block stride. */
#define ZZ_POOL_MIN_BLOCK 8u

/** The largest block alignment (zz_pool_options.align). */
#define ZZ_POOL_MAX_ALIGN ((size_t)1 << 30)

/** The largest capacity of one pool (block indices are 30 bits). */
#define ZZ_POOL_MAX_CAPACITY ((size_t)0x3fffffff)

/** How to build a pool. Zero in any field means its default. */
typedef struct zz_pool_options {
    size_t size;          /**< bytes per object; > 0 */
    size_t align;         /**< power of two, <= ZZ_POOL_MAX_ALIGN; 0 means alignof(max_align_t) */
    size_t capacity;      /**< blocks; > 0 and <= ZZ_POOL_MAX_CAPACITY */
    unsigned flags;       /**< ZZ_POOL_* bits, 0 for defaults */
    zz_allocator backing; /**< where the slab comes from; all-zero means zz_page_allocator() */
    /** Blocks each thread may keep in its cache of this pool, at most
     *  ZZ_POOL_MAX_THREAD_CACHE; 0 means a default that grows with the
     *  capacity (16 up to 2047 blocks, 512 from 32768 blocks on). */
    size_t thread_cache;
    /** Called on every misuse (see "Misuse" above); NULL for none. */
    zz_pool_misuse_fn on_misuse;
    void *misuse_ctx; /**< passed to on_misuse */
} zz_pool_options;

/** Options for a pool of `capacity` objects of `type`: size and alignment from the type. */
#ifdef __cplusplus
#define ZZ_POOL_OPTIONS_FOR(type_, capacity_)                                                      \
    (zz_pool_options{sizeof(type_), alignof(type_), (size_t)(capacity_), 0u, zz_allocator{}, 0u,   \
                     nullptr, nullptr})
#else
#define ZZ_POOL_OPTIONS_FOR(type_, capacity_)                                                      \
    ((zz_pool_options){.size = sizeof(type_), .align = _Alignof(type_), .capacity = (capacity_)})
#endif

/**
 * Creates a pool. The options are copied; opts is not read afterwards.
 * @param out receives the pool; written only on success.
 * @return 0, or
 *   ZZ_EINVAL  out or opts NULL, size 0, capacity 0 or above
 *              ZZ_POOL_MAX_CAPACITY, align not a power of two or above
 *              ZZ_POOL_MAX_ALIGN, thread_cache above
 *              ZZ_POOL_MAX_THREAD_CACHE, an unknown flag, a backing
 *              allocator with ctx but no vtable, or a slab size that
 *              overflows: nothing is allocated; or an alignment the
 *              backing allocator cannot give: it returned memory without
 *              it, or (for a pool aligned beyond 64 bytes) returned NULL
 *              but then served the same size at 64 bytes' alignment, asked
 *              to tell the two failures apart; whatever it gave is given
 *              back at once;
 *   ZZ_ENOMEM  the backing allocator has no memory for the pool; nothing
 *              is leaked.
 */
ZZ_API int zz_pool_create(zz_pool **out, const zz_pool_options *opts);

/**
 * The memory zz_pool_create would take for these options: it makes exactly
 * one request of the backing allocator, of *bytes bytes aligned to *align,
 * holding the slab and all the bookkeeping. Sizes a static array for a
 * fixed-buffer backing: `bytes + align - 1` bytes always suffice, and
 * `bytes` do when the buffer starts at a multiple of `align`. The backing
 * itself is not called.
 * @return 0, or ZZ_EINVAL for bytes, align or opts NULL, or the options
 *         zz_pool_create refuses with ZZ_EINVAL (outputs untouched).
 */
ZZ_API int zz_pool_footprint(const zz_pool_options *opts, size_t *bytes, size_t *align);

/**
 * Gives the slab and the pool back to the backing allocator. Blocks still
 * in use become invalid; with ZZ_POOL_CHECKED they are first reported as
 * one ZZ_ELEAK misuse (count, first block). NULL does nothing. No other call on the pool may
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
 * Takes n blocks at once, all or nothing: on success out[0..n) are n distinct
 * blocks; on failure nothing is taken and out is not written.
 * @return 0, or ZZ_ENOMEM when fewer than n blocks are free, or ZZ_EINVAL
 *         when pool is NULL, or out is NULL with n > 0. n == 0 returns 0.
 */
ZZ_API int zz_pool_alloc_bulk(zz_pool *pool, void **out, size_t n);

/**
 * Gives n blocks back at once, all or nothing: every pointer is checked
 * first (NULL entries are skipped); if any is refused, none is freed.
 * @return 0, or the first refusal's code (ZZ_EFOREIGN, ZZ_EDOUBLEFREE, a
 *         pointer given twice counting as a double free), or ZZ_EINVAL when
 *         pool is NULL, or ptrs is NULL with n > 0.
 */
ZZ_API int zz_pool_free_bulk(zz_pool *pool, void *const *ptrs, size_t n);

/**
 * Returns the blocks the calling thread keeps cached for this pool to the
 * shared list. Never needed for correctness; useful before a thread goes
 * idle for long, or before reading stats.cached.
 * @return 0, or ZZ_EINVAL when pool is NULL.
 */
ZZ_API int zz_pool_flush(zz_pool *pool);

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

/**
 * Calls visit(ctx, block) for every block in use, in address order, and
 * returns their number (visit may be NULL, to count them). Needs the pool
 * to be quiescent (no call in flight), as at teardown; O(blocks ever
 * handed out). For finding leaks: see ZZ_ELEAK.
 */
ZZ_API size_t zz_pool_visit_live(const zz_pool *pool, void (*visit)(void *ctx, void *block),
                                 void *ctx);

/**
 * Writes the one line that ZZ_POOL_ABORT_ON_MISUSE prints for report (no
 * newline) into buf[0..size), always terminated when size > 0, like
 * snprintf. @return the line's full length.
 */
ZZ_API size_t zz_pool_misuse_format(const zz_pool_misuse *report, char *buf, size_t size);

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
    size_t capacity;     /**< blocks the pool can hold now */
    size_t in_use;       /**< blocks handed out and not yet freed */
    size_t peak_in_use;  /**< high-water mark of in_use: exact whenever calls do
                              not overlap, however many threads take turns, and
                              always with ZZ_POOL_NO_CACHE; while several threads
                              run at once it is read as they move, and may be off
                              by the blocks in flight (never above the capacity) */
    size_t block_size;   /**< stride of one block in bytes */
    size_t block_align;  /**< alignment of every block */
    unsigned flags;      /**< the ZZ_POOL_* flags the pool was created with */
    size_t slab_bytes;   /**< bytes of the slab (capacity * block_size) */
    size_t meta_bytes;   /**< bytes of bookkeeping beside the slab */
    size_t cached;       /**< free blocks resting in threads' caches */
    size_t thread_cache; /**< blocks each thread may cache; 0 when caching is off */
    size_t misuses;      /**< misuses found so far (see "Misuse" above) */
} zz_pool_stats;

/**
 * Reads the figures in O(1), without locks. Exact whenever no operation is
 * in flight; while others run, each field is a value it had recently.
 */
ZZ_API void zz_pool_stats_get(const zz_pool *pool, zz_pool_stats *out);

ZZ_EXTERN_C_END

#endif
