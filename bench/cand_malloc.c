/* SPDX-License-Identifier: MIT */
/*
 * General-purpose mallocs as candidates: glibc's, and jemalloc, mimalloc and
 * tcmalloc each replacing malloc in its own process through LD_PRELOAD.
 *
 * A malloc result is only worth reporting if that malloc really served it,
 * so init finds which shared object the process's `malloc` and `free`
 * symbols resolve to (dlsym(RTLD_DEFAULT) + dladdr: what every call in the
 * process binds to) and checks for the library's own API symbol (mallctl,
 * mi_version, tc_version). When the wrong malloc is active, init asks
 * zzbench to re-run itself with LD_PRELOAD, or refuses.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candidate.h"

/* Build-time paths of the preload libraries (bench/CMakeLists.txt); sonames as a fallback. */
#ifndef ZZB_JEMALLOC_LIB
#define ZZB_JEMALLOC_LIB "libjemalloc.so.2"
#endif
#ifndef ZZB_MIMALLOC_LIB
#define ZZB_MIMALLOC_LIB "libmimalloc.so.2"
#endif
#ifndef ZZB_TCMALLOC_LIB
#define ZZB_TCMALLOC_LIB "libtcmalloc_minimal.so.4"
#endif

/* What identifies each malloc: a substring of its file name and its own API symbol. */
enum { M_GLIBC, M_JEMALLOC, M_MIMALLOC, M_TCMALLOC };
static const struct {
    const char *file_part;
    const char *api_symbol;
} ident[] = {
    [M_GLIBC] = {"libc.so", NULL},
    [M_JEMALLOC] = {"jemalloc", "mallctl"},
    [M_MIMALLOC] = {"mimalloc", "mi_version"},
    [M_TCMALLOC] = {"tcmalloc", "tc_version"},
};

static const char *defining_file(const char *symbol)
{
    Dl_info info;
    void *addr = dlsym(RTLD_DEFAULT, symbol);
    if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL)
        return "?";
    return info.dli_fname;
}

static int m_init(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    const char *m = defining_file("malloc");
    const char *f = defining_file("free");
    int want = (int)self->arg;
    (void)cfg;
    if (strstr(m, ident[want].file_part) != NULL && strstr(f, ident[want].file_part) != NULL &&
        (ident[want].api_symbol == NULL || dlsym(RTLD_DEFAULT, ident[want].api_symbol) != NULL))
        return 0;
    snprintf(why, n, "%s is not the active malloc (malloc from %s, free from %s)", self->name, m,
             f);
    return self->preload != NULL ? ZZB_INIT_NEED_PRELOAD : ZZB_INIT_UNAVAILABLE;
}

static void *m_create(const zzb_candidate *self, const zzb_config *cfg, char *why, size_t n)
{
    /* The state is the object size; malloc'd so that it is a real pointer, never freed early. */
    size_t *size = malloc(sizeof(*size));
    (void)self;
    if (size == NULL) {
        snprintf(why, n, "malloc failed");
        return NULL;
    }
    *size = cfg->size;
    return size;
}

static void *m_alloc(void *ctx)
{
    return malloc(*(const size_t *)ctx);
}

static void m_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

ZZB_DIRECT_LOOP(m_hot_direct, m_alloc, m_free)

static void m_destroy(void *state)
{
    free(state);
}

static void m_version(const zzb_candidate *self, char *buf, size_t n)
{
    void *sym =
        ident[self->arg].api_symbol ? dlsym(RTLD_DEFAULT, ident[self->arg].api_symbol) : NULL;
    switch ((int)self->arg) {
    case M_JEMALLOC: {
        int (*mallctl)(const char *, void *, size_t *, void *, size_t) = NULL;
        const char *v = "?";
        size_t len = sizeof(v);
        *(void **)&mallctl = sym;
        if (mallctl == NULL || mallctl("version", (void *)&v, &len, NULL, 0) != 0)
            v = "?";
        snprintf(buf, n, "jemalloc %s", v);
        break;
    }
    case M_MIMALLOC: {
        int (*mi_version)(void) = NULL;
        *(void **)&mi_version = sym;
        snprintf(buf, n, "mimalloc %d", mi_version ? mi_version() : -1);
        break;
    }
    case M_TCMALLOC: {
        const char *(*tc_version)(int *, int *, const char **) = NULL;
        *(void **)&tc_version = sym;
        snprintf(buf, n, "%s", tc_version ? tc_version(NULL, NULL, NULL) : "tcmalloc ?");
        break;
    }
    default:
        snprintf(buf, n, "glibc %s", gnu_get_libc_version());
    }
}

#define ZZB_MALLOC(id, label, which, lib, what)                                                    \
    const zzb_candidate id = {                                                                     \
        .name = label,                                                                             \
        .note = what,                                                                              \
        .caps = ZZB_CAP_CROSS_FREE,                                                                \
        .arg = (which),                                                                            \
        .preload = lib,                                                                            \
        .init = m_init,                                                                            \
        .create = m_create,                                                                        \
        .thread_ctx = zzb_ctx_is_state,                                                            \
        .thread_done = zzb_ctx_done_nothing,                                                       \
        .alloc = m_alloc,                                                                          \
        .free = m_free,                                                                            \
        .hot_direct = m_hot_direct,                                                                \
        .destroy = m_destroy,                                                                      \
        .version = m_version,                                                                      \
    }

ZZB_MALLOC(zzb_cand_glibc, "glibc", M_GLIBC, NULL, "glibc malloc/free");
ZZB_MALLOC(zzb_cand_jemalloc, "jemalloc", M_JEMALLOC, ZZB_JEMALLOC_LIB,
           "malloc/free, jemalloc via LD_PRELOAD");
ZZB_MALLOC(zzb_cand_mimalloc, "mimalloc", M_MIMALLOC, ZZB_MIMALLOC_LIB,
           "malloc/free, mimalloc via LD_PRELOAD");
ZZB_MALLOC(zzb_cand_tcmalloc, "tcmalloc", M_TCMALLOC, ZZB_TCMALLOC_LIB,
           "malloc/free, tcmalloc_minimal via LD_PRELOAD");
