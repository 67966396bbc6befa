/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pool. The input is a small program: each step is
 * one byte (bits 0-4: the operation, bits 5-7 modulo 3: which of three pool
 * slots) followed by the operation's own argument bytes; a step on an empty
 * slot other than CREATE is skipped. Missing bytes read as zero.
 *
 * Every step runs on zigzag and on a reference model of each pool: every
 * block known by address as unseen (a block start never handed out), in use
 * or free, plus capacity, in_use, peak and the count of refused misuses.
 * Every return value, every misuse report and, after every step, every
 * figure of zz_pool_stats_get must agree with the model and with pool.h.
 * A mismatch prints what differed and aborts.
 *
 * Single-threaded on purpose: figures that pool.h calls exact only at
 * quiescence are then exact after every step. Blocks in use carry a stamp
 * over all their bytes, checked before they are freed, so a block handed out
 * twice, or written by the pool while in use, shows. A block is never
 * touched after it is freed: the ASan build of the library poisons it.
 *
 * tests/fuzz/make_corpus.py writes programs in this encoding; keep the two
 * in step (the operation table below and its OP_* values).
 * POOL_FUZZ_TRACE=1 in the environment prints each step.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zigzag/allocator.h>
#include <zigzag/error.h>
#include <zigzag/pool.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define PF_ASAN 1
#endif
#endif
#ifndef PF_ASAN
#define PF_ASAN 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PF_POOLS 3
#define PF_MAX_OPS 4096
/* Bytes of blocks per pool at most, so that a run stays fast and small. */
#define PF_SLAB_LIMIT ((size_t)256 << 10)
#define PF_MAX_CAPACITY 2000u
/* Room for PF_SLAB_LIMIT of blocks, the links, 64 caches of 256 entries, a
 * guard page and alignment padding, with margin. */
#define PF_ARENA_SIZE ((size_t)1 << 20)
#define PF_ALLOC_BULK_MAX 48u
#define PF_FREE_BULK_MAX 16u

/* ------------------------------------------------------------------------ */
/* Failing loudly                                                          */
/* ------------------------------------------------------------------------ */

static unsigned long pf_step;
static const char *pf_step_name = "setup";

static void pf_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

static void pf_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "pool_fuzz: step %lu (%s): %s:%d: check failed: %s\n  ", pf_step, pf_step_name,
            file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

#define PF_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            pf_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
    } while (0)

/* POOL_FUZZ_TRACE=1 in the environment: one line per step on stderr, to
 * read what a seed or a crash file does. */
static bool pf_trace(void)
{
    static int trace = -1;
    if (trace < 0)
        trace = getenv("POOL_FUZZ_TRACE") != NULL;
    return trace != 0;
}

/* ------------------------------------------------------------------------ */
/* Reading the input                                                       */
/* ------------------------------------------------------------------------ */

struct pf_in {
    const uint8_t *p;
    size_t n;
};

static unsigned pf_u8(struct pf_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned pf_u16(struct pf_in *in)
{
    unsigned lo = pf_u8(in);
    return lo | pf_u8(in) << 8;
}

/* ------------------------------------------------------------------------ */
/* The model                                                               */
/* ------------------------------------------------------------------------ */

enum { PF_UNSEEN, PF_LIVE, PF_FREE };

enum {
    PF_BACK_DEFAULT,      /* all-zero backing: the page allocator */
    PF_BACK_PAGE,         /* zz_page_allocator() given explicitly */
    PF_BACK_SYSTEM,       /* zz_system_allocator() */
    PF_BACK_FIXED,        /* a zz_fixed_buffer over a static arena */
    PF_BACK_COUNT_SYSTEM, /* counting over system: proves nothing leaks */
    PF_BACK_COUNT_FIXED,  /* counting over the fixed buffer */
    PF_BACK_KINDS
};

struct pf_block {
    uintptr_t addr;     /* 0: an empty slot of the table */
    uint64_t stamp;     /* while in use: what its bytes hold */
    size_t stamp_len;   /* bytes stamped: the stride, or the size asked via the allocator */
    size_t alloc_size;  /* for zz_free through the pool's allocator */
    size_t alloc_align; /* likewise */
    uint32_t pos;       /* index in the pool's live[] or freed[] */
    uint8_t state;      /* PF_UNSEEN, PF_LIVE or PF_FREE */
    uint8_t handed_out; /* ever handed out: ZZ_POOL_ZERO_ON_DESTROY must zero it */
    uint8_t claimed;    /* scratch of the free_bulk model */
};

struct pf_pool;

/* What the misuse handler must see during the current call. */
struct pf_handler {
    struct pf_pool *m;
    int want_error; /* 0: no report may come */
    const void *want_ptr;
    const char *want_fn;
    const char *want_fn2; /* another acceptable name, or NULL */
    size_t want_count;
    unsigned reports; /* during the current call */
};

struct pf_pool {
    zz_pool *pool; /* NULL: the slot is empty */
    size_t size, align, capacity, thread_cache;
    unsigned flags;
    size_t stride, block_align; /* as stats reported at creation */
    int backing;
    zz_fixed_buffer fb;
    zz_counting counting;
    size_t in_use, peak, misuses;
    struct pf_block *tab; /* open addressing, keyed by address */
    size_t tab_mask, known;
    uint32_t *live, nlive;   /* table indices of blocks in use */
    uint32_t *freed, nfreed; /* table indices of blocks handed out, now free */
    uintptr_t base;          /* block 0, once pf_scan found it */
    bool have_base;
    bool has_handler;
    struct pf_handler h;
};

static struct pf_pool pf_pools[PF_POOLS];
static _Alignas(4096) unsigned char pf_arena[PF_POOLS][PF_ARENA_SIZE];
static unsigned char pf_static_probe[64];
static unsigned char *pf_heap_probe;
static unsigned char *pf_stack_probe;
static uint64_t pf_stamp_seq;

static bool pf_is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static const char *pf_err(int rc)
{
    return zz_err_name(rc);
}

static size_t pf_hash(uintptr_t a)
{
    return (size_t)(((uint64_t)a * 0x9E3779B97F4A7C15u) >> 29);
}

static struct pf_block *pf_find(const struct pf_pool *m, uintptr_t a)
{
    for (size_t i = pf_hash(a) & m->tab_mask;; i = (i + 1) & m->tab_mask) {
        if (m->tab[i].addr == a)
            return &m->tab[i];
        if (m->tab[i].addr == 0)
            return NULL;
    }
}

static struct pf_block *pf_insert(struct pf_pool *m, uintptr_t a)
{
    /* Strict capacity: no more distinct block starts than blocks. */
    PF_CHECK(m->known < m->capacity,
             "pool %p shows a %zuth distinct block %#lx, capacity %zu (stride %zu)",
             (void *)m->pool, m->known + 1, (unsigned long)a, m->capacity, m->stride);
    size_t i = pf_hash(a) & m->tab_mask;
    while (m->tab[i].addr != 0)
        i = (i + 1) & m->tab_mask;
    memset(&m->tab[i], 0, sizeof(m->tab[i]));
    m->tab[i].addr = a;
    m->tab[i].state = PF_UNSEEN;
    m->known++;
    return &m->tab[i];
}

static void pf_list_add(struct pf_pool *m, uint32_t *list, uint32_t *n, struct pf_block *b)
{
    b->pos = *n;
    list[(*n)++] = (uint32_t)(b - m->tab);
}

static void pf_list_del(struct pf_pool *m, uint32_t *list, uint32_t *n, struct pf_block *b)
{
    uint32_t last = list[--*n];
    list[b->pos] = last;
    m->tab[last].pos = b->pos;
}

static uint64_t pf_word(uint64_t stamp, size_t i)
{
    return stamp ^ ((uint64_t)i * 0xD6E8FEB86659FD93u);
}

static void pf_stamp_write(unsigned char *p, size_t len, uint64_t stamp)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = pf_word(stamp, i);
        memcpy(p + i, &w, len - i < 8 ? len - i : 8);
    }
}

/* The block's bytes still hold its stamp: nobody else wrote it while in use. */
static void pf_stamp_verify(const struct pf_pool *m, const struct pf_block *b)
{
    const unsigned char *p = (const unsigned char *)b->addr;
    for (size_t i = 0; i < b->stamp_len; i += 8) {
        uint64_t w = pf_word(b->stamp, i);
        size_t k = b->stamp_len - i < 8 ? b->stamp_len - i : 8;
        if (memcmp(p + i, &w, k) != 0) {
            size_t at = i;
            while (p[at] == ((const unsigned char *)&w)[at - i])
                at++;
            PF_CHECK(false,
                     "block %p of pool %p (stride %zu, flags %#x) in use was changed at byte %zu: "
                     "%#x, stamped %#x (handed out twice, or written by the pool)",
                     (void *)p, (void *)m->pool, m->stride, m->flags, at, p[at],
                     ((const unsigned char *)&w)[at - i]);
        }
    }
}

static void pf_check_stats(const struct pf_pool *m)
{
    zz_pool_stats s;
    memset(&s, 0xA5, sizeof(s));
    zz_pool_stats_get(m->pool, &s);
    PF_CHECK(s.capacity == m->capacity, "capacity %zu, want %zu", s.capacity, m->capacity);
    PF_CHECK(s.in_use == m->in_use, "in_use %zu, want %zu", s.in_use, m->in_use);
    PF_CHECK(s.peak_in_use == m->peak, "peak_in_use %zu, want %zu (in_use %zu, flags %#x)",
             s.peak_in_use, m->peak, m->in_use, m->flags);
    PF_CHECK(s.block_size == m->stride, "block_size %zu changed from %zu", s.block_size, m->stride);
    PF_CHECK(s.block_align == m->block_align, "block_align %zu changed from %zu", s.block_align,
             m->block_align);
    PF_CHECK(s.flags == m->flags, "flags %#x, want %#x", s.flags, m->flags);
    if (m->flags & ZZ_POOL_GUARD_PAGES)
        PF_CHECK(s.slab_bytes >= m->capacity * m->stride, "slab_bytes %zu < %zu * %zu",
                 s.slab_bytes, m->capacity, m->stride);
    else
        PF_CHECK(s.slab_bytes == m->capacity * m->stride, "slab_bytes %zu != %zu * %zu",
                 s.slab_bytes, m->capacity, m->stride);
    /* One thread: at most its own cache's worth rests in caches. */
    PF_CHECK(s.cached <= m->capacity - m->in_use && s.cached <= s.thread_cache,
             "cached %zu (in_use %zu of %zu, thread_cache %zu)", s.cached, m->in_use, m->capacity,
             s.thread_cache);
    if (m->flags & ZZ_POOL_NO_CACHE)
        PF_CHECK(s.thread_cache == 0, "thread_cache %zu with ZZ_POOL_NO_CACHE", s.thread_cache);
    else if (m->thread_cache != 0)
        PF_CHECK(s.thread_cache == m->thread_cache, "thread_cache %zu, asked %zu", s.thread_cache,
                 m->thread_cache);
    else
        PF_CHECK(s.thread_cache <= ZZ_POOL_MAX_THREAD_CACHE, "default thread_cache %zu",
                 s.thread_cache);
    PF_CHECK(s.misuses == m->misuses, "misuses %zu, want %zu", s.misuses, m->misuses);
}

/* ------------------------------------------------------------------------ */
/* Misuse reports                                                          */
/* ------------------------------------------------------------------------ */

static void pf_check_format(const zz_pool_misuse *r)
{
    char line[512], small[8];
    size_t len = zz_pool_misuse_format(r, line, sizeof(line));
    PF_CHECK(len > 0 && len < sizeof(line), "misuse line of length %zu", len);
    PF_CHECK(strlen(line) == len, "misuse line \"%s\": length %zu returned", line, len);
    PF_CHECK(strstr(line, r->function) != NULL, "misuse line \"%s\" does not name %s", line,
             r->function);
    PF_CHECK(strstr(line, zz_err_name(r->error)) != NULL ||
                 strstr(line, zz_strerror(r->error)) != NULL,
             "misuse line \"%s\" does not name the error %s", line, pf_err(r->error));
    PF_CHECK(zz_pool_misuse_format(r, NULL, 0) == len, "length differs without a buffer");
    for (size_t k = 0; k <= sizeof(small); k++) {
        memset(small, 'x', sizeof(small));
        PF_CHECK(zz_pool_misuse_format(r, small, k) == len, "length differs with %zu bytes", k);
        if (k == 0) {
            PF_CHECK(small[0] == 'x', "buffer of size 0 written");
            continue;
        }
        size_t kept = len < k - 1 ? len : k - 1;
        PF_CHECK(memcmp(small, line, kept) == 0 && small[kept] == '\0',
                 "truncation to %zu bytes is not the line's prefix", k);
        PF_CHECK(k == sizeof(small) || small[k] == 'x', "wrote past %zu bytes", k);
    }
}

static void pf_visit_count(void *ctx, void *block)
{
    (void)block;
    ++*(size_t *)ctx;
}

static void pf_on_misuse(void *ctx, const zz_pool_misuse *r)
{
    struct pf_handler *h = ctx;
    struct pf_pool *m = h->m;
    PF_CHECK(r != NULL, "NULL report");
    PF_CHECK(r->function != NULL, "report without a function (error %s)", pf_err(r->error));
    PF_CHECK(h->want_error != 0, "unexpected report: %s in %s, ptr %p, offset %zu, count %zu",
             pf_err(r->error), r->function, r->ptr, r->offset, r->count);
    PF_CHECK(h->reports == 0, "second report in one call: %s in %s, ptr %p", pf_err(r->error),
             r->function, r->ptr);
    h->reports++;
    PF_CHECK(r->pool == m->pool, "report names pool %p, not %p", (const void *)r->pool,
             (void *)m->pool);
    PF_CHECK(r->error == h->want_error, "report says %s, want %s (ptr %p, in %s)", pf_err(r->error),
             pf_err(h->want_error), r->ptr, r->function);
    PF_CHECK(r->ptr == h->want_ptr, "report names %p, want %p (%s in %s)", r->ptr, h->want_ptr,
             pf_err(r->error), r->function);
    PF_CHECK(strcmp(r->function, h->want_fn) == 0 ||
                 (h->want_fn2 != NULL && strcmp(r->function, h->want_fn2) == 0),
             "report from \"%s\", want \"%s\"", r->function, h->want_fn);
    if (r->error == ZZ_ELEAK)
        PF_CHECK(r->count == h->want_count, "ZZ_ELEAK count %zu, want %zu", r->count,
                 h->want_count);
    /* The handler may read the pool; a refused call has changed nothing. */
    zz_pool_stats s;
    zz_pool_stats_get(m->pool, &s);
    PF_CHECK(s.in_use == m->in_use, "in the handler, in_use %zu, want %zu", s.in_use, m->in_use);
    PF_CHECK(s.misuses == m->misuses || s.misuses == m->misuses + 1,
             "in the handler, misuses %zu, want %zu or one more", s.misuses, m->misuses);
    size_t visited = 0;
    size_t n = zz_pool_visit_live(m->pool, pf_visit_count, &visited);
    PF_CHECK(n == m->in_use && visited == n,
             "in the handler, visit_live %zu (%zu visits), want %zu", n, visited, m->in_use);
    pf_check_format(r);
}

/* Sets what the handler must see during the next call: one report when
 * err != 0, none otherwise. */
static void pf_expect(struct pf_pool *m, int err, const void *ptr, const char *fn, const char *fn2,
                      size_t count)
{
    m->h.want_error = err;
    m->h.want_ptr = ptr;
    m->h.want_fn = fn;
    m->h.want_fn2 = fn2;
    m->h.want_count = count;
    m->h.reports = 0;
}

static void pf_expect_done(struct pf_pool *m)
{
    if (m->has_handler)
        PF_CHECK(m->h.reports == (m->h.want_error != 0 ? 1u : 0u), "%u reports, want %s in %s",
                 m->h.reports, pf_err(m->h.want_error), m->h.want_fn != NULL ? m->h.want_fn : "-");
    pf_expect(m, 0, NULL, NULL, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Blocks going out and coming back                                        */
/* ------------------------------------------------------------------------ */

static void pf_block_out(struct pf_pool *m, void *p, size_t stamp_len, size_t asize, size_t aalign)
{
    uintptr_t a = (uintptr_t)p;
    PF_CHECK(p != NULL, "NULL block with %zu of %zu in use", m->in_use, m->capacity);
    PF_CHECK(a % m->block_align == 0, "block %p not aligned to %zu", p, m->block_align);
    PF_CHECK(zz_pool_owns(m->pool, p), "pool does not own the block %p it handed out", p);
    if (m->have_base)
        PF_CHECK(a >= m->base && a - m->base < m->capacity * m->stride &&
                     (a - m->base) % m->stride == 0,
                 "block %p is not a block start of [%#lx, +%zu * %zu)", p, (unsigned long)m->base,
                 m->capacity, m->stride);
    for (int i = 0; i < PF_POOLS; i++) {
        const struct pf_pool *o = &pf_pools[i];
        if (o == m || o->pool == NULL)
            continue;
        PF_CHECK(!zz_pool_owns(o->pool, p) && pf_find(o, a) == NULL,
                 "block %p of pool %p is also one of pool %p", p, (void *)m->pool, (void *)o->pool);
    }
    struct pf_block *b = pf_find(m, a);
    if (b == NULL)
        b = pf_insert(m, a);
    PF_CHECK(b->state != PF_LIVE, "block %p handed out twice (in_use %zu of %zu, flags %#x)", p,
             m->in_use, m->capacity, m->flags);
    if (b->state == PF_FREE)
        pf_list_del(m, m->freed, &m->nfreed, b);
    b->state = PF_LIVE;
    b->handed_out = 1;
    pf_list_add(m, m->live, &m->nlive, b);
    b->stamp = ++pf_stamp_seq * 0x9E3779B97F4A7C15u ^ (uint64_t)a;
    b->stamp_len = stamp_len;
    b->alloc_size = asize;
    b->alloc_align = aalign;
    pf_stamp_write(p, stamp_len, b->stamp);
    m->in_use++;
    if (m->in_use > m->peak)
        m->peak = m->in_use;
}

static void pf_block_back(struct pf_pool *m, struct pf_block *b)
{
    pf_list_del(m, m->live, &m->nlive, b);
    b->state = PF_FREE;
    pf_list_add(m, m->freed, &m->nfreed, b);
    m->in_use--;
}

/* What freeing ptr must return, by the model; *bp gets its block, if known. */
static int pf_expect_free(const struct pf_pool *m, const void *ptr, struct pf_block **bp)
{
    *bp = NULL;
    if (ptr == NULL)
        return 0;
    uintptr_t a = (uintptr_t)ptr;
    struct pf_block *b = pf_find(m, a);
    if (b == NULL) {
        /* After a scan every block start is known; before it, the pointers
         * made are never starts of this pool's blocks. */
        if (m->have_base)
            PF_CHECK(!(a >= m->base && a - m->base < m->capacity * m->stride &&
                       (a - m->base) % m->stride == 0),
                     "model: block %p missed by the scan", ptr);
        return ZZ_EFOREIGN;
    }
    *bp = b;
    return b->state == PF_LIVE ? 0 : ZZ_EDOUBLEFREE; /* never handed out is free too */
}

/* Finds block 0 and every block start through zz_pool_owns, from any block
 * known; the owned starts must be exactly `capacity`, contiguous. */
static bool pf_scan(struct pf_pool *m)
{
    if (m->have_base)
        return true;
    const struct pf_block *any = m->nlive > 0    ? &m->tab[m->live[0]]
                                 : m->nfreed > 0 ? &m->tab[m->freed[0]]
                                                 : NULL;
    if (any == NULL)
        return false;
    uintptr_t s = m->stride, lo = any->addr, hi = any->addr;
    size_t n = 1;
    while (zz_pool_owns(m->pool, (void *)(lo - s))) {
        lo -= s;
        PF_CHECK(++n <= m->capacity, "owns() accepts more than %zu block starts", m->capacity);
    }
    while (zz_pool_owns(m->pool, (void *)(hi + s))) {
        hi += s;
        PF_CHECK(++n <= m->capacity, "owns() accepts more than %zu block starts", m->capacity);
    }
    PF_CHECK(n == m->capacity, "owns() accepts %zu contiguous block starts, capacity %zu", n,
             m->capacity);
    if (m->flags & ZZ_POOL_GUARD_PAGES)
        PF_CHECK(lo % zz_page_size() == 0, "ZZ_POOL_GUARD_PAGES slab at %#lx is not page-aligned",
                 (unsigned long)lo);
    for (size_t i = 0; i < m->capacity; i++) {
        uintptr_t a = lo + i * s;
        PF_CHECK(!zz_pool_owns(m->pool, (void *)(a + s / 2)) &&
                     !zz_pool_owns(m->pool, (void *)(a - 1)),
                 "owns() accepts an interior pointer near block %zu", i);
        if (pf_find(m, a) == NULL)
            pf_insert(m, a);
    }
    /* Every block handed out lies in that range. */
    PF_CHECK(m->known == m->capacity, "blocks handed out outside the owned range");
    m->base = lo;
    m->have_base = true;
    return true;
}

static const struct pf_block *pf_any_block(const struct pf_pool *m, unsigned r)
{
    if (m->nlive > 0 && (r & 1))
        return &m->tab[m->live[(r >> 1) % m->nlive]];
    if (m->nfreed > 0)
        return &m->tab[m->freed[(r >> 1) % m->nfreed]];
    if (m->nlive > 0)
        return &m->tab[m->live[(r >> 1) % m->nlive]];
    return NULL;
}

/* A pointer to give to free or owns: a block in use or free, NULL, an
 * interior pointer, another pool's block, the stack, the heap, static
 * memory, a block never handed out, the ends of the slab, or nonsense. */
static void *pf_pick_ptr(struct pf_pool *m, struct pf_in *in)
{
    unsigned kind = pf_u8(in) % 16, r = pf_u16(in);
    const struct pf_block *b;
    switch (kind) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
        if (m->nlive > 0)
            return (void *)m->tab[m->live[r % m->nlive]].addr;
        /* fall through */
    case 6:
    case 7:
        if ((b = pf_any_block(m, 0)) != NULL)
            return (void *)b->addr;
        break;
    case 8:
        return NULL;
    case 9: /* interior: stride >= 8, so 1 .. stride - 1 is never empty */
        if ((b = pf_any_block(m, r)) != NULL)
            return (void *)(b->addr + 1 + (r >> 3) % (m->stride - 1));
        break;
    case 10:
        for (unsigned i = 1; i < PF_POOLS; i++) {
            const struct pf_pool *o = &pf_pools[(size_t)(m - pf_pools + r + i) % PF_POOLS];
            if (o == m || o->pool == NULL)
                continue;
            if ((b = pf_any_block(o, r >> 2)) != NULL)
                return (void *)b->addr;
            if (o->have_base)
                return (void *)o->base;
        }
        break;
    case 11:
        return pf_stack_probe + r % 64;
    case 12:
        return (r & 1) ? pf_heap_probe + (r >> 1) % 64 : pf_static_probe + (r >> 1) % 64;
    case 13: /* any block by index: unseen, in use or free */
        if (pf_scan(m))
            return (void *)(m->base + (r % m->capacity) * m->stride);
        break;
    case 14:
        if (pf_scan(m)) {
            uintptr_t end = m->base + m->capacity * m->stride;
            switch (r % 4) {
            case 0:
                return (void *)end; /* one past the end */
            case 1:
                return (void *)(m->base - m->stride);
            case 2:
                return (void *)(m->base - 1);
            default:
                return (void *)(end - 1);
            }
        }
        break;
    default:
        switch (r % 4) {
        case 0:
            return (void *)(uintptr_t)16;
        case 1:
            return (void *)(UINTPTR_MAX & ~(uintptr_t)63);
        case 2:
            return (void *)((uintptr_t)1 << 47);
        default:
            return (void *)(uintptr_t)m->block_align;
        }
    }
    return pf_heap_probe;
}

/* ------------------------------------------------------------------------ */
/* Creation and destruction                                                */
/* ------------------------------------------------------------------------ */

static void pf_destroy(struct pf_pool *m)
{
    pf_step_name = "destroy";
    for (uint32_t i = 0; i < m->nlive; i++)
        pf_stamp_verify(m, &m->tab[m->live[i]]);
    size_t visited = 0;
    PF_CHECK(zz_pool_visit_live(m->pool, pf_visit_count, &visited) == m->in_use &&
                 visited == m->in_use,
             "before destroy, visit_live saw %zu, want %zu", visited, m->in_use);
    if ((m->flags & ZZ_POOL_CHECKED) && m->in_use > 0) {
        uintptr_t first = UINTPTR_MAX;
        for (uint32_t i = 0; i < m->nlive; i++)
            first = m->tab[m->live[i]].addr < first ? m->tab[m->live[i]].addr : first;
        pf_expect(m, ZZ_ELEAK, (void *)first, "zz_pool_destroy", NULL, m->in_use);
    }
    zz_pool_destroy(m->pool);
    pf_expect_done(m);
    m->pool = NULL;

    if (m->backing == PF_BACK_FIXED || m->backing == PF_BACK_COUNT_FIXED) {
        /* The arena is ours again: nothing of the pool may linger on it. */
#if PF_ASAN
        const void *bad = __asan_region_is_poisoned(m->fb.start, m->fb.peak);
        PF_CHECK(bad == NULL,
                 "after destroy, the backing buffer is still poisoned at offset %zu "
                 "(flags %#x)",
                 (size_t)((const unsigned char *)bad - m->fb.start), m->flags);
#endif
        if (m->flags & ZZ_POOL_ZERO_ON_DESTROY) {
            for (size_t i = 0; i <= m->tab_mask; i++) {
                const struct pf_block *b = &m->tab[i];
                if (b->addr == 0 || !b->handed_out)
                    continue;
                const unsigned char *p = (const unsigned char *)b->addr;
                for (size_t k = 0; k < m->stride; k++)
                    PF_CHECK(p[k] == 0, "ZZ_POOL_ZERO_ON_DESTROY left byte %zu of block %p at %#x",
                             k, (const void *)p, p[k]);
            }
        }
    }
    if (m->backing == PF_BACK_COUNT_SYSTEM || m->backing == PF_BACK_COUNT_FIXED) {
        zz_counting_stats cs;
        zz_counting_stats_get(&m->counting, &cs);
        PF_CHECK(cs.live_allocs == 0 && cs.live_bytes == 0,
                 "after destroy, %zu allocations (%zu bytes) of the backing remain", cs.live_allocs,
                 cs.live_bytes);
    }
    free(m->tab);
    free(m->live);
    free(m->freed);
    memset(m, 0, sizeof(*m));
}

static size_t pf_round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

static void pf_create(struct pf_pool *m, struct pf_in *in)
{
    if (m->pool != NULL)
        pf_destroy(m);
    pf_step_name = "create";
    static const size_t aligns[16] = {0,   1,   2,   4,    8,    16,   32, 64,
                                      128, 256, 512, 1024, 2048, 4096, 0,  16};
    unsigned sz = pf_u16(in), al = pf_u8(in), ca = pf_u16(in), fl = pf_u8(in);
    unsigned bk = pf_u8(in), tc = pf_u16(in), bad = pf_u8(in), extra = pf_u16(in);

    zz_pool_options o;
    memset(&o, 0, sizeof(o));
    o.size = 1 + sz % 4096;
    o.align = aligns[al % 16];
    bool invalid = false, tiny = false;
    if (al % 16 == 14) {
        o.align = 3u * (1 + (al >> 4)); /* never a power of two */
        invalid = true;
    }
    o.capacity = 1 + ca % PF_MAX_CAPACITY;
    size_t eff_align = o.align != 0 ? o.align : _Alignof(max_align_t);
    if (!invalid) {
        size_t stride =
            pf_round_up(o.size < ZZ_POOL_MIN_BLOCK ? ZZ_POOL_MIN_BLOCK : o.size, eff_align);
        if (stride * o.capacity > PF_SLAB_LIMIT)
            o.capacity = PF_SLAB_LIMIT / stride > 0 ? PF_SLAB_LIMIT / stride : 1;
    }
    o.flags = ((fl & 1) ? ZZ_POOL_CHECKED : 0u) | ((fl & 2) ? ZZ_POOL_ZERO_ON_DESTROY : 0u) |
              ((fl & 4) ? ZZ_POOL_NO_CACHE : 0u) | ((fl & 8) ? ZZ_POOL_GUARD_PAGES : 0u) |
              ((fl & 16) ? ZZ_POOL_HUGE_PAGES : 0u) | ((fl & 64) ? ZZ_POOL_PREFAULT : 0u);
    bool handler = (fl & 32) != 0;
    if (tc & 1)
        o.thread_cache = (tc >> 1) % 257; /* 0 .. ZZ_POOL_MAX_THREAD_CACHE */
    m->backing = (int)(bk % PF_BACK_KINDS);

    bool null_out = false, null_opts = false;
    switch (bad % 24) {
    case 0:
        o.size = 0;
        invalid = true;
        break;
    case 1:
        o.capacity = 0;
        invalid = true;
        break;
    case 2:
        o.capacity = ZZ_POOL_MAX_CAPACITY + 1 + extra;
        invalid = true;
        break;
    case 3: { /* a flag this version does not know: a bit above every flag there is */
        unsigned first = 32u - (unsigned)__builtin_clz((unsigned)ZZ_POOL_VALID_FLAGS);
        o.flags |= 1u << (first + extra % (32u - first));
        invalid = true;
        break;
    }
    case 4:
        o.thread_cache = ZZ_POOL_MAX_THREAD_CACHE + 1 + extra % 44;
        invalid = true;
        break;
    case 5: /* a backing with ctx but no vtable; set below */
        invalid = true;
        break;
    case 6: /* rounding the size up to the alignment overflows */
        o.size = SIZE_MAX - extra % 64;
        invalid = true;
        break;
    case 7: /* size * capacity overflows */
        o.size = (SIZE_MAX >> 2) + 1;
        o.capacity = 4 + extra % 64;
        invalid = true;
        break;
    case 8:
        null_opts = true;
        invalid = true;
        break;
    case 9:
        null_out = true;
        invalid = true;
        break;
    case 10: /* a fixed buffer smaller than the slab */
        tiny = true;
        if (m->backing != PF_BACK_COUNT_FIXED)
            m->backing = PF_BACK_FIXED;
        break;
    default:
        break;
    }

    zz_allocator fixed;
    switch (m->backing) {
    case PF_BACK_PAGE:
        o.backing = zz_page_allocator();
        break;
    case PF_BACK_SYSTEM:
        o.backing = zz_system_allocator();
        break;
    case PF_BACK_COUNT_SYSTEM:
        PF_CHECK(zz_counting_init(&m->counting, zz_system_allocator()) == 0, "counting_init");
        o.backing = zz_counting_allocator(&m->counting);
        break;
    case PF_BACK_FIXED:
    case PF_BACK_COUNT_FIXED: {
        size_t n = PF_ARENA_SIZE;
        if (tiny && o.size * o.capacity > 0)
            n = extra % (o.size * o.capacity); /* below the slab alone */
        /* Garbage, not zeroes: only the page allocator promises zeroed memory. */
        memset(pf_arena[m - pf_pools], 0xA7, n);
        PF_CHECK(zz_fixed_buffer_init(&m->fb, pf_arena[m - pf_pools], n) == 0, "fb init");
        fixed = zz_fixed_buffer_allocator(&m->fb);
        if (m->backing == PF_BACK_FIXED) {
            o.backing = fixed;
        } else {
            PF_CHECK(zz_counting_init(&m->counting, fixed) == 0, "counting_init");
            o.backing = zz_counting_allocator(&m->counting);
        }
        break;
    }
    default:
        break;
    }
    if (bad % 24 == 5) {
        o.backing.ctx = &m->fb;
        o.backing.vtable = NULL;
    }
    m->has_handler = handler;
    m->h.m = m;
    if (handler) {
        o.on_misuse = pf_on_misuse;
        o.misuse_ctx = &m->h;
    }

    int want = invalid ? ZZ_EINVAL : tiny ? ZZ_ENOMEM : 0;
    zz_pool *const sentinel = (zz_pool *)(void *)pf_static_probe;
    zz_pool *out = sentinel;
    int rc = zz_pool_create(null_out ? NULL : &out, null_opts ? NULL : &o);
    if (pf_trace())
        fprintf(stderr,
                "  create(size %zu, align %zu, capacity %zu, flags %#x, thread_cache %zu, "
                "backing %d, handler %d): %s\n",
                o.size, o.align, o.capacity, o.flags, o.thread_cache, m->backing, handler,
                pf_err(rc));
    PF_CHECK(rc == want,
             "create(size %zu, align %zu, capacity %zu, flags %#x, thread_cache %zu, backing "
             "%d%s%s%s): %s, want %s",
             o.size, o.align, o.capacity, o.flags, o.thread_cache, m->backing, tiny ? " tiny" : "",
             null_out ? " out=NULL" : "", null_opts ? " opts=NULL" : "", pf_err(rc), pf_err(want));
    if (rc != 0) {
        PF_CHECK(out == sentinel, "failed create wrote *out");
        bool fixed_back = m->backing == PF_BACK_FIXED || m->backing == PF_BACK_COUNT_FIXED;
        if (rc == ZZ_EINVAL && fixed_back && bad % 24 != 5)
            PF_CHECK(m->fb.used == 0 && m->fb.peak == 0, "ZZ_EINVAL, yet %zu bytes allocated",
                     m->fb.peak);
        if (m->backing == PF_BACK_COUNT_SYSTEM || m->backing == PF_BACK_COUNT_FIXED) {
            zz_counting_stats cs;
            zz_counting_stats_get(&m->counting, &cs);
            PF_CHECK(cs.live_allocs == 0, "%s leaves %zu allocations", pf_err(rc), cs.live_allocs);
            if (rc == ZZ_EINVAL && bad % 24 != 5)
                PF_CHECK(cs.allocs == 0 && cs.failed_allocs == 0,
                         "ZZ_EINVAL, yet the backing was asked for memory");
        }
        memset(m, 0, sizeof(*m));
        return;
    }
    PF_CHECK(out != NULL && out != sentinel, "create returned 0 and pool %p", (void *)out);

    m->pool = out;
    m->size = o.size;
    m->align = eff_align;
    m->capacity = o.capacity;
    m->thread_cache = o.thread_cache;
    m->flags = o.flags;
    zz_pool_stats s;
    zz_pool_stats_get(out, &s);
    PF_CHECK(pf_is_pow2(s.block_align) && s.block_align >= eff_align,
             "block_align %zu for align %zu", s.block_align, eff_align);
    PF_CHECK(s.block_size >= o.size && s.block_size >= ZZ_POOL_MIN_BLOCK &&
                 s.block_size % s.block_align == 0,
             "block_size %zu for size %zu, block_align %zu", s.block_size, o.size, s.block_align);
    m->stride = s.block_size;
    m->block_align = s.block_align;

    size_t slots = 16;
    while (slots < 2 * m->capacity)
        slots *= 2;
    m->tab = calloc(slots, sizeof(*m->tab));
    m->live = calloc(m->capacity, sizeof(*m->live));
    m->freed = calloc(m->capacity, sizeof(*m->freed));
    PF_CHECK(m->tab != NULL && m->live != NULL && m->freed != NULL, "out of memory");
    m->tab_mask = slots - 1;
    pf_expect(m, 0, NULL, NULL, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                              */
/* ------------------------------------------------------------------------ */

static void pf_alloc(struct pf_pool *m)
{
    void *p = zz_pool_alloc(m->pool);
    if (m->in_use < m->capacity)
        PF_CHECK(p != NULL, "alloc NULL with %zu of %zu in use", m->in_use, m->capacity);
    else
        PF_CHECK(p == NULL, "alloc %p with all %zu in use", p, m->capacity);
    if (p != NULL)
        pf_block_out(m, p, m->stride, m->stride, m->block_align);
}

static void pf_fill(struct pf_pool *m)
{
    while (m->in_use < m->capacity)
        pf_alloc(m);
    pf_alloc(m); /* one more: NULL */
}

static void pf_alloc_bulk(struct pf_pool *m, struct pf_in *in)
{
    unsigned n = pf_u8(in) % (PF_ALLOC_BULK_MAX + 2);
    if (n == PF_ALLOC_BULK_MAX + 1) {
        /* Argument checks: out NULL. */
        PF_CHECK(zz_pool_alloc_bulk(m->pool, NULL, 1) == ZZ_EINVAL, "alloc_bulk(NULL, 1)");
        PF_CHECK(zz_pool_alloc_bulk(m->pool, NULL, 0) == 0, "alloc_bulk(NULL, 0)");
        return;
    }
    void *out[PF_ALLOC_BULK_MAX + 1];
    void *const sentinel = pf_static_probe + 1;
    for (unsigned i = 0; i <= PF_ALLOC_BULK_MAX; i++)
        out[i] = sentinel;
    int want = n <= m->capacity - m->in_use ? 0 : ZZ_ENOMEM;
    int rc = zz_pool_alloc_bulk(m->pool, out, n);
    PF_CHECK(rc == want, "alloc_bulk(%u) with %zu of %zu in use: %s, want %s", n, m->in_use,
             m->capacity, pf_err(rc), pf_err(want));
    for (unsigned i = 0; i <= PF_ALLOC_BULK_MAX; i++) {
        if (rc == 0 && i < n)
            pf_block_out(m, out[i], m->stride, m->stride, m->block_align);
        else
            PF_CHECK(out[i] == sentinel, "alloc_bulk(%u) -> %s wrote out[%u]", n, pf_err(rc), i);
    }
}

static void pf_free(struct pf_pool *m, struct pf_in *in)
{
    unsigned how = pf_u8(in) % 3;
    void *p = pf_pick_ptr(m, in);
    struct pf_block *b;
    int want = pf_expect_free(m, p, &b);
    if (want == 0 && b != NULL)
        pf_stamp_verify(m, b);
    static const char *const names[3] = {"zz_pool_free", "zz_pool_free_zeroed", "zz_free"};
    /* Through the allocator interface the pool's own free finds it. */
    pf_expect(m, want, p, how == 2 ? "zz_pool_free" : names[how], how == 2 ? "zz_free" : NULL, 0);
    int rc;
    if (how == 0) {
        rc = zz_pool_free(m->pool, p);
    } else if (how == 1) {
        rc = zz_pool_free_zeroed(m->pool, p);
    } else {
        zz_allocator a = zz_pool_allocator(m->pool);
        bool mine = want == 0 && b != NULL;
        zz_free(a, p, mine ? b->alloc_size : m->stride, mine ? b->alloc_align : m->block_align);
        rc = want; /* the interface cannot tell; stats and the handler do */
    }
    PF_CHECK(rc == want, "%s(%p): %s, want %s", names[how], p, pf_err(rc), pf_err(want));
    pf_expect_done(m);
    if (want != 0)
        m->misuses++;
    else if (b != NULL)
        pf_block_back(m, b);
}

static void pf_free_bulk(struct pf_pool *m, struct pf_in *in)
{
    unsigned n = pf_u8(in) % (PF_FREE_BULK_MAX + 2), dup = pf_u8(in);
    if (n == PF_FREE_BULK_MAX + 1) {
        PF_CHECK(zz_pool_free_bulk(m->pool, NULL, 1) == ZZ_EINVAL, "free_bulk(NULL, 1)");
        PF_CHECK(zz_pool_free_bulk(m->pool, NULL, 0) == 0, "free_bulk(NULL, 0)");
        return;
    }
    void *ptrs[PF_FREE_BULK_MAX], *copy[PF_FREE_BULK_MAX];
    for (unsigned i = 0; i < n; i++)
        ptrs[i] = pf_pick_ptr(m, in);
    if ((dup & 1) && n >= 2) /* a pointer listed twice */
        ptrs[(dup >> 1) % n] = ptrs[(dup >> 5) % n];
    memcpy(copy, ptrs, n * sizeof(*ptrs));

    /* The model: the first refusal in order, a repeat counting as a double free. */
    int want = 0;
    const void *culprit = NULL;
    for (unsigned i = 0; i < n && want == 0; i++) {
        struct pf_block *b;
        int e = pf_expect_free(m, ptrs[i], &b);
        if (e == 0 && b != NULL && b->claimed)
            e = ZZ_EDOUBLEFREE;
        if (e != 0) {
            want = e;
            culprit = ptrs[i];
        } else if (b != NULL) {
            b->claimed = 1;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        struct pf_block *b = ptrs[i] != NULL ? pf_find(m, (uintptr_t)ptrs[i]) : NULL;
        if (b != NULL && b->claimed) {
            b->claimed = 0;
            pf_stamp_verify(m, b);
        }
    }
    pf_expect(m, want, culprit, "zz_pool_free_bulk", NULL, 0);
    int rc = zz_pool_free_bulk(m->pool, ptrs, n);
    PF_CHECK(rc == want, "free_bulk of %u: %s, want %s (first refused %p)", n, pf_err(rc),
             pf_err(want), culprit);
    pf_expect_done(m);
    PF_CHECK(memcmp(copy, ptrs, n * sizeof(*ptrs)) == 0, "free_bulk wrote its const array");
    if (want != 0) {
        m->misuses++;
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct pf_block *b = ptrs[i] != NULL ? pf_find(m, (uintptr_t)ptrs[i]) : NULL;
        if (b != NULL)
            pf_block_back(m, b);
    }
}

/* Frees every block in use: one by one in either order, or in one bulk call. */
static void pf_drain(struct pf_pool *m, struct pf_in *in)
{
    unsigned how = pf_u8(in) % 3;
    if (how == 2 && m->nlive > 0) {
        void **ptrs = malloc(m->nlive * sizeof(*ptrs));
        PF_CHECK(ptrs != NULL, "out of memory");
        uint32_t n = m->nlive;
        for (uint32_t i = 0; i < n; i++) {
            pf_stamp_verify(m, &m->tab[m->live[i]]);
            ptrs[i] = (void *)m->tab[m->live[i]].addr;
        }
        int rc = zz_pool_free_bulk(m->pool, ptrs, n);
        PF_CHECK(rc == 0, "free_bulk of all %u in use: %s", n, pf_err(rc));
        for (uint32_t i = 0; i < n; i++)
            pf_block_back(m, pf_find(m, (uintptr_t)ptrs[i]));
        free(ptrs);
        return;
    }
    while (m->nlive > 0) {
        struct pf_block *b = &m->tab[m->live[how == 0 ? 0 : m->nlive - 1]];
        pf_stamp_verify(m, b);
        int rc = zz_pool_free(m->pool, (void *)b->addr);
        PF_CHECK(rc == 0, "free(%p) in use: %s", (void *)b->addr, pf_err(rc));
        pf_block_back(m, b);
    }
}

static void pf_owns(struct pf_pool *m, struct pf_in *in)
{
    void *p = pf_pick_ptr(m, in);
    bool want = p != NULL && pf_find(m, (uintptr_t)p) != NULL;
    if (!want && p != NULL && m->have_base)
        PF_CHECK(!(((uintptr_t)p - m->base) % m->stride == 0 &&
                   (uintptr_t)p - m->base < m->capacity * m->stride),
                 "model: %p missed by the scan", p);
    PF_CHECK(zz_pool_owns(m->pool, p) == want, "owns(%p) %d, want %d", p, !want, want);
}

static void pf_flush(struct pf_pool *m)
{
    PF_CHECK(zz_pool_flush(m->pool) == 0, "flush");
    zz_pool_stats s;
    zz_pool_stats_get(m->pool, &s);
    PF_CHECK(s.cached == 0, "after flush by the only thread, %zu blocks cached", s.cached);
}

static void pf_wipe(struct pf_pool *m)
{
    int want = m->in_use > 0 ? ZZ_EBUSY : 0;
    int rc = zz_pool_wipe(m->pool);
    PF_CHECK(rc == want, "wipe with %zu in use: %s, want %s", m->in_use, pf_err(rc), pf_err(want));
}

struct pf_visit {
    const struct pf_pool *m;
    uintptr_t last;
    size_t n;
};

static void pf_visit_one(void *ctx, void *block)
{
    struct pf_visit *v = ctx;
    uintptr_t a = (uintptr_t)block;
    const struct pf_block *b = pf_find(v->m, a);
    PF_CHECK(b != NULL && b->state == PF_LIVE, "visit_live gave %p, not a block in use", block);
    PF_CHECK(v->n == 0 || a > v->last, "visit_live out of address order: %p after %#lx", block,
             (unsigned long)v->last);
    v->last = a;
    v->n++;
}

static void pf_visit(struct pf_pool *m)
{
    struct pf_visit v = {m, 0, 0};
    size_t n = zz_pool_visit_live(m->pool, pf_visit_one, &v);
    /* Each visit is a distinct block in use, so equal counts mean equal sets. */
    PF_CHECK(n == m->in_use && v.n == n, "visit_live returned %zu after %zu visits, want %zu", n,
             v.n, m->in_use);
    PF_CHECK(zz_pool_visit_live(m->pool, NULL, NULL) == m->in_use, "visit_live(NULL) count");
}

/* The pool through zz_allocator: requests that fit get a block, others NULL. */
static void pf_allocator(struct pf_pool *m, struct pf_in *in)
{
    unsigned sc = pf_u8(in), ac = pf_u8(in), r = pf_u16(in);
    size_t size, align;
    switch (sc % 8) {
    case 0:
        size = 0;
        break;
    case 1:
        size = 1;
        break;
    case 2:
        size = m->stride;
        break;
    case 3:
        size = m->stride + 1;
        break;
    case 4:
        size = m->size;
        break;
    case 5:
        size = 1 + r % m->stride;
        break;
    case 6:
        size = m->stride + 1 + r % 100;
        break;
    default:
        size = SIZE_MAX;
        break;
    }
    switch (ac % 8) {
    case 0:
        align = 0;
        break;
    case 1:
        align = 1;
        break;
    case 2:
        align = m->block_align;
        break;
    case 3:
        align = m->block_align * 2;
        break;
    case 4:
        align = 3 + 2 * (r % 16); /* odd, above 1 */
        break;
    case 5:
        align = (size_t)1 << (r % 14);
        break;
    case 6:
        align = m->align;
        break;
    default:
        align = (size_t)1 << (sizeof(size_t) * 8 - 1);
        break;
    }
    bool fits = size > 0 && size <= m->stride && pf_is_pow2(align) && align <= m->block_align;
    zz_allocator a = zz_pool_allocator(m->pool);
    PF_CHECK(!zz_allocator_is_null(a), "zz_pool_allocator of a pool is the null allocator");
    void *p = zz_alloc(a, size, align);
    if (!fits || m->in_use == m->capacity) {
        PF_CHECK(p == NULL,
                 "zz_alloc(size %zu, align %zu) = %p from a pool of %zu-byte blocks "
                 "aligned %zu, %zu of %zu in use",
                 size, align, p, m->stride, m->block_align, m->in_use, m->capacity);
        return;
    }
    PF_CHECK(p != NULL, "zz_alloc(size %zu, align %zu) = NULL, %zu of %zu in use", size, align,
             m->in_use, m->capacity);
    PF_CHECK((uintptr_t)p % align == 0, "zz_alloc block %p not aligned to %zu", p, align);
    pf_block_out(m, p, size, size, align);
}

/* Calls on no pool, and with missing arguments, that must fail cleanly. */
static void pf_null_args(void)
{
    void *out[1] = {NULL}, *ptrs[1] = {pf_heap_probe};
    PF_CHECK(zz_pool_alloc(NULL) == NULL, "alloc(NULL)");
    PF_CHECK(zz_pool_free(NULL, NULL) == 0, "free(NULL, NULL)");
    PF_CHECK(zz_pool_free(NULL, pf_heap_probe) != 0, "free on no pool succeeded");
    PF_CHECK(zz_pool_free_zeroed(NULL, NULL) == 0, "free_zeroed(NULL, NULL)");
    PF_CHECK(zz_pool_alloc_bulk(NULL, out, 1) == ZZ_EINVAL, "alloc_bulk(NULL pool)");
    PF_CHECK(out[0] == NULL, "alloc_bulk(NULL pool) wrote out");
    PF_CHECK(zz_pool_free_bulk(NULL, ptrs, 1) == ZZ_EINVAL, "free_bulk(NULL pool)");
    PF_CHECK(zz_pool_flush(NULL) == ZZ_EINVAL, "flush(NULL)");
    PF_CHECK(zz_pool_wipe(NULL) == ZZ_EINVAL, "wipe(NULL)");
    PF_CHECK(!zz_pool_owns(NULL, pf_heap_probe), "owns(NULL pool)");
    zz_pool_destroy(NULL);
    for (int i = 0; i < PF_POOLS; i++) {
        if (pf_pools[i].pool != NULL) {
            PF_CHECK(zz_pool_free(pf_pools[i].pool, NULL) == 0, "free(pool, NULL)");
            PF_CHECK(zz_pool_free_zeroed(pf_pools[i].pool, NULL) == 0, "free_zeroed(pool, NULL)");
            PF_CHECK(!zz_pool_owns(pf_pools[i].pool, NULL), "owns(pool, NULL)");
            PF_CHECK(zz_pool_alloc_bulk(pf_pools[i].pool, out, 0) == 0 && out[0] == NULL,
                     "alloc_bulk(0)");
            PF_CHECK(zz_pool_free_bulk(pf_pools[i].pool, ptrs, 0) == 0, "free_bulk(0)");
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The program                                                             */
/* ------------------------------------------------------------------------ */

enum {
    OP_CREATE,
    OP_DESTROY,
    OP_ALLOC,
    OP_ALLOC_BULK,
    OP_FREE,
    OP_FREE_BULK,
    OP_OWNS,
    OP_FLUSH,
    OP_WIPE,
    OP_VISIT,
    OP_ALLOCATOR,
    OP_SCAN,
    OP_NULL_ARGS,
    OP_FILL,
    OP_DRAIN,
    OP_KINDS
};

static const char *const pf_op_names[OP_KINDS] = {
    "create", "destroy", "alloc",     "alloc_bulk", "free",      "free_bulk", "owns", "flush",
    "wipe",   "visit",   "allocator", "scan",       "null_args", "fill",      "drain"};

/* Low five bits of a step's first byte: the common operations more often.
 * make_corpus.py names the first index of each operation. */
static const uint8_t pf_op_table[32] = {
    OP_CREATE,     OP_CREATE,     OP_DESTROY,   OP_ALLOC,     OP_ALLOC,     OP_ALLOC, OP_ALLOC,
    OP_ALLOC_BULK, OP_ALLOC_BULK, OP_FREE,      OP_FREE,      OP_FREE,      OP_FREE,  OP_FREE,
    OP_FREE_BULK,  OP_FREE_BULK,  OP_OWNS,      OP_OWNS,      OP_FLUSH,     OP_WIPE,  OP_WIPE,
    OP_VISIT,      OP_ALLOCATOR,  OP_ALLOCATOR, OP_SCAN,      OP_NULL_ARGS, OP_FILL,  OP_DRAIN,
    OP_FREE,       OP_ALLOC,      OP_FREE_BULK, OP_ALLOC_BULK};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char stack_probe[64];
    memset(stack_probe, 0, sizeof(stack_probe));
    pf_stack_probe = stack_probe;
    if (pf_heap_probe == NULL)
        pf_heap_probe = malloc(64); /* kept for the process; reachable, not a leak */
    PF_CHECK(pf_heap_probe != NULL, "out of memory");

    struct pf_in in = {data, size};
    for (pf_step = 0; in.n > 0 && pf_step < PF_MAX_OPS; pf_step++) {
        unsigned head = pf_u8(&in);
        struct pf_pool *m = &pf_pools[(head >> 5) % PF_POOLS];
        unsigned op = pf_op_table[head & 31];
        pf_step_name = pf_op_names[op];
        if (m->pool == NULL && op != OP_CREATE && op != OP_NULL_ARGS)
            continue;
        if (pf_trace())
            fprintf(stderr, "step %lu: %s on slot %d (%zu of %zu in use, %zu misuses)\n", pf_step,
                    pf_step_name, (int)(m - pf_pools), m->in_use, m->capacity, m->misuses);
        switch (op) {
        case OP_CREATE:
            pf_create(m, &in);
            break;
        case OP_DESTROY:
            pf_destroy(m);
            break;
        case OP_ALLOC:
            pf_alloc(m);
            break;
        case OP_ALLOC_BULK:
            pf_alloc_bulk(m, &in);
            break;
        case OP_FREE:
            pf_free(m, &in);
            break;
        case OP_FREE_BULK:
            pf_free_bulk(m, &in);
            break;
        case OP_OWNS:
            pf_owns(m, &in);
            break;
        case OP_FLUSH:
            pf_flush(m);
            break;
        case OP_WIPE:
            pf_wipe(m);
            break;
        case OP_VISIT:
            pf_visit(m);
            break;
        case OP_ALLOCATOR:
            pf_allocator(m, &in);
            break;
        case OP_SCAN:
            (void)pf_scan(m);
            break;
        case OP_NULL_ARGS:
            pf_null_args();
            break;
        case OP_FILL:
            pf_fill(m);
            break;
        default:
            pf_drain(m, &in);
            break;
        }
        for (int i = 0; i < PF_POOLS; i++) {
            if (pf_pools[i].pool != NULL)
                pf_check_stats(&pf_pools[i]);
        }
    }
    pf_step_name = "teardown";
    for (int i = 0; i < PF_POOLS; i++) {
        if (pf_pools[i].pool != NULL)
            pf_destroy(&pf_pools[i]);
    }
    pf_stack_probe = NULL;
    return 0;
}
