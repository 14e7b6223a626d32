#!/usr/bin/env bash
# The example program of ASYNC_start_job(3ssl), taken from the installed
# manual page, compiled unmodified against our header and linked three
# ways: -lrustasync before -lcrypto, statically against librustasync.a, and
# (for reference) against the system's libcrypto alone. Each run must print
# exactly the output the page documents, and the rustasync builds must have
# bound their ASYNC_* calls to librustasync.
#
#   c-tests/manpage-test.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"

"$root/tools/manpage-example.sh" "$build" || exit 1
src="$build/example.c"
expected="$build/expected.txt"

# The example ignores some return values; it is OpenSSL's code, not ours, so
# it is compiled without -Werror.
cc -w -I"$root/include" -o "$build/dynamic" "$src" -L"$libdir" -Wl,-rpath,"$libdir" -lrustasync -lcrypto
cc -w -I"$root/include" -o "$build/static" "$src" "$libdir/librustasync.a" -lcrypto -lpthread -ldl
cc -w -o "$build/native" "$src" -lcrypto

for variant in dynamic static native; do
    if timeout 30 "$build/$variant" > "$build/$variant.out" 2>&1 && diff -u "$expected" "$build/$variant.out" > "$build/$variant.diff"; then
        result ok "manpage example ($variant) prints the documented output"
    else
        result fail "manpage example ($variant)" "$(head -20 "$build/$variant.diff")"
    fi
done

# Every ASYNC_* reference of the dynamic build binds to librustasync.
record_bindings "$build/bindings.log" "$build/dynamic"
bindings=$(grep "normal symbol \`ASYNC_" "$build/bindings.log")
elsewhere=$(printf '%s\n' "$bindings" | grep -v "to $libdir/librustasync" || true)
if [ -n "$bindings" ] && [ -z "$elsewhere" ]; then
    result ok "dynamic build: $(printf '%s\n' "$bindings" | wc -l) ASYNC_* bindings, all to librustasync"
else
    result fail "dynamic build bindings" "${elsewhere:-no ASYNC_* binding seen}"
fi

# The static build carries the functions itself and imports none.
if nm -D "$build/static" | grep -q ' U ASYNC_'; then
    result fail "static build" "still imports ASYNC_* symbols"
else
    result ok "static build defines every ASYNC_* function it uses"
fi

summary manpage
