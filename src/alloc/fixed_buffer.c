/* SPDX-License-Identifier: MIT */
/*
 * The fixed-buffer allocator: bump allocation in memory the caller owns (a
 * static array works), for embedded targets and static pools. It never
 * touches the heap. Allocation pads `used` up to the alignment of the
 * absolute address and moves it forward; freeing the most recent
 * allocation moves it back to that allocation's start; any other free is
 * ignored until zz_fixed_buffer_reset. Not thread-safe.
 *
 * Invariant: used <= size, and peak >= used.
 */
#include <stdint.h>

#include "internal.h"

int zz_fixed_buffer_init(zz_fixed_buffer *fb, void *buf, size_t size)
{
    if (fb == NULL || (buf == NULL && size > 0))
        return ZZ_EINVAL;
    /* A buffer that wraps the address space could not be indexed safely. */
    if (size > UINTPTR_MAX - (uintptr_t)buf)
        return ZZ_EINVAL;
    fb->start = buf;
    fb->size = size;
    fb->used = 0;
    fb->peak = 0;
    return 0;
}

static void *fixed_buffer_alloc(void *ctx, size_t size, size_t align)
{
    zz_fixed_buffer *fb = ctx;
    /* The vtable may be called directly, without zz_alloc's checks. */
    if (fb == NULL || size == 0 || !zz__is_pow2(align))
        return NULL;
    /* Integers, not pointers: the padded address may lie past the buffer,
     * where pointer arithmetic would be undefined. */
    uintptr_t here = (uintptr_t)fb->start + fb->used;
    uintptr_t aligned = (here + (align - 1)) & ~(uintptr_t)(align - 1);
    if (aligned < here)
        return NULL; /* the alignment wraps the address space */
    size_t pad = (size_t)(aligned - here);
    size_t room = fb->size - fb->used;
    /* Checked as two steps so that pad + size cannot overflow. */
    if (pad > room || size > room - pad)
        return NULL; /* exhausted: used stays as it was */
    void *p = fb->start + fb->used + pad;
    fb->used += pad + size;
    if (fb->used > fb->peak)
        fb->peak = fb->used;
    return p;
}

static void fixed_buffer_free(void *ctx, void *ptr, size_t size, size_t align)
{
    zz_fixed_buffer *fb = ctx;
    (void)align;
    if (fb == NULL || ptr == NULL)
        return;
    uintptr_t p = (uintptr_t)ptr;
    uintptr_t lo = (uintptr_t)fb->start;
    /* Only the most recent allocation ends exactly at start + used; give its
     * bytes back. Its padding stays used: the size of it is not known here. */
    if (p >= lo && p - lo <= fb->used && fb->used - (size_t)(p - lo) == size)
        fb->used = (size_t)(p - lo);
}

static const zz_allocator_vtable fixed_buffer_vtable = {
    .alloc = fixed_buffer_alloc,
    .free = fixed_buffer_free,
};

zz_allocator zz_fixed_buffer_allocator(zz_fixed_buffer *fb)
{
    return (zz_allocator){.ctx = fb, .vtable = &fixed_buffer_vtable};
}

void zz_fixed_buffer_reset(zz_fixed_buffer *fb)
{
    if (fb != NULL)
        fb->used = 0; /* peak is a high-water mark and survives resets */
}
