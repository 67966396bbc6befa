#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of pool_fuzz (tests/fuzz/corpus/), reproducibly.

Each seed is a small program in the encoding pool_fuzz.c reads: a step is a
byte (bits 0-4: an index into pf_op_table, bits 5-6: the pool slot 0-2)
followed by that operation's argument bytes. Keep OPS and the argument
layouts below in step with pool_fuzz.c.

  python3 tests/fuzz/make_corpus.py [OUT_DIR]

Seeds named regress_* are the reproducers of bugs the fuzzer found.
"""
import os
import struct
import sys

# First index of each operation in pf_op_table (pool_fuzz.c).
OPS = {
    "create": 0, "destroy": 2, "alloc": 3, "alloc_bulk": 7, "free": 9, "free_bulk": 14,
    "owns": 16, "flush": 18, "wipe": 19, "visit": 21, "allocator": 22, "scan": 24,
    "null_args": 25, "fill": 26, "drain": 27,
}

# Flag bits of the create step's flags byte.
CHECKED, ZERO, NO_CACHE, GUARD, HUGE, HANDLER, PREFAULT = 1, 2, 4, 8, 16, 32, 64
# Backing kinds (PF_BACK_*).
DEFAULT, PAGE, SYSTEM, FIXED, COUNT_SYSTEM, COUNT_FIXED = range(6)
# Index of each alignment in pool_fuzz.c's table; 14 is "not a power of two".
ALIGN = {0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5, 32: 6, 64: 7, 128: 8, 256: 9, 512: 10,
         1024: 11, 2048: 12, 4096: 13, "bad": 14}
# The create step's `bad` byte: which invalid option to inject (VALID: none).
BAD = {"size0": 0, "cap0": 1, "cap_big": 2, "flag": 3, "thread_cache": 4, "ctx_no_vtable": 5,
       "size_wrap": 6, "slab_overflow": 7, "null_opts": 8, "null_out": 9, "tiny_buffer": 10}
VALID = 23
# Pointer kinds of pf_pick_ptr.
LIVE, FREED, NULL, INTERIOR, OTHER_POOL, STACK, HEAP_OR_STATIC, BY_INDEX, ENDS, NONSENSE = (
    0, 6, 8, 9, 10, 11, 12, 13, 14, 15)
# How a single free is made.
FREE, FREE_ZEROED, VIA_ALLOCATOR = 0, 1, 2


class Program:
    def __init__(self):
        self.b = bytearray()

    def op(self, name, slot=0):
        self.b.append(OPS[name] | (slot << 5))
        return self

    def u8(self, v):
        self.b.append(v & 0xFF)
        return self

    def u16(self, v):
        self.b += struct.pack("<H", v & 0xFFFF)
        return self

    def create(self, slot=0, size=32, align=0, cap=64, flags=0, backing=DEFAULT,
               thread_cache=None, bad=VALID, extra=0):
        self.op("create", slot).u16(size - 1).u8(ALIGN[align]).u16(cap - 1).u8(flags)
        self.u8(backing)
        self.u16(0 if thread_cache is None else thread_cache << 1 | 1)
        return self.u8(bad).u16(extra)

    def ptr(self, kind, r=0):
        return self.u8(kind).u16(r)

    def free(self, kind, r=0, slot=0, how=FREE):
        return self.op("free", slot).u8(how).ptr(kind, r)

    def owns(self, kind, r=0, slot=0):
        return self.op("owns", slot).ptr(kind, r)

    def free_bulk(self, ptrs, slot=0, dup=None):
        """ptrs: (kind, r) pairs; dup=(to, from) lists ptrs[from] again at `to`."""
        d = 0 if dup is None else 1 | dup[0] << 1 | dup[1] << 5
        self.op("free_bulk", slot).u8(len(ptrs)).u8(d)
        for kind, r in ptrs:
            self.ptr(kind, r)
        return self

    def alloc_bulk(self, n, slot=0):
        return self.op("alloc_bulk", slot).u8(n)

    def allocator(self, size_sel, align_sel, r=0, slot=0):
        return self.op("allocator", slot).u8(size_sel).u8(align_sel).u16(r)

    def drain(self, how=0, slot=0):
        return self.op("drain", slot).u8(how)

    def simple(self, name, slot=0, times=1):
        for _ in range(times):
            self.op(name, slot)
        return self


def every_pointer_kind(p, slot=0):
    """Frees, free_zeroed and owns with a pointer of every kind pf_pick_ptr makes."""
    for how in (FREE, FREE_ZEROED, VIA_ALLOCATOR):
        for kind in (INTERIOR, STACK, HEAP_OR_STATIC, NULL, NONSENSE):
            for r in range(4):
                p.free(kind, r * 7 + 1, slot, how)
                p.owns(kind, r * 7 + 1, slot)
    for r in range(4):
        p.free(ENDS, r, slot)
        p.owns(ENDS, r, slot)
        p.free(NONSENSE, r, slot, FREE_ZEROED)
    return p


def seeds():
    s = {}

    s["basic"] = (Program().create(size=24, cap=100, flags=CHECKED | HANDLER)
                  .simple("alloc", times=5).free(LIVE, 0).free(LIVE, 3).free(FREED, 0)
                  .simple("visit").free(LIVE, 1, how=FREE_ZEROED).simple("flush")
                  .simple("destroy")).b

    p = Program().create(size=40, align=8, cap=1000, flags=HANDLER)
    p.create(slot=1, size=16, cap=50, flags=CHECKED | HANDLER)
    p.simple("alloc", 0, 20).simple("alloc", 1, 3)
    every_pointer_kind(p, 0)
    p.free(OTHER_POOL, 1, 0).free(OTHER_POOL, 2, 1).owns(OTHER_POOL, 1, 0)
    p.simple("scan").free(BY_INDEX, 5).free(BY_INDEX, 999).free(BY_INDEX, 3)
    p.owns(BY_INDEX, 17).simple("visit").simple("drain")
    s["foreign_pointers"] = p.b

    p = Program().create(size=100, align=4, cap=7, flags=HANDLER | NO_CACHE)
    p.simple("fill").simple("alloc").alloc_bulk(0).alloc_bulk(3).allocator(2, 1)
    p.drain(1).alloc_bulk(7).simple("alloc").drain(2).alloc_bulk(4).alloc_bulk(3)
    p.simple("alloc").simple("visit").drain(0)
    s["strict_capacity"] = p.b

    p = Program().create(size=64, cap=300, thread_cache=8)
    p.simple("alloc", times=40)
    for i in range(30):
        p.free(LIVE, i * 5)
    p.simple("alloc", times=25).simple("flush").drain(1).simple("fill").simple("flush")
    p.drain(0).simple("alloc", times=3)
    s["cache_spill_refill"] = p.b

    p = Program().create(size=48, cap=64, flags=CHECKED | HANDLER)
    p.simple("alloc", times=12)
    # Refusals whose culprit comes first: nothing claimed before the report.
    p.free_bulk([(STACK, 1), (LIVE, 2), (LIVE, 3)])
    p.free_bulk([(NULL, 0), (INTERIOR, 9), (LIVE, 3)])
    p.free_bulk([(NULL, 0), (NULL, 0)])
    p.free_bulk([(LIVE, 1), (NULL, 0), (LIVE, 4), (LIVE, 7)])
    p.free_bulk([(FREED, 0), (LIVE, 2)])
    p.free_bulk([])
    p.op("free_bulk").u8(17)  # NULL array: ZZ_EINVAL, and n == 0: 0
    p.simple("visit").drain(2)
    s["free_bulk"] = p.b

    # The same without a handler: refusals after claims, and a repeat.
    p = Program().create(size=48, cap=64, flags=CHECKED)
    p.simple("alloc", times=12)
    p.free_bulk([(LIVE, 1), (LIVE, 2), (STACK, 3)])
    p.free_bulk([(LIVE, 1), (LIVE, 2), (LIVE, 5)], dup=(2, 0))
    p.free_bulk([(LIVE, 1), (INTERIOR, 3), (LIVE, 2)])
    p.free_bulk([(LIVE, 4), (LIVE, 6)]).simple("visit").drain(1)
    s["free_bulk_unreported"] = p.b

    p = Program().create(size=33, align=1, cap=90, flags=CHECKED | HANDLER | ZERO)
    p.simple("alloc", times=6).simple("wipe").drain(0).simple("wipe")
    p.simple("alloc", times=8).drain(1).simple("wipe").simple("fill").drain(2)
    p.simple("wipe").simple("alloc", times=3).simple("destroy")
    s["wipe_checked"] = p.b

    p = Program().create(size=20, align=4, cap=50, flags=HANDLER)
    for size_sel in range(8):
        for align_sel in range(8):
            p.allocator(size_sel, align_sel, size_sel * 31 + align_sel)
    p.free(LIVE, 0, how=VIA_ALLOCATOR).free(FREED, 0, how=VIA_ALLOCATOR)
    p.free(INTERIOR, 5, how=VIA_ALLOCATOR).simple("visit").drain(0)
    s["allocator"] = p.b

    p = Program()
    for bad in BAD.values():
        p.create(size=64, cap=10, backing=COUNT_FIXED, bad=bad, extra=40)
    p.create(align="bad", cap=10)
    p.create(size=64, cap=10, bad=BAD["thread_cache"], extra=43)
    p.create(size=64, cap=10, backing=COUNT_SYSTEM, bad=BAD["flag"], extra=25)
    p.create(size=64, cap=10, backing=SYSTEM, bad=BAD["size_wrap"], extra=0)
    p.simple("alloc").create(size=64, cap=10, thread_cache=256).simple("alloc")
    s["invalid_options"] = p.b

    for name, backing in (("page", PAGE), ("system", SYSTEM), ("fixed", FIXED),
                          ("count_system", COUNT_SYSTEM), ("count_fixed", COUNT_FIXED)):
        p = Program().create(size=72, align=8, cap=120, backing=backing,
                             flags=ZERO | GUARD | CHECKED | HANDLER)
        p.create(slot=1, size=500, align=256, cap=30, backing=backing,
                 flags=NO_CACHE | HUGE | PREFAULT)
        p.simple("alloc", 0, 30).simple("alloc", 1, 10).free(LIVE, 3).free(LIVE, 4, 1)
        p.simple("scan").simple("scan", 1).free(ENDS, 0).simple("visit")
        p.simple("destroy", 1).simple("destroy")  # slot 0 leaks: one ZZ_ELEAK report
        s["backing_" + name] = p.b

    p = Program().create(size=8, cap=40, flags=CHECKED | HANDLER)
    p.simple("alloc", times=9).free(LIVE, 2).simple("destroy")
    p.create(size=8, cap=40, flags=CHECKED).simple("alloc", times=3).simple("destroy")
    p.create(size=8, cap=40, flags=HANDLER).simple("alloc", times=3).simple("destroy")
    s["leak_report"] = p.b

    p = Program()
    p.create(0, size=12, align=4, cap=200, flags=HANDLER)
    p.create(1, size=1000, align=16, cap=60, flags=CHECKED | HANDLER | NO_CACHE)
    p.create(2, size=3, align=1, cap=500, backing=FIXED, flags=HANDLER)
    for i in range(6):
        for slot in range(3):
            p.simple("alloc", slot, 3).free(LIVE, i, slot).free(OTHER_POOL, i, slot)
            p.owns(OTHER_POOL, i, slot).free(FREED, i, slot)
    p.simple("visit", 0).simple("visit", 1).simple("visit", 2)
    p.create(1, size=300, cap=9).simple("fill", 1).simple("null_args")
    s["three_pools"] = p.b

    p = Program().create(size=4096, align=4096, cap=64, flags=HANDLER | CHECKED)
    p.simple("fill").free(INTERIOR, 4095).free(INTERIOR, 1).drain(1).simple("fill")
    p.drain(2)
    s["page_blocks"] = p.b

    p = Program().create(size=1, align=1, cap=2000, flags=ZERO, backing=FIXED)
    p.simple("fill").drain(1).simple("fill").simple("scan").free(BY_INDEX, 1999).drain(0)
    s["tiny_blocks_full"] = p.b

    p = Program().create(size=13, align=1, cap=77, flags=HANDLER)
    p.simple("alloc", times=10).simple("scan")
    for r in range(12):
        p.free(INTERIOR, r * 2 + 1).owns(INTERIOR, r * 2 + 1).free(BY_INDEX, r * 9)
    for r in range(4):
        p.free(ENDS, r).owns(ENDS, r)
    s["odd_stride"] = p.b

    s["null_args"] = (Program().simple("null_args").create(cap=4).simple("null_args")
                      .simple("alloc").simple("null_args").b)

    p = Program().create(size=200, align=64, cap=1500, flags=ZERO)
    p.simple("alloc", times=100).alloc_bulk(48).alloc_bulk(20).drain(2).alloc_bulk(48)
    p.simple("flush").drain(1).simple("alloc", times=2)
    s["bulk_cached"] = p.b

    return s



def regressions():
    """Reproducers of bugs the fuzzer found, kept so that they stay fixed."""
    k = {}
    # A refused alloc_bulk took blocks and gave them back, leaving
    # peak_in_use raised to the capacity: capacity 1, bulk of 5.
    k["regress_bulk_alloc_raises_peak"] = (Program().create(size=8, cap=1, flags=NO_CACHE)
                                           .alloc_bulk(5).b)
    k["regress_bulk_alloc_raises_peak_cached"] = (Program().create(size=8, cap=40, flags=CHECKED)
                                                  .simple("alloc", times=3).alloc_bulk(45).b)
    # The free_bulk misuse report came before the claims were undone: the
    # handler saw the blocks listed before the culprit as not in use.
    k["regress_bulk_free_report_too_early"] = (Program().create(size=16, cap=8, flags=HANDLER)
                                               .simple("alloc", times=3)
                                               .free_bulk([(LIVE, 0), (STACK, 0)]).b)
    return k


def write(out, items):
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(items.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(data))
    print("wrote %d files to %s" % (len(items), out))


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    out = argv[0] if argv else os.path.join(here, "corpus")
    items = seeds()
    items.update(regressions())
    write(out, items)


if __name__ == "__main__":
    main(sys.argv[1:])
