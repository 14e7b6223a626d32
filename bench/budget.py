#!/usr/bin/env python3
"""Instruction budget of one operation, step by step, from two callgrind runs.

Usage: budget.py [--detail] SRC_ROOT SMALL.out LARGE.out N_SMALL N_LARGE

SMALL.out and LARGE.out are callgrind outputs (--dump-instr=yes
--dump-line=no) of the same benchmark with N_SMALL and N_LARGE operations;
their difference divided by N_LARGE - N_SMALL is what one operation costs,
start-up and exit cancelled. Each instruction of librustasync is given to
the innermost function of the crate (under SRC_ROOT/src) that it was
inlined into, so that work LTO folded into ASYNC_start_job is still
counted where it belongs; `addr2line -i` reads the inline chain from the
library's debug information. Instructions in other objects go by object
(the dynamic linker's __tls_get_addr, libcrypto, the benchmark itself).

Prints one line per step: instructions per operation, and the functions
that make it up with --detail.
"""
import re
import subprocess
import sys
from collections import defaultdict

# (step, regex on the innermost crate function, as addr2line -C names it).
# First match wins; the order matters.
STEPS = [
    ("thread-state lookup", r"current_thread|get_or_create|\bTHREAD\b|thread_state|tls::"),
    ("counters (stats)", r"stats::|ThreadCounters"),
    ("libctx (default OSSL_LIB_CTX)", r"openssl::|LibCtx|tsd::"),
    ("FP environment", r"fp_env|fpenv|fenv|mxcsr|x87"),
    ("wait-ctx resync", r"wait_ctx::|[Rr]esync|reset_counts|attach|detach"),
    ("boundary (catch_unwind)", r"ffi::boundary|catch_unwind|panicking"),
    ("resume prefetch (where each job stopped)", r"stopped_at|warm_for_resume|fibre::prefetch|slot_key"),
    ("handle and stack checks", r"from_handle|resumable|Arena.*contains|arena::|on_own_stack|Job::holds"),
    ("sanitizer/log/trace checks", r"sanitizer::|log::|notes|check_dying|watched"),
    ("switch glue (fibre)", r"fibre::"),
    ("args and results", r"prepare|free_args|ASYNC_start_job|::finish|Job::run|job_entry|copy_args|copy_small|set_function|args_fit|ffi::deliver"),
    ("pool (take/give back)", r"take_job|take_idle|next_idle_quick|give_back|with_idle|ThreadState::start_new|ThreadState::start_quick|ThreadState::resume|trim::|after_idle_change"),
    ("job state and current", r"Job::enter|Job::pause|set_current|::current|pause_current|ASYNC_pause_job|ThreadState::run"),
]

# Functions of other objects that belong to a step of the library's.
OTHER_FUNCTIONS = [
    ("libctx (default OSSL_LIB_CTX)", r"pthread_[gs]etspecific|pthread_once"),
]

OTHER_OBJECTS = [
    ("thread-state lookup", r"ld-linux"),
    ("libctx (default OSSL_LIB_CTX)", r"libcrypto"),
    ("caller (benchmark loop)", r"async_bench"),
]


def parse(path):
    """{(object, function): {address: Ir}} of the self cost in a callgrind file."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    costs = defaultdict(lambda: defaultdict(int))
    ob = fn = None
    last = 0
    skip_next = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            m = re.match(r"(c?)(ob|fn|fl|fi|fe)=(?:\((\d+)\))?\s*(.*)", line)
            if m:
                called, kind, ident, name = m.groups()
                table = names.get(kind if kind in names else "fl")
                if ident is not None and name:
                    table[ident] = name
                value = table.get(ident, name) if ident is not None else name
                if not called and kind == "ob":
                    ob = value
                elif not called and kind == "fn":
                    fn = value
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            m = re.match(r"(0x[0-9a-fA-F]+|[+-]\d+|\*)\s+(\d+)?", line)
            if not m:
                continue
            pos, ir = m.groups()
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos == "*":
                addr = last
            else:
                addr = last + int(pos)
            last = addr
            if skip_next:
                skip_next = False
                continue
            if ir:
                costs[(ob, fn)][addr] += int(ir)
    return costs


def inline_chains(library, addresses):
    """{address: [(function, file), ...]} innermost first."""
    chains = {}
    if not addresses:
        return chains
    order = sorted(addresses)
    text = subprocess.run(
        ["addr2line", "-i", "-f", "-C", "-a", "-e", library] + [hex(a) for a in order],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    current = None
    i = 0
    while i < len(text):
        if text[i].startswith("0x"):
            current = int(text[i], 16)
            chains[current] = []
            i += 1
            continue
        function, place = text[i], text[i + 1] if i + 1 < len(text) else "??"
        chains[current].append((function, place))
        i += 2
    return chains


def classify(chain, src):
    for function, place in chain:
        if src in place:
            for step, pattern in STEPS:
                if re.search(pattern, function):
                    return step, function
            return "other library code", function
    function = chain[-1][0] if chain else "??"
    for step, pattern in STEPS:
        if re.search(pattern, function):
            return step, function
    return "other library code", function


def main():
    args = sys.argv[1:]
    detail = False
    if args and args[0] == "--detail":
        detail = True
        args = args[1:]
    if len(args) != 5:
        sys.exit(__doc__)
    root, small, large, n1, n2 = args
    ops = int(n2) - int(n1)
    src = root.rstrip("/") + "/src/"
    a, b = parse(small), parse(large)
    delta = defaultdict(int)
    for key in set(a) | set(b):
        for addr in set(a.get(key, {})) | set(b.get(key, {})):
            d = b.get(key, {}).get(addr, 0) - a.get(key, {}).get(addr, 0)
            if d:
                delta[(key[0], key[1], addr)] += d
    library = next((ob for ob, _, _ in delta if ob and "librustasync" in ob), None)
    lib_addrs = {addr for ob, fn, addr in delta if ob == library}
    chains = inline_chains(library, lib_addrs) if library else {}
    steps = defaultdict(float)
    parts = defaultdict(lambda: defaultdict(float))
    for (ob, fn, addr), d in delta.items():
        per_op = d / ops
        if ob == library:
            # By address, not by callgrind's function context: after the
            # switch's indirect jump callgrind still books the other side's
            # instructions under jump_fcontext.
            chain = chains.get(addr, [])
            if chain and "fcontext" in chain[0][0]:
                step, what = "context switches (jump_fcontext)", chain[0][0]
            else:
                step, what = classify(chain, src)
        else:
            step, what = "other objects", f"{fn} [{(ob or '?').rsplit('/', 1)[-1]}]"
            for name, pattern in OTHER_OBJECTS:
                if re.search(pattern, ob or ""):
                    step = name
                    break
            for name, pattern in OTHER_FUNCTIONS:
                if re.search(pattern, fn or ""):
                    step = name
                    break
        steps[step] += per_op
        parts[step][what] += per_op
    total = sum(steps.values())
    for step, value in sorted(steps.items(), key=lambda kv: -kv[1]):
        if abs(value) < 0.05:
            continue
        print(f"{value:8.1f}  {step}")
        if detail:
            for what, v in sorted(parts[step].items(), key=lambda kv: -kv[1]):
                if abs(v) >= 0.05:
                    print(f"            {v:7.1f}  {what}")
    print(f"{total:8.1f}  total per operation")


if __name__ == "__main__":
    main()
