# Scenario "speed" of c-tests/interop/run.sh (sourced by it): openssl speed
# -async_jobs, without and with the pausing engine, plain and preloaded; the
# dlopen'ed engine binds to rustasync; the figures are of the same order.

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

for v in "${VARIANTS[@]}"; do
    speed_run "$v" sha256 0 sha256 -bytes 1024
    speed_run "$v" ecdsap256 0 ecdsap256
    speed_run "$v" sha256-engine 1 sha256 -bytes 1024
    speed_run "$v" ecdsap256-engine 1 ecdsap256
done

# Engine bindings: the engine, loaded at run time, must use rustasync too.
log=$OUT/bindings-engine.log
cat "$log".* > "$log" 2>/dev/null || true
rm -f "$log".*
mapfile -t eng_syms < <(imports_of "$ENGINE")
missing=$(unbound "$log" "$(basename "$ENGINE")" "$(basename "$RUSTASYNC_LIB")" "${eng_syms[@]}")
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
    if [ -z "$a" ] || [ -z "$b" ]; then
        fail "speed-compare-$name" "nothing to compare (plain '$a', preload '$b')"
    elif awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, "/"); split(b, y, "/"); exit !(y[1] * 4 >= x[1]) }'; then
        pass "speed-compare-$name (preload $b vs plain $a)"
    else
        fail "speed-compare-$name" "preload $b is under a quarter of plain $a"
    fi
done
