#!/usr/bin/env bash
# The mutation check of the differential tests: `make c-test` against a
# hollow librustasync.so.0 (the right SONAME, no ASYNC_* function) must
# fail every test. With it, the "rustasync" build of a differential test
# quietly runs on libcrypto; only the implementation check of common.h can
# tell, so each differential test must fail for that reason, and the
# others (which need rustasync's own functions or link without libcrypto)
# must fail too. A differential test that passes here compares OpenSSL
# with itself.
#
#   c-tests/mutation-test.sh BUILD_DIR SONAME
set -uo pipefail
build=${1:?build dir}
soname=${2:?soname}
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
hollow="$build/hollow"
mkdir -p "$hollow"
hollow=$(cd "$hollow" && pwd)

printf 'int rustasync_hollow_library;\n' > "$hollow/hollow.c"
if ! cc -shared -fPIC -Wl,-soname,"$soname" -o "$hollow/$soname" "$hollow/hollow.c"; then
    fail "hollow library" "does not build"
    summary mutation
    exit 1
fi
ln -sf "$soname" "$hollow/librustasync.so"
expect "hollow library exports no ASYNC_* function" "$(nm -D --defined-only "$hollow/$soname" | grep -c ' ASYNC_')" 0

make -s -C "$TESTS_ROOT" c-test RUSTASYNC_LIBDIR="$hollow" C_TEST_BUILD="$build/c-tests" > "$build/c-test.log" 2>&1
status=$?
check "make c-test RUSTASYNC_LIBDIR=hollow fails" test $status -ne 0

for src in "$TESTS_ROOT"/c-tests/*.c; do
    name=$(basename "$src" .c)
    line=$(grep -E "^(PASS|FAIL) $name( |:)" "$build/c-test.log")
    if grep -qE '^/\* (rustasync-only|no-libcrypto) \*/' "$src"; then
        case $line in
        FAIL*) pass "$name (rustasync only) fails against the hollow library" ;;
        *) fail "$name (rustasync only)" "did not fail against the hollow library: '$line'" ;;
        esac
    elif [[ $line == FAIL* && $line == *"implementation check"* ]]; then
        pass "$name fails its implementation check against the hollow library"
    else
        fail "$name" "against the hollow library: '${line:-no result line}' (see $build/c-test.log)"
    fi
done
summary mutation
