#!/usr/bin/env bash
# rustasync in programs built against OpenSSL 1.1.1 (issue 14).
#
#   c-tests/openssl111/run.sh OPENSSL_DIR LIBDIR OUT_DIR
#
# OPENSSL_DIR is a built 1.1.1 tree (tools/build-openssl.sh bullseye ...).
# Every scenario runs plain (1.1.1's own async layer) and with
# librustasync preloaded, under LD_DEBUG=bindings: a plain run passes only
# if every ASYNC_* binding went to 1.1.1's libcrypto, a preloaded one only
# if every ASYNC_* binding went to librustasync, and the bindings the
# scenario must make (listed per scenario) are there. The scenarios:
#   - the differential C tests of c-tests/ that use only 1.1.1's API, built
#     against 1.1.1's headers: same exit status, same output;
#   - 1.1.1's man-page example (its own doc/man3/ASYNC_start_job.pod):
#     the output the page gives; 1.1.1's own test/asynctest.c;
#   - c-tests/openssl111/error_queue.c: 1.1.1's error queue, code for code;
#     c-tests/openssl111/misuse.c (preloaded only: it crashes 1.1.1);
#   - openssl speed -async_jobs with the dasync engine (-evp sha1);
#   - s_server -async / s_client -async with dasync on both sides, TLS 1.2
#     and 1.3, a file sent and compared.
# Prints PASS/FAIL per check and "openssl111: N passed, M failed, 0 skipped"
# last (c-tests/lib.sh); nothing is skipped: a scenario that cannot run fails.
set -uo pipefail
ossl=$(cd "${1:?usage: run.sh OPENSSL_DIR LIBDIR OUT_DIR}" && pwd)
libdir=$(cd "${2:?lib dir}" && pwd)
out=${3:?out dir}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
out=$(cd "$out" && pwd)

# Tests of c-tests/ that need OpenSSL 3 API (or rustasync's), with why.
# Every other differential test must build against 1.1.1 and pass.
declare -A NEEDS_3=(
    [error_queue]="ASYNC_WAIT_CTX_get_callback, 3.0 error codes (1.1.1: c-tests/openssl111/error_queue.c)"
    [libctx]="OSSL_LIB_CTX"
    [libctx_first_change]="OSSL_LIB_CTX"
    [libctx_dlsym]="OSSL_LIB_CTX"
    [libctx_direct_read]="OSSL_LIB_CTX"
    [libctx_high_key]="OSSL_LIB_CTX"
    [wait_ctx_callback_status]="ASYNC_WAIT_CTX_set_callback/set_status"
)
# Differential tests that assert a 3.x behaviour 1.1.1 does not have: in a
# 1.1.1 process they must fail, plain and preloaded alike.
declare -A ASSERTS_3=(
    [job_lifecycle]="runs a job with a non-NULL args of size 0"
)

# shellcheck source=../lib.sh
. "$root/c-tests/lib.sh"
# shellcheck source=../interop/helpers.sh
. "$root/c-tests/interop/helpers.sh"

crypto=$ossl/libcrypto.so.1.1
openssl=$ossl/apps/openssl
[ -x "$openssl" ] && [ -f "$crypto" ] && [ -f "$ossl/engines/dasync.so" ] || {
    fail setup "$ossl holds no built OpenSSL 1.1.1 with the dasync engine"
    summary openssl111; exit 1
}
# Run on a snapshot: a rebuild while this runs must not change the library
# under running processes.
cp -L "$libdir/librustasync.so" "$out/lib/librustasync.so"
preload=$out/lib/librustasync.so
export OPENSSL_ENGINES=$ossl/engines
echo "     $("$openssl" version) from $ossl; preloaded: $preload"

# run NAME VARIANT CMD...: runs CMD (stdout to $out/NAME.VARIANT.out,
# stderr to .err) under LD_DEBUG=bindings; sets $status.
run() {
    local name=$1 v=$2
    shift 2
    rm -f "$out/$name.$v.bind".*
    local env=(env LD_DEBUG=bindings LD_DEBUG_OUTPUT="$out/$name.$v.bind")
    [ "$v" = preload ] && env+=(LD_PRELOAD="$preload" RUSTASYNC_STATS=1)
    "${env[@]}" timeout 60 "$@" > "$out/$name.$v.out" 2> "$out/$name.$v.err"
    status=$?
}

# bound NAME VARIANT [FILE:SYMBOL...]: every ASYNC_* binding of the run went
# to the variant's implementation, and each FILE:SYMBOL binding was made.
# Prints what is wrong; nothing when all is right.
bound() {
    local name=$1 v=$2 target=libcrypto.so.1.1 all wrong req
    shift 2
    [ "$v" = preload ] && target=librustasync.so
    all=$(cat "$out/$name.$v.bind".* 2>/dev/null | grep "normal symbol \`ASYNC_")
    [ -n "$all" ] || { echo "no ASYNC_* binding at all"; return; }
    wrong=$(grep -v " to [^ ]*/$target \[" <<< "$all" | sed -n 's/.*binding file \([^ ]*\) .* to \([^ ]*\) .*symbol `\([^'"'"']*\).*/\3 of \1 to \2/p' | sort -u | head -3)
    [ -z "$wrong" ] || echo "bound elsewhere: $wrong"
    for req in "$@"; do
        grep -q "binding file [^ ]*/${req%%:*} \[[0-9]*\] to [^ ]*/$target \[[0-9]*\]: normal symbol \`${req#*:}'" <<< "$all" ||
            echo "no binding of ${req#*:} from ${req%%:*} to $target"
    done
}


# stat_of NAME KEY: a figure from rustasync's RUSTASYNC_STATS report.
# 0 when the report is missing, so that a check on it fails.
stat_of() {
    local v
    v=$(sed -n "s/^rustasync: *$2 *\([0-9]*\).*/\1/p" "$out/$1.preload.err" 2>/dev/null | head -n1)
    echo "${v:-0}"
}

ldflags=(-L"$ossl" -Wl,-rpath,"$ossl" -lcrypto -lpthread)
# build VARIANT NAME SRC: a C test against 1.1.1's headers and libcrypto,
# into $out/bin/VARIANT/NAME; common.h makes it check at start that its
# ASYNC_* functions come from 1.1.1's libcrypto (plain) or librustasync
# (preload).
build() {
    local impl=libcrypto
    [ "$1" = preload ] && impl=rustasync
    mkdir -p "$out/bin/$1"
    compile_c_test "$impl" "$out/bin/$1/$2" "$3" -I"$ossl/include" "${ldflags[@]}"
}

# ------------------------------------------------ every ASYNC_* reference
# LD_BIND_NOW resolves every import at load time, the engine's included:
# each ASYNC_* import of openssl, libssl and dasync, and libcrypto's own
# calls through its PLT, must go to the variant's implementation.
required=()
for f in "$openssl" "$ossl/libssl.so.1.1" "$ossl/engines/dasync.so"; do
    for sym in $(imports_of "$f"); do required+=("$(basename "$f"):$sym"); done
done
for v in plain preload; do
    LD_BIND_NOW=1 run bindings "$v" "$openssl" engine dasync
    why=$(bound bindings "$v" "${required[@]}" libcrypto.so.1.1:ASYNC_init_thread)
    if [ ${#required[@]} -lt 15 ]; then fail "bindings $v" "only ${#required[@]} ASYNC_* imports found"
    elif [ "$status" != 0 ]; then fail "bindings $v" "openssl engine dasync: exit status $status"
    elif [ -n "$why" ]; then fail "bindings $v" "$why"
    else pass "bindings $v (all $((${#required[@]} + 1)) ASYNC_* references of openssl, libssl, dasync and libcrypto bound to $([ "$v" = plain ] && echo "1.1.1's libcrypto" || echo librustasync))"; fi
done

# ------------------------------------------------ differential C tests
for src in "$root"/c-tests/*.c; do
    name=$(basename "$src" .c)
    grep -qE '^/\* (rustasync-only|no-libcrypto) \*/' "$src" && continue
    [ -n "${NEEDS_3[$name]:-}" ] && { echo "     $name: not built against 1.1.1 (needs ${NEEDS_3[$name]})"; continue; }
    if ! build plain "$name" "$src" || ! build preload "$name" "$src"; then
        fail "c-test $name" "does not build against 1.1.1's headers: $(cat "$out/bin"/*/"$name.cc.log" | grep -m1 error)"
        continue
    fi
    run "$name" plain "$out/bin/plain/$name"; plain_status=$status
    why=$(bound "$name" plain)
    [ -z "$why" ] || { fail "c-test $name plain" "$why"; continue; }
    run "$name" preload "$out/bin/preload/$name"
    why=$(bound "$name" preload)
    [ -z "$why" ] || { fail "c-test $name preload" "$why"; continue; }
    if [ "$status" != "$plain_status" ]; then
        fail "c-test $name" "exit status $plain_status plain, $status preloaded"
    elif ! diff -u "$out/$name.plain.out" "$out/$name.preload.out" > "$out/$name.diff"; then
        fail "c-test $name" "output differs from 1.1.1's; see $out/$name.diff"
    elif [ -n "${ASSERTS_3[$name]:-}" ] && [ "$status" = 0 ]; then
        fail "c-test $name" "passes in a 1.1.1 process, yet it ${ASSERTS_3[$name]}, which 1.1.1 refuses"
    elif [ -z "${ASSERTS_3[$name]:-}" ] && [ "$status" != 0 ]; then
        fail "c-test $name" "exit status $status with 1.1.1 and preloaded alike: $(grep -m1 FAILED "$out/$name.plain.out")"
    else
        pass "c-test $name ($(wc -l < "$out/$name.plain.out") lines and exit status $status identical; ASYNC_* bound to 1.1.1's libcrypto / librustasync)"
    fi
done

# ------------------------------------------------ 1.1.1's man-page example
pod=$ossl/doc/man3/ASYNC_start_job.pod
awk '/^=head1 EXAMPLES/ { on = 1; next } on && /expected output/ { exit }
     on && /^ / { code = 1 } code && (/^ / || /^$/) { print substr($0, 2) }' "$pod" > "$out/example.c"
awk '/expected output/ { on = 1; next } on && /^=head1/ { exit } on && /^ / { print substr($0, 2) }' \
    "$pod" > "$out/example.expected"
if [ "$(wc -l < "$out/example.c")" -lt 50 ] || [ "$(wc -l < "$out/example.expected")" -lt 5 ]; then
    fail "man-page example" "could not extract the example from $pod"
elif ! cc -w -I"$ossl/include" -o "$out/bin/example" "$out/example.c" "${ldflags[@]}" 2> "$out/example.cc.log"; then
    fail "man-page example" "does not build: $(head -3 "$out/example.cc.log")"
else
    for v in plain preload; do
        run example "$v" "$out/bin/example"
        why=$(bound example "$v" example:ASYNC_start_job example:ASYNC_pause_job)
        if [ -n "$why" ]; then fail "man-page example $v" "$why"
        elif [ "$status" != 0 ] || ! diff -u "$out/example.expected" "$out/example.$v.out" > "$out/example.$v.diff"; then
            fail "man-page example $v" "exit status $status, output vs the page's: $out/example.$v.diff"
        else pass "man-page example $v (the page's $(wc -l < "$out/example.expected") lines)"; fi
    done
fi

# ------------------------------------------------ 1.1.1's own test/asynctest.c
if ! cc -w -I"$ossl/include" -o "$out/bin/asynctest" "$ossl/test/asynctest.c" "${ldflags[@]}" 2> "$out/asynctest.cc.log"; then
    fail "asynctest" "1.1.1's test/asynctest.c does not build: $(head -3 "$out/asynctest.cc.log")"
else
    for v in plain preload; do
        run asynctest "$v" "$out/bin/asynctest"
        why=$(bound asynctest "$v" asynctest:ASYNC_start_job asynctest:ASYNC_pause_job)
        if [ -n "$why" ]; then fail "asynctest $v" "$why"
        elif [ "$status" != 0 ] || [ "$(cat "$out/asynctest.$v.out")" != PASS ]; then
            fail "asynctest $v" "exit status $status: $(head -3 "$out/asynctest.$v.out")"
        else pass "asynctest $v (1.1.1's own test/asynctest.c: PASS)"; fi
    done
fi

# ------------------------------------------------ 1.1.1's error queue
for v in plain preload; do
    build "$v" error_queue "$here/error_queue.c" ||
        fail "error-queue" "does not build against 1.1.1: $(grep -m1 error "$out/bin/$v/error_queue.cc.log")"
done
build preload misuse "$here/misuse.c" ||
    fail "misuse" "does not build against 1.1.1: $(grep -m1 error "$out/bin/preload/misuse.cc.log")"
if [ -x "$out/bin/plain/error_queue" ] && [ -x "$out/bin/preload/error_queue" ]; then
    for v in plain preload; do
        run error_queue "$v" "$out/bin/$v/error_queue"
        why=$(bound error_queue "$v" error_queue:ASYNC_start_job error_queue:ASYNC_init_thread)
        [ -z "$why" ] || { fail "error-queue $v" "$why"; continue; }
        [ "$status" = 0 ] || { fail "error-queue $v" "exit status $status: $(grep -m1 FAILED "$out/error_queue.$v.out")"; continue; }
        pass "error-queue $v ($(grep -c ': 0x' "$out/error_queue.$v.out") queue entries as 1.1.1 defines them)"
    done
    if diff -u "$out/error_queue.plain.out" "$out/error_queue.preload.out" > "$out/error_queue.diff"; then
        pass "error-queue preloaded = plain ($(wc -l < "$out/error_queue.plain.out") lines, codes and texts identical)"
    else
        fail "error-queue" "preloaded differs from 1.1.1's own; see $out/error_queue.diff"
    fi
fi
if [ -x "$out/bin/preload/misuse" ]; then
    run misuse preload "$out/bin/preload/misuse"
    why=$(bound misuse preload misuse:ASYNC_start_job misuse:ASYNC_WAIT_CTX_get_fd)
    if [ -n "$why" ]; then fail "misuse preload" "$why"
    elif [ "$status" != 0 ]; then fail "misuse preload" "exit status $status: $(grep -m1 FAILED "$out/misuse.preload.out")"
    else pass "misuse preload ($(grep -c '^queue:' "$out/misuse.preload.out") misuses that crash 1.1.1, each one 1.1.1-packed entry)"; fi
fi

# ------------------------------------------------ openssl speed + dasync
for v in plain preload; do
    run speed "$v" "$openssl" speed -engine dasync -async_jobs 8 -seconds 1 -bytes 1024 -evp sha1
    why=$(bound speed "$v" openssl:ASYNC_start_job dasync.so:ASYNC_pause_job)
    if [ -n "$why" ]; then fail "speed $v" "$why"; continue; fi
    figure=$(awk '/^sha1 / { print $2 }' "$out/speed.$v.out")
    if [ "$status" != 0 ] || [ -z "$figure" ]; then
        fail "speed $v" "exit status $status, no sha1 figure (see $out/speed.$v.err)"; continue
    fi
    extra=""
    if [ "$v" = preload ]; then
        pauses=$(stat_of speed pauses)
        [ "$pauses" -gt 0 ] || { fail "speed preload" "rustasync counted no pause"; continue; }
        extra=", $pauses pauses in rustasync"
    fi
    pass "speed $v (sha1 through dasync, 8 async jobs: $figure/s$extra)"
done

# ------------------------------------------------ s_server / s_client -async
cert=$out/cert.pem
key=$out/key.pem
"$openssl" req -config "$ossl/apps/openssl.cnf" -x509 -newkey rsa:2048 -nodes -keyout "$key" -out "$cert" -days 2 \
    -subj /CN=localhost > "$out/req.log" 2>&1 || fail "certificate" "openssl req failed"
head -c $((512 * 1024 + 77)) /dev/urandom > "$out/payload.bin"

# tls_run VARIANT 1.2|1.3. dasync pauses in RSA and SHA-1: an RSA key, and
# for TLS 1.2 AES128-SHA (RSA key exchange, SHA-1 MAC). The server writes
# what it receives to stdout; its stdin is a FIFO this script holds open.
# -num_tickets 0: see c-tests/interop/run.sh.
tls_run() {
    local v=$1 tls=$2 name=tls$2 port spid src=0 up=0 proto why cwhy
    local proto_arg=(-tls1_3)
    [ "$tls" = 1.2 ] && proto_arg=(-tls1_2 -cipher AES128-SHA)
    port=$(free_port) || { fail "$name $v" "no free port"; return; }
    rm -f "$out/$name.fifo"
    mkfifo "$out/$name.fifo"
    exec 7<>"$out/$name.fifo"
    local env=(env LD_DEBUG=bindings LD_DEBUG_OUTPUT="$out/$name-server.$v.bind")
    [ "$v" = preload ] && env+=(LD_PRELOAD="$preload" RUSTASYNC_STATS=1)
    rm -f "$out/$name-server.$v.bind".*
    "${env[@]}" timeout 30 "$openssl" s_server -accept "127.0.0.1:$port" -naccept 1 -num_tickets 0 \
        -async -quiet -engine dasync -cert "$cert" -key "$key" "${proto_arg[@]}" \
        < "$out/$name.fifo" > "$out/$name-server.$v.out" 2> "$out/$name-server.$v.err" &
    spid=$!
    for _ in $(seq 1 100); do
        [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && { up=1; break; }
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        exec 7>&-; kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
        fail "$name $v" "s_server did not start (see $out/$name-server.$v.err)"; return
    fi
    run "$name-client" "$v" "$openssl" s_client -connect "127.0.0.1:$port" -async -brief -nocommands \
        -engine dasync "${proto_arg[@]}" -CAfile "$cert" -verify_return_error < "$out/payload.bin"
    wait "$spid" || src=$?
    exec 7>&-
    why=$(bound "$name-server" "$v" libssl.so.1.1:ASYNC_start_job dasync.so:ASYNC_pause_job)
    cwhy=$(bound "$name-client" "$v" libssl.so.1.1:ASYNC_start_job dasync.so:ASYNC_pause_job)
    proto=$(sed -n 's/^Protocol version: //p' "$out/$name-client.$v.err")
    if [ -n "$why$cwhy" ]; then fail "$name $v" "server: ${why:-ok}; client: ${cwhy:-ok}"
    elif [ "$status" != 0 ] || [ "$src" != 0 ]; then
        fail "$name $v" "exit status client $status, server $src (see $out/$name-*.$v.err)"
    elif [ "$proto" != "TLSv$tls" ]; then fail "$name $v" "negotiated '$proto', wanted TLSv$tls"
    elif ! cmp -s "$out/payload.bin" "$out/$name-server.$v.out"; then
        fail "$name $v" "the server received $(stat -c %s "$out/$name-server.$v.out") bytes that differ from the file"
    elif [ "$v" = preload ] && { [ "$(stat_of "$name-server" pauses)" -le 0 ] || [ "$(stat_of "$name-client" pauses)" -le 0 ]; }; then
        fail "$name $v" "rustasync counted no pause on one side"
    else
        local extra=""
        [ "$v" = preload ] && extra=", pauses: server $(stat_of "$name-server" pauses), client $(stat_of "$name-client" pauses)"
        pass "s_server/s_client -async TLS $tls $v (dasync both sides, $(stat -c %s "$out/payload.bin") bytes compared$extra)"
    fi
}
for v in plain preload; do
    tls_run "$v" 1.2
    tls_run "$v" 1.3
done

summary openssl111
