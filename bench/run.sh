#!/usr/bin/env bash
# Side-by-side benchmarks: the system libcrypto's async layer (A, "native")
# against librustasync preloaded over it (B), alternated A B A B ... so that a
# noisy machine hits both alike. Prints a table of medians (min-max) and the
# ratio rustasync/native, and writes it as markdown to $BUILD/bench/table.md.
#
# Environment (all optional):
#   QUICK=1          smoke test: 1 run each, tiny counts, no timing judged
#   RUNS=N           runs per side and benchmark (default 5; QUICK: 1)
#   RUSTASYNC_LIB    the library to preload (default build/lib/librustasync.so)
#   BUILD            build directory, relative to the repo root (default build)
#   BENCH_BIN        the C benchmark (default $BUILD/bench/async_bench; built
#                    here with cc if missing)
#   CONTEXT_BENCH    the `context` crate micro-benchmark binary, if built
#   PAUSE_ENGINE     pausing engine for openssl speed
#                    (default build/interop/pause_engine.so, used if present)
#   SPEED_SECONDS    seconds per `openssl speed` measurement (default 2; QUICK: 1)
#   HAPROXY_SECONDS  seconds of load per haproxy measurement (default 5; QUICK: 1);
#                    0 skips it (needs haproxy, wrk and the pausing engine)
#   OPENSSL          the openssl binary (default: openssl from PATH)
#   CALLGRIND=0      skip the instruction counts (default: on if valgrind is
#                    installed; they are deterministic, unlike the times)
#
# Exit status: 0 if every run worked, 1 if any failed (the table still shows
# the rest, with FAIL where a run failed). Never judges a timing.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }

QUICK=${QUICK:-0}
BUILD=$(abs "${BUILD:-build}")
OUT=$BUILD/bench
BIN=$(abs "${BENCH_BIN:-$OUT/async_bench}")
LIB=$(abs "${RUSTASYNC_LIB:-build/lib/librustasync.so}")
ENGINE=$(abs "${PAUSE_ENGINE:-build/interop/pause_engine.so}")
CONTEXT_BENCH=${CONTEXT_BENCH:-}
OPENSSL=${OPENSSL:-openssl}
if [ "$QUICK" = 1 ]; then
    RUNS=${RUNS:-1}; SPEED_SECONDS=${SPEED_SECONDS:-1}; HAPROXY_SECONDS=${HAPROXY_SECONDS:-1}
    QFLAG=-q; LIMIT=30
else
    RUNS=${RUNS:-5}; SPEED_SECONDS=${SPEED_SECONDS:-2}; HAPROXY_SECONDS=${HAPROXY_SECONDS:-5}
    QFLAG=; LIMIT=300
fi

case $RUNS in ''|*[!0-9]*|0) say "error: RUNS must be a positive number"; exit 2 ;; esac

mkdir -p "$OUT"
RAW=$OUT/raw.tsv      # side <TAB> metric <TAB> value <TAB> unit, one line per figure
LOG=$OUT/log.txt      # every program's full output
: >"$RAW"
: >"$LOG"
rm -f "$OUT/budget.txt"   # written again below when callgrind runs
failures=0

if [ ! -x "$BIN" ] || [ "$ROOT/bench/async_bench.c" -nt "$BIN" ]; then
    say "building $BIN"
    "${CC:-cc}" -O2 -Wall -Wextra -Werror -o "$BIN" "$ROOT/bench/async_bench.c" \
        -lcrypto -lpthread -lm || { say "error: cannot build $BIN"; exit 1; }
fi

SIDES=(native)
if [ -f "$LIB" ]; then
    # Preload a private copy: every run then uses one and the same build, and
    # a rebuild during the benchmark (cp over the mapped file) cannot SIGBUS us.
    cp -L "$LIB" "$OUT/librustasync-under-test.so" || { say "error: cannot copy $LIB"; exit 1; }
    say "library under test: $LIB ($(sha256sum "$OUT/librustasync-under-test.so" | cut -c1-16))"
    LIB_NAME=$(basename "$LIB")
    LIB=$OUT/librustasync-under-test.so
    provider=$(env LD_PRELOAD="$LIB" "$BIN" which 2>&1) || true
    if [ "${provider#PROVIDER }" != "$(readlink -f "$LIB")" ] &&
       [ "${provider#PROVIDER }" != "$LIB" ]; then
        say "error: with LD_PRELOAD=$LIB, ASYNC_start_job still comes from: $provider"
        exit 1
    fi
    SIDES+=(rustasync)
else
    say "note: $LIB does not exist (run 'make lib'): measuring the system libcrypto only"
fi

# run SIDE LABEL COMMAND... : run one program on one side, keep its output.
run() {
    local side=$1 label=$2 rc
    shift 2
    local tmp=$OUT/.out.$$
    if [ "$side" = rustasync ]; then
        timeout "$LIMIT" env LD_PRELOAD="$LIB" "$@" </dev/null >"$tmp" 2>&1
    else
        timeout "$LIMIT" env -u LD_PRELOAD "$@" </dev/null >"$tmp" 2>&1
    fi
    rc=$?
    { printf '=== %s %s (exit %d): %s\n' "$side" "$label" "$rc" "$*"; cat "$tmp"; } >>"$LOG"
    RUN_OUTPUT=$(cat "$tmp")
    rm -f "$tmp"
    return "$rc"
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

fail_run() {
    failures=$((failures + 1))
    say "FAIL: $1 on $2 (see $LOG)"
    tail -n 5 <<<"$RUN_OUTPUT" | sed 's/^/    /' >&2
}

# One C benchmark on one side: its RESULT lines go to the raw file.
c_bench() {
    local side=$1 name=$2
    if run "$side" "$name" "$BIN" $QFLAG "$name" &&
       grep -q '^RESULT ' <<<"$RUN_OUTPUT"; then
        awk -v s="$side" '$1 == "RESULT" { printf "%s\t%s\t%s\t%s\n", s, $2, $3, $4 }' \
            <<<"$RUN_OUTPUT" >>"$RAW"
    else
        fail_run "$name" "$side"
        local m
        for m in $("$BIN" metrics "$name"); do record "$side" "$m" FAIL -; done
    fi
}

# `openssl speed -mr` output -> ops/s. +R:count:alg:secs (digests),
# +R5/+R6:count:bits:secs (ECDSA sign/verify).
speed_ops() { # TAG: a field-1 tag such as +R or +R5
    awk -F: -v tag="$1" '$1 == tag && $4 > 0 { printf "%.0f\n", $2 / $4; found = 1; exit }
                         END { if (!found) exit 1 }' <<<"$RUN_OUTPUT"
}

speed_bench() {
    local side=$1 kind=$2 ops
    local common=(-mr -elapsed -seconds "$SPEED_SECONDS" -async_jobs 8)
    case $kind in
    sha256)
        if run "$side" "speed sha256" "$OPENSSL" speed "${common[@]}" -bytes 16 sha256 &&
           ops=$(speed_ops +R); then
            record "$side" speed_sha256 "$ops" ops/s
        else
            fail_run "openssl speed sha256" "$side"; record "$side" speed_sha256 FAIL -
        fi ;;
    engine_sha256)
        if run "$side" "speed engine sha256" "$OPENSSL" speed -engine "$ENGINE" \
               "${common[@]}" -bytes 16 sha256 && ops=$(speed_ops +R); then
            record "$side" speed_engine_sha256 "$ops" ops/s
        else
            fail_run "openssl speed -engine sha256" "$side"
            record "$side" speed_engine_sha256 FAIL -
        fi ;;
    engine_ecdsa)
        if run "$side" "speed engine ecdsap256" "$OPENSSL" speed -engine "$ENGINE" \
               "${common[@]}" ecdsap256 && ops=$(speed_ops +R5); then
            record "$side" speed_engine_ecdsap256_sign "$ops" ops/s
            if ops=$(speed_ops +R6); then
                record "$side" speed_engine_ecdsap256_verify "$ops" ops/s
            fi
        else
            fail_run "openssl speed -engine ecdsap256" "$side"
            record "$side" speed_engine_ecdsap256_sign FAIL -
        fi ;;
    esac
}

# haproxy (ssl-mode-async, pausing engine, TLS 1.2 full handshakes); only
# haproxy runs on the side's async layer, the load generator never does.
haproxy_bench() {
    local side=$1
    if run "$side" "haproxy" bash "$ROOT/bench/haproxy.sh" "$ENGINE" "$HAPROXY_SECONDS" "$OUT/haproxy" &&
       grep -q '^RESULT ' <<<"$RUN_OUTPUT"; then
        awk -v s="$side" '$1 == "RESULT" { printf "%s\t%s\t%s\t%s\n", s, $2, $3, $4 }' \
            <<<"$RUN_OUTPUT" >>"$RAW"
    else
        fail_run "haproxy" "$side"
        record "$side" haproxy_handshakes FAIL -
    fi
}
HAPROXY_ON=0
if [ "$HAPROXY_SECONDS" != 0 ]; then
    if [ -f "$ENGINE" ] && command -v wrk >/dev/null &&
       { command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; }; then
        HAPROXY_ON=1
    else
        say "note: haproxy, wrk or $ENGINE missing: no haproxy row (make deps-interop interop-build)"
    fi
fi

C_BENCHES=$("$BIN" list) || { say "error: $BIN list failed"; exit 1; }
SPEEDS=(sha256)
if [ -f "$ENGINE" ]; then
    SPEEDS+=(engine_sha256 engine_ecdsa)
else
    say "note: $ENGINE not found: openssl speed runs without the pausing engine"
fi

start=$SECONDS
for ((r = 1; r <= RUNS; r++)); do
    say "run $r of $RUNS ($((SECONDS - start)) s so far)"
    for name in $C_BENCHES; do
        for side in "${SIDES[@]}"; do c_bench "$side" "$name"; done
    done
    # The floors right after the rows they stand under, before openssl speed
    # and haproxy run, so that both meet the machine in the same state.
    if [ -n "$CONTEXT_BENCH" ]; then
        # With the library under test named, the bench also loads it and
        # alternates its shuffled resumes with the checked-block floor's,
        # round by round, in one process.
        floor_env=()
        [ "${#SIDES[@]}" = 2 ] && floor_env=(RUSTASYNC_LIB="$LIB")
        if [ -x "$CONTEXT_BENCH" ] && run floor context_switch env "${floor_env[@]}" "$CONTEXT_BENCH" $QFLAG; then
            awk '$1 == "RESULT" { printf "floor\t%s\t%s\t%s\n", $2, $3, $4 }' \
                <<<"$RUN_OUTPUT" >>"$RAW"
        else
            fail_run "context_switch ($CONTEXT_BENCH)" floor
        fi
    fi
    for kind in "${SPEEDS[@]}"; do
        for side in "${SIDES[@]}"; do speed_bench "$side" "$kind"; done
    done
    if [ "$HAPROXY_ON" = 1 ]; then
        for side in "${SIDES[@]}"; do haproxy_bench "$side"; done
    fi
done

# Instructions per operation under callgrind: deterministic, so one run per
# side; (Ir of N2 ops - Ir of N1 ops) / (N2 - N1) cancels start-up and exit.
# A failure here is reported in the table but does not fail the benchmark.
callgrind_ir() { # -> total instructions of the last run
    awk '/Collected :/ { print $NF; found = 1 } END { if (!found) exit 1 }' <<<"$RUN_OUTPUT"
}
if [ "${CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
    say "instruction counts (callgrind)"
    n1=2000 n2=12000
    BUDGET=$OUT/budget.txt
    : >"$BUDGET"
    for name in start_finish pause_resume pause_resume_fpflags pause_resume_libctx; do
        for side in "${SIDES[@]}"; do
            cg=$OUT/callgrind.$side.$name
            vg=(valgrind --tool=callgrind --dump-instr=yes --dump-line=no)
            if run "$side" "callgrind $name" "${vg[@]}" --callgrind-out-file="$cg.$n1" \
                   "$BIN" -n "$n1" "$name" &&
               ir1=$(callgrind_ir) &&
               run "$side" "callgrind $name" "${vg[@]}" --callgrind-out-file="$cg.$n2" \
                   "$BIN" -n "$n2" "$name" &&
               ir2=$(callgrind_ir); then
                record "$side" "${name}_instructions" \
                    "$(awk -v a="$ir1" -v b="$ir2" -v n=$((n2 - n1)) 'BEGIN { printf "%.1f", (b - a) / n }')" \
                    instr/op
                # Where the instructions go, step by step (bench/budget.py).
                if [ "$side" = rustasync ] && command -v python3 >/dev/null &&
                   command -v addr2line >/dev/null; then
                    { echo "== $name: instructions per operation, by step"
                      python3 "$ROOT/bench/budget.py" --detail "$ROOT" "$cg.$n1" "$cg.$n2" "$n1" "$n2" ||
                          echo "(budget.py failed)"
                      echo; } >>"$BUDGET"
                fi
                rm -f "$cg.$n1" "$cg.$n2"
            else
                rm -f "$cg.$n1" "$cg.$n2"
                say "note: callgrind $name on $side failed (see $LOG); not counted as a failure"
                record "$side" "${name}_instructions" FAIL -
            fi
        done
    done
fi
say "all runs done in $((SECONDS - start)) s"

# ---------------------------------------------------------------------------
# Table

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
vm=; grep -qw hypervisor /proc/cpuinfo 2>/dev/null && vm=" (virtual machine)"
machine="${cpu:-unknown CPU}$vm, $(nproc) cores, Linux $(uname -r), $("$OPENSSL" version 2>/dev/null | cut -d' ' -f1-2)"
if [ "$QUICK" = 1 ]; then mode="QUICK (smoke test: tiny counts, figures meaningless)"; else mode=full; fi
if [ "${#SIDES[@]}" = 2 ]; then sidenote="A = system libcrypto, B = LD_PRELOAD=$LIB_NAME"
else sidenote="system libcrypto only ($(basename "$LIB") not built)"; fi

TABLE=$OUT/table.md
awk -F'\t' -v runs="$RUNS" -v machine="$machine" -v mode="$mode" -v sides="$sidenote" \
    -v date="$(date -u +%Y-%m-%d)" -v shuffle_n="$([ "$QUICK" = 1 ] && echo 1,000 || echo 10,000)" '
function label(m) {
    if (m == "start_finish") return "1. start -> finish, trivial job, warm pool"
    if (m == "pause_resume") return "2. pause -> resume round trip, one job"
    if (m == "pause_resume_fpflags") return "2b. same, job FP status flags != caller'"'"'s"
    if (m == "pause_resume_libctx") return "2c. same, job has its own default OSSL_LIB_CTX"
    if (m == "cold_start") return "3. cold start: first job on a new thread"
    if (m == "shuffled_resume") return "4. " shuffle_n " paused jobs, shuffled resumes"
    if (m == "paused_rss_per_job") return "5. 100,000 paused jobs: resident memory"
    if (m == "paused_vsz_per_job") return "5. 100,000 paused jobs: address space"
    if (m == "paused_maps_added") return "5. 100,000 paused jobs: mappings added"
    if (m == "paused_create") return "5. 100,000 paused jobs: time to create"
    if (m == "burst_rss_peak") return "5b. burst of 10,000 paused jobs: resident, all paused"
    if (m == "burst_rss_after") return "5b. same, kept after 100,000 more start calls (16 at a time)"
    if (m == "burst_calls_to_1mib") return "5b. same, start calls until within 1 MiB of before (-1: never)"
    if (m == "two_threads_start_finish") return "6. 2 threads at once: start -> finish"
    if (m == "two_threads_pause_resume") return "6. 2 threads at once: pause -> resume"
    if (m == "speed_sha256") return "7. openssl speed -async_jobs 8 sha256 16 B"
    if (m == "speed_engine_sha256") return "7. same, with the pausing engine"
    if (m == "speed_engine_ecdsap256_sign") return "7. pausing engine, ecdsap256 sign"
    if (m == "speed_engine_ecdsap256_verify") return "7. pausing engine, ecdsap256 verify"
    if (m == "haproxy_handshakes") return "8. haproxy ssl-mode-async, pausing engine, TLS 1.2 full handshakes"
    if (m == "start_finish_instructions") return "1. same, instructions (callgrind)"
    if (m == "pause_resume_instructions") return "2. same, instructions (callgrind)"
    if (m == "pause_resume_fpflags_instructions") return "2b. same, instructions (callgrind)"
    if (m == "pause_resume_libctx_instructions") return "2c. same, instructions (callgrind)"
    if (m == "context_switch") return "context crate: bare resume round trip"
    if (m == "context_switch_fpflags_differ") return "same, FP status flags differ"
    if (m == "context_switch_in_calls") return "same, each switch inside a function that returns (as an API must)"
    if (m == "context_switch_in_calls_two_threads") return "same, on two threads at once (per thread)"
    if (m == "context_switch_jumping") return "context crate: round trip switching as the library does (jump out, land in a stub, no return across a switch)"
    if (m == "context_switch_jumping_two_threads") return "same, on two threads at once (per thread)"
    if (m == "context_switch_shuffled") return "context crate: " shuffle_n " fibres on the library'"'"'s stack layout, shuffled resumes"
    if (m == "context_switch_shuffled_in_calls") return "same, each switch inside a function that returns"
    if (m == "context_switch_shuffled_blocks") return "same, and each context behind a checked 256-byte block (as a job handle)"
    if (m == "context_switch_shuffled_library_in_process") return "rustasync: its " shuffle_n " jobs in the process of the next row, rounds alternated with it"
    if (m == "context_switch_shuffled_library_minus_blocks") return "what rustasync adds to each of those resumes (per pair of rounds, median of runs), beside what it adds to a round trip in cache (row 2 less the switching floor)"
    if (m == "context_switch_shuffled_blocks_in_process") return "the checked-block floor switching as the library does (x86-64: by jumps), from the benchmark'"'"'s loop of handles and wait contexts, in that process (last column: rustasync over floor per pair of rounds, one with each side first, median of runs)"
    return m
}
function fmt(x) {
    if (x == int(x) || x >= 100) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    return sprintf("%.2f", x)
}
# Sorts v[1..n] in place and returns its median.
function sorted_median(v, n,    i, j, t) {
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
# "median (min-max)" of the figures of one side, sets MED; "FAIL" if any failed
function cell(key,    n, i, v, lo, hi) {
    MED = ""
    n = cnt[key]
    if (fails[key]) return "FAIL " fails[key] "/" (fails[key] + n)
    if (n == 0) return "-"
    for (i = 1; i <= n; i++) v[i] = vals[key, i]
    MED = sorted_median(v, n)
    lo = v[1]; hi = v[n]
    if (n == 1) return fmt(MED)
    return fmt(MED) " (" fmt(lo) "-" fmt(hi) ")"
}
# The ratio within each alternated pair (run k of B over run k of A, made
# one after the other), "median (min-max)": a slow phase of the machine then
# meets both runs of a pair, where the ratio of the two medians can set the
# slow runs of one side against the fast runs of the other.
function pairs(m,    n, i, t, r) {
    n = cnt["native" SUBSEP m]
    if (cnt["rustasync" SUBSEP m] < n) n = cnt["rustasync" SUBSEP m]
    if (fails["native" SUBSEP m] || fails["rustasync" SUBSEP m] || n == 0) return "-"
    for (i = 1; i <= n; i++) {
        if (vals["native" SUBSEP m, i] <= 0) return "-"
        r[i] = vals["rustasync" SUBSEP m, i] / vals["native" SUBSEP m, i]
    }
    t = sorted_median(r, n)
    if (n == 1 || r[1] == r[n]) return sprintf("%.2f", t)
    return sprintf("%.2f (%.2f-%.2f)", t, r[1], r[n])
}
{
    key = $1 SUBSEP $2
    if (!($2 in seen)) { seen[$2] = 1; order[++nm] = $2 }
    unit[$2] = ($4 == "-") ? unit[$2] : $4
    if ($3 == "FAIL") fails[key]++
    else vals[key, ++cnt[key]] = $3 + 0
}
END {
    # Known metrics in a fixed order, anything else after them.
    split("start_finish start_finish_instructions pause_resume pause_resume_instructions " \
          "pause_resume_fpflags pause_resume_fpflags_instructions pause_resume_libctx " \
          "pause_resume_libctx_instructions cold_start shuffled_resume paused_rss_per_job " \
          "paused_vsz_per_job paused_maps_added paused_create burst_rss_peak burst_rss_after " \
          "burst_calls_to_1mib two_threads_start_finish " \
          "two_threads_pause_resume speed_sha256 speed_engine_sha256 " \
          "speed_engine_ecdsap256_sign speed_engine_ecdsap256_verify haproxy_handshakes", known, " ")
    k = 0
    for (i = 1; i in known; i++) if (known[i] in seen) { sorted[++k] = known[i]; placed[known[i]] = 1 }
    for (i = 1; i <= nm; i++) if (!(order[i] in placed)) sorted[++k] = order[i]
    for (i = 1; i <= nm; i++) order[i] = sorted[i]
    print "Machine: " machine "; " date "; " mode "; " runs " run(s) per side, alternated; " sides "."
    print "Figures: median (min-max) over runs; each run is itself a median over batches; times are CPU time of the measuring thread; the last column is the ratio of each alternated pair of runs, median (min-max)."
    print ""
    print "| benchmark | unit | native | rustasync | ratio rustasync/native | same, pair by pair |"
    print "| --- | --- | --- | --- | --- | --- |"
    for (i = 1; i <= nm; i++) {
        m = order[i]
        if (m ~ /^context_switch/) continue
        a = cell("native" SUBSEP m); am = MED
        b = cell("rustasync" SUBSEP m); bm = MED
        ratio = "-"
        if (am != "" && bm != "" && am > 0) ratio = sprintf("%.2f", bm / am)
        printf "| %s | %s | %s | %s | %s | %s |\n", label(m), unit[m], a, b, ratio, pairs(m)
    }
    nf = 0
    for (i = 1; i <= nm; i++) {
        m = order[i]
        if (m !~ /^context_switch/ || m == "context_switch_shuffled_library_over_blocks") continue
        if (!nf++) {
            print ""
            print "| floor the library builds on | unit | median (min-max) | rustasync row / floor |"
            print "| --- | --- | --- | --- |"
        }
        f = cell("floor" SUBSEP m); fm = MED
        # The library row each floor stands under.
        two = (m ~ /_two_threads$/)
        # The in-process rows are set against each other (below), not a library row.
        lib = (m ~ /_in_process$/) ? "" : \
              (m == "context_switch" || m == "context_switch_in_calls" || m == "context_switch_jumping") ? "pause_resume" : \
              (m == "context_switch_fpflags_differ") ? "pause_resume_fpflags" : \
              (m ~ /^context_switch_shuffled/) ? "shuffled_resume" : two ? "two_threads_pause_resume" : ""
        over = "-"
        if (m == "context_switch_shuffled_blocks_in_process") { over = cell("floor" SUBSEP "context_switch_shuffled_library_over_blocks") }
        if (lib != "") { cell("rustasync" SUBSEP lib); if (MED != "" && fm != "" && fm > 0) over = sprintf("%.2f", MED / fm) }
        # Set beside what the library adds to a round trip in cache: the
        # pause -> resume row less the floor switching as the library does.
        if (m == "context_switch_shuffled_library_minus_blocks") {
            cell("rustasync" SUBSEP "pause_resume"); lm = MED
            cell("floor" SUBSEP "context_switch_jumping"); if (MED == "") cell("floor" SUBSEP "context_switch_in_calls")
            if (lm != "" && MED != "") over = "in cache: " fmt(lm - MED) " ns"
        }
        # Start -> finish is one round trip too.
        if (m ~ /^context_switch_(in_calls|jumping)/) {
            cell("rustasync" SUBSEP (two ? "two_threads_start_finish" : "start_finish"))
            if (MED != "" && fm != "" && fm > 0) over = over " (start -> finish " sprintf("%.2f", MED / fm) ")"
        }
        printf "| %s | %s | %s | %s |\n", label(m), unit[m], f, over
    }
}' "$RAW" >"$TABLE"

# The same table, aligned for the terminal.
awk -F'|' '
/^\|/ { n++; for (i = 2; i < NF; i++) { c[n, i] = $i; gsub(/^ +| +$/, "", c[n, i]);
        if (length(c[n, i]) > w[i]) w[i] = length(c[n, i]) } nf[n] = NF; next }
{ pre[n + 1] = pre[n + 1] $0 "\n" }
END {
    for (r = 1; r <= n; r++) {
        printf "%s", pre[r]
        if (c[r, 2] ~ /^-+$/) continue
        line = ""
        for (i = 2; i < nf[r]; i++) line = line sprintf(i == 2 ? "%-*s" : "  %*s", w[i], c[r, i])
        print line
    }
}' "$TABLE"
echo
echo "(markdown: $TABLE; raw figures: $RAW; program output: $LOG)"
[ -s "$OUT/budget.txt" ] && echo "(instruction budget by step: $OUT/budget.txt)"

if [ "$failures" -gt 0 ]; then
    say "$failures run(s) failed"
    exit 1
fi
exit 0
