# Scenario "linkorder" of c-tests/interop/run.sh (sourced by it).
# A program linked with -lrustasync before -lssl -lcrypto (no preload) must
# bind libssl's and its run-time-loaded engine's ASYNC_* to rustasync, and
# behave exactly as the plain build.
linkorder_run() {
    local libdir linked log missing rc=0 out plain
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
    missing=$(unbound "$log" "$(basename "$LIBSSL")" "$(basename "$RUSTASYNC_LIB")[^ ]*" "${ssl_syms[@]}")
    missing+=$(unbound "$log" "$(basename "$ENGINE")" "$(basename "$RUSTASYNC_LIB")[^ ]*" "${eng_syms[@]}")
    if [ -n "$missing" ]; then
        fail "linkorder-bindings" "not bound to rustasync:$missing (log $log)"
    elif grep -q "to [^ ]*/$(basename "$LIBCRYPTO") \[[0-9]*\]: normal symbol \`ASYNC_" "$log"; then
        fail "linkorder-bindings" "some ASYNC_* symbol still bound to libcrypto (log $log)"
    else
        pass "linkorder-bindings (libssl and the dlopen'ed engine bound to rustasync without LD_PRELOAD)"
    fi
    if [ "$rc" != 0 ] || ! grep -qx 'result: OK' "$out.out"; then
        fail "linkorder-async_tls" "exit status $rc (see $out.out, $out.err)"
        return
    fi
    # The plain build's output, from the async_tls scenario or run now.
    plain=$OUT/async_tls-epoll-tls1.3-plain
    if [ ! -f "$plain.out" ]; then
        RUSTASYNC_PAUSE_COUNT_FILE="$plain.count" timeout 60 "$ASYNC_TLS" --mode epoll --tls 1.3 --cert "$CERT" \
            --key "$KEY" --engine "$ENGINE" --conns 4 --bytes 1048576 > "$plain.out" 2> "$plain.err" || true
    fi
    if ! grep -qx 'result: OK' "$plain.out"; then
        fail "linkorder-async_tls" "the plain build failed, nothing to compare with (see $plain.out, $plain.err)"
    elif ! diff -u "$plain.out" "$out.out" > "$out.diff"; then
        fail "linkorder-async_tls" "output differs from the plain build (see $out.diff)"
    else
        pass "linkorder-async_tls ($(count_of "$out.count" pauses) pauses)"
    fi
}

linkorder_run

