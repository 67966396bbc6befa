/* SPDX-License-Identifier: MIT */
/*
 * The failing allocator of failing_allocator.h: counts calls and turns the
 * chosen ones into NULL without asking the inner allocator.
 */
#include "failing_allocator.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

static void *failing_alloc(void *ctx, size_t size, size_t align)
{
    zz_failing *f = ctx;
    size_t call = f->alloc_calls++;
    bool fail = f->fail_at != ZZ_FAILING_NEVER &&
                (call == f->fail_at || (f->fail_after && call > f->fail_at));
    if (fail) {
        f->failures++;
        return NULL;
    }
    /* zz_alloc applies the shared rules (size 0, bad alignment) for us. */
    return zz_alloc(f->inner, size, align);
}

static void failing_free(void *ctx, void *ptr, size_t size, size_t align)
{
    zz_failing *f = ctx;
    if (ptr == NULL)
        return;
    f->free_calls++;
    zz_free(f->inner, ptr, size, align);
}

static const zz_allocator_vtable failing_vtable = {
    .alloc = failing_alloc,
    .free = failing_free,
};

void zz_failing_init(zz_failing *f, zz_allocator inner, size_t fail_at, bool fail_after)
{
    f->inner = inner;
    zz_failing_rearm(f, fail_at, fail_after);
}

zz_allocator zz_failing_allocator(zz_failing *f)
{
    return (zz_allocator){.ctx = f, .vtable = &failing_vtable};
}

void zz_failing_rearm(zz_failing *f, size_t fail_at, bool fail_after)
{
    f->fail_at = fail_at;
    f->fail_after = fail_after;
    f->alloc_calls = 0;
    f->free_calls = 0;
    f->failures = 0;
}

/* Runs scenario once through f over a fresh counter and checks nothing leaked. */
static int run_counted(zz_allocator inner, zz_failing *f, zz_failing_scenario scenario, void *arg)
{
    zz_counting c;
    assert_int_equal(zz_counting_init(&c, inner), 0);
    f->inner = zz_counting_allocator(&c);
    int rc = scenario(zz_failing_allocator(f), arg);
    zz_counting_stats st;
    zz_counting_stats_get(&c, &st);
    if (st.live_allocs != 0 || st.live_bytes != 0)
        fail_msg("leak with call %zu failing: %zu allocations, %zu bytes still live", f->fail_at,
                 st.live_allocs, st.live_bytes);
    f->inner = inner; /* c dies here */
    return rc;
}

size_t zz_failing_check_all(zz_allocator inner, zz_failing_scenario scenario, void *arg)
{
    zz_failing f;
    zz_failing_init(&f, inner, ZZ_FAILING_NEVER, false);
    int rc = run_counted(inner, &f, scenario, arg);
    if (rc != 0)
        fail_msg("scenario failed (%d) with no failure injected", rc);
    size_t n = f.alloc_calls;
    for (size_t i = 0; i < n; i++) {
        zz_failing_rearm(&f, i, false);
        rc = run_counted(inner, &f, scenario, arg);
        assert_int_equal(f.failures, 1);
        if (rc == 0)
            fail_msg("scenario succeeded although allocation call %zu of %zu failed", i, n);
    }
    return n;
}
