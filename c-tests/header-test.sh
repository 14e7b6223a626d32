#!/usr/bin/env bash
# Checks on include/openssl/async.h:
#  - the committed copy is exactly what cbindgen generates from src/ffi.rs;
#  - it compiles on its own as C89/C99/C11/C17 and C++98/11/17 with
#    -Wall -Wextra -pedantic -Werror;
#  - a translation unit that includes the system's <openssl/async.h> and then
#    ours compiles as C11/C17 and C++11/17: any drift in a type, prototype
#    or constant is a conflicting redeclaration or macro redefinition.
#
#   c-tests/header-test.sh BUILD_DIR GENERATED_HEADER
set -uo pipefail
build=${1:?build dir}
generated=${2:?generated header}
root=$(cd "$(dirname "$0")/.." && pwd)
ours="$root/include/openssl/async.h"
passed=0
failed=0
result() { if [ "$1" = ok ]; then echo "PASS $2"; passed=$((passed + 1)); else echo "FAIL $2: $3"; failed=$((failed + 1)); fi; }
mkdir -p "$build"

if cmp -s "$generated" "$ours"; then
    result ok "committed header matches the generated one"
else
    result fail "committed header" "differs from $generated; run 'make header' and commit"
fi

cat > "$build/alone.c" <<'C'
#include <openssl/async.h>
static int use(void) { ASYNC_JOB *job = 0; int ret = 0; (void)ret; return ASYNC_start_job(&job, ASYNC_WAIT_CTX_new(), &ret, 0, 0, 0) == ASYNC_ERR && OSSL_BAD_ASYNC_FD == -1; }
int main(void) { return use() ? 0 : 1; }
C
cp "$build/alone.c" "$build/alone.cc"
for std in c89 c99 c11 c17; do
    if cc -std=$std -Wall -Wextra -pedantic -Werror -I"$root/include" -c -o /dev/null "$build/alone.c" 2> "$build/alone.$std.log"; then
        result ok "header alone compiles as $std"
    else
        result fail "header alone as $std" "$(head -5 "$build/alone.$std.log")"
    fi
done
for std in c++98 c++11 c++17; do
    if c++ -std=$std -Wall -Wextra -pedantic -Werror -I"$root/include" -c -o /dev/null "$build/alone.cc" 2> "$build/alone.$std.log"; then
        result ok "header alone compiles as $std"
    else
        result fail "header alone as $std" "$(head -5 "$build/alone.$std.log")"
    fi
done

cat > "$build/both.c" <<C
#include <openssl/async.h>
#include "$ours"
/* The same names must denote the same types in both headers. */
typedef int (*start_job_type)(ASYNC_JOB **, ASYNC_WAIT_CTX *, int *, int (*)(void *), void *, size_t);
static start_job_type start_job = ASYNC_start_job;
int main(void) { return start_job == 0 || ASYNC_FINISH != 3 || ASYNC_STATUS_EAGAIN != 3; }
C
cp "$build/both.c" "$build/both.cc"
for std in c11 c17; do
    if cc -std=$std -Wall -Wextra -pedantic -Werror -c -o /dev/null "$build/both.c" 2> "$build/both.$std.log"; then
        result ok "system header + ours in one unit compiles as $std"
    else
        result fail "system header + ours as $std" "$(head -5 "$build/both.$std.log")"
    fi
done
for std in c++11 c++17; do
    if c++ -std=$std -Wall -Wextra -pedantic -Werror -c -o /dev/null "$build/both.cc" 2> "$build/both.$std.log"; then
        result ok "system header + ours in one unit compiles as $std"
    else
        result fail "system header + ours as $std" "$(head -5 "$build/both.$std.log")"
    fi
done

echo "header: $passed passed, $failed failed"
[ $failed -eq 0 ]
