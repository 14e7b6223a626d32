#!/usr/bin/env bash
# pausing.sh - real OpenSSL programs with a pausing offload module (the
# engine pause_engine.c or the provider pause_provider.c), against any
# OpenSSL 3 build: the system's, or one made by tools/build-openssl.sh.
#
#   c-tests/interop/pausing.sh OUTPUT_DIR
#
# Environment:
#   MODULE=provider|engine   the offload module (default provider)
#   OPENSSL_DIR              an OpenSSL build tree (tools/build-openssl.sh);
#                            empty: the system's OpenSSL
#   OPENSSL_LIBDIR           where libcrypto/libssl are taken from (default:
#                            OPENSSL_DIR, or the system's); e.g.
#                            OPENSSL_DIR/nosymbolic. Set as LD_LIBRARY_PATH.
#   RUSTASYNC_LIB            the library preloaded (required)
#   QUICK=1                  shorter haproxy load
#   ONLY=REGEX               sections: speed, sserver, async_tls, haproxy
#
# Every scenario runs plain and with LD_PRELOAD=$RUSTASYNC_LIB. Each run is
# made with LD_DEBUG=bindings and must show its ASYNC_* references (the
# program's, libssl's, the module's) bound to the library it is meant to
# exercise: the chosen libcrypto when plain, librustasync when preloaded.
# Each must see the module pause (both sides of a TLS connection), and the
# deterministic results of plain and preloaded runs must be identical.
# Prints PASS/FAIL lines and a summary (c-tests/lib.sh). Only 127.0.0.1 is used;
# every process is bounded by timeout(1).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=c-tests/lib.sh
. "$HERE/../lib.sh"
# shellcheck source=c-tests/interop/helpers.sh
. "$HERE/helpers.sh"
OUT=${1:?usage: pausing.sh OUTPUT_DIR}
MODULE=${MODULE:-provider}
ONLY=${ONLY:-.}
QUICK=${QUICK:-0}
RUSTASYNC_LIB=${RUSTASYNC_LIB:?RUSTASYNC_LIB names the library to preload}
want() { [[ $1 =~ $ONLY ]]; }

BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
    for pid in "${BG_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case $MODULE in provider | engine) ;; *) echo "MODULE must be provider or engine" >&2; exit 2 ;; esac
[ -f "$RUSTASYNC_LIB" ] || { echo "pausing.sh: $RUSTASYNC_LIB missing (make lib)" >&2; exit 2; }
# The output dir is recreated on each run; refuse to wipe anything else.
if [ -n "$(ls -A "$OUT" 2> /dev/null)" ] && [ ! -f "$OUT/.pausing-out" ]; then
    echo "pausing.sh: $OUT exists and is not an output dir of this script; not touching it" >&2
    exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/.pausing-out"
OUT=$(cd "$OUT" && pwd)
# A snapshot, so that a rebuild while this runs does not pull the library
# from under running processes.
cp -L "$RUSTASYNC_LIB" "$OUT/librustasync.so"
RUSTASYNC_LIB=$OUT/librustasync.so

# The OpenSSL under test: its openssl command, headers, libraries.
if [ -n "${OPENSSL_DIR:-}" ]; then
    OPENSSL_DIR=$(cd "$OPENSSL_DIR" && pwd)
    OPENSSL_BIN=$OPENSSL_DIR/apps/openssl
    LIBDIR=$(cd "${OPENSSL_LIBDIR:-$OPENSSL_DIR}" && pwd)
    BUILD_FLAGS=(-isystem "$OPENSSL_DIR/include" -L"$OPENSSL_DIR" -Wl,-rpath,"$OPENSSL_DIR")
    export LD_LIBRARY_PATH=$LIBDIR
else
    OPENSSL_BIN=$(command -v openssl)
    LIBDIR=$(dirname "$(ldd "$OPENSSL_BIN" | awk '/libcrypto\.so/ {print $3}')")
    BUILD_FLAGS=()
fi
LIBCRYPTO=$LIBDIR/$(basename "$(ldd "$OPENSSL_BIN" | awk '/libcrypto\.so/ {print $3}')")
VERSION=$("$OPENSSL_BIN" version)
info "OpenSSL: $VERSION, libraries from $LIBDIR; module: $MODULE"

# The module and async_tls, built against the OpenSSL under test.
CFLAGS=(-Wall -Wextra -Werror -O2 -DOPENSSL_API_COMPAT=0x10100000L "${BUILD_FLAGS[@]}")
MOD=$OUT/pause_$MODULE.so
ASYNC_TLS=$OUT/async_tls
cc "${CFLAGS[@]}" -shared -fPIC -Wl,-z,nodelete -o "$MOD" "$HERE/pause_$MODULE.c" -lcrypto -lpthread ||
    { fail build "pause_$MODULE.c"; summary pausing; exit 1; }
cc "${CFLAGS[@]}" -o "$ASYNC_TLS" "$HERE/async_tls.c" -lssl -lcrypto -lpthread ||
    { fail build "async_tls.c"; summary pausing; exit 1; }

# A build tree has no openssl.cnf for req: give it the least it needs.
printf '[req]\ndistinguished_name = dn\n[dn]\n' > "$OUT/req.cnf"
if ! "$OPENSSL_BIN" req -config "$OUT/req.cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 > "$OUT/req.log" 2>&1; then
    fail certificate "openssl req failed: $(head -3 "$OUT/req.log")"
    summary pausing
    exit 1
fi
cat "$OUT/cert.pem" "$OUT/key.pem" > "$OUT/bundle.pem"

# How programs load the module: command-line options, or a configuration
# file for programs that have none (haproxy).
CONF=$OUT/openssl.cnf
if [ "$MODULE" = provider ]; then
    MOD_ARGS=(-provider-path "$OUT" -provider default -provider pause_provider
        -propquery '?provider=rustasync-pause')
    cat > "$CONF" <<EOF
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect
alg_section = algorithm_sect

[provider_sect]
default = default_sect
rustasync_pause = rustasync_pause_sect

[default_sect]
activate = 1

[rustasync_pause_sect]
module = $MOD
activate = 1

[algorithm_sect]
default_properties = ?provider=rustasync-pause
EOF
else
    MOD_ARGS=(-engine "$MOD")
    engine_conf "$CONF" "$MOD"
fi

# with VARIANT NAME: sets RUN to the command prefix that runs a program
# plain or preloaded, logging its symbol bindings to $OUT/NAME.bindings
# ("${RUN[@]}" CMD... &: $! is then the program's own pid).
with() {
    rm -f "$OUT/$2.bindings".*
    RUN=(env LD_DEBUG=bindings LD_DEBUG_OUTPUT="$OUT/$2.bindings")
    [ "$1" = preload ] && RUN+=(LD_PRELOAD="$RUSTASYNC_LIB")
}

# bound VARIANT NAME FILE...: every ASYNC_* binding of the run goes to the
# expected library, and each FILE (basename) has at least one. Prints
# nothing when that holds, else why not.
bound() {
    local v=$1 name=$2 target log from
    shift 2
    if [ "$v" = preload ]; then target=$RUSTASYNC_LIB; else target=$LIBCRYPTO; fi
    log=$OUT/$name.bindings.all
    cat "$OUT/$name.bindings".* 2> /dev/null | grep "normal symbol \`ASYNC_" > "$log"
    rm -f "$OUT/$name.bindings".[0-9]*
    if [ ! -s "$log" ]; then echo "no ASYNC_* binding logged"; return; fi
    if grep -v " to $target \[" "$log" > "$log.wrong"; then
        echo "bound elsewhere than $target: $(head -2 "$log.wrong" | tr -s ' ' | tr '\n' ' ')"
        return
    fi
    for from in "$@"; do
        grep -q "binding file [^ ]*/$from \[" "$log" || { echo "no ASYNC_* binding from $from"; return; }
    done
}

# wait_listening PORT PID: up to 10 s.
wait_listening() {
    for _ in $(seq 1 100); do
        [ -n "$(ss -Htln "sport = :$1" 2> /dev/null)" ] && return 0
        kill -0 "$2" 2> /dev/null || return 1
        sleep 0.1
    done
    return 1
}

VARIANTS=(plain preload)
MODNAME=$(basename "$MOD")
SSL_NAME=$(basename "$(ldd "$OPENSSL_BIN" | awk '/libssl\.so/ {print $3}')")

# ------------------------------------------------------------ openssl speed

want speed && for v in "${VARIANTS[@]}"; do
    algs=(sha256)
    [ "$MODULE" = engine ] && algs+=(ecdsap256)
    for alg in "${algs[@]}"; do
        name=speed-$alg-$v
        rc=0
        with "$v" "$name"
        "${RUN[@]}" RUSTASYNC_PAUSE_COUNT_FILE="$OUT/$name.count" timeout 60 \
            "$OPENSSL_BIN" speed -mr -elapsed -seconds 1 -bytes 1024 -async_jobs 8 "${MOD_ARGS[@]}" "$alg" \
            > "$OUT/$name.out" 2>&1 || rc=$?
        case $alg in
            sha256) fig=$(awk -F: '/^\+F:[0-9]+:sha256:/ {print $4; exit}' "$OUT/$name.out") ;;
            *) fig=$(awk -F: '/^\+F4:[0-9]+:256:/ {print $4; exit}' "$OUT/$name.out") ;;
        esac
        pauses=$(count_of "$OUT/$name.count" pauses)
        why=$(bound "$v" "$name" openssl "$MODNAME")
        if [ "$rc" != 0 ]; then
            fail "$name" "exit status $rc (see $OUT/$name.out)"
        elif ! awk -v f="${fig:-0}" 'BEGIN { exit !(f + 0 > 0) }'; then
            fail "$name" "no figure in $OUT/$name.out"
        elif [ "$pauses" -le 0 ]; then
            fail "$name" "the $MODULE never paused"
        elif [ -n "$why" ]; then
            fail "$name" "$why"
        else
            pass "$name ($fig per s, -async_jobs 8, $pauses pauses, ASYNC_* bound as expected)"
        fi
    done
done

# ------------------------------------------------ s_server -async / s_client -async

head -c $((1024 * 1024 + 4321)) /dev/urandom > "$OUT/payload.bin"
PAYLOAD_SIZE=$(stat -c %s "$OUT/payload.bin")

# As in run.sh: s_client sends the file, s_server writes what it receives;
# -num_tickets 0 keeps s_client -async from waiting for good on a paused
# ticket read; s_server's stdin is a FIFO held open.
sserver_run() {
    local v=$1 tls=$2 name=sserver-tls$1-$2 dir port spid rc=0 src=0 sp cp proto why
    name=sserver-tls$tls-$v
    dir=$OUT/$name
    mkdir -p "$dir"
    local proto_arg=(-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256)
    [ "$tls" = 1.2 ] && proto_arg=(-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
    port=$(free_port) || { fail "$name" "no free port"; return; }
    mkfifo "$dir/stdin.fifo"
    exec 7<> "$dir/stdin.fifo"
    with "$v" "$name-server"
    "${RUN[@]}" RUSTASYNC_PAUSE_COUNT_FILE="$dir/server.count" timeout 30 \
        "$OPENSSL_BIN" s_server -accept "127.0.0.1:$port" -naccept 1 -num_tickets 0 -async -quiet \
        "${MOD_ARGS[@]}" -cert "$OUT/cert.pem" -key "$OUT/key.pem" "${proto_arg[@]}" \
        < "$dir/stdin.fifo" > "$dir/server.out" 2> "$dir/server.err" &
    spid=$!
    BG_PIDS+=("$spid")
    if ! wait_listening "$port" "$spid"; then
        exec 7>&-
        fail "$name" "s_server did not start (see $dir/server.err)"
        return
    fi
    with "$v" "$name-client"
    "${RUN[@]}" RUSTASYNC_PAUSE_COUNT_FILE="$dir/client.count" timeout 30 \
        "$OPENSSL_BIN" s_client -connect "127.0.0.1:$port" -async -brief -nocommands \
        "${MOD_ARGS[@]}" "${proto_arg[@]}" -groups P-256 -CAfile "$OUT/cert.pem" -verify_return_error \
        -verify_hostname localhost < "$OUT/payload.bin" > "$dir/client.out" 2> "$dir/client.err" || rc=$?
    wait "$spid" || src=$?
    exec 7>&-
    proto=$(sed -n 's/^Protocol version: //p' "$dir/client.err")
    sp=$(count_of "$dir/server.count" pauses)
    cp=$(count_of "$dir/client.count" pauses)
    why=$(bound "$v" "$name-server" "$SSL_NAME" "$MODNAME")
    [ -z "$why" ] && why=$(bound "$v" "$name-client" "$SSL_NAME" "$MODNAME")
    if [ "$rc" != 0 ] || [ "$src" != 0 ]; then
        fail "$name" "exit status: s_client $rc, s_server $src (see $dir)"
    elif [ "$proto" != "TLSv$tls" ]; then
        fail "$name" "negotiated '$proto', wanted TLSv$tls"
    elif ! cmp -s "$dir/server.out" "$OUT/payload.bin"; then
        fail "$name" "s_server received $(stat -c %s "$dir/server.out") bytes that differ from the $PAYLOAD_SIZE-byte file"
    elif [ "$sp" -le 0 ] || [ "$cp" -le 0 ]; then
        fail "$name" "$MODULE pauses: server $sp, client $cp (need both > 0)"
    elif [ -n "$why" ]; then
        fail "$name" "$why"
    else
        pass "$name ($PAYLOAD_SIZE bytes compared, pauses: server $sp, client $cp; ASYNC_* bound as expected)"
    fi
}

want sserver && for v in "${VARIANTS[@]}"; do
    sserver_run "$v" 1.2
    sserver_run "$v" 1.3
done

# ---------------------------------------------------------------- async_tls

want async_tls && for mode in epoll callback; do
    for tls in 1.2 1.3; do
        for v in "${VARIANTS[@]}"; do
            name=async_tls-$mode-tls$tls-$v
            rc=0
            with "$v" "$name"
            "${RUN[@]}" RUSTASYNC_PAUSE_COUNT_FILE="$OUT/$name.count" timeout 60 \
                "$ASYNC_TLS" --mode "$mode" --tls "$tls" --cert "$OUT/cert.pem" --key "$OUT/key.pem" \
                "--$MODULE" "$MOD" --conns 4 --bytes 1048576 > "$OUT/$name.out" 2> "$OUT/$name.err" || rc=$?
            why=$(bound "$v" "$name" "$SSL_NAME" "$MODNAME")
            if [ "$rc" != 0 ] || ! grep -qx 'result: OK' "$OUT/$name.out"; then
                fail "$name" "exit status $rc (see $OUT/$name.out, $OUT/$name.err)"
            elif [ -n "$why" ]; then
                fail "$name" "$why"
            elif [ "$v" = preload ] && ! diff -u "$OUT/async_tls-$mode-tls$tls-plain.out" "$OUT/$name.out" \
                > "$OUT/$name.diff"; then
                fail "$name" "output differs from the plain run (see $OUT/$name.diff)"
            else
                same=
                [ "$v" = preload ] && same=", output identical to plain"
                pass "$name ($(count_of "$OUT/$name.count" pauses) pauses$same)"
            fi
        done
    done
done

# ------------------------------------------------------------------ haproxy

LOAD_SECONDS=5
[ "$QUICK" = 1 ] && LOAD_SECONDS=3

haproxy_run() {
    local v=$1 name=haproxy-$1 dir port hpid rc=0 hrc=0 pauses why child
    dir=$OUT/$name
    mkdir -p "$dir"
    port=$(free_port) || { fail "$name" "no free port"; return; }
    cat > "$dir/haproxy.cfg" <<EOF
global
    ssl-mode-async
    nbthread 2
    maxconn 500
    log stderr format raw local0 warning

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 20s
    timeout server 20s

frontend tls_in
    bind 127.0.0.1:$port ssl crt $OUT/bundle.pem ciphersuites TLS_AES_128_GCM_SHA256 ciphers ECDHE-ECDSA-AES128-GCM-SHA256
    http-request return status 200 content-type text/plain string ok
EOF
    with "$v" "$name"
    "${RUN[@]}" OPENSSL_CONF="$CONF" RUSTASYNC_PAUSE_COUNT_FILE="$dir/pause.count" \
        timeout $((LOAD_SECONDS + 40)) "$HAPROXY" -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
    hpid=$!
    BG_PIDS+=("$hpid")
    local up=0
    for _ in $(seq 1 100); do
        if curl -skf --max-time 2 "https://127.0.0.1:$port/" > /dev/null 2>&1; then up=1; break; fi
        kill -0 "$hpid" 2> /dev/null || break
        sleep 0.1
    done
    if [ "$up" != 1 ]; then fail "$name" "haproxy did not answer (see $dir/haproxy.log)"; return; fi
    # New handshakes on every request (Connection: close) and keep-alive.
    timeout $((LOAD_SECONDS + 20)) wrk -t1 -c10 -d"${LOAD_SECONDS}s" --timeout 5s -H 'Connection: close' \
        "https://127.0.0.1:$port/" > "$dir/wrk-close.txt" 2>&1 || rc=$?
    timeout $((LOAD_SECONDS + 20)) wrk -t1 -c20 -d2s --timeout 5s \
        "https://127.0.0.1:$port/" > "$dir/wrk-keepalive.txt" 2>&1 || rc=$?
    local alive=1
    kill -0 "$hpid" 2> /dev/null || alive=0
    # Soft stop: haproxy is the child of timeout.
    child=$(pgrep -P "$hpid" | head -n1 || true)
    [ -n "$child" ] && kill -USR1 "$child" 2> /dev/null
    wait "$hpid" || hrc=$?
    read -r r1 e1 n1 s1 <<< "$(wrk_summary "$dir/wrk-close.txt")"
    read -r r2 e2 n2 s2 <<< "$(wrk_summary "$dir/wrk-keepalive.txt")"
    pauses=$(count_of "$dir/pause.count" pauses)
    why=$(bound "$v" "$name" "$SSL_NAME" "$MODNAME")
    if [ "$rc" != 0 ]; then
        fail "$name" "wrk exit status $rc"
    elif [ "$alive" != 1 ] || [ "$hrc" != 0 ]; then
        fail "$name" "haproxy died or exited with status $hrc (see $dir/haproxy.log)"
    elif [ "$r1" -le 0 ] || [ "$r2" -le 0 ]; then
        fail "$name" "no requests completed (close $r1, keep-alive $r2)"
    elif [ "$e1" != 0 ] || [ "$e2" != 0 ] || [ "$n1" != 0 ] || [ "$n2" != 0 ]; then
        fail "$name" "socket errors $e1/$e2, non-2xx $n1/$n2 (close/keep-alive)"
    elif grep -qiE 'alert|segfault|core dumped' "$dir/haproxy.log"; then
        fail "$name" "haproxy logged: $(grep -m1 -iE 'alert|segfault|core dumped' "$dir/haproxy.log")"
    elif [ "$pauses" -le 0 ]; then
        fail "$name" "the $MODULE never paused"
    elif [ -n "$why" ]; then
        fail "$name" "$why"
    else
        pass "$name ($((r1 + r2)) requests, 0 errors, $pauses pauses; close $s1 req/s, keep-alive $s2 req/s)"
    fi
}

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if want haproxy; then
    if [ -x "$HAPROXY" ] && command -v wrk > /dev/null; then
        for v in "${VARIANTS[@]}"; do haproxy_run "$v"; done
    else
        fail haproxy "haproxy or wrk not installed"
    fi
fi

summary pausing
