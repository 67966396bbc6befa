/* SPDX-License-Identifier: MIT */
/*
 * The relaxed accesses that fold into their users (platform/atomic.h):
 * inline asm on x86-64 builds without sanitizers, C11 elsewhere. Both
 * forms give the answers of the plain C expressions they stand for, at the
 * edges of 32-bit signed and unsigned ranges too, and touch only the word
 * they name, whatever the addressing mode the compiler picks for it.
 */
#include "platform/atomic.h"
#include "test_main.h"

static const uint32_t edges[] = {0,           1,           2,           0x7ffffffeu, 0x7fffffffu,
                                 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu, 12345};
#define N_EDGES (sizeof edges / sizeof edges[0])

/* Each helper on word value a with argument b, against plain C. */
static void check_pair(uint32_t a, uint32_t b)
{
    zz_atomic_u32 w;
    zz_atomic_store_relaxed_u32(&w, a);
    assert_int_equal(zz_atomic_load_relaxed_equals_u32(&w, b), a == b);
    assert_int_equal(zz_atomic_load_relaxed_below_i32(&w, b), (int32_t)b > (int32_t)a);
    assert_int_equal(zz_atomic_load_relaxed_u32(&w), a); /* the compares leave it */
    bool done = zz_atomic_replace_relaxed_u32(&w, b, 0x5a5a5a5au);
    assert_int_equal(done, a == b);
    assert_int_equal(zz_atomic_load_relaxed_u32(&w), done ? 0x5a5a5a5au : a);
}

static void test_helpers_match_c_at_the_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_EDGES; i++)
        for (size_t j = 0; j < N_EDGES; j++)
            check_pair(edges[i], edges[j]);
}

/* The cache's use of the signed compare: a fill with STEAL set is never
 * above a floor. */
static void test_below_rejects_a_stolen_fill(void **state)
{
    (void)state;
    zz_atomic_u32 w;
    zz_atomic_store_relaxed_u32(&w, 1);
    assert_false(zz_atomic_load_relaxed_below_i32(&w, 0x80000005u));
    assert_true(zz_atomic_load_relaxed_below_i32(&w, 2));
    assert_false(zz_atomic_load_relaxed_below_i32(&w, 1));
}

/* Indexed from a base at a fixed offset, as the pool's links are: each
 * access reaches its own element and leaves its neighbours alone. */
static void test_indexed_accesses_touch_one_word(void **state)
{
    (void)state;
    struct {
        uint64_t header[5];
        zz_atomic_u32 words[64];
    } s;
    for (uint32_t i = 0; i < 64; i++)
        zz_atomic_store_relaxed_u32(&s.words[i], i);
    for (volatile uint32_t k = 0; k < 64; k++) {
        uint32_t i = k;
        zz_atomic_store_relaxed_u32_folded(&s.words[i], 1000 + i);
        assert_true(zz_atomic_load_relaxed_equals_u32(&s.words[i], 1000 + i));
        assert_true(zz_atomic_replace_relaxed_u32(&s.words[i], 1000 + i, 2000 + i));
        assert_false(zz_atomic_replace_relaxed_u32(&s.words[i], 1000 + i, 3000 + i));
        assert_true(zz_atomic_load_relaxed_below_i32(&s.words[i], 2001 + i));
    }
    for (uint32_t i = 0; i < 64; i++)
        assert_int_equal(zz_atomic_load_relaxed_u32(&s.words[i]), 2000 + i);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_helpers_match_c_at_the_edges),
    cmocka_unit_test(test_below_rejects_a_stolen_fill),
    cmocka_unit_test(test_indexed_accesses_touch_one_word),
};

ZZ_TEST_MAIN(tests)
