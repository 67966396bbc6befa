/* SPDX-License-Identifier: MIT */
/*
 * The program behind the test perf.callgrind_w1: W1 on zigzag's default pool
 * with callgrind collection switched on around the counted pairs only (the
 * code zzbench runs for `--workload w1cg`). bench/check_callgrind.sh runs
 * it under valgrind and compares with bench/baseline/callgrind_w1.txt.
 *
 *   perf_w1 [pairs]     (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "workloads.h"

extern const zzb_candidate zzb_cand_zigzag;

int main(int argc, char **argv)
{
    zzb_opts o = {.size = 64, .capacity = 1u << 16, .pairs = 100000};
    zzb_result r = {0};
    if (argc > 1)
        o.pairs = strtoul(argv[1], NULL, 0);
    if (o.pairs == 0 || zzb_w1_callgrind(&zzb_cand_zigzag, &o, &r) != 0) {
        fprintf(stderr, "perf_w1: %s\n", r.why[0] ? r.why : "pairs must be > 0");
        return 1;
    }
    printf("pairs=%.0f\n", r.value);
    return 0;
}
