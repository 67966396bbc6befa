// SPDX-License-Identifier: MIT
//
// The public header as C++ (built as C++11 and as C++17, -Wall -Wextra
// -Werror): extern "C" linkage, no C-only syntax leaking out of the macros,
// and ZZ_POOL_OPTIONS_FOR usable with auto. Links against the C library and
// runs, so a linkage mistake (mangled names) fails too.
#include <cstdio>
#include <new>

#include <zigzag.h>

namespace
{

struct Widget {
    double weight;
    long id;
    char name[20];
};

bool check(bool ok, const char *what)
{
    if (!ok)
        std::fprintf(stderr, "header_cxx: %s failed\n", what);
    return ok;
}

} // namespace

int main()
{
    auto o = ZZ_POOL_OPTIONS_FOR(Widget, 16);
    bool ok = check(o.size == sizeof(Widget) && o.align == alignof(Widget) && o.capacity == 16 &&
                        o.flags == 0 && o.backing.vtable == nullptr,
                    "ZZ_POOL_OPTIONS_FOR");

    zz_pool *pool = nullptr;
    int rc = zz_pool_create(&pool, &o);
    if (!check(rc == 0, "zz_pool_create")) {
        std::fprintf(stderr, "%s\n", zz_strerror(rc));
        return 1;
    }
    void *mem = zz_pool_alloc(pool);
    ok = check(mem != nullptr, "zz_pool_alloc") && ok;
    if (mem != nullptr) {
        // Placement new is how C++ code puts objects in pool blocks.
        Widget *w = new (mem) Widget{1.5, 42, "gear"};
        ok = check(w->id == 42, "placement new") && ok;
        w->~Widget();
        ok = check(zz_pool_free(pool, mem) == 0, "zz_pool_free") && ok;
    }
    zz_pool_stats st;
    zz_pool_stats_get(pool, &st);
    ok = check(st.in_use == 0 && st.capacity == 16 && st.block_size >= sizeof(Widget),
               "zz_pool_stats_get") &&
         ok;
    zz_pool_destroy(pool);

    zz_allocator a = zz_system_allocator();
    void *p = zz_alloc(a, 32, 16);
    ok = check(p != nullptr, "zz_alloc") && ok;
    zz_free(a, p, 32, 16);

    if (!ok)
        return 1;
    std::printf("header_cxx (C++%ld): ok\n", static_cast<long>(__cplusplus / 100 % 100));
    return 0;
}
