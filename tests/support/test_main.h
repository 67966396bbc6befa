/* SPDX-License-Identifier: MIT */
/*
 * The main() of every cmocka test program. With no argument it runs the
 * whole group; with one it runs only the test of that name, which is how
 * CTest runs each test in its own process (a crash or a hang is one failure,
 * and CTest's timeout applies to each). An unknown name is an error, so a
 * renamed test cannot silently pass by running nothing.
 */
#ifndef ZZ_TEST_MAIN_H
#define ZZ_TEST_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define ZZ_TEST_MAIN(tests)                                                                        \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        if (argc > 1) {                                                                            \
            size_t found = 0;                                                                      \
            for (size_t i = 0; i < sizeof(tests) / sizeof((tests)[0]); i++)                        \
                found += strcmp((tests)[i].name, argv[1]) == 0;                                    \
            if (found != 1) {                                                                      \
                fprintf(stderr, "no test named '%s'\n", argv[1]);                                  \
                return 2;                                                                          \
            }                                                                                      \
            cmocka_set_test_filter(argv[1]);                                                       \
        }                                                                                          \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

#endif
