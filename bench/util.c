/* SPDX-License-Identifier: MIT */
/*
 * Clock, RSS, mappings and reason strings for the benchmark (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

double zzb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double zzb_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int zzb_cpus(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    return n > 0 ? n : 1;
}

void zzb_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The value in kB of the line of /proc/self/status that starts with key. */
static long status_kib(const char *buf, const char *key)
{
    const char *at = strstr(buf, key);
    long kib = 0;
    if (at == NULL || sscanf(at + strlen(key), "%ld", &kib) != 1)
        return 0;
    return kib;
}

size_t zzb_rss_bytes(void)
{
    /* open/read rather than stdio: fopen would malloc inside the measured
     * process. Anonymous and shared-memory pages only (DPDK's memory is
     * shared); the program's code, read in around its first faults, would
     * otherwise count against whichever candidate ran it first. */
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t len;
    if (fd < 0)
        return 0;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    return (size_t)(status_kib(buf, "RssAnon:") + status_kib(buf, "RssShmem:")) * 1024u;
}

void *zzb_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void zzb_unmap(void *p, size_t bytes)
{
    if (p != NULL)
        munmap(p, bytes);
}

size_t zzb_stride(size_t size)
{
    size_t s = (size + ZZB_ALIGN - 1) & ~(size_t)(ZZB_ALIGN - 1);
    return s < ZZB_ALIGN ? ZZB_ALIGN : s;
}

void zzb_why(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (buf == NULL || n == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}
