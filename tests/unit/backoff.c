/* SPDX-License-Identifier: MIT */
/*
 * The backoff of the list's retry loops (platform/backoff.h): each wait is
 * twice the one before, from one pause up to the bound, and stays there.
 */
#include "platform/backoff.h"
#include "test_main.h"

static void test_wait_doubles_up_to_the_bound(void **state)
{
    (void)state;
    struct zz_backoff b = ZZ_BACKOFF_INIT;
    uint32_t want = 1, waits = 0;
    while (want < ZZ_BACKOFF_MAX_SPINS) {
        assert_int_equal(b.spins, want);
        zz__backoff_wait(&b);
        want *= 2;
        waits++;
    }
    /* log2 of the bound waits to reach it: the bound is a power of two. */
    assert_int_equal(1u << waits, ZZ_BACKOFF_MAX_SPINS);
    for (int i = 0; i < 3; i++) {
        zz__backoff_wait(&b);
        assert_int_equal(b.spins, ZZ_BACKOFF_MAX_SPINS);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_wait_doubles_up_to_the_bound),
};

ZZ_TEST_MAIN(tests)
