/* SPDX-License-Identifier: MIT */
/*
 * Error codes. Every function that can fail returns int: 0 on success or one
 * of the negative ZZ_E* codes below. The values are zigzag's own (not errno),
 * fixed forever and never reused.
 */
#ifndef ZIGZAG_ERROR_H
#define ZIGZAG_ERROR_H

#include "defs.h"

ZZ_EXTERN_C_BEGIN

/* XX(name, value, message): the single list the enum and both name functions come from. */
#define ZZ_ERROR_MAP(XX)                                                                           \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory: the backing allocator or the pool is exhausted")                \
    XX(EFOREIGN, -3, "pointer is not the start of a block of this pool")                           \
    XX(EDOUBLEFREE, -4, "block is already free")                                                   \
    XX(EBUSY, -5, "blocks of the pool are still in use")                                           \
    XX(ECORRUPT, -6, "a free block was written: use after free, or an overflow into it")           \
    XX(ELEAK, -7, "blocks were still in use when the pool was destroyed")

/** Error codes; success is 0. */
enum zz_error {
    ZZ_OK = 0,
#define ZZ_ERROR_ENUM_ITEM_(name, value, msg) ZZ_##name = (value),
    ZZ_ERROR_MAP(ZZ_ERROR_ENUM_ITEM_)
#undef ZZ_ERROR_ENUM_ITEM_
};

/**
 * A sentence describing an error code, for people.
 * @param err 0 or a ZZ_E* code; any other value gives "unknown error".
 * @return a static string, never NULL. Thread-safe.
 */
ZZ_API const char *zz_strerror(int err);

/**
 * The code's name as written in C ("ZZ_EINVAL"), for logs and tests.
 * @return a static string, never NULL ("ZZ_OK" for 0, "ZZ_EUNKNOWN" otherwise).
 */
ZZ_API const char *zz_err_name(int err);

ZZ_EXTERN_C_END

#endif
