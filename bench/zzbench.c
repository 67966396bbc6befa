/* SPDX-License-Identifier: MIT */
/*
 * zzbench: runs one workload on one candidate allocator in this process and
 * prints one line, so that every timed run starts from a fresh process
 * (bench/driver.py runs it many times and makes the tables).
 *
 *   zzbench --list
 *   zzbench --candidate NAME --workload w1|w1d|w1cg|w2|w3|w4|w5|w6 [--size B]
 *           [--capacity N] [--count N] [--threads N] [--live N]
 *           [--duration S] [--seed N] [--pairs N] [--ring N]
 * Defaults: 64-byte objects, pools of 65536 blocks, W2 1,000,000 objects, W6
 * 16,777,216, 0.2 s runs, 64 live objects per W3 thread, 100,000 counted pairs.
 *
 * The line: "zzbench" then space-separated key=value fields, values without
 * spaces; status is ok, unavailable (cannot run here), skipped (workload
 * does not apply) or error; a last field why=... runs to the end of the line.
 * Exit status: 0 ok, 1 error, 2 usage, 3 unavailable or skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "candidate.h"
#include "workloads.h"

#ifdef ZZB_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* Set once zzbench has re-run itself with LD_PRELOAD, so that it never loops. */
#define REEXEC_ENV "ZZB_PRELOADED"

typedef struct workload {
    const char *name;
    int (*run)(const zzb_candidate *, const zzb_opts *, zzb_result *);
    unsigned needs; /* ZZB_CAP_* the candidate must have */
    int threads;    /* default thread count */
} workload;

static const workload workloads[] = {
    {"w1", zzb_w1_hot, 0, 1},         {"w1d", zzb_w1_direct, 0, 1},
    {"w1cg", zzb_w1_callgrind, 0, 1}, {"w2", zzb_w2_batch, 0, 1},
    {"w3", zzb_w3_shared, 0, 2},      {"w4", zzb_w4_prodcons, ZZB_CAP_CROSS_FREE, 2},
    {"w5", zzb_w3_shared, 0, 8},      {"w6", zzb_w6_create, ZZB_CAP_POOL, 1},
};

static void usage(void)
{
    fprintf(stderr,
            "usage: zzbench --list\n"
            "       zzbench --candidate NAME --workload w1|w1d|w1cg|w2|w3|w4|w5|w6 [--size B]\n"
            "               [--capacity N] [--count N] [--threads N] [--live N]\n"
            "               [--duration S] [--seed N] [--pairs N] [--ring N]\n");
    exit(2);
}

static void list(void)
{
    for (size_t i = 0; zzb_candidates[i] != NULL; i++) {
        const zzb_candidate *c = zzb_candidates[i];
        printf("%s pool=%d cross_free=%d preload=%s note=%s\n", c->name,
               (c->caps & ZZB_CAP_POOL) != 0, (c->caps & ZZB_CAP_CROSS_FREE) != 0,
               c->preload ? c->preload : "-", c->note);
    }
}

/* Values go on one space-separated line: spaces become underscores. */
static void put_word(const char *key, const char *value)
{
    printf(" %s=", key);
    for (const char *s = value; *s; s++)
        putchar(*s == ' ' || *s == '\n' ? '_' : *s);
}

static void report(const char *status, const char *wl, const zzb_candidate *c, const zzb_opts *o,
                   int threads, const zzb_result *r, const char *why)
{
    char version[128] = "?";
    printf("zzbench status=%s workload=%s", status, wl);
    put_word("candidate", c->name);
    printf(" size=%zu threads=%d", o->size, threads);
    if (strcmp(status, "ok") == 0) {
        c->version(c, version, sizeof(version));
        put_word("version", version);
        printf(" value=%.6g unit=%s", r->value, r->unit);
        for (int i = 0; i < r->n_extra; i++)
            printf(" %s=%.6g", r->extra[i].key, r->extra[i].value);
    }
    if (why != NULL && why[0] != '\0')
        printf(" why=%s", why);
    printf("\n");
    fflush(stdout);
    if (strcmp(status, "ok") != 0)
        fprintf(stderr, "zzbench: %s %s: %s: %s\n", c->name, wl, status, why ? why : "");
}

/* Re-runs this program with the candidate's malloc preloaded; returns only on failure. */
static void reexec_with_preload(const char *lib, char **argv)
{
    const char *old = getenv("LD_PRELOAD");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s%s%s", lib, old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", buf, 1);
    setenv(REEXEC_ENV, "1", 1);
    execv("/proc/self/exe", argv);
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*s == '\0' || *end != '\0')
        usage();
    return (size_t)v;
}

int main(int argc, char **argv)
{
    zzb_opts o = {.size = 64,
                  .capacity = 1u << 16,
                  .count = 0,
                  .threads = 0,
                  .live = 64,
                  .duration = 0.2,
                  .seed = 1,
                  .pairs = 100000,
                  .ring = 1024};
    const char *cname = NULL, *wname = NULL;
    const zzb_candidate *c;
    const workload *w = NULL;
    zzb_result r = {0};
    zzb_config cfg;
    int rc, threads;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            list();
            return 0;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--candidate") == 0)
            cname = v;
        else if (strcmp(a, "--workload") == 0)
            wname = v;
        else if (strcmp(a, "--size") == 0)
            o.size = parse_size(v);
        else if (strcmp(a, "--capacity") == 0)
            o.capacity = parse_size(v);
        else if (strcmp(a, "--count") == 0)
            o.count = parse_size(v);
        else if (strcmp(a, "--threads") == 0)
            o.threads = (int)parse_size(v);
        else if (strcmp(a, "--live") == 0)
            o.live = (int)parse_size(v);
        else if (strcmp(a, "--duration") == 0)
            o.duration = atof(v);
        else if (strcmp(a, "--seed") == 0)
            o.seed = parse_size(v);
        else if (strcmp(a, "--pairs") == 0)
            o.pairs = parse_size(v);
        else if (strcmp(a, "--ring") == 0)
            o.ring = parse_size(v);
        else
            usage();
    }
    if (cname == NULL || wname == NULL)
        usage();
    c = zzb_candidate_find(cname);
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (strcmp(workloads[i].name, wname) == 0)
            w = &workloads[i];
    if (c == NULL || w == NULL) {
        fprintf(stderr, "zzbench: unknown %s '%s' (see --list)\n", c ? "workload" : "candidate",
                c ? wname : cname);
        return 2;
    }
    /* Every workload writes one 8-byte word into each object. */
    if (o.size < sizeof(size_t) || o.duration <= 0) {
        fprintf(stderr, "zzbench: --size must be >= %zu and --duration > 0\n", sizeof(size_t));
        return 2;
    }
    if (o.count == 0) /* W2: one million objects; W6: 1 GiB of 64-byte objects */
        o.count = w->run == zzb_w6_create ? (size_t)1 << 24 : 1000000;
    threads = o.threads > 0 ? o.threads : w->threads;
    o.threads = threads;

    if ((c->caps & w->needs) != w->needs) {
        report("skipped", wname, c, &o, threads, &r,
               w->needs & ZZB_CAP_POOL ? "not a pool: creation does not apply"
                                       : "blocks cannot be freed by another thread");
        return 3;
    }
    /* The allocator the workload will create decides what init must prepare (DPDK memory). */
    cfg = (zzb_config){
        o.size, w->run == zzb_w2_batch || w->run == zzb_w6_create ? o.count : o.capacity, threads};
    rc = c->init(c, &cfg, r.why, sizeof(r.why));
    if (rc == ZZB_INIT_NEED_PRELOAD && getenv(REEXEC_ENV) == NULL && !RUNNING_ON_VALGRIND) {
        reexec_with_preload(c->preload, argv);
        snprintf(r.why, sizeof(r.why), "cannot re-run with LD_PRELOAD=%s", c->preload);
    }
    if (rc != 0) {
        report("unavailable", wname, c, &o, threads, &r, r.why);
        return 3;
    }
    if (w->run(c, &o, &r) != 0) {
        report("error", wname, c, &o, threads, &r, r.why);
        return 1;
    }
    report("ok", wname, c, &o, threads, &r, NULL);
    return 0;
}
