/* SPDX-License-Identifier: MIT */
/*
 * zigzag: explicit, fast, safe memory allocation. The umbrella header: it
 * includes the public headers and nothing else.
 */
#ifndef ZIGZAG_H
#define ZIGZAG_H

#include "zigzag/version.h"
#include "zigzag/error.h"
#include "zigzag/allocator.h"
#include "zigzag/pool.h"

#endif
