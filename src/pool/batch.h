/* SPDX-License-Identifier: MIT */
/*
 * Batch nodes on the shared list (batch.c): a thread cache gives blocks
 * back, and takes them, many to a CAS. A node's first block is on the list
 * with ZZ_LINK_BATCH in its link and records the indices of the others in
 * its own bytes, which only the node's owner touches: the thread that
 * pushes it, before its release CAS, and the thread whose CAS takes it.
 */
#ifndef ZZ_POOL_BATCH_H
#define ZZ_POOL_BATCH_H

#include "pool/pool_internal.h"

/* Pushes entries[0..n) (owned by the caller, links not in use) from the
 * cache of `slot` to the shared list in one CAS, as nodes of up to
 * batch_max blocks. */
void zz__batch_push(struct zz_pool *pool, const uint32_t *entries, uint32_t n, uint32_t slot);

/* Takes at least one block and about `want` from the shared list into
 * out[0..room) (room >= batch_max), in one CAS, reading the members of the
 * batch nodes it takes, for the cache of `self` (ZZ_SLOT_NONE for none);
 * returns the count. */
uint32_t zz__batch_take(struct zz_pool *pool, uint32_t *out, uint32_t want, uint32_t room,
                        uint32_t self);

/* zz_batch_reader for the validator: the members of a batch node. */
uint32_t zz__pool_batch_members(const void *ctx, uint32_t head, uint32_t *out);

#endif
