/* SPDX-License-Identifier: MIT */
/*
 * Which sanitizer a test is built under, for the few tests whose subject
 * (resident memory, iteration counts) a sanitizer's runtime distorts.
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

#endif
