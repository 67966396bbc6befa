# SPDX-License-Identifier: MIT
# ZZ_SANITIZE=address builds everything with ASan and UBSan, =thread with TSan.
# Applied to every target of this project so that the library and its tests agree.
if(ZZ_SANITIZE STREQUAL "address")
    set(zz_san_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(ZZ_SANITIZE STREQUAL "thread")
    set(zz_san_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT ZZ_SANITIZE STREQUAL "")
    message(FATAL_ERROR "ZZ_SANITIZE must be '', 'address' or 'thread', not '${ZZ_SANITIZE}'")
endif()
if(zz_san_flags)
    add_compile_options(${zz_san_flags})
    add_link_options(${zz_san_flags})
endif()
