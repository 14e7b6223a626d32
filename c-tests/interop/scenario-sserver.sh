# Scenario "sserver" of c-tests/interop/run.sh (sourced by it):
# s_server -async / s_client -async with the pausing engine.

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

for v in "${VARIANTS[@]}"; do
    sserver_run "$v" 1.2
    sserver_run "$v" 1.3
done

