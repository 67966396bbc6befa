/* SPDX-License-Identifier: MIT */
/*
 * The only includer of <stdatomic.h>. Every atomic operation in zigzag goes
 * through these wrappers, whose names carry their memory order, so that a
 * reader sees the order at the call site and tools/lint.sh can reject bare
 * atomics elsewhere.
 *
 * Two families:
 *   zz_atomic_*_u32/_u64/_size  on _Atomic objects we declare ourselves;
 *   zz_atomic_word_*            on plain size_t fields of public structs
 *                               (which cannot be _Atomic, as the headers
 *                               must compile as C++), via the GCC/Clang
 *                               __atomic builtins, which TSan understands.
 */
#ifndef ZZ_PLATFORM_ATOMIC_H
#define ZZ_PLATFORM_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef _Atomic uint32_t zz_atomic_u32;
typedef _Atomic uint64_t zz_atomic_u64;
typedef _Atomic size_t zz_atomic_size;

#define ZZ_ATOMIC_INIT(v) (v)

/* ---- 32-bit ---- */
static inline uint32_t zz_atomic_load_relaxed_u32(const zz_atomic_u32 *p)
{
    return atomic_load_explicit((zz_atomic_u32 *)p, memory_order_relaxed);
}
static inline uint32_t zz_atomic_load_acquire_u32(const zz_atomic_u32 *p)
{
    return atomic_load_explicit((zz_atomic_u32 *)p, memory_order_acquire);
}
static inline void zz_atomic_store_relaxed_u32(zz_atomic_u32 *p, uint32_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void zz_atomic_store_release_u32(zz_atomic_u32 *p, uint32_t v)
{
    atomic_store_explicit(p, v, memory_order_release);
}
static inline uint32_t zz_atomic_fetch_or_acq_rel_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_or_explicit(p, v, memory_order_acq_rel);
}
static inline uint32_t zz_atomic_fetch_and_acq_rel_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_and_explicit(p, v, memory_order_acq_rel);
}
static inline uint32_t zz_atomic_fetch_and_release_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_and_explicit(p, v, memory_order_release);
}
static inline uint32_t zz_atomic_fetch_or_relaxed_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_or_explicit(p, v, memory_order_relaxed);
}
static inline uint32_t zz_atomic_fetch_and_relaxed_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_and_explicit(p, v, memory_order_relaxed);
}
static inline uint32_t zz_atomic_fetch_add_relaxed_u32(zz_atomic_u32 *p, uint32_t v)
{
    return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}
static inline int zz_atomic_cas_weak_relaxed_u32(zz_atomic_u32 *p, uint32_t *expected,
                                                 uint32_t desired)
{
    return atomic_compare_exchange_weak_explicit(p, expected, desired, memory_order_relaxed,
                                                 memory_order_relaxed);
}
static inline int zz_atomic_cas_strong_relaxed_u32(zz_atomic_u32 *p, uint32_t *expected,
                                                   uint32_t desired)
{
    return atomic_compare_exchange_strong_explicit(p, expected, desired, memory_order_relaxed,
                                                   memory_order_relaxed);
}

/*
 * Relaxed 32-bit accesses that fold into the instruction using them. GCC
 * gives every atomic access an instruction of its own, addressed through a
 * register: comparing with a relaxed load costs a load and a compare, and
 * an element of an array at a fixed offset from a pointer costs a lea
 * first. On x86-64 an aligned 4-byte mov or cmp is single-copy atomic,
 * which is all that a relaxed access promises, so there these are inline
 * asm whose memory operand the compiler addresses as it likes (volatile:
 * each runs once, where it stands). Elsewhere, and under the sanitizers,
 * which must see every access, they are the C11 forms.
 */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define ZZ_ATOMIC_FOLDED 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define ZZ_ATOMIC_FOLDED 0
#endif
#endif
#if !defined(ZZ_ATOMIC_FOLDED) && defined(__x86_64__) && defined(__GNUC__)
#define ZZ_ATOMIC_FOLDED 1
#elif !defined(ZZ_ATOMIC_FOLDED)
#define ZZ_ATOMIC_FOLDED 0
#endif

/* *p = v, relaxed. */
static inline void zz_atomic_store_relaxed_u32_folded(zz_atomic_u32 *p, uint32_t v)
{
#if ZZ_ATOMIC_FOLDED
    __asm__ volatile("movl %1, %0" : "=m"(*(uint32_t *)p) : "ri"(v));
#else
    atomic_store_explicit(p, v, memory_order_relaxed);
#endif
}

/* *p == v, of a relaxed load of *p. */
static inline bool zz_atomic_load_relaxed_equals_u32(const zz_atomic_u32 *p, uint32_t v)
{
#if ZZ_ATOMIC_FOLDED
    bool equal;
    __asm__ volatile("cmpl %2, %1" : "=@cce"(equal) : "m"(*(const uint32_t *)p), "ri"(v));
    return equal;
#else
    return atomic_load_explicit((zz_atomic_u32 *)p, memory_order_relaxed) == v;
#endif
}

/* (int32_t)a > (int32_t)*p, of a relaxed load of *p. */
static inline bool zz_atomic_load_relaxed_below_i32(const zz_atomic_u32 *p, uint32_t a)
{
#if ZZ_ATOMIC_FOLDED
    bool greater;
    __asm__ volatile("cmpl %2, %1" : "=@ccg"(greater) : "r"(a), "m"(*(const uint32_t *)p));
    return greater;
#else
    return (int32_t)a > (int32_t)atomic_load_explicit((zz_atomic_u32 *)p, memory_order_relaxed);
#endif
}

/* Replaces *p by desired if it holds expected, by a relaxed load and a
 * relaxed store: not a read-modify-write, for a word that no other thread
 * writes meanwhile. Returns whether it did. */
static inline bool zz_atomic_replace_relaxed_u32(zz_atomic_u32 *p, uint32_t expected,
                                                 uint32_t desired)
{
#if ZZ_ATOMIC_FOLDED
    /* The memory clobber stands for the store, as asm goto has no outputs
     * before GCC 11. */
    __asm__ goto("cmpl %1, %0\n\tjne %l[differs]\n\tmovl %2, %0"
                 :
                 : "m"(*(uint32_t *)p), "ri"(expected), "ri"(desired)
                 : "memory", "cc"
                 : differs);
    return true;
differs:
    return false;
#else
    if (atomic_load_explicit(p, memory_order_relaxed) != expected)
        return false;
    atomic_store_explicit(p, desired, memory_order_relaxed);
    return true;
#endif
}

/* ---- fences ---- */
/* Orders, for the compiler only, the accesses before and after it: the
 * owner's half of an asymmetric fence, whose other half is a membarrier. */
static inline void zz_atomic_signal_fence_seq_cst(void)
{
    atomic_signal_fence(memory_order_seq_cst);
}
static inline void zz_atomic_thread_fence_seq_cst(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
/* Keeps the loads before it before every load and store after it. */
static inline void zz_atomic_thread_fence_acquire(void)
{
    atomic_thread_fence(memory_order_acquire);
}
static inline uint64_t zz_atomic_fetch_or_relaxed_u64(zz_atomic_u64 *p, uint64_t v)
{
    return atomic_fetch_or_explicit(p, v, memory_order_relaxed);
}

/* ---- 64-bit ---- */
static inline uint64_t zz_atomic_load_relaxed_u64(const zz_atomic_u64 *p)
{
    return atomic_load_explicit((zz_atomic_u64 *)p, memory_order_relaxed);
}
static inline uint64_t zz_atomic_load_acquire_u64(const zz_atomic_u64 *p)
{
    return atomic_load_explicit((zz_atomic_u64 *)p, memory_order_acquire);
}
static inline void zz_atomic_store_relaxed_u64(zz_atomic_u64 *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}
/* On failure *expected gets the current value, loaded with acquire. */
static inline int zz_atomic_cas_weak_acq_rel_u64(zz_atomic_u64 *p, uint64_t *expected,
                                                 uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(p, expected, desired, memory_order_acq_rel,
                                                 memory_order_acquire);
}
/* On failure *expected gets the current value, loaded relaxed. */
static inline int zz_atomic_cas_weak_release_u64(zz_atomic_u64 *p, uint64_t *expected,
                                                 uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(p, expected, desired, memory_order_release,
                                                 memory_order_relaxed);
}
static inline uint64_t zz_atomic_fetch_add_relaxed_u64(zz_atomic_u64 *p, uint64_t v)
{
    return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}

/* ---- size_t ---- */
static inline size_t zz_atomic_load_relaxed_size(const zz_atomic_size *p)
{
    return atomic_load_explicit((zz_atomic_size *)p, memory_order_relaxed);
}
static inline void zz_atomic_store_relaxed_size(zz_atomic_size *p, size_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline size_t zz_atomic_fetch_add_relaxed_size(zz_atomic_size *p, size_t v)
{
    return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}
static inline size_t zz_atomic_fetch_sub_relaxed_size(zz_atomic_size *p, size_t v)
{
    return atomic_fetch_sub_explicit(p, v, memory_order_relaxed);
}
static inline int zz_atomic_cas_weak_relaxed_size(zz_atomic_size *p, size_t *expected,
                                                  size_t desired)
{
    return atomic_compare_exchange_weak_explicit(p, expected, desired, memory_order_relaxed,
                                                 memory_order_relaxed);
}

/* ---- plain size_t words of public structs ---- */
static inline size_t zz_atomic_word_load_relaxed(const size_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
/* Relaxed: for initialising a word before it is shared, or for a value no
 * other memory depends on. */
static inline void zz_atomic_word_store_relaxed(size_t *p, size_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline size_t zz_atomic_word_fetch_add_relaxed(size_t *p, size_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline size_t zz_atomic_word_fetch_sub_relaxed(size_t *p, size_t v)
{
    return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);
}
static inline int zz_atomic_word_cas_weak_relaxed(size_t *p, size_t *expected, size_t desired)
{
    return __atomic_compare_exchange_n(p, expected, desired, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

#endif
