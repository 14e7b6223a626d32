#!/usr/bin/env bash
# Runs every C test against librustasync under a checker:
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
root=$(cd "$(dirname "$0")/.." && pwd)
cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root/c-tests" -I"$root/include")
export STRESS_SECONDS=${STRESS_SECONDS:-3}
case $mode in
valgrind)
    command -v valgrind > /dev/null || { echo "valgrind is not installed (make deps-test)"; exit 1; }
    export RUSTASYNC_TEST_VALGRIND=1 RUSTASYNC_TEST_SCALE=${RUSTASYNC_TEST_SCALE:-2}
    # Not -q: it would hide the "client switching stacks?" warning. Errors
    # and definite leaks make valgrind exit with 99.
    runner=(valgrind --trace-children=yes --fair-sched=yes --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=definite --suppressions="$root/c-tests/valgrind.supp")
    bad_output='client switching stacks'
    ;;
sanitize)
    cflags+=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    export ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    runner=()
    bad_output='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ASan'
    ;;
*)
    echo "unknown mode $mode"; exit 2 ;;
esac
mkdir -p "$build"
passed=0
failed=0
for src in "$root"/c-tests/*.c; do
    name=$(basename "$src" .c)
    exe="$build/$name"
    # A test that cannot run under this checker says so on a line
    # "/* checker-skip: MODE (reason) */".
    if grep -q "^/\* checker-skip: $mode" "$src"; then
        echo "SKIP $name under $mode: $(sed -n "s|^/\* checker-skip: $mode (\(.*\)) \*/|\1|p" "$src")"
        continue
    fi
    libs=(-lrustasync -lcrypto -lpthread)
    if grep -q '^/\* no-libcrypto \*/' "$src"; then
        libs=(-lrustasync -lpthread)
    fi
    if ! cc "${cflags[@]}" -o "$exe" "$src" -L"$libdir" -Wl,-rpath,"$libdir" \
        "${libs[@]}" 2> "$exe.cc.log"; then
        echo "FAIL $name: does not compile: $(head -3 "$exe.cc.log")"
        failed=$((failed + 1))
        continue
    fi
    start=$(date +%s)
    timeout 600 "${runner[@]}" "$exe" > "$exe.out" 2> "$exe.err"
    status=$?
    took=$(($(date +%s) - start))
    if [ $status -ne 0 ]; then
        echo "FAIL $name under $mode: exit status $status"
        grep -m5 -E "FAILED|$bad_output" "$exe.out" "$exe.err"
        failed=$((failed + 1))
    elif grep -qE "$bad_output" "$exe.out" "$exe.err"; then
        echo "FAIL $name under $mode: checker report"
        grep -m5 -E "$bad_output" "$exe.out" "$exe.err"
        failed=$((failed + 1))
    else
        echo "PASS $name under $mode (${took}s)"
        passed=$((passed + 1))
    fi
done
echo "$mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
