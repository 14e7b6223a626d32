# Scenario "async_tls" of c-tests/interop/run.sh (sourced by it): our TLS
# client/server (async_tls.c) with the pausing engine; the preloaded run's
# output must equal the plain run's.

# name mode tls fd_mode
ASYNC_TLS_CASES=(
    "epoll-tls1.2 epoll 1.2 reuse"
    "epoll-tls1.3 epoll 1.3 reuse"
    "epoll-freshfd-tls1.3 epoll 1.3 fresh"
    "callback-tls1.2 callback 1.2 reuse"
    "callback-tls1.3 callback 1.3 reuse"
)
for c in "${ASYNC_TLS_CASES[@]}"; do
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

