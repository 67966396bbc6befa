/* SPDX-License-Identifier: MIT */
/*
 * The operating system behind one narrow interface: page size, anonymous
 * mappings, huge-page advice, committing pages up front, page protection,
 * random bits. os_posix.c implements it for Linux and other POSIX systems.
 */
#ifndef ZZ_PLATFORM_OS_H
#define ZZ_PLATFORM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page size, read once. */
size_t zz__os_page_size(void);

/* Maps size bytes (a multiple of the page size) of zeroed, lazily committed
 * memory aligned to align (a power of two, at least the page size).
 * Returns NULL on failure. */
void *zz__os_map(size_t size, size_t align);

/* Unmaps what zz__os_map returned (same size). */
void zz__os_unmap(void *ptr, size_t size);

/* Advises the kernel to back [ptr, ptr+size) with huge pages (want=true) or
 * not (want=false). Only whole pages inside the range are affected; a
 * failure is ignored, as advice may be. */
void zz__os_advise_huge(void *ptr, size_t size, bool want);

/* Commits [ptr, ptr+size) now, as writes to every page would, without
 * changing a byte: the pages are resident and writable when it returns.
 * False when the system cannot commit them (out of memory). */
bool zz__os_populate(void *ptr, size_t size);

/* Makes [ptr, ptr+size) (whole pages) inaccessible (false) or readable and
 * writable again (true). Returns false when the system refuses. */
bool zz__os_protect(void *ptr, size_t size, bool accessible);

/* 64 unpredictable bits: from the kernel's generator when it answers at
 * once, else mixed from addresses, time and a counter (still unique). */
uint64_t zz__os_random_u64(void);

/* Zeroes n bytes with stores the compiler may not remove. */
void zz__os_secure_zero(void *ptr, size_t n);

#endif
