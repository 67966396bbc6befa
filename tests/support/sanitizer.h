/* SPDX-License-Identifier: MIT */
/*
 * Which sanitizer a test is built under, for the few tests whose subject
 * (resident memory, iteration counts) a sanitizer's runtime distorts, and
 * a way to look into free blocks that ASan guards.
 */
#ifndef ZZ_TEST_SANITIZER_H
#define ZZ_TEST_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define ZZ_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZZ_UNDER_ASAN 1
#endif
#endif
#ifndef ZZ_UNDER_ASAN
#define ZZ_UNDER_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__)
#define ZZ_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZZ_UNDER_TSAN 1
#endif
#endif
#ifndef ZZ_UNDER_TSAN
#define ZZ_UNDER_TSAN 0
#endif

/* Tests that look into free blocks on purpose (to check zeroing, or to
 * play the application's bug) first make them accessible to ASan and to
 * memcheck, which the pool's hooks otherwise keep them from. Nothing
 * otherwise (memcheck's request is a no-op outside Valgrind). */
#if ZZ_UNDER_ASAN
#include <sanitizer/asan_interface.h>
#define ZZ_TEST_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ZZ_TEST_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define ZZ_TEST_MEMCHECK_DEFINE(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef ZZ_TEST_MEMCHECK_DEFINE
#define ZZ_TEST_MEMCHECK_DEFINE(p, n) ((void)(p), (void)(n))
#endif
#define ZZ_TEST_UNPOISON(p, n)                                                                     \
    do {                                                                                           \
        ZZ_TEST_ASAN_UNPOISON(p, n);                                                               \
        ZZ_TEST_MEMCHECK_DEFINE(p, n);                                                             \
    } while (0)

#endif
