# Scenario "haproxy" of c-tests/interop/run.sh (sourced by it): haproxy with
# ssl-mode-async and the pausing engine (through OPENSSL_CONF) under wrk
# load, plain and preloaded: no failed request, the engine paused.

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

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
if [ -x "$HAPROXY" ] && command -v wrk >/dev/null; then
    for v in "${VARIANTS[@]}"; do haproxy_run "$v"; done
    for v in "${VARIANTS[@]}"; do info "haproxy requests/s, $v: ${HAPROXY_RPS[$v]:-none}"; done
else
    fail "haproxy" "haproxy or wrk not installed"
fi

