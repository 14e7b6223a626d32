#!/usr/bin/env bash
# RUSTASYNC_STATS=1 under the launcher with a real program: the report that
# `openssl speed -async_jobs 4 -seconds 1 sha256` leaves on stderr must
# match the jobs speed ran. speed calls ASYNC_init_thread(4, 4), and for
# each block size starts one job per async_jobs slot (the job runs the whole
# timed loop for that size); no engine pauses, and ASYNC_cleanup_thread
# frees the pool at the end. So:
#   created = freed = 4;  started = finished = 4 x (sizes speed ran);
#   pauses = resumes = 0;  0 < deepest stack < stack size.
# Also: RUSTASYNC_LOG=trace logs every start and finish, the jobs' results
# add up to the operations speed reports, and without RUSTASYNC_STATS there
# is no report.
#
#   c-tests/stats-test.sh BUILD_DIR
set -uo pipefail
build=${1:?build dir}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
jobs=4

RUSTASYNC_STATS=1 timeout 120 "$root/tools/rustasync-preload" \
    openssl speed -async_jobs $jobs -seconds 1 sha256 > "$build/speed.out" 2> "$build/speed.err"
status=$?
expect "openssl speed under rustasync-preload exits 0" "$status" 0
sed -n '/^rustasync: stats for pid/,/deepest stack/p' "$build/speed.err" > "$build/report.txt"
cat "$build/report.txt"
field() { # field LABEL [N]: the Nth number (default 1) on the report's LABEL line
    sed -n "s/^rustasync:   $1 *//p" "$build/report.txt" | grep -o '[0-9][0-9.]*' | sed -n "${2:-1}p"
}
sizes=$(grep -c '^Doing sha256 for 1s on [0-9]* size blocks' "$build/speed.err")
echo "     speed ran $sizes block sizes with $jobs async jobs"
[ "$sizes" -gt 0 ] || result fail "speed output" "no 'Doing sha256' lines in $build/speed.err"
expect "report covers one thread" "$(sed -n 's/.*(\([0-9]*\) threads\{0,1\})$/\1/p' "$build/report.txt")" 1
expect "jobs created = async_jobs" "$(field 'jobs created')" $jobs
expect "jobs freed = created (ASYNC_cleanup_thread)" "$(field 'jobs created' 2)" $jobs
expect "jobs started = async_jobs x block sizes" "$(field 'jobs started')" $((jobs * sizes))
expect "jobs finished = started" "$(field 'jobs finished')" $((jobs * sizes))
expect "pauses (no pausing engine)" "$(field pauses)" 0
expect "resumes" "$(field pauses 2)" 0
expect "peak paused" "$(field 'peak paused')" 0
expect "pool empty after cleanup" "$(field pools) $(field pools 2)" "0 0"
stack=$(field 'stack size')
deepest=$(field 'deepest stack')
expect "stack size is the default 64 KiB" "$stack" 65536
if [ -n "$deepest" ] && [ "$deepest" -gt 0 ] && [ "$deepest" -lt "$stack" ]; then
    result ok "deepest stack use measured: $deepest of $stack bytes"
else
    result fail "deepest stack" "got '$deepest' of '$stack'"
fi

# RUSTASYNC_STACK_SIZE shows in the report.
RUSTASYNC_STATS=1 RUSTASYNC_STACK_SIZE=128K timeout 60 "$root/tools/rustasync-preload" \
    openssl speed -async_jobs 2 -seconds 1 -bytes 64 sha256 > /dev/null 2> "$build/speed128.err"
expect "RUSTASYNC_STACK_SIZE=128K is reported" \
    "$(sed -n 's/^rustasync:   stack size *\([0-9]*\).*/\1/p' "$build/speed128.err")" 131072

# No report without RUSTASYNC_STATS; trace logging shows starts and finishes.
env -u RUSTASYNC_STATS RUSTASYNC_LOG=trace timeout 60 "$root/tools/rustasync-preload" \
    openssl speed -async_jobs 2 -seconds 1 -bytes 64 sha256 > /dev/null 2> "$build/trace.err"
expect "no report without RUSTASYNC_STATS" "$(grep -c 'stats for pid' "$build/trace.err")" 0
expect "trace: one 'start job' per job started" "$(grep -c 'rustasync: trace: start job' "$build/trace.err")" 2
expect "trace: one 'finish job' per job finished" "$(grep -c 'rustasync: trace: finish job' "$build/trace.err")" 2

# Each job returns the operations it did (speed's loop function returns its
# count): the results the trace shows add up to what speed reports.
ops=$(grep -o "[0-9]* sha256's in" "$build/trace.err" | grep -o '^[0-9]*')
sum=$(grep -o 'rustasync: trace: finish job [^ ]* with [0-9]*' "$build/trace.err" | awk '{ s += $NF } END { print s + 0 }')
expect "the jobs' results add up to the operations speed reports" "$sum" "$ops"

summary stats
