#!/usr/bin/env bash
# run.sh - rustasync against real OpenSSL programs.
#
# Usage: c-tests/interop/run.sh [OUTPUT_DIR]
#
# Every scenario runs twice: with the system libcrypto alone ("plain") and
# with LD_PRELOAD=$RUSTASYNC_LIB ("preload"), and the two are compared. The
# scenarios are the scenario-*.sh files next to this one, run in this order:
# bindings, speed, sserver, async_tls, linkorder, haproxy.
#
# Environment:
#   RUSTASYNC_LIB  preload library (default: build/lib/librustasync.so under
#                  the repository root). If it does not exist, the run fails.
#   INTEROP_BIN    directory holding pause_engine.so and async_tls (default:
#                  build/interop); built here with cc if missing.
#   QUICK=1        shorter load runs (whole script well under 60 s).
#   ONLY=REGEX     run only the scenarios whose name matches, e.g.
#                  ONLY='sserver|haproxy'.
#
# Prints "PASS name" or "FAIL name: reason" per check and at the end one
# summary line (c-tests/lib.sh). A scenario that cannot run fails. Only
# 127.0.0.1 is used; every process is bounded by timeout(1) and killed on
# exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=c-tests/lib.sh
. "$ROOT/c-tests/lib.sh"
# shellcheck source=c-tests/interop/helpers.sh
. "$HERE/helpers.sh"
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

# Without the library there is no preload half, and a run that compared
# nothing must not pass.
if [ ! -f "$RUSTASYNC_LIB" ]; then
    fail "preload" "$RUSTASYNC_LIB not found (build it with 'make lib')"
    summary interop
    exit 1
fi
VARIANTS=(plain preload)
# Work on a snapshot: rewriting a mapped .so in place (a rebuild while this
# runs) crashes the processes using it.
info "preload library: $RUSTASYNC_LIB (snapshot in $OUT/lib)"
mkdir -p "$OUT/lib"
lib_name=$(basename "$RUSTASYNC_LIB")
cp -L "$RUSTASYNC_LIB" "$OUT/lib/$lib_name"
soname=$(readelf -d "$OUT/lib/$lib_name" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ -n "$soname" ] && [ "$soname" != "$lib_name" ]; then ln -sf "$lib_name" "$OUT/lib/$soname"; fi
RUSTASYNC_LIB=$OUT/lib/$lib_name

# with VARIANT CMD...: runs CMD with the variant's environment. For
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
engine_conf "$OSSL_CONF" "$ENGINE"

OPENSSL_BIN=$(command -v openssl)
LIBSSL=$(ldd "$OPENSSL_BIN" | awk '/libssl\.so/ {print $3}')
LIBCRYPTO=$(ldd "$OPENSSL_BIN" | awk '/libcrypto\.so/ {print $3}')
info "openssl: $("$OPENSSL_BIN" version)"

for scenario in bindings speed sserver async_tls linkorder haproxy; do
    # shellcheck source=/dev/null
    if want "$scenario"; then . "$HERE/scenario-$scenario.sh"; fi
done

summary interop
