#!/usr/bin/env bash
# End-to-end benchmark: TLS 1.2 full handshakes per second through haproxy
# with ssl-mode-async and the pausing engine (every ECDSA signature and ECDH
# step of a handshake runs in an async job that pauses while the engine's
# worker thread computes it).
#
#   bench/haproxy.sh ENGINE.so SECONDS WORKDIR
#
# haproxy gets whatever LD_PRELOAD this script was started with (run.sh
# starts it with the library under test, or without); the load generator
# (wrk, Connection: close, so one full handshake per request: no session
# cache, no tickets) never does. Prints, in async_bench's format:
#   RESULT haproxy_handshakes <handshakes/s> handshakes/s
# and on stderr which async layer haproxy used and how often jobs paused.
# Exits non-zero if anything failed: an error, a non-200 answer, no pause,
# or haproxy running on another async layer than the one asked for.
# Loopback only; haproxy and wrk are bounded by timeout(1).
set -u -o pipefail
# shellcheck source=c-tests/interop/helpers.sh
. "$(dirname "$0")/../c-tests/interop/helpers.sh"

ENGINE=${1:?engine} SECONDS_LOAD=${2:?seconds} DIR=${3:?workdir}
PRELOAD=${LD_PRELOAD:-}
unset LD_PRELOAD
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
CONNECTIONS=${HAPROXY_CONNECTIONS:-8}
die() { echo "haproxy.sh: $*" >&2; exit 1; }

[ -x "$HAPROXY" ] || die "haproxy not installed"
command -v wrk >/dev/null || die "wrk not installed"
[ -f "$ENGINE" ] || die "no engine at $ENGINE"
mkdir -p "$DIR"

# An EC certificate: in OpenSSL 3.0 an engine that takes RSA keys without a
# sign method breaks RSA handshakes.
if [ ! -s "$DIR/bundle.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$DIR/key.pem" -out "$DIR/cert.pem" -days 2 -subj /CN=localhost \
        >/dev/null 2>&1 || die "cannot make a certificate"
    cat "$DIR/cert.pem" "$DIR/key.pem" >"$DIR/bundle.pem"
fi
engine_conf "$DIR/openssl.cnf" "$ENGINE"

port=$(free_port) || die "no free port"

cat >"$DIR/haproxy.cfg" <<EOF
global
    ssl-mode-async
    nbthread 1
    maxconn 1000
    tune.ssl.cachesize 0
    log stderr format raw local0 warning
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend tls_in
    bind 127.0.0.1:$port ssl crt $DIR/bundle.pem ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2 no-tls-tickets ciphers ECDHE-ECDSA-AES128-GCM-SHA256
    http-request return status 200 content-type text/plain string ok
EOF

count=$DIR/pause.count
rm -f "$count"
env ${PRELOAD:+LD_PRELOAD="$PRELOAD"} OPENSSL_CONF="$DIR/openssl.cnf" RUSTASYNC_PAUSE_COUNT_FILE="$count" \
    timeout $((SECONDS_LOAD + 30)) "$HAPROXY" -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 &
hpid=$!
trap 'kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null' EXIT
up=
for _ in $(seq 1 100); do
    if [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then up=1; break; fi
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$up" ] || die "haproxy did not start (see $DIR/haproxy.log)"

# Which async layer the haproxy process really runs on.
child=$(pgrep -P "$hpid" -x haproxy | head -n1)
[ -n "$child" ] || die "haproxy process not found"
if grep -q librustasync "/proc/$child/maps"; then layer=rustasync; else layer=native; fi
if [ -n "$PRELOAD" ] && [ "$layer" != rustasync ]; then die "LD_PRELOAD given but librustasync is not mapped in haproxy"; fi
if [ -z "$PRELOAD" ] && [ "$layer" != native ]; then die "librustasync is mapped in haproxy without LD_PRELOAD"; fi

timeout $((SECONDS_LOAD + 20)) wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_LOAD}s" --timeout 5s \
    -H 'Connection: close' "https://127.0.0.1:$port/" >"$DIR/wrk.txt" 2>&1 || die "wrk failed: $(tail -n 3 "$DIR/wrk.txt")"

kill -USR1 "$child" 2>/dev/null   # soft stop: the engine writes its counts at exit
wait "$hpid" 2>/dev/null
trap - EXIT

requests=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' "$DIR/wrk.txt" | head -n1)
rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$DIR/wrk.txt")
errors=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' \
    "$DIR/wrk.txt" | awk '{ print $1 + $2 + $3 + $4 }')
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$DIR/wrk.txt")
pauses=$(sed -n 's/^pauses \([0-9]*\)$/\1/p' "$count" 2>/dev/null)
echo "# haproxy on $layer: ${requests:-0} handshakes, errors ${errors:-0}, non-2xx ${non2xx:-0}, pauses ${pauses:-0}" >&2
[ "${requests:-0}" -gt 0 ] || die "no handshake completed (see $DIR/wrk.txt)"
[ "${errors:-0}" = 0 ] && [ "${non2xx:-0}" = 0 ] || die "errors: socket ${errors:-0}, non-2xx ${non2xx:-0}"
[ "${pauses:-0}" -gt 0 ] || die "the engine never paused (see $count)"
if grep -qiE 'alert|segfault|core dumped' "$DIR/haproxy.log"; then die "haproxy logged: $(grep -m1 -iE 'alert|segfault|core dumped' "$DIR/haproxy.log")"; fi
echo "RESULT haproxy_handshakes $rate handshakes/s"
