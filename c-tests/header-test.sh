#!/usr/bin/env bash
# Checks on include/openssl/async.h:
#  - the committed copy is exactly what cbindgen generates from src/ffi.rs;
#  - it compiles on its own as C89/C99/C11/C17 and C++98/11/17 with
#    -Wall -Wextra -pedantic -Werror;
#  - a translation unit that includes the system's <openssl/async.h> and then
#    ours compiles as C11/C17 and C++11/17: any drift in a type, prototype
#    or constant is a conflicting redeclaration or macro redefinition;
#  - include/rustasync.h (the extensions) is exactly what cbindgen generates
#    from src/extensions.rs, compiles with and without <openssl/async.h> as
#    C89..C17 and C++98..C++17, and its version macros agree with
#    rustasync_version() and Cargo.toml.
#
#   c-tests/header-test.sh BUILD_DIR GENERATED_HEADER GENERATED_EXT_HEADER
set -uo pipefail
build=${1:?build dir}
generated=${2:?generated header}
generated_ext=${3:?generated extension header}
root=$(cd "$(dirname "$0")/.." && pwd)
ours="$root/include/openssl/async.h"
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
mkdir -p "$build"

# compiles LABEL BASE STD...: compiles BASE.c (C standards) or BASE.cc (C++
# standards) once per standard, strictly; INCLUDE may add an -I option.
compiles() {
    local label=$1 base=$2 std
    shift 2
    for std in "$@"; do
        local compiler=cc source="$base.c"
        case $std in c++*) compiler=c++ source="$base.cc" ;; esac
        # shellcheck disable=SC2086 # INCLUDE is empty or one option
        if $compiler -std="$std" -Wall -Wextra -pedantic -Werror $INCLUDE -c -o /dev/null "$source" 2> "$base.$std.log"; then
            result ok "$label compiles as $std"
        else
            result fail "$label as $std" "$(head -5 "$base.$std.log")"
        fi
    done
}

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
INCLUDE=-I"$root/include" compiles "header alone" "$build/alone" c89 c99 c11 c17 c++98 c++11 c++17

cat > "$build/both.c" <<C
#include <openssl/async.h>
#include "$ours"
/* The same names must denote the same types in both headers. */
typedef int (*start_job_type)(ASYNC_JOB **, ASYNC_WAIT_CTX *, int *, int (*)(void *), void *, size_t);
static start_job_type start_job = ASYNC_start_job;
int main(void) { return start_job == 0 || ASYNC_FINISH != 3 || ASYNC_STATUS_EAGAIN != 3; }
C
cp "$build/both.c" "$build/both.cc"
INCLUDE= compiles "system header + ours in one unit" "$build/both" c11 c17 c++11 c++17

# The extension header.
ext="$root/include/rustasync.h"
if cmp -s "$generated_ext" "$ext"; then
    result ok "committed rustasync.h matches the generated one"
else
    result fail "committed rustasync.h" "differs from $generated_ext; run 'make header' and commit"
fi
cat > "$build/ext.c" <<'C'
#include <rustasync.h>
#include <openssl/async.h>
#include <rustasync.h>
static int use(void) {
    struct rustasync_stats st;
    const char *(*version)(void) = rustasync_version;
    int (*stats)(struct rustasync_stats *) = rustasync_stats;
    st.jobs_started = 0;
    st.stack_measured = 0;
    return version != 0 && stats != 0 && st.jobs_started == 0 && RUSTASYNC_VERSION_MAJOR >= 0 &&
        RUSTASYNC_VERSION_MINOR >= 0 && RUSTASYNC_VERSION_PATCH >= 0 && RUSTASYNC_VERSION_STRING[0] != 0;
}
int main(void) { return use() ? 0 : 1; }
C
cp "$build/ext.c" "$build/ext.cc"
INCLUDE=-I"$root/include" compiles "rustasync.h" "$build/ext" c89 c99 c11 c17 c++98 c++11 c++17
libdir="$root/build/lib"
cat > "$build/version.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <rustasync.h>
int main(void) {
    char macros[64];
    sprintf(macros, "%d.%d.%d", RUSTASYNC_VERSION_MAJOR, RUSTASYNC_VERSION_MINOR, RUSTASYNC_VERSION_PATCH);
    printf("%s %s %s\n", rustasync_version(), RUSTASYNC_VERSION_STRING, macros);
    return strcmp(rustasync_version(), RUSTASYNC_VERSION_STRING) != 0 || strcmp(macros, RUSTASYNC_VERSION_STRING) != 0;
}
C
cargo_version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
if cc -std=c99 -Wall -Wextra -Werror -I"$root/include" -o "$build/version" "$build/version.c" \
        -L"$libdir" -Wl,-rpath,"$libdir" -lrustasync 2> "$build/version.log" \
    && out=$("$build/version") && [ "$out" = "$cargo_version $cargo_version $cargo_version" ]; then
    result ok "rustasync_version() = RUSTASYNC_VERSION_STRING = MAJOR.MINOR.PATCH = Cargo.toml ($cargo_version)"
else
    result fail "version" "got '${out:-}', want $cargo_version thrice; $(head -3 "$build/version.log")"
fi

summary header
