#!/usr/bin/env bash
# Runs every C test against librustasync under a checker, and compares its
# output with a reference run: OpenSSL's libcrypto for the differential
# tests, librustasync without the checker for the rustasync-only ones. Both
# runs get the same environment (RUSTASYNC_TEST_CHECKER=MODE and the
# checker's scale), so a part a test leaves out under the checker is left
# out of both; the outputs must then be identical.
#
#   c-tests/run-checked.sh valgrind BUILD_DIR LIBDIR
#       memcheck, child processes included; any error, any definite leak,
#       or a "client switching stacks?" warning (job stacks not registered)
#       fails the run. Counts are scaled down (RUSTASYNC_TEST_SCALE).
#   c-tests/run-checked.sh sanitize BUILD_DIR LIBDIR
#       the tests built with -fsanitize=address,undefined (the library is
#       built normally and finds ASan's fibre annotations at run time);
#       any report fails the run. ASan's own SIGSEGV and SIGBUS handlers
#       are turned off so the stack-overflow tests see the library's
#       diagnostic (it installs its handler only where both are SIG_DFL)
#       and the signal tests see the default actions.
set -uo pipefail
mode=${1:?valgrind or sanitize}
build=${2:?build dir}
libdir=$(cd "${3:?lib dir}" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
checker_cflags=()
export STRESS_SECONDS=${STRESS_SECONDS:-3} RUSTASYNC_TEST_CHECKER=$mode
case $mode in
valgrind)
    command -v valgrind > /dev/null || { echo "valgrind is not installed (make deps-test)"; exit 1; }
    export RUSTASYNC_TEST_VALGRIND=1 RUSTASYNC_TEST_SCALE=${RUSTASYNC_TEST_SCALE:-2}
    # Not -q: it would hide the "client switching stacks?" warning. Errors
    # and definite leaks make valgrind exit with 99.
    runner=(valgrind --trace-children=yes --fair-sched=yes --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=definite --suppressions="$TESTS_ROOT/c-tests/valgrind.supp")
    bad_output='client switching stacks'
    ;;
sanitize)
    checker_cflags=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    export ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    runner=()
    bad_output='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ASan'
    ;;
*)
    echo "unknown mode $mode"; exit 2 ;;
esac
mkdir -p "$build/reference"
for src in "$TESTS_ROOT"/c-tests/*.c; do
    name=$(basename "$src" .c)
    exe="$build/$name"
    ref="$build/reference/$name"
    libs=(-lrustasync -lcrypto -lpthread)
    if grep -q '^/\* no-libcrypto \*/' "$src"; then
        libs=(-lrustasync -lpthread)
    fi
    ours=(-I"$TESTS_ROOT/include" -L"$libdir" -Wl,-rpath,"$libdir" "${libs[@]}")
    if ! compile_c_test rustasync "$exe" "$src" "${checker_cflags[@]}" "${ours[@]}"; then
        fail "$name" "does not compile: $(head -3 "$exe.cc.log")"
        continue
    fi
    if grep -qE '^/\* (rustasync-only|no-libcrypto) \*/' "$src"; then
        compile_c_test rustasync "$ref" "$src" "${ours[@]}"
        against="librustasync without $mode"
    else
        compile_c_test libcrypto "$ref" "$src" -lcrypto -lpthread
        against="OpenSSL's libcrypto"
    fi
    start=$(date +%s)
    timeout 600 "${runner[@]}" "$exe" > "$exe.out" 2> "$exe.err"
    status=$?
    took=$(($(date +%s) - start))
    if [ $status -ne 0 ]; then
        fail "$name under $mode" "exit status $status; $(grep -m5 -E "FAILED|$bad_output" "$exe.out" "$exe.err" | tr '\n' ' ')"
        continue
    fi
    if grep -qE "$bad_output" "$exe.out" "$exe.err"; then
        fail "$name under $mode" "checker report: $(grep -m5 -E "$bad_output" "$exe.out" "$exe.err" | tr '\n' ' ')"
        continue
    fi
    timeout 300 "$ref" > "$ref.out" 2> "$ref.err"
    status=$?
    if [ $status -ne 0 ]; then
        fail "$name under $mode" "the reference run on $against exits with $status"
    elif ! diff -u "$ref.out" "$exe.out" > "$exe.diff"; then
        fail "$name under $mode" "output differs from $against's; see $exe.diff"
        head -20 "$exe.diff"
    else
        pass "$name under $mode (${took}s, $(wc -l < "$exe.out") lines identical to $against's)"
    fi
done
summary "$mode"
