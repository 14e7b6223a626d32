#!/usr/bin/env bash
# run.sh - rustasync against real OpenSSL programs (issue #3).
#
# Usage: c-tests/interop/run.sh [OUTPUT_DIR]
#
# Every scenario runs twice: with the system libcrypto alone ("plain") and
# with LD_PRELOAD=$RUSTASYNC_LIB ("preload"), and the two are compared.
#
# Environment:
#   RUSTASYNC_LIB  preload library (default: build/lib/librustasync.so under
#                  the repository root).  If it does not exist, the preload
#                  half is skipped with a SKIP line.
#   INTEROP_BIN    directory holding pause_engine.so and async_tls (default:
#                  build/interop); built here with cc if missing.
#   QUICK=1        shorter load runs (whole script well under 60 s).
#   ONLY=REGEX     run only the sections whose name matches (bindings, speed,
#                  sserver, async_tls, linkorder, haproxy), e.g.
#                  ONLY='sserver|haproxy'.
#
# Prints "PASS name" or "FAIL name: reason" per check, "SKIP ..." for checks
# that cannot run, and at the end exactly one line "N passed, M failed".
# Exits non-zero if anything failed.  Only 127.0.0.1 is used; every
# process is bounded by timeout(1) and killed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
QUICK=${QUICK:-0}
ONLY=${ONLY:-.}
want() { [[ $1 =~ $ONLY ]]; }

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }

RUSTASYNC_LIB=$(abspath "${RUSTASYNC_LIB:-build/lib/librustasync.so}")
OUT=$(abspath "${1:-build/interop/out}")
BIN=$(abspath "${INTEROP_BIN:-build/interop}")

if [ "$QUICK" = 1 ]; then
    LOAD_SECONDS=3
else
    LOAD_SECONDS=10
fi

# The output dir is recreated on each run; refuse to wipe anything else.
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ] && [ ! -f "$OUT/.interop-out" ]; then
    echo "run.sh: $OUT exists and is not an output dir of this script; not touching it" >&2
    exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT" "$BIN"
touch "$OUT/.interop-out"

# ---------------------------------------------------------------- helpers

PASSED=0
FAILED=0
SKIPPED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
info() { echo "     $*"; }

BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]:-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VARIANTS=(plain)
if [ -f "$RUSTASYNC_LIB" ]; then
    VARIANTS+=(preload)
    # Work on a snapshot: rewriting a mapped .so in place (a rebuild while
    # this runs) crashes the processes using it.
    info "preload library: $RUSTASYNC_LIB (snapshot in $OUT/lib)"
    mkdir -p "$OUT/lib"
    lib_name=$(basename "$RUSTASYNC_LIB")
    cp -L "$RUSTASYNC_LIB" "$OUT/lib/$lib_name"
    soname=$(readelf -d "$OUT/lib/$lib_name" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
    if [ -n "$soname" ] && [ "$soname" != "$lib_name" ]; then ln -sf "$lib_name" "$OUT/lib/$soname"; fi
    RUSTASYNC_LIB=$OUT/lib/$lib_name
else
    skip "preload" "$RUSTASYNC_LIB not found (build it with 'make lib'); every preload check is skipped"
fi

# with VARIANT CMD...: runs CMD with the variant's environment.  For
# background jobs use "${PFX[@]}" after 'pfx VARIANT' instead, so that $! is
# the command itself and not a subshell.
with() {
    local v=$1
    shift
    if [ "$v" = preload ]; then
        env LD_PRELOAD="$RUSTASYNC_LIB" "$@"
    else
        "$@"
    fi
}
PFX=()
pfx() {
    if [ "$1" = preload ]; then PFX=(env LD_PRELOAD="$RUSTASYNC_LIB"); else PFX=(env); fi
}

# A TCP port on 127.0.0.1 nobody listens on.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# count_of FILE KEY: a counter from the pause engine's count file (0 if none).
count_of() {
    local v
    v=$(sed -n "s/^$2 \\([0-9]*\\)$/\\1/p" "$1" 2>/dev/null | head -n1)
    echo "${v:-0}"
}

# ------------------------------------------------------------------ build

CFLAGS_COMMON=(-Wall -Wextra -Werror -O2 -DOPENSSL_API_COMPAT=0x10100000L)
ENGINE=$BIN/pause_engine.so
ASYNC_TLS=$BIN/async_tls
if [ ! -f "$ENGINE" ] || [ "$HERE/pause_engine.c" -nt "$ENGINE" ]; then
    cc "${CFLAGS_COMMON[@]}" -shared -fPIC -Wl,-z,nodelete \
        -o "$ENGINE" "$HERE/pause_engine.c" -lcrypto -lpthread
fi
if [ ! -f "$ASYNC_TLS" ] || [ "$HERE/async_tls.c" -nt "$ASYNC_TLS" ]; then
    cc "${CFLAGS_COMMON[@]}" -o "$ASYNC_TLS" "$HERE/async_tls.c" \
        -lssl -lcrypto -lpthread
fi

# EC certificate (RSA keys under an engine break handshakes in 3.0).
CERT=$OUT/cert.pem
KEY=$OUT/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
cat "$CERT" "$KEY" > "$OUT/bundle.pem"

# OPENSSL_CONF that loads the engine into unmodified programs.
OSSL_CONF=$OUT/openssl-pause-engine.cnf
cat > "$OSSL_CONF" <<EOF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
rustasync_pause = rustasync_pause_section

[rustasync_pause_section]
engine_id = rustasync-pause
dynamic_path = $ENGINE
default_algorithms = ALL
init = 1
EOF

OPENSSL_BIN=$(command -v openssl)
LIBSSL=$(ldd "$OPENSSL_BIN" | awk '/libssl\.so/ {print $3}')
LIBCRYPTO=$(ldd "$OPENSSL_BIN" | awk '/libcrypto\.so/ {print $3}')
info "openssl: $("$OPENSSL_BIN" version)"

# ---------------------------------------------------------------- bindings

# ASYNC_* imported by a file (undefined dynamic symbols, version stripped).
imports_of() { nm -D --undefined-only "$1" | awk '{print $2}' | sed 's/@.*//' | grep '^ASYNC_' | sort -u; }

# check_bound LOG FILE_BASENAME EXPECTED_TARGET_BASENAME SYMBOLS...
# Every symbol must be bound from FILE to EXPECTED in the LD_DEBUG log.
check_bound() {
    local log=$1 from=$2 to=$3 sym missing=""
    shift 3
    for sym in "$@"; do
        if ! grep -q "binding file [^ ]*/$from \[[0-9]*\] to [^ ]*/$to \[[0-9]*\]: normal symbol \`$sym'" "$log"; then
            missing="$missing $sym"
        fi
    done
    echo "$missing"
}

bindings_check() {
    local v=$1 target log missing="" n
    mapfile -t bin_syms < <(imports_of "$OPENSSL_BIN")
    mapfile -t ssl_syms < <(imports_of "$LIBSSL")
    if [ "$v" = preload ]; then target=$(basename "$RUSTASYNC_LIB"); else target=$(basename "$LIBCRYPTO"); fi
    log=$OUT/bindings-$v.log
    rm -f "$log".*
    # LD_BIND_NOW makes the loader resolve every import at start-up.
    with "$v" env LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$log" \
        timeout 20 "$OPENSSL_BIN" version >/dev/null 2>&1 || true
    cat "$log".* > "$log" 2>/dev/null || true
    rm -f "$log".*
    missing+=$(check_bound "$log" "$(basename "$OPENSSL_BIN")" "$target" "${bin_syms[@]}")
    missing+=$(check_bound "$log" "$(basename "$LIBSSL")" "$target" "${ssl_syms[@]}")
    missing+=$(check_bound "$log" "$(basename "$LIBCRYPTO")" "$target" ASYNC_init_thread)
    n=$(( ${#bin_syms[@]} + ${#ssl_syms[@]} + 1 ))
    if [ -n "$missing" ]; then
        fail "bindings-$v" "not bound to $target:$missing (log $log)"
        return
    fi
    if [ "$v" = preload ] && grep -q "to [^ ]*/$(basename "$LIBCRYPTO") \[[0-9]*\]: normal symbol \`ASYNC_" "$log"; then
        fail "bindings-$v" "some ASYNC_* symbol still bound to libcrypto (log $log)"
        return
    fi
    pass "bindings-$v ($n ASYNC_* references of openssl, libssl and libcrypto bound to $target)"
}

exports_check() {
    local want have missing
    want=$(nm -D --defined-only "$LIBCRYPTO" | awk '$3 ~ /^ASYNC_/ {print $3}' | sed 's/@.*//' | sort -u)
    have=$(nm -D --defined-only "$RUSTASYNC_LIB" | awk '$3 ~ /^ASYNC_/ {print $3}' | sed 's/@.*//' | sort -u)
    missing=$(comm -23 <(echo "$want") <(echo "$have") | tr '\n' ' ')
    if [ -n "$missing" ]; then
        fail "exports-preload" "librustasync lacks: $missing"
    else
        pass "exports-preload (all $(echo "$want" | wc -l) ASYNC_* functions of libcrypto exported)"
    fi
}

if want bindings; then
    for v in "${VARIANTS[@]}"; do bindings_check "$v"; done
    if [ -f "$RUSTASYNC_LIB" ]; then exports_check; fi
fi

# ------------------------------------------------------------ openssl speed

declare -A SPEED
# speed_run VARIANT NAME ENGINE(0/1) ALG ARGS...
speed_run() {
    local v=$1 name=$2 eng=$3 alg=$4 out cnt rc=0 fig pauses jobs
    shift 4
    out=$OUT/speed-$name-$v.txt
    cnt=$OUT/speed-$name-$v.count
    local engine_args=()
    jobs=8
    if [ "$eng" = 1 ]; then engine_args=(-engine "$ENGINE"); jobs=16; fi
    if [ "$eng" = 1 ] && [ "$v" = preload ] && [ "$name" = sha256-engine ]; then
        # Also record the engine's own bindings in the preloaded process.
        with "$v" env LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$OUT/bindings-engine.log" \
            RUSTASYNC_PAUSE_COUNT_FILE="$cnt" timeout 60 "$OPENSSL_BIN" speed -mr -elapsed -seconds 1 \
            -async_jobs "$jobs" "${engine_args[@]}" "$@" "$alg" > "$out" 2>&1 || rc=$?
    else
        with "$v" env RUSTASYNC_PAUSE_COUNT_FILE="$cnt" timeout 60 "$OPENSSL_BIN" speed -mr -elapsed \
            -seconds 1 -async_jobs "$jobs" "${engine_args[@]}" "$@" "$alg" > "$out" 2>&1 || rc=$?
    fi
    case $alg in
        sha256) fig=$(awk -F: '/^\+F:[0-9]+:sha256:/ {print $4; exit}' "$out") ;;
        ecdsap256) fig=$(awk -F: '/^\+F4:[0-9]+:256:/ {print $4 "/" $5; exit}' "$out") ;;
    esac
    fig=${fig:-}
    SPEED[$name-$v]=$fig
    if [ "$rc" != 0 ]; then fail "speed-$name-$v" "exit status $rc (see $out)"; return; fi
    if [ -z "$fig" ] || ! awk -v f="$fig" 'BEGIN { n = split(f, a, "/"); for (i = 1; i <= n; i++) if (a[i] + 0 <= 0) exit 1; exit 0 }'; then
        fail "speed-$name-$v" "no plausible figure in $out"; return
    fi
    if grep -qi 'error\|failure' "$out"; then fail "speed-$name-$v" "errors reported (see $out)"; return; fi
    if [ "$eng" = 1 ]; then
        pauses=$(count_of "$cnt" pauses)
        if [ "$pauses" -le 0 ]; then fail "speed-$name-$v" "engine never paused (count file $cnt)"; return; fi
        pass "speed-$name-$v ($fig per s, -async_jobs $jobs, $pauses pauses)"
    else
        pass "speed-$name-$v ($fig per s, -async_jobs $jobs)"
    fi
}

want speed && for v in "${VARIANTS[@]}"; do
    speed_run "$v" sha256 0 sha256 -bytes 1024
    speed_run "$v" ecdsap256 0 ecdsap256
    speed_run "$v" sha256-engine 1 sha256 -bytes 1024
    speed_run "$v" ecdsap256-engine 1 ecdsap256
done

if want speed && [ -f "$RUSTASYNC_LIB" ]; then
    # Engine bindings: the engine, loaded at run time, must use rustasync too.
    log=$OUT/bindings-engine.log
    cat "$log".* > "$log" 2>/dev/null || true
    rm -f "$log".*
    mapfile -t eng_syms < <(imports_of "$ENGINE")
    missing=$(check_bound "$log" "$(basename "$ENGINE")" "$(basename "$RUSTASYNC_LIB")" "${eng_syms[@]}")
    if [ -n "$missing" ]; then
        fail "bindings-engine-preload" "pause_engine.so not bound to rustasync:$missing (log $log)"
    else
        pass "bindings-engine-preload (${#eng_syms[@]} ASYNC_* references of the dlopen'ed engine bound to $(basename "$RUSTASYNC_LIB"))"
    fi
    # Figures of both runs, side by side; a preload run 4x slower is a bug.
    for name in sha256 ecdsap256 sha256-engine ecdsap256-engine; do
        a=${SPEED[$name-plain]:-}
        b=${SPEED[$name-preload]:-}
        info "speed $name: plain $a, preload $b"
        if [ -n "$a" ] && [ -n "$b" ]; then
            if awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, "/"); split(b, y, "/"); exit !(y[1] * 4 >= x[1]) }'; then
                pass "speed-compare-$name (preload $b vs plain $a)"
            else
                fail "speed-compare-$name" "preload $b is under a quarter of plain $a"
            fi
        fi
    done
fi

# ------------------------------------------------ s_server -async / s_client -async

head -c $((1536 * 1024 + 123)) /dev/urandom > "$OUT/payload.bin"
PAYLOAD_SIZE=$(stat -c %s "$OUT/payload.bin")

# s_client sends the file on its stdin, s_server writes what it receives to
# its stdout; the two must be equal.  (s_server's -WWW and -rev modes sleep
# a second on every SSL_ERROR_WANT_ASYNC, so they do not suit a pausing
# engine; the default mode waits on the async fds.)  s_server's stdin is a
# FIFO held open by this script, so that it never sees end-of-file there.
# -num_tickets 0: s_client -async can hang for good when the job of an
# SSL_read pauses (TLS 1.3 NewSessionTicket processing hashes through the
# engine): after waiting for the async fd it goes back to select() on the
# socket alone and never resumes the job.  Seen with the system libcrypto.
sserver_run() {
    local v=$1 tls=$2 dir port spid rc=0 src=0 scnt ccnt sp cp proto up=0
    local name=sserver-tls$tls-$v
    dir=$OUT/$name
    mkdir -p "$dir"
    scnt=$dir/server.count
    ccnt=$dir/client.count
    local proto_arg=(-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256)
    if [ "$tls" = 1.2 ]; then proto_arg=(-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256); fi
    if ! port=$(free_port); then fail "$name" "no free port"; return; fi
    rm -f "$dir/stdin.fifo"
    mkfifo "$dir/stdin.fifo"
    exec 7<>"$dir/stdin.fifo"
    pfx "$v"
    "${PFX[@]}" RUSTASYNC_PAUSE_COUNT_FILE="$scnt" timeout 30 \
        "$OPENSSL_BIN" s_server -accept "127.0.0.1:$port" -naccept 1 -num_tickets 0 -async -quiet \
        -engine "$ENGINE" -cert "$CERT" -key "$KEY" "${proto_arg[@]}" \
        < "$dir/stdin.fifo" > "$dir/server.out" 2> "$dir/server.err" &
    spid=$!
    BG_PIDS+=("$spid")
    for _ in $(seq 1 100); do
        if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then up=1; break; fi
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        exec 7>&-
        fail "$name" "s_server did not start (see $dir/server.err)"; return
    fi
    with "$v" env RUSTASYNC_PAUSE_COUNT_FILE="$ccnt" timeout 30 \
        "$OPENSSL_BIN" s_client -connect "127.0.0.1:$port" -async -brief -nocommands \
        -engine "$ENGINE" "${proto_arg[@]}" -groups P-256 -CAfile "$CERT" -verify_return_error \
        -verify_hostname localhost < "$OUT/payload.bin" > "$dir/client.out" 2> "$dir/client.err" || rc=$?
    wait "$spid" || src=$?
    exec 7>&-
    if [ "$rc" != 0 ]; then fail "$name" "s_client exit status $rc (see $dir/client.err)"; return; fi
    if [ "$src" != 0 ]; then fail "$name" "s_server exit status $src (see $dir/server.err)"; return; fi
    proto=$(sed -n 's/^Protocol version: //p' "$dir/client.err")
    if [ "$proto" != "TLSv$tls" ]; then fail "$name" "negotiated '$proto', wanted TLSv$tls"; return; fi
    if ! cmp -s "$dir/server.out" "$OUT/payload.bin"; then
        fail "$name" "s_server received $(stat -c %s "$dir/server.out") bytes that differ from the $PAYLOAD_SIZE-byte file"; return
    fi
    sp=$(count_of "$scnt" pauses)
    cp=$(count_of "$ccnt" pauses)
    if [ "$sp" -le 0 ] || [ "$cp" -le 0 ]; then fail "$name" "engine pauses: server $sp, client $cp (need both > 0)"; return; fi
    pass "$name ($PAYLOAD_SIZE bytes compared, pauses: server $sp, client $cp)"
}

want sserver && for v in "${VARIANTS[@]}"; do
    sserver_run "$v" 1.2
    sserver_run "$v" 1.3
done

# ---------------------------------------------------------------- async_tls

# name mode tls fd_mode
ASYNC_TLS_CASES=(
    "epoll-tls1.2 epoll 1.2 reuse"
    "epoll-tls1.3 epoll 1.3 reuse"
    "epoll-freshfd-tls1.3 epoll 1.3 fresh"
    "callback-tls1.2 callback 1.2 reuse"
    "callback-tls1.3 callback 1.3 reuse"
)
want async_tls && for c in "${ASYNC_TLS_CASES[@]}"; do
    read -r cname cmode ctls cfd <<< "$c"
    for v in "${VARIANTS[@]}"; do
        out=$OUT/async_tls-$cname-$v
        rc=0
        with "$v" env RUSTASYNC_PAUSE_FD_MODE="$cfd" RUSTASYNC_PAUSE_COUNT_FILE="$out.count" \
            timeout 60 "$ASYNC_TLS" --mode "$cmode" --tls "$ctls" --cert "$CERT" --key "$KEY" \
            --engine "$ENGINE" --conns 4 --bytes 1048576 > "$out.out" 2> "$out.err" || rc=$?
        if [ "$rc" != 0 ] || ! grep -qx 'result: OK' "$out.out"; then
            fail "async_tls-$cname-$v" "exit status $rc, $(grep -m1 -E '^(result|error):' "$out.out" || echo 'no result') (see $out.out, $out.err)"
            continue
        fi
        if [ "$v" = plain ]; then
            pass "async_tls-$cname-$v ($(count_of "$out.count" pauses) pauses)"
        elif diff -u "$OUT/async_tls-$cname-plain.out" "$out.out" > "$out.diff"; then
            pass "async_tls-$cname-$v (output identical to plain, $(count_of "$out.count" pauses) pauses)"
        else
            fail "async_tls-$cname-$v" "output differs from plain (see $out.diff)"
        fi
    done
done

# ---------------------------------------------------------------- linkorder

# A program linked with -lrustasync before -lssl -lcrypto (no preload) must
# bind libssl's and its run-time-loaded engine's ASYNC_* to rustasync, and
# behave exactly as the plain build.
linkorder_run() {
    local libdir linked log missing rc=0 out
    libdir=$(dirname "$RUSTASYNC_LIB")
    linked=$OUT/async_tls-linked
    if ! cc "${CFLAGS_COMMON[@]}" -o "$linked" "$HERE/async_tls.c" -L"$libdir" -Wl,-rpath,"$libdir" \
            -Wl,--no-as-needed -lrustasync -Wl,--as-needed -lssl -lcrypto -lpthread \
            > "$OUT/linkorder-build.log" 2>&1; then
        fail "linkorder-build" "cannot link async_tls with -lrustasync (see $OUT/linkorder-build.log)"
        return
    fi
    if ! readelf -d "$linked" | awk '/NEEDED/ {print $5}' | tr -d '[]' \
            | awk '/librustasync/ {r = NR} /libcrypto/ {c = NR} END {exit !(r && c && r < c)}'; then
        fail "linkorder-needed" "librustasync is not NEEDED before libcrypto in $linked"
        return
    fi
    log=$OUT/bindings-linked.log
    out=$OUT/async_tls-linked-epoll-tls1.3
    env LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$log" RUSTASYNC_PAUSE_COUNT_FILE="$out.count" \
        timeout 60 "$linked" --mode epoll --tls 1.3 --cert "$CERT" --key "$KEY" --engine "$ENGINE" \
        --conns 4 --bytes 1048576 > "$out.out" 2> "$out.err" || rc=$?
    cat "$log".* > "$log" 2>/dev/null || true
    rm -f "$log".*
    mapfile -t ssl_syms < <(imports_of "$LIBSSL")
    mapfile -t eng_syms < <(imports_of "$ENGINE")
    missing=$(check_bound "$log" "$(basename "$LIBSSL")" "$(basename "$RUSTASYNC_LIB")[^ ]*" "${ssl_syms[@]}")
    missing+=$(check_bound "$log" "$(basename "$ENGINE")" "$(basename "$RUSTASYNC_LIB")[^ ]*" "${eng_syms[@]}")
    if [ -n "$missing" ]; then
        fail "linkorder-bindings" "not bound to rustasync:$missing (log $log)"
    elif grep -q "to [^ ]*/$(basename "$LIBCRYPTO") \[[0-9]*\]: normal symbol \`ASYNC_" "$log"; then
        fail "linkorder-bindings" "some ASYNC_* symbol still bound to libcrypto (log $log)"
    else
        pass "linkorder-bindings (libssl and the dlopen'ed engine bound to rustasync without LD_PRELOAD)"
    fi
    if [ "$rc" != 0 ] || ! grep -qx 'result: OK' "$out.out"; then
        fail "linkorder-async_tls" "exit status $rc (see $out.out, $out.err)"
    elif [ -f "$OUT/async_tls-epoll-tls1.3-plain.out" ] && ! diff -u "$OUT/async_tls-epoll-tls1.3-plain.out" "$out.out" > "$out.diff"; then
        fail "linkorder-async_tls" "output differs from the plain build (see $out.diff)"
    else
        pass "linkorder-async_tls ($(count_of "$out.count" pauses) pauses)"
    fi
}

if want linkorder; then
    if [ -f "$RUSTASYNC_LIB" ]; then
        linkorder_run
    else
        skip "linkorder" "$RUSTASYNC_LIB not found"
    fi
fi

# ------------------------------------------------------------------ haproxy

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

# wrk_field FILE: "requests errors non2xx req/s"
wrk_summary() {
    local f=$1 req err non rps
    req=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$f" | head -n1)
    err=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$f" \
          | awk '{print $1 + $2 + $3 + $4}')
    non=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$f")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$f")
    echo "${req:-0} ${err:-0} ${non:-0} ${rps:-0}"
}

haproxy_run() {
    local v=$1 dir port hpid rc=0 pauses k1 k2 up=0
    local name=haproxy-$v
    dir=$OUT/$name
    mkdir -p "$dir"
    if ! port=$(free_port); then fail "$name" "no free port"; return; fi
    cat > "$dir/haproxy.cfg" <<EOF
global
    ssl-mode-async
    nbthread 2
    maxconn 2000
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
    pfx "$v"
    "${PFX[@]}" OPENSSL_CONF="$OSSL_CONF" RUSTASYNC_PAUSE_COUNT_FILE="$dir/pause.count" \
        timeout $((LOAD_SECONDS + 40)) "$HAPROXY" -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
    hpid=$!
    BG_PIDS+=("$hpid")
    for _ in $(seq 1 100); do
        if curl -skf --max-time 2 "https://127.0.0.1:$port/" > "$dir/curl.out" 2>/dev/null; then up=1; break; fi
        if ! kill -0 "$hpid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ "$up" != 1 ]; then fail "$name" "haproxy did not answer (see $dir/haproxy.log)"; return; fi
    # Keep-alive load plus a share of new handshakes (Connection: close).
    timeout $((LOAD_SECONDS + 20)) wrk -t2 -c40 -d"${LOAD_SECONDS}s" --timeout 5s \
        "https://127.0.0.1:$port/" > "$dir/wrk-keepalive.txt" 2>&1 &
    k1=$!
    BG_PIDS+=("$k1")
    timeout $((LOAD_SECONDS + 20)) wrk -t1 -c10 -d"${LOAD_SECONDS}s" --timeout 5s -H 'Connection: close' \
        "https://127.0.0.1:$port/" > "$dir/wrk-close.txt" 2>&1 &
    k2=$!
    BG_PIDS+=("$k2")
    wait "$k1" || rc=$?
    wait "$k2" || rc=$?
    local alive=1
    kill -0 "$hpid" 2>/dev/null || alive=0
    # Soft stop (haproxy is the child of timeout), then collect its status.
    local child
    child=$(pgrep -P "$hpid" | head -n1 || true)
    if [ -n "$child" ]; then kill -USR1 "$child" 2>/dev/null || true; fi
    local hrc=0
    wait "$hpid" || hrc=$?
    read -r r1 e1 n1 s1 <<< "$(wrk_summary "$dir/wrk-keepalive.txt")"
    read -r r2 e2 n2 s2 <<< "$(wrk_summary "$dir/wrk-close.txt")"
    pauses=$(count_of "$dir/pause.count" pauses)
    HAPROXY_RPS[$v]="keep-alive $s1 req/s, Connection: close $s2 req/s"
    info "haproxy $v: keep-alive $r1 requests ($s1 req/s), close $r2 requests ($s2 req/s), pauses $pauses"
    if [ "$rc" != 0 ]; then fail "$name" "wrk exit status $rc"; return; fi
    if [ "$alive" != 1 ] || [ "$hrc" != 0 ]; then fail "$name" "haproxy died or exited with status $hrc (see $dir/haproxy.log)"; return; fi
    if [ "$r1" -le 0 ] || [ "$r2" -le 0 ]; then fail "$name" "no requests completed (keep-alive $r1, close $r2)"; return; fi
    if [ "$e1" != 0 ] || [ "$e2" != 0 ] || [ "$n1" != 0 ] || [ "$n2" != 0 ]; then
        fail "$name" "socket errors $e1/$e2, non-2xx $n1/$n2 (keep-alive/close)"; return
    fi
    if grep -qiE 'alert|segfault|core dumped' "$dir/haproxy.log"; then fail "$name" "haproxy logged: $(grep -m1 -iE 'alert|segfault|core dumped' "$dir/haproxy.log")"; return; fi
    if [ "$pauses" -le 0 ]; then fail "$name" "engine never paused (see $dir/pause.count)"; return; fi
    pass "$name ($((r1 + r2)) requests, 0 failed, $pauses pauses; keep-alive $s1 req/s, close $s2 req/s)"
}

declare -A HAPROXY_RPS
if ! want haproxy; then
    :
elif [ -x "$HAPROXY" ] && command -v wrk >/dev/null; then
    for v in "${VARIANTS[@]}"; do haproxy_run "$v"; done
    for v in "${VARIANTS[@]}"; do info "haproxy requests/s, $v: ${HAPROXY_RPS[$v]:-none}"; done
else
    fail "haproxy" "haproxy or wrk not installed"
fi

# -------------------------------------------------------------------- end

if [ "$SKIPPED" -gt 0 ]; then info "$SKIPPED skipped"; fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
