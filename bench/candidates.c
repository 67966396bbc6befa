/* SPDX-License-Identifier: MIT */
/*
 * The registry: every candidate this binary can run, in the order the tables
 * show them. zigzag comes first because every ratio is taken against it.
 * A new candidate is its zzb_candidate table (a cand_*.c file, or one more
 * ZZB_ZIGZAG line in cand_zigzag.c for another set of pool flags) plus its
 * extern line and its entry below.
 */
#include <string.h>

#include "candidate.h"

extern const zzb_candidate zzb_cand_zigzag, zzb_cand_zigzag_checked, zzb_cand_zigzag_nocache,
    zzb_cand_zigzag_prefault;
extern const zzb_candidate zzb_cand_glibc, zzb_cand_jemalloc, zzb_cand_mimalloc, zzb_cand_tcmalloc;
extern const zzb_candidate zzb_cand_ck, zzb_cand_dpdk;
extern const zzb_candidate zzb_cand_private_list, zzb_cand_private_array;

const zzb_candidate *const zzb_candidates[] = {
    &zzb_cand_zigzag,
    &zzb_cand_zigzag_checked,
    &zzb_cand_zigzag_nocache,
    &zzb_cand_zigzag_prefault,
    &zzb_cand_glibc,
    &zzb_cand_jemalloc,
    &zzb_cand_mimalloc,
    &zzb_cand_tcmalloc,
#ifdef ZZB_HAVE_CK
    &zzb_cand_ck,
#endif
#ifdef ZZB_HAVE_DPDK
    &zzb_cand_dpdk,
#endif
    &zzb_cand_private_list,
    &zzb_cand_private_array,
    NULL,
};

const zzb_candidate *zzb_candidate_find(const char *name)
{
    for (size_t i = 0; zzb_candidates[i] != NULL; i++)
        if (strcmp(zzb_candidates[i]->name, name) == 0)
            return zzb_candidates[i];
    return NULL;
}
