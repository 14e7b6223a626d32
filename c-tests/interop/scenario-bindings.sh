# Scenario "bindings" of c-tests/interop/run.sh (sourced by it): every
# ASYNC_* reference of the openssl binary, libssl and libcrypto binds to
# libcrypto plainly and to rustasync preloaded; rustasync exports every
# ASYNC_* function libcrypto does.

bindings_check() {
    local v=$1 target log missing="" n
    mapfile -t bin_syms < <(imports_of "$OPENSSL_BIN")
    mapfile -t ssl_syms < <(imports_of "$LIBSSL")
    if [ "$v" = preload ]; then target=$(basename "$RUSTASYNC_LIB"); else target=$(basename "$LIBCRYPTO"); fi
    log=$OUT/bindings-$v.log
    record_bindings "$log" with "$v" timeout 20 "$OPENSSL_BIN" version
    missing+=$(unbound "$log" "$(basename "$OPENSSL_BIN")" "$target" "${bin_syms[@]}")
    missing+=$(unbound "$log" "$(basename "$LIBSSL")" "$target" "${ssl_syms[@]}")
    missing+=$(unbound "$log" "$(basename "$LIBCRYPTO")" "$target" ASYNC_init_thread)
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

for v in "${VARIANTS[@]}"; do bindings_check "$v"; done
exports_check

