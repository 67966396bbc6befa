/* SPDX-License-Identifier: MIT */
/*
 * platform/os.h for Linux and other POSIX systems: the page size, anonymous
 * mappings aligned beyond the page size (map more, trim head and tail),
 * transparent-huge-page advice, committing pages up front and zeroing the
 * compiler cannot drop.
 * Nothing here allocates from the heap.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "internal.h"
#include "platform/atomic.h"
#include "platform/os.h"

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0 /* not every system has it; it is only an accounting hint */
#endif
/* Linux 5.14 and later; older kernels answer EINVAL, and we touch the pages. */
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif
#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif

/* 0 until first read. */
static zz_atomic_size os_page_size = ZZ_ATOMIC_INIT(0);

size_t zz__os_page_size(void)
{
    /* Relaxed is enough: the word publishes no other memory, and threads that
     * race on the first call all compute and store the same value. */
    size_t ps = zz_atomic_load_relaxed_size(&os_page_size);
    if (ZZ_UNLIKELY(ps == 0)) {
        long v = sysconf(_SC_PAGESIZE);
        /* A page size that is not a positive power of two would break every
         * rounding in the library; 4096 is the POSIX minimum and a safe guess. */
        ps = (v > 0 && zz__is_pow2((size_t)v)) ? (size_t)v : 4096;
        zz_atomic_store_relaxed_size(&os_page_size, ps); /* relaxed: see above */
    }
    return ps;
}

static void *os_mmap(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *zz__os_map(size_t size, size_t align)
{
    size_t page = zz__os_page_size();
    if (size == 0 || !zz__is_pow2(align) || size % page != 0)
        return NULL;
    /* mmap's own results are page-aligned, so only larger alignments need work. */
    if (align <= page)
        return os_mmap(size);

    /* Map align - page bytes more than asked: some page-aligned address
     * inside is aligned to align with size bytes after it. */
    size_t extra = align - page;
    if (size > SIZE_MAX - extra)
        return NULL;
    size_t total = size + extra;
    unsigned char *raw = os_mmap(total);
    if (raw == NULL)
        return NULL;
    uintptr_t base = (uintptr_t)raw;
    uintptr_t aligned = (base + (align - 1)) & ~(uintptr_t)(align - 1);
    size_t head = (size_t)(aligned - base);
    size_t tail = total - head - size;
    /* Both trims are whole pages (head and extra are multiples of page) and
     * cannot fail on a mapping of our own but for resource limits; a failed
     * trim only leaves some untouched address space mapped. */
    if (head > 0)
        (void)munmap(raw, head);
    if (tail > 0)
        (void)munmap(raw + head + size, tail);
    return raw + head;
}

void zz__os_unmap(void *ptr, size_t size)
{
    if (ptr == NULL || size == 0)
        return;
    /* Only fails for arguments that are not our mapping; nothing to do then. */
    (void)munmap(ptr, size);
}

void zz__os_advise_huge(void *ptr, size_t size, bool want)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    if (ptr == NULL || size == 0)
        return;
    size_t page = zz__os_page_size();
    uintptr_t lo = (uintptr_t)ptr;
    if (lo > UINTPTR_MAX - size)
        return;
    uintptr_t hi = lo + size;
    /* madvise wants a page-aligned start; advise only the pages wholly inside
     * the range so that neighbouring memory is never affected. */
    uintptr_t first = (lo + (page - 1)) & ~(uintptr_t)(page - 1);
    uintptr_t last = hi & ~(uintptr_t)(page - 1);
    if (first < lo || last <= first)
        return;
    /* Advice: a kernel without THP answers EINVAL, which changes nothing. */
    (void)madvise((void *)first, (size_t)(last - first), want ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)ptr;
    (void)size;
    (void)want;
#endif
}

#if defined(MADV_POPULATE_WRITE)
/* Whether this kernel knows MADV_POPULATE_WRITE: asked of a fresh page. */
static bool os_populate_works(void)
{
    size_t page = zz__os_page_size();
    void *p = os_mmap(page);
    if (p == NULL)
        return false;
    bool works = madvise(p, page, MADV_POPULATE_WRITE) == 0;
    zz__os_unmap(p, page);
    return works;
}
#endif

bool zz__os_populate(void *ptr, size_t size)
{
    if (ptr == NULL || size == 0)
        return true;
    uintptr_t lo = (uintptr_t)ptr, page = zz__os_page_size();
    uintptr_t hi = size > UINTPTR_MAX - lo ? UINTPTR_MAX : lo + size;
#if defined(MADV_POPULATE_WRITE)
    /* Whole pages around the range: populating writes no byte, so memory of
     * others that shares a first or last page is safe. */
    uintptr_t first = lo & ~(page - 1);
    if (madvise((void *)first, (size_t)(hi - first), MADV_POPULATE_WRITE) == 0)
        return true;
    /* ENOMEM: no memory to commit; EFAULT, EHWPOISON: none to be had.
     * EINVAL: a kernel without the advice, or memory that cannot be
     * written (which touching would crash on): a fresh page tells which. */
    if (errno != EINVAL || os_populate_works())
        return false;
#endif
    /* An older kernel, or another system: write one byte of every page, a
     * byte of the range, with the value it holds. */
    for (uintptr_t at = lo; at < hi; at = (at & ~(page - 1)) + page) {
        volatile unsigned char *b = (volatile unsigned char *)at;
        *b = *b;
        if (at > UINTPTR_MAX - page)
            break;
    }
    return true;
}

void zz__os_secure_zero(void *ptr, size_t n)
{
    if (ptr == NULL || n == 0)
        return;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
    explicit_bzero(ptr, n);
#else
    /* Stores through a volatile pointer may not be removed as dead. */
    volatile unsigned char *p = ptr;
    for (size_t i = 0; i < n; i++)
        p[i] = 0;
#endif
}

bool zz__os_protect(void *ptr, size_t size, bool accessible)
{
    return mprotect(ptr, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
}

/* splitmix64's finaliser: every input bit affects every output bit. */
static uint64_t os_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static zz_atomic_u64 os_random_counter = ZZ_ATOMIC_INIT(0);

uint64_t zz__os_random_u64(void)
{
    uint64_t r = 0;
#if defined(__linux__)
    /* Non-blocking: early in boot the pool would rather take the fallback
     * than wait for entropy. */
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
#endif
    struct timespec ts = {0, 0};
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Relaxed: only uniqueness is wanted from the counter. */
    uint64_t n = zz_atomic_fetch_add_relaxed_u64(&os_random_counter, 1);
    return os_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                    os_mix64((uintptr_t)&r ^ (n << 1) ^ (uint64_t)getpid()));
}
