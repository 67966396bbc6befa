/* SPDX-License-Identifier: MIT */
/*
 * zz_strerror and zz_err_name: every code of ZZ_ERROR_MAP has its own
 * message and its C name; unknown codes get a fixed non-NULL answer.
 */
#include "test_main.h"

#include "zigzag.h"

static const int all_codes[] = {
#define XX(name, value, msg) ZZ_##name,
    ZZ_ERROR_MAP(XX)
#undef XX
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

static void test_strerror_matches_map(void **state)
{
    (void)state;
#define XX(name, value, msg) assert_string_equal(zz_strerror(value), msg);
    ZZ_ERROR_MAP(XX)
#undef XX
}

static void test_strerror_messages_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        const char *m = zz_strerror(all_codes[i]);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_not_equal(m, zz_strerror(12345));
        assert_string_not_equal(m, zz_strerror(0));
        for (size_t j = i + 1; j < N_CODES; j++)
            assert_string_not_equal(m, zz_strerror(all_codes[j]));
    }
}

static void test_strerror_success(void **state)
{
    (void)state;
    assert_non_null(zz_strerror(0));
    assert_string_equal(zz_strerror(ZZ_OK), zz_strerror(0));
    assert_string_not_equal(zz_strerror(0), zz_strerror(ZZ_EINVAL));
}

static void test_strerror_unknown(void **state)
{
    (void)state;
    const int unknown[] = {1, 2, 12, -8, -100, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *m = zz_strerror(unknown[i]);
        assert_non_null(m);
        assert_string_equal(m, "unknown error");
        assert_string_equal(zz_err_name(unknown[i]), "ZZ_EUNKNOWN");
    }
}

static void test_err_name(void **state)
{
    (void)state;
    assert_string_equal(zz_err_name(0), "ZZ_OK");
    assert_string_equal(zz_err_name(ZZ_EINVAL), "ZZ_EINVAL");
    assert_string_equal(zz_err_name(ZZ_ENOMEM), "ZZ_ENOMEM");
    assert_string_equal(zz_err_name(ZZ_EFOREIGN), "ZZ_EFOREIGN");
    assert_string_equal(zz_err_name(ZZ_EDOUBLEFREE), "ZZ_EDOUBLEFREE");
    assert_string_equal(zz_err_name(ZZ_EBUSY), "ZZ_EBUSY");
    assert_string_equal(zz_err_name(ZZ_ECORRUPT), "ZZ_ECORRUPT");
    assert_string_equal(zz_err_name(ZZ_ELEAK), "ZZ_ELEAK");
#define XX(name, value, msg) assert_string_equal(zz_err_name(value), "ZZ_" #name);
    ZZ_ERROR_MAP(XX)
#undef XX
}

static void test_codes_negative_and_fixed(void **state)
{
    (void)state;
    /* The values are part of the ABI: fixed forever. */
    assert_int_equal(ZZ_OK, 0);
    assert_int_equal(ZZ_EINVAL, -1);
    assert_int_equal(ZZ_ENOMEM, -2);
    assert_int_equal(ZZ_EFOREIGN, -3);
    assert_int_equal(ZZ_EDOUBLEFREE, -4);
    assert_int_equal(ZZ_EBUSY, -5);
    for (size_t i = 0; i < N_CODES; i++) {
        assert_true(all_codes[i] < 0);
        for (size_t j = i + 1; j < N_CODES; j++)
            assert_int_not_equal(all_codes[i], all_codes[j]);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_strerror_matches_map),
    cmocka_unit_test(test_strerror_messages_distinct),
    cmocka_unit_test(test_strerror_success),
    cmocka_unit_test(test_strerror_unknown),
    cmocka_unit_test(test_err_name),
    cmocka_unit_test(test_codes_negative_and_fixed),
};

ZZ_TEST_MAIN(tests)
