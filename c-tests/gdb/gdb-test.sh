#!/usr/bin/env bash
# The gdb extension (tools/gdb/rustasync.py) on c-tests/gdb/paused_jobs.c:
# three jobs paused in three different functions and one running, stopped
# in the running job. Checks:
#   - `rustasync jobs` lists exactly the four jobs (the handles the program
#     printed): three paused, one running, all on the program's thread;
#   - `rustasync bt all` shows each paused job's own leaf, middle and job
#     function in that order below ASYNC_pause_job, and no other job's;
#   - with the extension loaded, `bt` in the running job goes on through
#     ASYNC_start_job to start_one and main;
#   - the thread's backtrace and selected frame are the same afterwards.
# Each in three sessions: the live process at a breakpoint, the core the
# kernel writes when it aborts at the same point, and a core from gcore.
#
#   c-tests/gdb/gdb-test.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)
passed=0
failed=0
result() { if [ "$1" = ok ]; then echo "PASS $2"; passed=$((passed + 1)); else echo "FAIL $2: $3"; failed=$((failed + 1)); fi; }

"$root/tools/ensure-packages" gdb || exit 1
${CC:-cc} -std=c11 -O0 -g -Wall -Wextra -Werror -I"$root/include" -o "$build/paused_jobs" \
    "$root/c-tests/gdb/paused_jobs.c" -L"$libdir" -Wl,-rpath,"$libdir" -lrustasync || exit 1
rm -f "$build/core"

# The commands every session runs once the program is stopped in stop_here.
commands=(
    -ex 'frame function job_delta'
    -ex 'echo ==BT-BEFORE==\n' -ex 'bt'
    -ex 'echo ==JOBS==\n' -ex 'rustasync jobs'
    -ex 'echo ==PAUSED==\n' -ex 'rustasync bt all'
    -ex 'echo ==BT-AFTER==\n' -ex 'bt'
    -ex 'echo ==FRAME-AFTER==\n' -ex 'frame'
    -ex 'echo ==END==\n'
)
gdb_batch() { timeout 120 gdb -q -batch -nx -ex "source $root/tools/gdb/rustasync.py" "$@"; }
cd "$build" || exit 1
rm -f core core.gcore

# 1. live, stopped at a breakpoint, stacks guarded as by default.
gdb_batch -ex 'break stop_here' -ex 'run' "${commands[@]}" -ex 'kill' "$build/paused_jobs" > live.out 2>&1
echo "live session: exit $?"

# 2. a core the kernel writes when the program aborts in stop_here (the
# machine's core_pattern must name a file).
(ulimit -c unlimited && PAUSED_JOBS_ABORT=1 "$build/paused_jobs" > kernel.stdout 2>&1)
core=$(ls -t core core.[0-9]* 2>/dev/null | head -n1)
if [ -n "$core" ]; then
    result ok "the kernel wrote a core dump ($core)"
    gdb_batch "${commands[@]}" "$build/paused_jobs" "$core" > kernel-core.out 2>&1
    echo "kernel-core session: exit $?"
    cat kernel.stdout >> kernel-core.out
    rm -f "$core"
else
    result fail "kernel core dump" "none written (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
    : > kernel-core.out
fi

# 3. a core written by gcore from the stopped process. gdb reads memory in
# 1 MiB pieces and drops any piece that holds a MADV_GUARD_INSTALL guard
# page, which would leave the job stacks out of the core: gcore needs the
# mprotect guards (separate mappings), see docs/operations.md.
RUSTASYNC_GUARD=mprotect gdb_batch -ex 'break stop_here' -ex 'run' -ex "gcore $build/core.gcore" -ex 'kill' \
    "$build/paused_jobs" > gcore-live.out 2>&1
if [ -s core.gcore ]; then
    result ok "gcore wrote a core dump"
    gdb_batch "${commands[@]}" "$build/paused_jobs" core.gcore > gcore.out 2>&1
    echo "gcore session: exit $?"
    cat gcore-live.out >> gcore.out
else
    result fail "gcore" "no core dump written"
    : > gcore.out
fi

section() { sed -n "/^==$2==\$/,/^==/p" "$1" | sed '1d;$d'; }
in_order() { # in_order FILE WORD...: each word appears on a line after the previous one's
    local file=$1 line=0 at
    shift
    for word in "$@"; do
        at=$(grep -n -- "$word" "$file" | awk -F: -v after="$line" '$1 > after { print $1; exit }')
        [ -n "$at" ] || return 1
        line=$at
    done
}

for session in live kernel-core gcore; do
    out="$build/$session.out"
    handles=$(grep -o '^paused job [0-9] at 0x[0-9a-f]*' "$out" | awk '{ print $5 }')
    [ "$(echo "$handles" | wc -w)" = 3 ] || result fail "$session: the program's output" "no three handles"
    section "$out" JOBS > "$build/$session.jobs"
    cat "$build/$session.jobs"
    if grep -q '^4 jobs: 1 running, 3 paused, 0 idle$' "$build/$session.jobs"; then
        result ok "$session: rustasync jobs lists 4 jobs, 1 running, 3 paused"
    else
        result fail "$session: rustasync jobs" "$(tail -n1 "$build/$session.jobs")"
    fi
    for handle in $handles; do
        if grep -q "^0x0*${handle#0x}  paused " "$build/$session.jobs"; then
            result ok "$session: job $handle the program paused is listed as paused"
        else
            result fail "$session: job $handle" "not listed as paused"
        fi
    done
    threads=$(awk '/^0x/ { print $3, $4 }' "$build/$session.jobs" | sort -u | wc -l)
    [ "$threads" = 1 ] && result ok "$session: all four jobs belong to one thread" \
        || result fail "$session: owning thread" "$threads different threads"
    if awk '/^0x/ && $2 == "running" && $7 ~ /^[0-9]+$/ && $7 > 0 { found = 1 } END { exit !found }' "$build/$session.jobs"; then
        result ok "$session: the running job's stack use is measured"
    else
        result fail "$session: running job's stack use" "not a number"
    fi

    section "$out" PAUSED > "$build/$session.paused"
    csplit -s -z -f "$build/$session.job." "$build/$session.paused" '/^job 0x/' '{*}'
    n=0
    for part in "$build/$session.job."*; do
        name=$(grep -o '[a-z]*_leaf' "$part" | head -n1)
        name=${name%_leaf}
        others=$(grep -o '\(alpha\|beta\|gamma\|delta\)_[a-z]*\|job_\(alpha\|beta\|gamma\|delta\)' "$part" \
            | grep -v -e "^${name}_" -e "^job_${name}\$" | head -n1)
        if [ -n "$name" ] && in_order "$part" ASYNC_pause_job "${name}_leaf" "${name}_middle" "job_${name}" job_entry \
            && [ -z "$others" ]; then
            result ok "$session: paused job in ${name}_leaf: ASYNC_pause_job < ${name}_leaf < ${name}_middle < job_${name} < job_entry"
            n=$((n + 1))
        else
            result fail "$session: paused job backtrace" "$(head -n1 "$part"): name '$name', others '$others'"
        fi
    done
    [ "$n" = 3 ] && result ok "$session: three paused jobs, three backtraces" \
        || result fail "$session: paused backtraces" "$n good of 3"
    grep -h -e '^job 0x' -e '_leaf\|_middle\|job_[a-z]* ()' "$build/$session.paused" | sed 's/^/     /'

    section "$out" BT-BEFORE > "$build/$session.before"
    section "$out" BT-AFTER > "$build/$session.after"
    if in_order "$build/$session.before" stop_here delta_inner job_delta job_entry ASYNC_start_job start_one 'main ()'; then
        result ok "$session: bt in the running job continues into its starter: stop_here .. job_delta .. ASYNC_start_job < start_one < main"
    else
        result fail "$session: running job's bt" "$(cat "$build/$session.before")"
    fi
    if [ -s "$build/$session.before" ] && cmp -s "$build/$session.before" "$build/$session.after"; then
        result ok "$session: the thread's backtrace is unchanged after rustasync bt ($(wc -l < "$build/$session.before") frames)"
    else
        result fail "$session: backtrace changed" "$(diff "$build/$session.before" "$build/$session.after" | head -n5)"
    fi
    if section "$out" FRAME-AFTER | head -n1 | grep -q '^#[0-9]* .* job_delta '; then
        result ok "$session: the selected frame is still job_delta's"
    else
        result fail "$session: selected frame" "$(section "$out" FRAME-AFTER | head -n1)"
    fi
    if grep -q 'Python Exception\|Traceback' "$out"; then
        result fail "$session: python errors" "$(grep -m1 'Python Exception' "$out")"
    fi
done

echo "gdb: $passed passed, $failed failed"
[ $failed -eq 0 ]
