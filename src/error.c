/* SPDX-License-Identifier: MIT */
/*
 * zz_strerror and zz_err_name, both generated from ZZ_ERROR_MAP in
 * include/zigzag/error.h, so a new code cannot lack a message or a name.
 */
#include "internal.h"

const char *zz_strerror(int err)
{
    switch (err) {
    case ZZ_OK:
        return "success";
#define ZZ_STRERROR_CASE_(name, value, msg)                                                        \
    case ZZ_##name:                                                                                \
        return msg;
        ZZ_ERROR_MAP(ZZ_STRERROR_CASE_)
#undef ZZ_STRERROR_CASE_
    default:
        return "unknown error";
    }
}

const char *zz_err_name(int err)
{
    switch (err) {
    case ZZ_OK:
        return "ZZ_OK";
#define ZZ_ERR_NAME_CASE_(name, value, msg)                                                        \
    case ZZ_##name:                                                                                \
        return "ZZ_" #name;
        ZZ_ERROR_MAP(ZZ_ERR_NAME_CASE_)
#undef ZZ_ERR_NAME_CASE_
    default:
        return "ZZ_EUNKNOWN";
    }
}
