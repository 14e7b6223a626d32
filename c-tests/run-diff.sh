#!/usr/bin/env bash
# Differential C tests: each c-tests/*.c is built twice, against the
# system's libcrypto and against librustasync (-lrustasync before
# -lcrypto), and both builds must exit 0 and print the same output. Each
# build checks at start that its ASYNC_* functions come from the library it
# was built for (common.h), so the comparison is between the two.
# A file containing the line "/* rustasync-only */" uses API that
# OpenSSL 3.0 lacks (or behaviour where OpenSSL crashes): it is built
# against librustasync only and must exit 0.
# A file containing the line "/* no-libcrypto */" is linked with
# -lrustasync alone (no -lcrypto, so no OpenSSL in the process) and must
# exit 0: the library has to work without libcrypto too.
#
#   c-tests/run-diff.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
mkdir -p "$build/native" "$build/rustasync"

for src in "$TESTS_ROOT"/c-tests/*.c; do
    name=$(basename "$src" .c)
    ours="$build/rustasync/$name"
    native="$build/native/$name"
    libs=(-lrustasync -lcrypto -lpthread)
    against=rustasync
    only=
    if grep -q '^/\* no-libcrypto \*/' "$src"; then
        libs=(-lrustasync -lpthread)
        against="rustasync alone, no libcrypto"
        only=" (rustasync only, no libcrypto)"
    elif grep -q '^/\* rustasync-only \*/' "$src"; then
        only=" (rustasync only)"
    fi
    if ! compile_c_test rustasync "$ours" "$src" -I"$TESTS_ROOT/include" \
        -L"$libdir" -Wl,-rpath,"$libdir" "${libs[@]}"; then
        fail "$name" "does not compile against $against: $(head -3 "$ours.cc.log")"
        continue
    fi
    timeout 120 "$ours" > "$ours.out" 2> "$ours.err"
    status=$?
    if [ $status -ne 0 ]; then
        fail "$name" "exit status $status with $against; $(grep -m3 FAILED "$ours.out" "$ours.err" | tr '\n' ' ')"
        continue
    fi
    if [ -n "$only" ]; then
        pass "$name$only"
        continue
    fi
    if ! compile_c_test libcrypto "$native" "$src" -lcrypto -lpthread; then
        fail "$name" "does not compile against OpenSSL: $(head -3 "$native.cc.log")"
        continue
    fi
    timeout 120 "$native" > "$native.out" 2> "$native.err"
    status=$?
    if [ $status -ne 0 ]; then
        fail "$name" "exit status $status with OpenSSL's libcrypto (the test expects something OpenSSL does not do); $(grep -m3 FAILED "$native.out" | tr '\n' ' ')"
        continue
    fi
    if ! diff -u "$native.out" "$ours.out" > "$ours.diff"; then
        fail "$name" "output differs from OpenSSL's; see $ours.diff"
        head -20 "$ours.diff"
        continue
    fi
    pass "$name ($(wc -l < "$ours.out") lines identical)"
done
summary c-tests
