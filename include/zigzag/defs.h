/* SPDX-License-Identifier: MIT */
/*
 * Declaration helpers shared by the public headers: symbol visibility and
 * C++ linkage. Nothing else belongs here.
 */
#ifndef ZIGZAG_DEFS_H
#define ZIGZAG_DEFS_H

/* The library is built with -fvisibility=hidden; ZZ_API marks the exports. */
#if defined(ZZ_BUILDING_LIBRARY) && defined(__GNUC__)
#define ZZ_API __attribute__((visibility("default")))
#else
#define ZZ_API
#endif

#ifdef __cplusplus
#define ZZ_EXTERN_C_BEGIN extern "C" {
#define ZZ_EXTERN_C_END }
#else
#define ZZ_EXTERN_C_BEGIN
#define ZZ_EXTERN_C_END
#endif

#endif
