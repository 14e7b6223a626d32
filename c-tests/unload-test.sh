#!/usr/bin/env bash
# Unloading: c-tests/unload/unload.c opens the async library with dlopen,
# uses it on three threads, closes it, and then lets the threads exit,
# forks, handles a fault, opens and uses the library again and dies of a
# kill()ed SIGBUS in a child. Run against OpenSSL's libcrypto and against
# librustasync (which the program does not link), the output must match,
# and each run must report the implementation it opened.
#
#   c-tests/unload-test.sh BUILD_DIR LIBDIR
set -uo pipefail
build=${1:?build dir}
libdir=$(cd "${2:?lib dir}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
failed=0
fail() { echo "FAIL unload: $1"; failed=1; }

cc -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o "$build/unload" "$root/c-tests/unload/unload.c" \
    -ldl -lpthread || exit 1
for run in openssl:libcrypto.so.3 rustasync:"$libdir/librustasync.so"; do
    name=${run%%:*}
    timeout 120 "$build/unload" "${run#*:}" > "$build/$name.out" 2> "$build/$name.err"
    status=$?
    [ $status -eq 0 ] || fail "exit status $status with $name: $(tail -n 3 "$build/$name.err" "$build/$name.out" | tr '\n' ' ')"
    [ "$(sort -u "$build/$name.err")" = "implementation: $name" ] ||
        fail "the $name run did not exercise $name only: $(head -3 "$build/$name.err")"
done
if ! diff -u "$build/openssl.out" "$build/rustasync.out"; then
    fail "output differs from OpenSSL's"
fi
cat "$build/rustasync.out"
[ $failed -eq 0 ] && echo "PASS unload ($(wc -l < "$build/rustasync.out") lines identical)"
exit $failed
