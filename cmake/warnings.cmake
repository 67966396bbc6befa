# SPDX-License-Identifier: MIT
# Warning flags for our own targets (never forced on the users of the library).
set(ZZ_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wcast-align -Wpointer-arith -Wformat=2 -Wundef)
if(ZZ_WERROR)
    list(APPEND ZZ_WARNING_FLAGS -Werror)
endif()

function(zz_target_warnings target)
    target_compile_options(${target} PRIVATE ${ZZ_WARNING_FLAGS})
endfunction()
