/* SPDX-License-Identifier: MIT */
/*
 * The library version: the one place it is written. CMake reads these three
 * lines for the project version, the shared library's SONAME and zigzag.pc.
 */
#ifndef ZIGZAG_VERSION_H
#define ZIGZAG_VERSION_H

#define ZZ_VERSION_MAJOR 0
#define ZZ_VERSION_MINOR 1
#define ZZ_VERSION_PATCH 0

/** The version as one comparable number: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define ZZ_VERSION (ZZ_VERSION_MAJOR * 10000 + ZZ_VERSION_MINOR * 100 + ZZ_VERSION_PATCH)

#endif
