#!/usr/bin/env bash
# Nothing rustasync maps is writable and executable, job stacks are not
# executable, and loading the library never makes a stack executable:
#  - librustasync.so's program headers: PT_GNU_STACK without E, no segment
#    both writable and executable, no text relocations;
#  - a program linked with librustasync.a: PT_GNU_STACK without E (one
#    object without a .note.GNU-stack section would make the linker ask
#    for an executable stack);
#  - `openssl speed -async_jobs 4` under tools/rustasync-preload, and
#    natively for comparison: /proc/PID/maps read while its jobs run shows
#    no mapping both writable and executable, no executable anonymous
#    mapping (job stacks are anonymous) and a non-executable [stack]; with
#    RUSTASYNC_GUARD=mprotect the job stacks show as their own read-write
#    mappings between guards, none executable.
# (c-tests/wx_maps.c checks the same from inside a program with jobs
# paused, against OpenSSL and rustasync.)
#
#   c-tests/wx-test.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
root=$TESTS_ROOT
mkdir -p "$build"
gnu_stack() { readelf -lW "$1" | awk '$1 == "GNU_STACK" { print $(NF - 1) }'; }

lib="$libdir/librustasync.so"
expect "librustasync.so: PT_GNU_STACK asks for a non-executable stack" "$(gnu_stack "$lib")" RW
expect "librustasync.so: no LOAD segment both writable and executable" \
    "$(readelf -lW "$lib" | awk '$1 == "LOAD" && $(NF - 1) ~ /W/ && $(NF - 1) ~ /E/' | wc -l)" 0
expect "librustasync.so: no text relocations" "$(readelf -d "$lib" | grep -c TEXTREL)" 0

static="$build/env_probe-static"
if cc -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/include" -o "$static" \
    "$root/c-tests/secure/env_probe.c" "$libdir/librustasync.a" $(cat "$libdir/native-static-libs.txt") \
    2> "$build/static.cc.log"; then
    expect "program linked with librustasync.a: PT_GNU_STACK" "$(gnu_stack "$static")" RW
    timeout 60 "$static" > "$build/static.out" 2>&1
    expect "program linked with librustasync.a runs a job" "$?/$(sed -n 's/^result=//p' "$build/static.out")" 0/42
else
    result fail "static link" "$(head -3 "$build/static.cc.log")"
fi

# speed_maps NAME [ENV...]: runs openssl speed with 4 async jobs (under the
# launcher unless NAME is native), copies its maps once its jobs are
# running, and waits for it.
speed_maps() {
    local name=$1 pid i
    shift
    local launcher=("$root/tools/rustasync-preload")
    [ "$name" = native ] && launcher=()
    env "$@" "${launcher[@]}" openssl speed -async_jobs 4 -seconds 3 -bytes 64 sha256 \
        > "$build/$name.out" 2> "$build/$name.err" &
    pid=$!
    : > "$build/$name.maps"
    # speed prints "Doing sha256 ..." just before it starts the jobs that
    # run the timed loop; sample a moment later.
    for ((i = 0; i < 100; i++)); do
        if grep -q '^Doing sha256' "$build/$name.err" "$build/$name.out" 2> /dev/null; then
            sleep 0.5
            cat "/proc/$pid/maps" > "$build/$name.maps" 2> /dev/null
            break
        fi
        sleep 0.1
    done
    ( sleep 60; kill $pid 2> /dev/null ) &
    local watchdog=$!
    wait $pid
    echo $? > "$build/$name.status"
    kill $watchdog 2> /dev/null
    wait $watchdog 2> /dev/null
}
check_maps() { # check_maps NAME
    local maps="$build/$1.maps"
    if [ ! -s "$maps" ] || [ "$(cat "$build/$1.status")" != 0 ]; then
        result fail "$1" "no maps sampled or speed failed (status $(cat "$build/$1.status")); $(head -3 "$build/$1.err")"
        return 1
    fi
    expect "$1: no mapping writable and executable" "$(awk '$2 ~ /w/ && $2 ~ /x/' "$maps" | wc -l)" 0
    # The kernel's own [vdso] and [vsyscall] aside, code comes from files.
    expect "$1: no anonymous executable mapping" \
        "$(awk '$2 ~ /x/ && $6 !~ /^\// && $6 != "[vdso]" && $6 != "[vsyscall]"' "$maps" | wc -l)" 0
    expect "$1: [stack] is not executable" "$(awk '$6 == "[stack]" { print $2 }' "$maps")" rw-p
}

speed_maps native
if check_maps native; then
    expect "native: no librustasync in the process" "$(grep -c librustasync "$build/native.maps")" 0
fi
speed_maps preloaded
if check_maps preloaded; then
    expect "preloaded: librustasync.so is mapped" "$(grep -c 'r-xp .*/librustasync\.so' "$build/preloaded.maps")" 1
fi
speed_maps preloaded-mprotect RUSTASYNC_GUARD=mprotect
if check_maps preloaded-mprotect; then
    # A 64 KiB job stack right above its guard (a page, or a guard zone of
    # up to 1 MiB): one per job (the newest merges with the unused rest of
    # its region, hence "at least").
    stacks=0 prev_guard=0 prev_hi=0
    while read -r range perms _ _ _ path; do
        lo=$((16#${range%-*})) hi=$((16#${range#*-}))
        if [ $prev_guard = 1 ] && [ "$perms" = rw-p ] && [ $((hi - lo)) -ge 65536 ] && [ $lo = $prev_hi ]; then
            stacks=$((stacks + 1))
        fi
        prev_guard=0
        [ "$perms" = ---p ] && [ $((hi - lo)) -ge 4096 ] && [ $((hi - lo)) -le 1048576 ] && [ -z "$path" ] \
            && prev_guard=1
        prev_hi=$hi
    done < "$build/preloaded-mprotect.maps"
    if [ "$stacks" -ge 4 ]; then
        result ok "preloaded-mprotect: $stacks job stacks seen, read-write, not executable"
    else
        result fail "preloaded-mprotect: job stacks" "$stacks guarded 64 KiB stacks in the maps, want at least 4"
    fi
fi
summary wx
