/* SPDX-License-Identifier: MIT */
/*
 * What the pool tells AddressSanitizer and Valgrind's memcheck, so that
 * they see blocks inside the slab as they see heap blocks: a free block is
 * off limits, a block handed out is the caller's. Each hook is a no-op
 * unless the library is built with ASan (the compiler says so) or with
 * -DZZ_MEMCHECK=ON (CMake defines ZZ_WITH_VALGRIND); ZZ_TOOL_HOOKS tells
 * the rest of the pool whether any is on, so that the fast paths, which
 * skip the hooks, are then not taken.
 *
 * Life of a block, by hook:
 *   create:   the whole slab becomes inaccessible;
 *   handout:  the block becomes accessible (contents undefined for memcheck);
 *   retire:   after a free was accepted, the block becomes inaccessible;
 *   open/close: the pool itself reads or writes a free block (batch node
 *             headers, ZZ_POOL_CHECKED's fill pattern, wiping);
 *   destroy:  the slab is accessible again, for whoever gets it back.
 */
#ifndef ZZ_POOL_TOOL_HOOKS_H
#define ZZ_POOL_TOOL_HOOKS_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define ZZ_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZZ_WITH_ASAN 1
#endif
#endif

#if defined(ZZ_WITH_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(ZZ_WITH_VALGRIND)
#include <valgrind/memcheck.h>
#endif

#if defined(ZZ_WITH_ASAN) || defined(ZZ_WITH_VALGRIND)
#define ZZ_TOOL_HOOKS 1
#else
#define ZZ_TOOL_HOOKS 0
#endif

static inline void zz__hook_create(const void *pool, void *slab, size_t bytes)
{
    (void)pool;
    (void)slab;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_POISON_MEMORY_REGION(slab, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    VALGRIND_CREATE_MEMPOOL(pool, 0, 0);
    VALGRIND_MAKE_MEM_NOACCESS(slab, bytes);
#endif
}

static inline void zz__hook_handout(const void *pool, void *block, size_t bytes)
{
    (void)pool;
    (void)block;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(block, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    VALGRIND_MEMPOOL_ALLOC(pool, block, bytes);
#endif
}

static inline void zz__hook_retire(const void *pool, void *block, size_t bytes)
{
    (void)pool;
    (void)block;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_POISON_MEMORY_REGION(block, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    VALGRIND_MEMPOOL_FREE(pool, block); /* also makes it inaccessible */
#endif
}

static inline void zz__hook_open(void *p, size_t bytes)
{
    (void)p;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    /* Defined: the pool reads back only what it wrote there itself. */
    VALGRIND_MAKE_MEM_DEFINED(p, bytes);
#endif
}

static inline void zz__hook_close(void *p, size_t bytes)
{
    (void)p;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_POISON_MEMORY_REGION(p, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    VALGRIND_MAKE_MEM_NOACCESS(p, bytes);
#endif
}

static inline void zz__hook_destroy(const void *pool, void *slab, size_t bytes)
{
    (void)pool;
    (void)slab;
    (void)bytes;
#if defined(ZZ_WITH_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(slab, bytes);
#endif
#if defined(ZZ_WITH_VALGRIND)
    VALGRIND_DESTROY_MEMPOOL(pool);
    /* Defined: the bytes go back as they are (zeroed, with
     * ZZ_POOL_ZERO_ON_DESTROY), and the backing's owner may read them. */
    VALGRIND_MAKE_MEM_DEFINED(slab, bytes);
#endif
}

#endif
