# c-tests/lib.sh: what the test scripts share, sourced by each of them.
#
# Result lines: "PASS name", "FAIL name: reason", "SKIP name: reason";
# `summary LABEL` prints "LABEL: N passed, M failed, K skipped" and returns
# non-zero when anything failed, or when anything was skipped while
# RUSTASYNC_NO_SKIPS=1 (`make test` sets it: in CI every scenario must run).
# shellcheck shell=bash

TESTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PASSED=0
FAILED=0
SKIPPED=0

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
info() { echo "     $*"; }

# result ok|fail NAME [REASON]
result() { if [ "$1" = ok ]; then pass "$2"; else fail "$2" "${3:-}"; fi; }

# check NAME COMMAND...: passes when the command succeeds; its output goes
# to $CHECK_LOG (default: a file in $TMPDIR) and starts the failure reason.
check() {
    local name=$1 log=${CHECK_LOG:-${TMPDIR:-/tmp}/rustasync-check.$$.log}
    shift
    if "$@" > "$log" 2>&1; then pass "$name"; else fail "$name" "$(head -5 "$log")"; fi
}

# expect NAME GOT WANT
expect() { if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1" "got '$2', want '$3'"; fi; }

summary() {
    echo "$1: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    if [ "$SKIPPED" -gt 0 ] && [ "${RUSTASYNC_NO_SKIPS:-0}" = 1 ]; then
        echo "$1: $SKIPPED skipped, and RUSTASYNC_NO_SKIPS=1 requires every scenario to run"
        return 1
    fi
    [ "$FAILED" -eq 0 ]
}

# The flags every C test is built with. IMPL names the implementation the
# program must find its ASYNC_* functions in (common.h checks it at start):
# rustasync or libcrypto.
c_test_cflags() {
    local impl=$1
    printf '%s\n' -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TESTS_ROOT/c-tests" \
        "-DTEST_EXPECT_IMPL=\"$(impl_file "$impl")\""
}

# The file name an implementation's functions live in.
impl_file() { case $1 in rustasync) echo librustasync.so ;; libcrypto) echo libcrypto.so ;; *) return 1 ;; esac; }

# compile_c_test IMPL OUT SRC [MORE CC ARGS...]: builds one C test with
# c_test_cflags; the compiler's messages go to OUT.cc.log.
compile_c_test() {
    local impl=$1 out=$2 src=$3 flags
    shift 3
    mapfile -t flags < <(c_test_cflags "$impl")
    cc "${flags[@]}" -o "$out" "$src" "$@" 2> "$out.cc.log"
}

# imports_of FILE: the ASYNC_* functions FILE imports (versions stripped).
imports_of() { nm -D --undefined-only "$1" | awk '{print $2}' | sed 's/@.*//' | grep '^ASYNC_' | sort -u; }

# record_bindings LOG COMMAND...: runs COMMAND with every import resolved
# at start-up and logged (LD_DEBUG=bindings) into the single file LOG.
record_bindings() {
    local log=$1
    shift
    rm -f "$log" "$log".*
    LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$log" "$@" > /dev/null 2>&1 || true
    cat "$log".* > "$log" 2> /dev/null || : > "$log"
    rm -f "$log".*
}

# unbound LOG FROM TO SYMBOL...: prints the symbols that LOG does not show
# bound from the file named FROM to the file named TO (basenames; TO may
# be a pattern); nothing when all are.
unbound() {
    local log=$1 from=$2 to=$3 sym missing=""
    shift 3
    for sym in "$@"; do
        grep -q "binding file [^ ]*/$from \[[0-9]*\] to [^ ]*/$to \[[0-9]*\]: normal symbol \`$sym'" "$log" \
            || missing="$missing $sym"
    done
    echo "$missing"
}
