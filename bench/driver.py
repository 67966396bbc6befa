#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the allocator comparison and writes its report (scripts/bench.sh runs this).

Every timed run is a fresh `zzbench --candidate C --workload W ...` process
printing one line. Repetitions are interleaved (repetition 1 of every
candidate and workload, then repetition 2, ...) and the candidate order
rotates from one repetition to the next, so drift of a noisy machine hits all
candidates alike. W1 is also counted in instructions under callgrind, once
per candidate (the count is deterministic).

Output: progress on stderr; one Markdown table per workload on stdout; with
--docs (the default for full runs) the same into docs/benchmarks.md together
with the machine, the method and the exact command, and a chart
docs/benchmarks.svg (gnuplot). --update-baseline instead measures W1 under
callgrind only and rewrites bench/baseline/callgrind_w1.txt.

Python 3 standard library only.
"""

import argparse
import datetime
import glob
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = "zigzag"  # every ratio is taken against this candidate's median
W2_DEFAULT_SIZES = "16,64,256"


# --------------------------------------------------------------------------- options


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/bench.sh",
        description="Fixed-size allocation: zigzag against mallocs, ck, DPDK and private "
        "free lists. Options not given take the defaults shown.",
    )
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"),
                   help="CMake build directory holding bench/zzbench (default build/bench)")
    p.add_argument("--workloads", default="w1,w1d,w2,w3,w4,w5,w6",
                   help="comma-separated subset of w1,w1d,w2,w3,w4,w5,w6 (default all)")
    p.add_argument("--candidates", default="all",
                   help="comma-separated candidate names (default all; see zzbench --list)")
    p.add_argument("--threads", type=int, default=2, help="W3 threads (default 2)")
    p.add_argument("--oversub-threads", type=int, default=8, help="W5 threads (default 8)")
    p.add_argument("--size", type=int, default=64,
                   help="object bytes for W1, W3, W4, W5, W6 (default 64)")
    p.add_argument("--w2-sizes", default=W2_DEFAULT_SIZES,
                   help="object sizes of W2, comma-separated (default 16,64,256)")
    p.add_argument("--w2-count", type=int, default=1000000, help="W2 objects (default 1000000)")
    p.add_argument("--w6-count", type=int, default=16777216,
                   help="W6 pool capacity in objects (default 16777216: 1 GiB of 64 B)")
    p.add_argument("--capacity", type=int, default=65536,
                   help="pool capacity for W1, W3, W4, W5 (default 65536)")
    p.add_argument("--duration", type=float, default=0.2,
                   help="seconds of each timed W1/W3/W4/W5 run (default 0.2)")
    p.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    p.add_argument("--seed", type=int, default=1, help="PRNG seed (default 1)")
    p.add_argument("--pairs", type=int, default=100000,
                   help="W1 pairs counted under callgrind (default 100000)")
    p.add_argument("--timeout", type=float, default=120, help="seconds allowed per run")
    p.add_argument("--min-cpu-share", type=float, default=0.9,
                   help="a run whose threads got less of the CPU than this share (other load "
                   "on the machine) is repeated (default 0.9)")
    p.add_argument("--retries", type=int, default=2,
                   help="repeats of a disturbed run before it is kept anyway (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2 repetitions, 0.05 s runs, W2 at --size only, "
                   "W6 with 1/16 of the objects; docs not written unless --docs")
    p.add_argument("--no-callgrind", action="store_true", help="skip the W1 instruction counts")
    p.add_argument("--docs", dest="docs", action="store_true", default=None,
                   help="write docs/benchmarks.md and docs/benchmarks.svg (default unless --quick)")
    p.add_argument("--no-docs", dest="docs", action="store_false")
    p.add_argument("--md", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    p.add_argument("--svg", default=os.path.join(ROOT, "docs", "benchmarks.svg"))
    p.add_argument("--update-baseline", action="store_true",
                   help="only count W1 instructions under callgrind for every candidate and "
                   "rewrite bench/baseline/callgrind_w1.txt")
    p.add_argument("--baseline", default=os.path.join(ROOT, "bench", "baseline",
                                                      "callgrind_w1.txt"))
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)
    p.add_argument("--png", default=None, help="also render the chart as PNG to this path")
    a = p.parse_args(argv)
    if a.quick:
        a.reps = 2 if a.reps == 5 else a.reps
        a.duration = 0.05 if a.duration == 0.2 else a.duration
        a.w2_sizes = str(a.size) if a.w2_sizes == W2_DEFAULT_SIZES else a.w2_sizes
        a.w6_count = a.w6_count // 16 if a.w6_count == 16777216 else a.w6_count
        a.pairs = 20000 if a.pairs == 100000 else a.pairs
    if a.docs is None:
        a.docs = not a.quick
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    for w in a.workloads:
        if w not in ("w1", "w1d", "w2", "w3", "w4", "w5", "w6"):
            p.error("unknown workload %r" % w)
    a.w2_sizes = [int(s) for s in a.w2_sizes.split(",") if s.strip()]
    if a.reps < 1 or a.duration <= 0:
        p.error("--reps must be >= 1 and --duration > 0")
    return a


# --------------------------------------------------------------------------- zzbench


def zzbench_path(build_dir):
    exe = os.path.join(build_dir, "bench", "zzbench")
    if not os.access(exe, os.X_OK):
        sys.exit("bench: %s not found; build with -DZZ_BUILD_BENCH=ON (scripts/bench.sh does)"
                 % exe)
    return exe


def list_candidates(exe):
    """Candidates built into zzbench: name -> {pool, cross_free, preload, note}."""
    out = subprocess.run([exe, "--list"], check=True, capture_output=True, text=True).stdout
    cands = {}
    for line in out.splitlines():
        m = re.match(r"(\S+) pool=(\d) cross_free=(\d) preload=(\S+) note=(.*)", line)
        if m:
            cands[m.group(1)] = {
                "pool": m.group(2) == "1",
                "cross_free": m.group(3) == "1",
                "preload": None if m.group(4) == "-" else m.group(4),
                "note": m.group(5),
            }
    return cands


def parse_line(text):
    """The last `zzbench ...` line of a run as a dict; why= runs to the end of the line."""
    lines = [l for l in text.splitlines() if l.startswith("zzbench ")]
    if not lines:
        return None
    line = lines[-1][len("zzbench "):]
    rec = {}
    why = line.find(" why=")
    if line.startswith("why="):
        why = -1
        rec["why"] = line[4:]
        line = ""
    elif why >= 0:
        rec["why"] = line[why + 5:]
        line = line[:why]
    for field in line.split():
        k, _, v = field.partition("=")
        rec[k] = v
    return rec


def run_zzbench(exe, cand, args, timeout, env=None, prefix=()):
    cmd = list(prefix) + [exe, "--candidate", cand] + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "error", "why": "timed out after %.0f s" % timeout}
    rec = parse_line(proc.stdout)
    if rec is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "why": "exit %d: %s" % (proc.returncode, tail)}
    return rec


# --------------------------------------------------------------------------- the plan

# kind: how a value compares. "time": lower is better; "rate": higher is better.
class Variant:
    def __init__(self, key, workload, label, short, unit, kind, args, needs=None):
        self.key, self.workload, self.label, self.unit = key, workload, label, unit
        self.short = short  # the chart's x label
        self.kind, self.args, self.needs = kind, args, needs


def plan(a):
    common = ["--seed", str(a.seed)]
    timed = ["--duration", repr(a.duration), "--capacity", str(a.capacity)]
    v = []
    if "w1" in a.workloads:
        v.append(Variant("w1", "w1", "W1 hot churn, %d B" % a.size, "W1", "ns/pair", "time",
                         ["--workload", "w1", "--size", str(a.size)] + timed + common))
    if "w1d" in a.workloads:
        v.append(Variant("w1d", "w1d", "W1 hot churn, direct calls, %d B" % a.size, "W1 direct",
                         "ns/pair", "time",
                         ["--workload", "w1d", "--size", str(a.size)] + timed + common))
    if "w2" in a.workloads:
        for s in a.w2_sizes:
            v.append(Variant("w2-%d" % s, "w2", "W2 batch, %d B" % s, "W2 %d B" % s, "ns/op",
                             "time",
                             ["--workload", "w2", "--size", str(s), "--count", str(a.w2_count)]
                             + common))
    if "w3" in a.workloads:
        v.append(Variant("w3", "w3", "W3 shared pool, %d threads" % a.threads, "W3", "Mops/s",
                         "rate",
                         ["--workload", "w3", "--size", str(a.size), "--threads", str(a.threads)]
                         + timed + common))
    if "w4" in a.workloads:
        v.append(Variant("w4", "w4", "W4 producer/consumer, 2 threads", "W4", "Mobj/s", "rate",
                         ["--workload", "w4", "--size", str(a.size)] + timed + common,
                         needs="cross_free"))
    if "w5" in a.workloads:
        v.append(Variant("w5", "w5", "W5 oversubscribed, %d threads" % a.oversub_threads,
                         "W5", "Mops/s", "rate",
                         ["--workload", "w5", "--size", str(a.size), "--threads",
                          str(a.oversub_threads)] + timed + common))
    if "w6" in a.workloads:
        v.append(Variant("w6", "w6", "W6 creation, %d x %d B" % (a.w6_count, a.size),
                         "W6 create", "ms",
                         "time", ["--workload", "w6", "--size", str(a.size), "--count",
                                  str(a.w6_count)] + common, needs="pool"))
    return v


# --------------------------------------------------------------------------- running


def fmt_secs(s):
    return "%d:%02d" % (s // 60, s % 60)


def run_timed(a, exe, cands, variants):
    """results[(variant key, candidate)] = {"runs": [records], "skip": reason or None}."""
    results = {}
    jobs = []
    for v in variants:
        for c in cands:
            need = v.needs
            if need and not cands[c][need]:
                why = ("not a pool: creation does not apply" if need == "pool"
                       else "a block freed by the consumer can never return to the producer")
                results[(v.key, c)] = {"runs": [], "skip": why}
            else:
                results[(v.key, c)] = {"runs": [], "skip": None}
    names = list(cands)
    for rep in range(a.reps):
        # Rotate the candidate order each repetition: nobody always runs first or last.
        order = names[rep % len(names):] + names[:rep % len(names)]
        for v in variants:
            for c in order:
                jobs.append((rep, v, c))
    total = sum(1 for (_, v, c) in jobs if results[(v.key, c)]["skip"] is None)
    done, t0 = 0, time.time()
    for rep, v, c in jobs:
        res = results[(v.key, c)]
        if res["skip"] is not None:
            continue
        rec, best = None, None
        for attempt in range(1 + max(0, a.retries)):
            rec = run_zzbench(exe, c, v.args, a.timeout)
            if rec.get("status") != "ok":
                break
            share = float(rec.get("cpu_share", 1))
            if best is None or share > float(best.get("cpu_share", 1)):
                best = rec
            if share >= a.min_cpu_share:
                break
            res["retried"] = res.get("retried", 0) + 1
            print("bench: %s on %s got %.0f%% of its CPU (other load?); running it again"
                  % (v.label, c, 100 * share), file=sys.stderr)
        done += 1
        elapsed = time.time() - t0
        eta = elapsed / done * (total - done)
        if best is not None:
            best["rep"] = rep
            res["runs"].append(best)
            if float(best.get("cpu_share", 1)) < a.min_cpu_share:
                res["disturbed"] = res.get("disturbed", 0) + 1
            shown = "%s %s" % (num(float(best["value"])), v.unit)
        else:
            # unavailable, skipped or error: it would only repeat; report it once.
            res["skip"] = "%s: %s" % (rec.get("status", "error"), rec.get("why", "?"))
            shown = res["skip"]
            print("bench: %s on %s: %s" % (v.label, c, shown), file=sys.stderr)
        print("[%3d/%d %s, eta %s] rep %d/%d  %-32s %-15s %s" % (
            done, total, fmt_secs(elapsed), fmt_secs(eta), rep + 1, a.reps, v.label, c, shown),
            file=sys.stderr, flush=True)
    return results


def callgrind_ir(a, exe, cand, info):
    """Instructions per W1 pair for one candidate under callgrind, or (None, reason)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None, "valgrind not installed"
    env = dict(os.environ)
    if info["preload"]:
        # zzbench cannot re-run itself with LD_PRELOAD under valgrind; preload it here.
        env["LD_PRELOAD"] = info["preload"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        rec = run_zzbench(exe, cand, ["--workload", "w1cg", "--size", str(a.size),
                                      "--capacity", str(a.capacity), "--pairs", str(a.pairs)],
                          max(a.timeout, 300), env=env,
                          prefix=[valgrind, "--tool=callgrind", "--collect-atstart=no",
                                  "--callgrind-out-file=" + out])
        if rec.get("status") != "ok":
            return None, "%s: %s" % (rec.get("status"), rec.get("why", "?"))
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1]) / float(rec["value"]), None
    return None, "no totals in the callgrind output"


def run_callgrind(a, exe, cands):
    ir = {}
    for i, c in enumerate(cands):
        t = time.time()
        ir[c] = callgrind_ir(a, exe, c, cands[c])
        shown = "%.1f instructions/pair" % ir[c][0] if ir[c][0] is not None else ir[c][1]
        print("[callgrind %d/%d, %.1f s] W1 %-15s %s" % (i + 1, len(cands), time.time() - t, c,
                                                        shown), file=sys.stderr, flush=True)
    return ir


# --------------------------------------------------------------------------- machine


def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cmake_compiler(build_dir):
    """(id, version, path, build type, ZZ_DEBUG) of the bench build, from CMake's files."""
    cid = cver = cpath = btype = debug = "?"
    for f in glob.glob(os.path.join(build_dir, "CMakeFiles", "*", "CMakeCCompiler.cmake")):
        text = open(f).read()
        m = re.search(r'set\(CMAKE_C_COMPILER_ID "([^"]*)"\)', text)
        cid = m.group(1) if m else cid
        m = re.search(r'set\(CMAKE_C_COMPILER_VERSION "([^"]*)"\)', text)
        cver = m.group(1) if m else cver
        m = re.search(r'set\(CMAKE_C_COMPILER "([^"]*)"\)', text)
        cpath = m.group(1) if m else cpath
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if os.path.exists(cache):
        text = open(cache).read()
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", text, re.M)
        btype = m.group(1) if m else btype
        m = re.search(r"^ZZ_DEBUG:\w+=(.*)$", text, re.M)
        debug = m.group(1) if m else debug
    return cid, cver, cpath, btype, debug


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def machine(a, versions):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lscpu = sh(["lscpu"])

    def lscpu_field(name):
        m = re.search(r"^%s:\s*(.*)$" % re.escape(name), lscpu, re.M)
        return m.group(1).strip() if m else "?"

    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    thp = "?"
    try:
        thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    except OSError:
        pass
    cid, cver, cpath, btype, debug = cmake_compiler(a.build_dir)
    compiler = sh([cpath, "--version"]).splitlines()[:1] if cpath != "?" else []
    pkgs = []
    for pattern in ("libc6", "libjemalloc2", "libmimalloc2*", "libtcmalloc-minimal4",
                    "libck0", "libck-dev", "libdpdk-dev", "librte-eal[0-9]*",
                    "librte-mempool[0-9]*", "valgrind", "gnuplot-nox"):
        out = sh(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", pattern])
        pkgs += [l for l in out.splitlines() if l.strip() and not l.strip().endswith(" ")]
    commit = sh(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT) or "?"
    return {
        "CPU": "%s (%s; %s cores online, %s threads per core; L3 %s)" % (
            cpu, platform.machine(), os.cpu_count(), lscpu_field("Thread(s) per core"),
            lscpu_field("L3 cache")),
        "Hypervisor": lscpu_field("Hypervisor vendor"),
        "Memory": mem,
        "Kernel": "%s %s" % (platform.system(), platform.release()),
        "Transparent huge pages": thp,
        "Load average (1, 5, 15 min) at start / end": "%s / %s" % (
            getattr(a, "load_start", "?"), loadavg()),
        "Compiler": "%s (%s %s), CMAKE_BUILD_TYPE=%s, ZZ_DEBUG=%s; bench code -O2" % (
            compiler[0] if compiler else cpath, cid, cver, btype, debug),
        "Packages (dpkg-query)": "; ".join(pkgs) if pkgs else "dpkg-query not available",
        "Running code (reported by each run)": "; ".join(
            "%s: %s" % (c, v.replace("_", " ")) for c, v in versions.items()),
        "zigzag commit": commit,
        "Date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --------------------------------------------------------------------------- reporting


def num(x):
    if x is None:
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        return "%.0f" % x
    if ax >= 100:
        return "%.0f" % x
    if ax >= 10:
        return "%.1f" % x
    if ax >= 1:
        return "%.2f" % x
    if ax == 0:
        return "0"
    return "%.3g" % x


def stats(res, field="value"):
    vals = [float(r[field]) for r in res["runs"] if field in r]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def paired(res, ref_res):
    """Median over the repetitions of (candidate's value ÷ reference's value in the same
    repetition), or None. A repetition runs every candidate back to back, so on a machine
    whose speed drifts or jumps between runs the pair saw the same machine far more often
    than the two medians did."""
    ref_by_rep = {r["rep"]: float(r["value"]) for r in ref_res["runs"] if "rep" in r}
    vals = [float(r["value"]) / ref_by_rep[r["rep"]] for r in res["runs"]
            if r.get("rep") in ref_by_rep and ref_by_rep[r["rep"]] != 0]
    return statistics.median(vals) if vals else None


def table(headers, rows, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(":---" if x == "l" else "---:" for x in align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def direction(v):
    paired_text = (" Paired: the median, over the repetitions, of the candidate's result "
                   "÷ zigzag's in the same repetition.")
    if v.kind == "time":
        return ("%s, lower is better. × zigzag = candidate median ÷ zigzag median: "
                "below 1 means faster than zigzag.%s" % (v.unit, paired_text))
    return ("%s, higher is better. × zigzag = candidate median ÷ zigzag median: "
            "above 1 means faster than zigzag.%s" % (v.unit, paired_text))


def ratio(m, ref):
    if m is None or ref is None or ref == 0:
        return None
    return m / ref


def fmt_ratio(r):
    return "n/a" if r is None else "%s×" % num(r)


def report(a, cands, variants, results, ir):
    """Markdown for every workload, plus chart rows: (group label, {cand: speedup})."""
    parts, chart = [], []
    ref = REFERENCE if REFERENCE in cands else None
    w3 = next((v for v in variants if v.workload == "w3"), None)

    for v in variants:
        refm = stats(results[(v.key, ref)]) if ref else None
        refm = refm[0] if refm else None
        headers = ["candidate", "median", "min", "max", "× zigzag", "paired"]
        if v.workload == "w1" and ir is not None:
            headers += ["instr/pair", "instr × zigzag"]
        elif v.workload == "w2":
            headers += ["alloc ns", "free ns", "realloc ns"]
        elif v.workload == "w5" and w3 is not None:
            headers += ["W5/W3"]
        elif v.workload == "w6":
            headers += ["RSS after create, MiB", "RSS after 1,000 allocs, MiB", "destroy ms"]
        rows, speed = [], {}
        for c in cands:
            res = results[(v.key, c)]
            st = stats(res)
            if st is None:
                why = res["skip"] or "no result"
                rows.append([c, "n/a (%s)" % why] + [""] * (len(headers) - 2))
                continue
            r = ratio(st[0], refm)
            pr = paired(res, results[(v.key, ref)]) if ref else None
            row = [c, num(st[0]), num(st[1]), num(st[2]), fmt_ratio(r), fmt_ratio(pr)]
            # The chart shows the paired ratio: the steadier of the two.
            shown = pr if pr else r
            if shown:
                speed[c] = 1 / shown if v.kind == "time" else shown
            if v.workload == "w1" and ir is not None:
                ref_ir = ir.get(REFERENCE, (None, None))[0]
                val, why = ir.get(c, (None, "not measured"))
                row += [num(val) if val is not None else "n/a (%s)" % why,
                        fmt_ratio(ratio(val, ref_ir))]
            elif v.workload == "w2":
                row += [num(stats(res, k)[0]) for k in ("alloc_ns", "free_ns", "realloc_ns")]
            elif v.workload == "w5" and w3 is not None:
                s3 = stats(results[(w3.key, c)])
                row += [num(st[0] / s3[0]) if s3 else "n/a"]
            elif v.workload == "w6":
                row += [num(stats(res, k)[0]) for k in
                        ("rss_create_mib", "rss_alloc_mib", "destroy_ms")]
            rows.append(row)
        chart.append((v.short, speed))
        if v.workload == "w1" and ir is not None:
            ref_ir = ir.get(REFERENCE, (None, None))[0]
            chart.append(("W1 instr.",
                          {c: ref_ir / ir[c][0] for c in cands
                           if ir.get(c, (None,))[0] and ref_ir}))
        text = "### %s\n\n%s\n\n%s" % (v.label, direction(v), table(headers, rows))
        kept = ["%s (%d)" % (c, results[(v.key, c)]["disturbed"]) for c in cands
                if results[(v.key, c)].get("disturbed")]
        if kept:
            text += ("\n\nDisturbed runs kept (less than %d%% of their CPU after %d retries): %s."
                     % (100 * a.min_cpu_share, a.retries, ", ".join(kept)))
        parts.append(text)
    return parts, chart


def notes(a, cands):
    lines = ["- **%s**: %s." % (c, cands[c]["note"]) for c in cands]
    lines += [
        "- Every candidate is called through the same table of function pointers "
        "(bench/candidate.h), one indirect call per alloc or free, so differences are the "
        "allocators', except in W1 direct (see Workloads). Blocks of the benchmark's own pools (ck-stack, private-*) are the object "
        "size rounded up to 16 bytes, as zigzag's default alignment gives.",
        "- private-list and private-array are the limit, not contenders: in W3 and W5 each "
        "thread has its own list over its own blocks (no sharing at all), and W4 is not "
        "possible for them.",
        "- W1 writes nothing into the objects; W2, W3, W4 and W6 write one 8-byte word into "
        "each object they receive.",
        "- W2 times allocation, freeing and allocation again, not the pool's creation: "
        "ck-stack, dpdk-mempool and private-list write every block when created, and "
        "zigzag-prefault commits every page then (see W6), so their first allocations find "
        "the memory already committed; the others take a page fault per fresh page.",
        "- W3/W5 count one operation per alloc and one per free; W4 counts objects through "
        "the ring.",
        "- W6 times creation of the pool until the first allocation can be served; RSS is "
        "the growth of resident anonymous and shared memory (RssAnon + RssShmem in "
        "/proc/self/status, not the program's code) over the state before creation. "
        "dpdk-mempool objects carry a header and padding, hence its larger footprint.",
    ]
    return "\n".join(lines)


def workloads_text(a):
    return "\n".join([
        "- **W1 hot churn** (1 thread): allocate one object, free it, repeat. Nanoseconds "
        "per alloc+free pair, and instructions per pair under callgrind.",
        "- **W1 direct**: W1 in a loop of each candidate's own, its alloc and free called "
        "directly as a program written for it would (inlined where its API is inline, as "
        "DPDK's mempool, ck_stack and the private lists are), not through the function "
        "table of the other workloads. Where the table's call and return overlap with a "
        "candidate's own work, W1 hides the candidate's latency and W1 direct shows it.",
        "- **W2 batch** (1 thread): allocate %d objects keeping the pointers, writing to each; "
        "free them in an order shuffled beforehand with a seeded PRNG; allocate %d again. "
        "Nanoseconds per operation over the three phases (each phase also shown alone)."
        % (a.w2_count, a.w2_count),
        "- **W3 shared pool** (%d threads, one pool): each thread keeps %d live objects and "
        "replaces a random one per step (free it, allocate a new one, write to it). "
        "Operations per second, all threads together." % (a.threads, 64),
        "- **W4 producer/consumer** (2 threads): one thread allocates and passes objects "
        "through a bounded single-producer/single-consumer ring (1024 slots, C11 atomics, "
        "each side publishing its index once per 32 objects, so that the ring is not the "
        "bottleneck); "
        "the other writes to each and frees it. Objects per second.",
        "- **W5 oversubscribed**: W3 with %d threads on %s cores; W5/W3 is the share of W3's "
        "throughput that survives oversubscription." % (a.oversub_threads, os.cpu_count()),
        "- **W6 creation**: a pool of %d objects of %d bytes: time to create it, and resident "
        "memory growth after creation and after 1,000 allocations (each written)."
        % (a.w6_count, a.size),
    ])


def method(a):
    return "\n".join([
        "- %d repetitions of every (workload, candidate); the tables give the median, "
        "minimum and maximum. Repetitions are interleaved (repetition 1 of everything, then "
        "repetition 2, ...) and the candidate order rotates between repetitions, so drift of "
        "the machine hits every candidate alike." % a.reps,
        "- Every timed run is a fresh process: `zzbench --candidate C --workload W ...`. "
        "jemalloc, mimalloc and tcmalloc replace malloc in their process through LD_PRELOAD; "
        "zzbench checks which library `malloc` and `free` really resolve to, and that "
        "library's own API symbol, and refuses to report otherwise.",
        "- W1, W3, W4 and W5 run %.3g s each after a warm-up; W2 uses %d objects per size "
        "(pools of exactly that capacity); other pools hold %d blocks; W6 builds a pool of "
        "%d objects of %d bytes." % (a.duration, a.w2_count, a.capacity, a.w6_count, a.size),
        "- Each run measures the CPU time its threads got against the wall time they could "
        "have used (`cpu_share`). On a busy machine threads lose their cores, which slows "
        "single-thread runs and, by cutting contention, flatters shared pools; a run below "
        "%d%% is repeated up to %d times and the least disturbed attempt kept (%d repeats in "
        "this run)." % (100 * a.min_cpu_share, a.retries, a.retried_total),
        "- W1 instructions: valgrind --tool=callgrind, counted only around %d alloc+free "
        "pairs after a warm-up (bench/w1_callgrind.c), divided by the pairs." % a.pairs,
        "- Headline: each table's × zigzag column, the candidate's median divided by the "
        "median of zigzag's default pool, and its paired column, the median over the "
        "repetitions of the candidate's result divided by zigzag's in the same repetition "
        "(the two ran seconds apart, so a machine that changes speed between runs moves "
        "both); each table says which direction is better. The chart shows the paired "
        "speed relative to zigzag (higher is faster) on a log scale.",
    ])


# Distinct colours for up to 12 candidates (Okabe-Ito, then darker tones); zigzag first.
COLOURS = ["#555555", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
           "#D55E00", "#CC79A7", "#882255", "#44AA99", "#999933", "#000000"]
CHART_MIN, CHART_MAX = 1 / 64.0, 64.0  # bars beyond are cut at the border and labelled


def write_chart(a, cands, chart, svg_path):
    """Grouped bars of speed relative to zigzag, from 1 up (faster) or down (slower)."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "gnuplot not found; no chart"
    # zigzag is the line at 1, not a bar.
    names = [c for c in cands if c != REFERENCE]
    n, step = len(names), len(names) + 2  # one empty slot each side of a group
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "chart.dat")
        with open(data, "w") as f:
            for j, name in enumerate(names):
                f.write("# %s\n" % name)
                for g, (_, speed) in enumerate(chart):
                    if name not in speed:
                        continue
                    v = speed[name]
                    shown = min(max(v, CHART_MIN), CHART_MAX)
                    label, clip = "", 0
                    if v != shown:
                        label = ("%.0f" % v) if v > 1 else ("1/%.0f" % (1 / v))
                        clip = 1 if v > 1 else -1
                    x = g * step + j + 1.5
                    f.write('%g %g %g %g %g "%s" %d\n' % (x, x - 0.45, x + 0.45, min(1, shown),
                                                          max(1, shown), label, clip))
                f.write("\n\n")
        xtics = ", ".join('"%s" %g' % (label, g * step + n / 2.0 + 1)
                          for g, (label, _) in enumerate(chart))
        plots = []
        for j, name in enumerate(names):
            plots.append('"%s" index %d using 1:(($4+$5)/2):2:3:4:5 with boxxyerror fs solid 0.9 '
                         'border lc rgb "#333333" fc rgb "%s" title "%s"'
                         % (data, j, COLOURS[j % len(COLOURS)], name))
        # A bar cut at the border carries its true value, written along it.
        plots.append('"%s" using 1:($7 < 0 ? $4 : 1/0):6 with labels rotate by 90 left '
                     'offset 0,0.4 font ",9" tc rgb "white" notitle' % data)
        plots.append('"%s" using 1:($7 > 0 ? $5 : 1/0):6 with labels rotate by 90 right '
                     'offset 0,-0.4 font ",9" tc rgb "white" notitle' % data)
        script = os.path.join(tmp, "chart.gp")
        with open(script, "w") as f:
            f.write("""\
set terminal svg size 1400,640 dynamic enhanced font "sans,12" background "white"
set output "%s"
set title "Speed relative to zigzag's default pool (the line at 1): higher is faster; \\
log scale, medians of %d runs"
set logscale y 2
set yrange [%g:%g]
set ytics ("1/64" 1.0/64, "1/16" 1.0/16, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, \\
    "16" 16, "64" 64)
set grid ytics
set xrange [0:%g]
set xtics (%s) nomirror scale 0
set key outside right top vertical
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 1.5 lc rgb "black" front
set ylabel "zigzag time / candidate time, or candidate rate / zigzag rate"
plot %s
""" % (svg_path, a.reps, CHART_MIN / 1.2, CHART_MAX * 1.6, len(chart) * step, xtics,
       ", \\\n     ".join(plots)))
        proc = subprocess.run([gnuplot, script], capture_output=True, text=True)
        if proc.returncode != 0:
            return "gnuplot failed: " + proc.stderr.strip()[-400:]
        if a.png:
            text = open(script).read().replace("set terminal svg", "set terminal pngcairo", 1)
            text = text.replace('set output "%s"' % svg_path, 'set output "%s"' % a.png, 1)
            text = text.replace(" dynamic", "", 1)
            with open(script, "w") as f:
                f.write(text)
            subprocess.run([gnuplot, script], capture_output=True, text=True)
    return None


def write_baseline(a, cands, ir):
    cid, cver, _, btype, debug = cmake_compiler(a.build_dir)
    valgrind = sh(["valgrind", "--version"])
    commit = sh(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT) or "?"
    lines = [
        "# Instructions per W1 pair (alloc + free of %d bytes through the candidate interface)"
        % a.size,
        "# under valgrind --tool=callgrind, counted by bench/w1_callgrind.c over %d pairs."
        % a.pairs,
        "# Written by scripts/bench.sh --update-baseline. The test perf.callgrind_w1",
        "# (bench/check_callgrind.sh) fails when zigzag's count exceeds its line by 10%;",
        "# it runs only where compiler, build type and ZZ_DEBUG match the lines below.",
        "# compiler: %s %s" % (cid, cver),
        "# build: %s" % btype,
        "# zz_debug: %s" % debug,
        "# valgrind: %s" % valgrind,
        "# commit: %s" % commit,
        "# date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    ]
    for c in cands:
        val, why = ir[c]
        lines.append("%s %.2f" % (c, val) if val is not None else "# %s: %s" % (c, why))
    os.makedirs(os.path.dirname(a.baseline), exist_ok=True)
    with open(a.baseline, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("bench: wrote %s" % a.baseline, file=sys.stderr)


def main(argv):
    a = parse_args(argv)
    started = time.time()
    exe = zzbench_path(a.build_dir)
    allc = list_candidates(exe)
    if a.candidates == "all":
        cands = allc
    else:
        cands = {}
        for c in a.candidates.split(","):
            if c not in allc:
                sys.exit("bench: unknown candidate %r; built in: %s" % (c, ", ".join(allc)))
            cands[c] = allc[c]
    if REFERENCE not in cands:
        print("bench: %s not among the candidates: no ratios" % REFERENCE, file=sys.stderr)

    if a.update_baseline:
        ir = run_callgrind(a, exe, cands)
        write_baseline(a, cands, ir)
        return 0

    variants = plan(a)
    a.load_start = loadavg()
    results = run_timed(a, exe, cands, variants)
    a.retried_total = sum(r.get("retried", 0) for r in results.values())
    ir = None
    if not a.no_callgrind and ("w1" in a.workloads):
        ir = run_callgrind(a, exe, cands)

    versions = {}
    for (_, c), res in sorted(results.items(), key=lambda kv: list(cands).index(kv[0][1])):
        for r in res["runs"]:
            versions.setdefault(c, r.get("version", "?"))
    parts, chart = report(a, cands, variants, results, ir)
    elapsed = time.time() - started
    command = a.command or "bench/driver.py " + " ".join(argv)

    mach = machine(a, versions)
    print("## Machine\n")
    print("\n".join("- **%s**: %s" % (k, v) for k, v in mach.items()))
    print("\n## Results\n")
    print("\n\n".join(parts))
    print("\nNotes:\n\n" + notes(a, cands))
    print("\nbench: %d s in all (%s)" % (elapsed, command), file=sys.stderr)

    if a.docs:
        chart_err = write_chart(a, cands, chart, a.svg)
        if chart_err:
            print("bench: " + chart_err, file=sys.stderr)
        svg_rel = os.path.relpath(a.svg, os.path.dirname(os.path.abspath(a.md)))
        doc = [
            "# Benchmarks",
            "",
            "<!-- Generated by scripts/bench.sh (bench/driver.py): rerun it rather than "
            "editing this file. -->",
            "",
            "Fixed-size allocation with zigzag's pool beside general-purpose mallocs, "
            "Concurrency Kit's lock-free stack, DPDK's mempool, and the limit of plain "
            "per-thread free lists. Produced by:",
            "",
            "```sh",
            command,
            "```",
            "",
            "which took %d s. `make bench` runs `scripts/bench.sh` with its defaults; "
            "`scripts/bench.sh --help` lists the options (workloads, candidates, threads, "
            "sizes, duration, repetitions, `--quick`)." % elapsed,
            "",
            "## Machine",
            "",
        ]
        doc += ["- **%s**: %s" % (k, v) for k, v in mach.items()]
        doc += ["", "## Workloads", "", workloads_text(a), "", "## Method", "", method(a), "",
                "## Results", ""]
        if not chart_err:
            doc += ["![Speed relative to zigzag per workload](%s)" % svg_rel, ""]
        doc += ["\n\n".join(parts), "", "### Notes", "", notes(a, cands), ""]
        with open(a.md, "w") as f:
            f.write("\n".join(doc))
        print("bench: wrote %s%s" % (a.md, "" if chart_err else " and " + a.svg),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
