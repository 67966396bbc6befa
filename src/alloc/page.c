/* SPDX-License-Identifier: MIT */
/*
 * zz_page_allocator: whole pages straight from the kernel through
 * platform/os.h. Sizes are rounded up to the page size; alignments above the
 * page size are served by the OS layer's map-more-and-trim. Fresh anonymous
 * mappings are zeroed and committed page by page on first touch, so a large
 * mostly idle allocation costs address space, not memory. Stateless and
 * thread-safe: ctx is unused. The pool recognises this vtable by address
 * (zz__page_vtable) to know its slab is page-backed.
 */
#include "internal.h"
#include "platform/os.h"

/* The page-rounded size of a request, or false when rounding overflows. */
static bool page_round(size_t size, size_t *out)
{
    return zz__align_up(size, zz__os_page_size(), out);
}

static void *page_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    /* The vtable may be called directly, without zz_alloc's checks. */
    if (size == 0 || !zz__is_pow2(align))
        return NULL;
    size_t len;
    if (!page_round(size, &len))
        return NULL;
    size_t page = zz__os_page_size();
    void *p = zz__os_map(len, align > page ? align : page);
    if (p != NULL && len >= ZZ_PAGE_HUGE_HINT_MIN)
        zz__os_advise_huge(p, len, true);
    return p;
}

static void page_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)ctx;
    (void)align; /* the trimmed mapping is exactly len bytes from ptr */
    size_t len;
    if (ptr == NULL || size == 0 || !page_round(size, &len))
        return;
    zz__os_unmap(ptr, len);
}

const zz_allocator_vtable zz__page_vtable = {
    .alloc = page_alloc,
    .free = page_free,
};

zz_allocator zz_page_allocator(void)
{
    return (zz_allocator){.ctx = NULL, .vtable = &zz__page_vtable};
}

size_t zz_page_size(void)
{
    return zz__os_page_size();
}
