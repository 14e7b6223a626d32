#!/usr/bin/env bash
# RUSTASYNC_STATS=live with a real server: haproxy (ssl-mode-async, two
# threads) with the pausing engine (c-tests/interop/pause_engine.c) loaded
# through OPENSSL_CONF, rustasync preloaded, under wrk on 127.0.0.1.
# Checks:
#   - the figures file /dev/shm/rustasync.PID exists while haproxy runs,
#     mode 0600, owned by the user running haproxy; user nobody (setpriv)
#     can neither read it nor run rustasync-stat on it;
#   - rustasync-stat PID 1, run across a window in which wrk loads haproxy,
#     shows per-thread rows and totals, and its pauses per second summed
#     over the window are within 10% of the pauses the engine counted in
#     the same window (the engine's count file, read while haproxy is idle
#     before and after);
#   - the file is gone once haproxy has exited.
#
#   c-tests/live-stats-test.sh BUILD_DIR LIBDIR STAT_BIN ENGINE
set -uo pipefail
# shellcheck source=c-tests/interop/helpers.sh
. "$(dirname "$0")/interop/helpers.sh"
build=${1:?build dir}
lib=$(cd "${2:?lib dir}" && pwd)/librustasync.so
stat=$(cd "$(dirname "${3:?rustasync-stat}")" && pwd)/$(basename "$3")
engine=$(cd "$(dirname "${4:?pause_engine.so}")" && pwd)/$(basename "$4")
load_seconds=${LOAD_SECONDS:-5}
mkdir -p "$build"
build=$(cd "$build" && pwd)
passed=0
failed=0
result() { if [ "$1" = ok ]; then echo "PASS $2"; passed=$((passed + 1)); else echo "FAIL $2: $3"; failed=$((failed + 1)); fi; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

for tool in haproxy wrk curl setpriv openssl; do
    command -v "$tool" > /dev/null || PATH=$PATH:/usr/sbin command -v "$tool" > /dev/null \
        || { result fail "$tool" "not installed"; echo "live-stats: $passed passed, $failed failed"; exit 1; }
done
haproxy=$(PATH=$PATH:/usr/sbin command -v haproxy)

# An EC certificate (OpenSSL 3.0 engines that take RSA keys break
# handshakes) and a configuration that loads the engine.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$build/key.pem" \
    -out "$build/cert.pem" -days 2 -subj /CN=localhost > /dev/null 2>&1
cat "$build/cert.pem" "$build/key.pem" > "$build/bundle.pem"
engine_conf "$build/openssl.cnf" "$engine"
port=$(free_port) || { result fail "port" "no free port"; exit 1; }
cat > "$build/haproxy.cfg" <<CFG
global
    ssl-mode-async
    nbthread 2
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 20s
    timeout server 20s
frontend tls_in
    bind 127.0.0.1:$port ssl crt $build/bundle.pem ciphersuites TLS_AES_128_GCM_SHA256 ciphers ECDHE-ECDSA-AES128-GCM-SHA256
    http-request return status 200 content-type text/plain string ok
CFG

count_file=$build/pause.count
rm -f "$count_file"
LD_PRELOAD=$lib RUSTASYNC_STATS=live OPENSSL_CONF=$build/openssl.cnf RUSTASYNC_PAUSE_COUNT_FILE=$count_file \
    "$haproxy" -db -f "$build/haproxy.cfg" > "$build/haproxy.log" 2>&1 &
hpid=$!
pids+=("$hpid")
up=0
for _ in $(seq 1 100); do
    if curl -skf --max-time 2 "https://127.0.0.1:$port/" > /dev/null 2>&1; then up=1; break; fi
    kill -0 "$hpid" 2> /dev/null || break
    sleep 0.1
done
if [ "$up" != 1 ]; then
    result fail "haproxy" "did not answer (see $build/haproxy.log)"
    echo "live-stats: $passed passed, $failed failed"
    exit 1
fi
file=/dev/shm/rustasync.$hpid
if [ -f "$file" ] && [ ! -L "$file" ]; then
    result ok "haproxy (pid $hpid) has its figures file $file"
else
    result fail "figures file" "$file missing"
fi
mode=$(stat -c '%a %U' "$file" 2> /dev/null)
[ "$mode" = "600 $(id -un)" ] && result ok "the file is mode 0600, owned by $(id -un)" \
    || result fail "file mode" "got '$mode'"
if setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat "$file" > /dev/null 2>&1; then
    result fail "another user" "nobody could read $file"
else
    result ok "user nobody cannot read it"
fi
if setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$stat" "$hpid" 1 1 > "$build/nobody.out" 2>&1; then
    result fail "another user" "rustasync-stat ran as nobody: $(head -n1 "$build/nobody.out")"
else
    result ok "rustasync-stat as nobody fails: $(head -n1 "$build/nobody.out")"
fi

# Idle, the engine's count file settles (it is rewritten at most once a
# second, when a worker finds nothing to do).
engine_pauses() { sed -n 's/^pauses \([0-9]*\)$/\1/p' "$count_file" 2> /dev/null | head -n1; }
settle() {
    local last now
    last=$(engine_pauses)
    for _ in $(seq 1 20); do
        sleep 1
        now=$(engine_pauses)
        [ -n "$now" ] && [ "$now" = "$last" ] && break
        last=$now
    done
}
settle
before=$(engine_pauses)
samples=$((load_seconds + 5))
"$stat" "$hpid" 1 "$samples" > "$build/stat.out" 2>&1 &
spid=$!
pids+=("$spid")
sleep 1
timeout $((load_seconds + 20)) wrk -t2 -c20 -d"${load_seconds}s" --timeout 5s -H 'Connection: close' \
    "https://127.0.0.1:$port/" > "$build/wrk.txt" 2>&1
wait "$spid"
stat_rc=$?
settle
after=$(engine_pauses)
cat "$build/stat.out"
[ "$stat_rc" = 0 ] && result ok "rustasync-stat exits 0" || result fail "rustasync-stat" "exit $stat_rc"
grep -q 'requests in' "$build/wrk.txt" && echo "     wrk: $(grep 'requests in' "$build/wrk.txt")"
totals=$(grep -c '^ *total ' "$build/stat.out")
[ "$totals" = "$samples" ] && result ok "$samples samples, each with a total row" \
    || result fail "samples" "$totals total rows, want $samples"
threads=$(awk '$1 ~ /^[0-9]+$/ { print $1 }' "$build/stat.out" | sort -u | wc -l)
[ "$threads" -ge 2 ] && result ok "per-thread rows for $threads threads (nbthread 2)" \
    || result fail "per-thread rows" "$threads threads"
shown=$(awk '$1 == "total" { s += $6 } END { print s + 0 }' "$build/stat.out")
counted=$(( ${after:-0} - ${before:-0} ))
echo "     engine counted $counted pauses in the window; rustasync-stat's pause/s add up to $shown"
if [ "$counted" -gt 1000 ] && awk -v a="$shown" -v b="$counted" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.10 * b) }'; then
    result ok "pauses per second agree with the engine within 10% ($shown vs $counted)"
else
    result fail "pauses per second" "rustasync-stat $shown, engine $counted (need > 1000 and within 10%)"
fi
if awk '$1 == "total" && $10 ~ /^[0-9]+$/ && $10 > 0 && $11 > 0 { found = 1 } END { exit !found }' "$build/stat.out"; then
    result ok "mappings and resident memory of the library are shown"
else
    result fail "memory columns" "no total row with mappings and resident KiB"
fi
if awk '$1 == "total" && $9 > 0 { found = 1 } END { exit !found }' "$build/stat.out"; then
    result ok "deepest stack at a pause is shown"
else
    result fail "deepest stack" "always 0"
fi

# Soft stop; the file must be gone with the process.
kill -USR1 "$hpid"
for _ in $(seq 1 100); do kill -0 "$hpid" 2> /dev/null || break; sleep 0.1; done
wait "$hpid"
hrc=$?
[ "$hrc" = 0 ] && result ok "haproxy exited 0" || result fail "haproxy exit" "status $hrc"
[ ! -e "$file" ] && result ok "$file is gone after haproxy exited" || result fail "file left" "$file still exists"

echo "live-stats: $passed passed, $failed failed"
[ $failed -eq 0 ]
