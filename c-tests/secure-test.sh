#!/usr/bin/env bash
# RUSTASYNC_* variables must not reach a privileged process: a program
# linked with -lrustasync, made setuid-root (and setgid, and given a file
# capability) in a scratch directory, is run as nobody with every variable
# set to what an attacker would like. It must behave as with none set: no
# `rustasync:` line on stderr (no trace, no warning, no stats report), the
# default stack size, guard pages below job stacks. Run by root (the
# owner, so no privilege changes) or as nobody without the setuid bit,
# the same binary must honour every variable as documented. A job stack
# overflow in the privileged program is still caught by its guard page and
# named in one fatal line, but without the fault address.
#
# Needs root (to make a setuid-root file), setpriv (util-linux) and setcap
# (libcap2-bin); a scenario that cannot run fails.
#
#   c-tests/secure-test.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
root=$TESTS_ROOT
mkdir -p "$build"
build=$(cd "$build" && pwd)
finish() { summary secure; exit; }
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# The library reads its environment in one place, with secure_getenv; a
# variable read anywhere else would escape the rule (src/bin/ holds
# separate tools, not the library).
readers=$(grep -rnE 'std::env::var|env::var_os|getenv' "$root/src" --include='*.rs' \
    | grep -v -e "^$root/src/config.rs:" -e "^$root/src/bin/" -e '^[^:]*:[0-9]*: *//')
if [ -z "$readers" ]; then
    result ok "only src/config.rs reads the environment"
else
    result fail "only src/config.rs reads the environment" "$(echo "$readers" | sed "s|^$root/||" | tr '\n' ' ')"
fi

if [ "$(id -u)" -ne 0 ]; then
    result fail "setup" "must run as root to make a setuid-root program (CI runs as root)"
    finish
fi
for tool in setpriv setcap readelf; do
    command -v $tool > /dev/null || result fail "setup" "$tool is not installed (make deps)"
done
[ "$FAILED" -eq 0 ] || finish

# A scratch directory nobody can reach, on a filesystem that honours
# setuid bits: the first candidate that qualifies.
scratch=
for parent in "${TMPDIR:-/tmp}" /var/tmp "$build"; do
    [ -d "$parent" ] || continue
    if findmnt -n -o OPTIONS -T "$parent" | tr ',' '\n' | grep -qx nosuid; then
        info "$parent is on a nosuid filesystem"
        continue
    fi
    dir=$(mktemp -d "$parent/rustasync-secure.XXXXXX") || continue
    chmod 755 "$dir"
    if "${as_nobody[@]}" test -x "$dir"; then
        scratch=$dir
        break
    fi
    info "$dir is not reachable by nobody"
    rm -rf "$dir"
done
if [ -z "$scratch" ]; then
    result fail "setup" "no directory on a filesystem without nosuid that nobody can reach"
    finish
fi
trap 'rm -rf "$scratch"' EXIT
info "scratch directory $scratch"

# The library next to the program, found through an absolute RUNPATH (the
# one search path ld.so still honours for a setuid program).
soname=$(readelf -d "$libdir/librustasync.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
cp -L "$libdir/librustasync.so" "$scratch/$soname"
ln -s "$soname" "$scratch/librustasync.so"
if ! cc -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/include" -o "$scratch/plain" \
    "$root/c-tests/secure/env_probe.c" -L"$scratch" -Wl,-rpath,"$scratch" -lrustasync -lpthread \
    2> "$build/cc.log"; then
    result fail "build" "$(head -3 "$build/cc.log")"
    finish
fi
chmod 755 "$scratch/plain" "$scratch/$soname"
cp "$scratch/plain" "$scratch/setuid" && chmod 4755 "$scratch/setuid"
cp "$scratch/plain" "$scratch/setgid" && chmod 2755 "$scratch/setgid"
cp "$scratch/plain" "$scratch/setcap" && setcap cap_net_bind_service=ep "$scratch/setcap"
ls -l "$scratch" | sed 's/^/     /'

hostile=(RUSTASYNC_LOG=trace RUSTASYNC_STATS=1 RUSTASYNC_STACK_SIZE=128K RUSTASYNC_GUARD=off)
uid=$(id -u nobody)
gid=$(getent group nogroup | cut -d: -f3)

# run NAME PROGRAM [overflow] [ENV...]: runs as nobody, or as root with
# NAME root:*
run() {
    local name=$1 program=$2 mode=
    shift 2
    if [ "${1:-}" = overflow ]; then mode=overflow; shift; fi
    local who=("${as_nobody[@]}")
    case $name in root:*) who=() ;; esac
    # The subshell keeps bash's own "Segmentation fault" notice quiet.
    (env -i PATH=/usr/bin:/bin "$@" timeout 60 "${who[@]}" "$scratch/$program" $mode \
        > "$build/$name.out" 2> "$build/$name.err"
        echo $? > "$build/$name.status") 2> /dev/null
}
field() { sed -n "s/^$2=//p" "$build/$1.out"; }
expect_of() { expect "$1: $2" "$3" "$4"; } # expect_of RUN WHAT GOT WANT
ran() { # ran NAME: the run exited 0 and printed its figures
    if [ "$(cat "$build/$1.status")" = 0 ] && [ "$(field "$1" result)" = 42 ]; then
        return 0
    fi
    fail "$1" "exit status $(cat "$build/$1.status"); $(head -3 "$build/$1.err" | tr '\n' ' ')"
    return 1
}

# Privileged: setuid root, setgid root, file capability; all run by nobody.
for kind in setuid setgid setcap; do
    name="nobody:$kind"
    run "$name" "$kind" "${hostile[@]}"
    ran "$name" || continue
    ids=$(field "$name" ids)
    case $kind in
    setuid) want="$uid/0/$gid/$gid" ;;
    setgid) want="$uid/$uid/$gid/0" ;;
    setcap) want="$uid/$uid/$gid/$gid" ;;
    esac
    # A nosuid mount would leave the ids unchanged and prove nothing.
    expect_of "$name" "runs with the privilege it was given (uid/euid/gid/egid)" "$ids" "$want"
    expect_of "$name" "the kernel marked it privileged (AT_SECURE)" "$(field "$name" at_secure)" 1
    expect_of "$name" "no rustasync: line on stderr" "$(grep -c 'rustasync:' "$build/$name.err")" 0
    expect_of "$name" "default stack size despite RUSTASYNC_STACK_SIZE=128K" "$(field "$name" stack_size)" 65536
    expect_of "$name" "guard page below the job stack despite RUSTASYNC_GUARD=off" "$(field "$name" guard)" yes
    expect_of "$name" "no stack measurement despite RUSTASYNC_STATS=1" "$(field "$name" measured)" 0
done

# A job stack overflow: the guard page catches it and the library says so
# in its one fatal line, which in a privileged process names no address.
run nobody:setuid-overflow setuid overflow "${hostile[@]}"
run root:setuid-overflow setuid overflow RUSTASYNC_STACK_SIZE=128K
expect_of "nobody:setuid-overflow" "killed by SIGSEGV" "$(cat "$build/nobody:setuid-overflow.status")" 139
expect_of "nobody:setuid-overflow" "fatal line without an address" \
    "$(grep -c '^rustasync: fatal: job stack overflow (in the guard zone below a 65536-byte job stack)' \
        "$build/nobody:setuid-overflow.err")" 1
expect_of "nobody:setuid-overflow" "no other rustasync: line" "$(grep -c 'rustasync:' "$build/nobody:setuid-overflow.err")" 1
expect_of "root:setuid-overflow" "killed by SIGSEGV" "$(cat "$build/root:setuid-overflow.status")" 139
expect_of "root:setuid-overflow" "fatal line with the fault address" \
    "$(grep -c '^rustasync: fatal: job stack overflow (fault at 0x[0-9a-f]* in the guard zone below a 131072-byte' \
        "$build/root:setuid-overflow.err")" 1

# The live-figures file (RUSTASYNC_STATS=live): a privileged program makes
# none where its caller asks; run by root the same program makes one; a
# symlink planted at the file's name is refused, its target untouched.
live="$scratch/live"
mkdir -m 1777 "$live"
live_env=(RUSTASYNC_STATS=live RUSTASYNC_STATS_DIR="$live" RUSTASYNC_LOG=warn)
run nobody:setuid-live setuid "${live_env[@]}"
if ran nobody:setuid-live; then
    expect_of "nobody:setuid-live" "no live file in the caller's directory" "$(field nobody:setuid-live live_file)" none
    expect_of "nobody:setuid-live" "nor in /dev/shm" "$(field nobody:setuid-live shm_live_file)" none
    expect_of "nobody:setuid-live" "no rustasync: line" "$(grep -c 'rustasync:' "$build/nobody:setuid-live.err")" 0
fi
run root:setuid-live setuid "${live_env[@]}"
if ran root:setuid-live; then
    expect_of "root:setuid-live" "the live file exists while it runs" "$(field root:setuid-live live_file)" file
fi
expect_of "root:setuid-live" "its live file removed at exit" "$(ls -A "$live" | wc -l)" 0
echo "keep me" > "$scratch/precious"
# The shell plants the symlink under its own pid, which exec keeps.
(env -i PATH=/usr/bin:/bin "${live_env[@]}" timeout 60 sh -c \
    'ln -s "$1" "$2/rustasync.$$" && exec "$3"' sh "$scratch/precious" "$live" "$scratch/plain" \
    > "$build/root:symlink.out" 2> "$build/root:symlink.err"
    echo $? > "$build/root:symlink.status") 2> /dev/null
if ran root:symlink; then
    expect_of "root:symlink" "the planted symlink is still there" "$(field root:symlink live_file)" symlink
    expect_of "root:symlink" "refused with one diagnostic" \
        "$(grep -c '^rustasync: warn: RUSTASYNC_STATS=live: .*exists already.*refusing to follow' "$build/root:symlink.err")" 1
    expect_of "root:symlink" "its target untouched" "$(cat "$scratch/precious")" "keep me"
fi

# Values that would each draw a warning are not even parsed.
run nobody:setuid-junk setuid RUSTASYNC_LOG=loud RUSTASYNC_STACK_SIZE=junk RUSTASYNC_GUARD=bogus
if ran nobody:setuid-junk; then
    expect_of "nobody:setuid-junk" "no warning about unparsable values" \
        "$(grep -c 'rustasync:' "$build/nobody:setuid-junk.err")" 0
fi

# Unprivileged: the setuid program run by its owner, and the plain copy
# run by nobody. Every variable works.
for name in root:setuid nobody:plain; do
    program=${name#*:}
    run "$name" "$program" "${hostile[@]}"
    ran "$name" || continue
    expect_of "$name" "not privileged (AT_SECURE)" "$(field "$name" at_secure)" 0
    expect_of "$name" "RUSTASYNC_STACK_SIZE=128K" "$(field "$name" stack_size)" 131072
    expect_of "$name" "RUSTASYNC_GUARD=off" "$(field "$name" guard)" no
    expect_of "$name" "RUSTASYNC_STATS=1 measures stacks" "$(field "$name" measured)" 1
    for line in 'rustasync: warn: ASYNC_start_job: job is NULL' 'rustasync: trace: start job' \
        'rustasync: stats for pid'; do
        expect_of "$name" "stderr has '$line'" "$(grep -c "^$line" "$build/$name.err")" 1
    done
done
run nobody:plain-default plain
if ran nobody:plain-default; then
    expect_of "nobody:plain-default" "no variables: guard page" "$(field nobody:plain-default guard)" yes
    expect_of "nobody:plain-default" "no variables: silent" "$(grep -c 'rustasync:' "$build/nobody:plain-default.err")" 0
fi
finish
