#!/usr/bin/env bash
# include/openssl/async.h as a stand-in for OpenSSL's <openssl/async.h>:
#  - with OpenSSL's headers installed (the system's, and each OPENSSL_INCLUDE
#    directory given), `#include <openssl/async.h>` with -Iinclude defines
#    exactly the macros OpenSSL's header defines (ASYNC_R_*, OPENSSL_VERSION_*,
#    HEADER_ASYNC_H only while deprecated 3.0 names are enabled, ...) plus
#    only RUSTASYNC_* names of its own (and, against 1.1's headers, 3.0's
#    ASYNC_STATUS_* values), under several API settings;
#  - with no OpenSSL header reachable (a copy of the compiler's search path
#    without openssl/ directories), it still compiles as C89..C17 and
#    C++98..C++17 and defines the async API's names itself.
#
#   c-tests/header-standin.sh BUILD_DIR [OPENSSL_INCLUDE...]
set -uo pipefail
build=${1:?build dir}
shift
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
root=$TESTS_ROOT
mkdir -p "$build"

# macros FLAGS...: every macro defined after `#include <openssl/async.h>`.
macros() { printf '#include <openssl/async.h>\n' | cc -E -dM "$@" -x c - | sort; }

# One program that uses what OpenSSL's header brings in besides the API.
cat > "$build/brought-in.c" <<'C'
#include <openssl/async.h>
int main(void) {
#ifdef HEADER_ASYNCERR_H /* 1.1: its async.h brings no version macros */
    return ASYNC_R_FAILED_TO_SWAP_CONTEXT == 102 ? 0 : 1;
#else
    return ASYNC_R_FAILED_TO_SWAP_CONTEXT == 102 && OPENSSL_VERSION_MAJOR > 0 ? 0 : 1;
#endif
}
C

# compare LABEL INCLUDE-FLAGS...: OpenSSL's header against ours in front of it.
compare() {
    local label=$1 api
    shift
    local -A header_async=()
    for api in default "-DOPENSSL_API_COMPAT=10101" "-DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED"; do
        local flags=()
        [ "$api" = default ] || read -ra flags <<< "$api"
        if ! macros "$@" "${flags[@]}" > "$build/theirs.txt" 2> "$build/theirs.log"; then
            result fail "$label ($api)" "OpenSSL's header does not preprocess: $(head -3 "$build/theirs.log")"
            continue
        fi
        macros -I"$root/include" "$@" "${flags[@]}" > "$build/ours.txt" 2> "$build/ours.log"
        local missing extra
        missing=$(comm -23 "$build/theirs.txt" "$build/ours.txt")
        extra=$(comm -13 "$build/theirs.txt" "$build/ours.txt" | grep -v '^#define RUSTASYNC_')
        # The header declares OpenSSL 3.0's API, which added the
        # ASYNC_STATUS_* values to 1.1's header.
        grep -q '^#define HEADER_ASYNCERR_H' "$build/theirs.txt" &&
            extra=$(grep -v '^#define ASYNC_STATUS_' <<< "$extra")
        if [ -z "$missing" ] && [ -z "$extra" ]; then
            result ok "$label ($api): the same $(wc -l < "$build/theirs.txt") macros as OpenSSL's header, plus RUSTASYNC_*"
        else
            result fail "$label ($api)" "missing: $(head -5 <<< "$missing" | tr '\n' ' ') extra: $(head -5 <<< "$extra" | tr '\n' ' ')"
        fi
        grep -q '^#define HEADER_ASYNC_H' "$build/theirs.txt" && header_async[$api]=1
    done
    # The comparison only means something if the settings tried made
    # OpenSSL's header differ in HEADER_ASYNC_H; 1.1 defines it always.
    if [ -n "${header_async[default]-}" ] && [ -z "${header_async[-DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED]-}" ]; then
        result ok "$label: HEADER_ASYNC_H follows OPENSSL_NO_DEPRECATED_3_0 in both headers"
    elif grep -q '^#define HEADER_ASYNCERR_H' "$build/theirs.txt"; then
        result ok "$label: OpenSSL 1.1 headers, HEADER_ASYNC_H always defined in both"
    else
        result fail "$label" "OpenSSL's header did not toggle HEADER_ASYNC_H with OPENSSL_NO_DEPRECATED"
    fi
    if cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$root/include" "$@" -o "$build/brought-in" \
        "$build/brought-in.c" 2> "$build/brought-in.log" && "$build/brought-in"; then
        result ok "$label: a program including only <openssl/async.h> uses ASYNC_R_* (and OPENSSL_VERSION_MAJOR from 3.0 on)"
    else
        result fail "$label: ASYNC_R_* / OPENSSL_VERSION_MAJOR through <openssl/async.h>" "$(head -3 "$build/brought-in.log")"
    fi
}

compare "system OpenSSL ($(openssl version | cut -d' ' -f2))"
for inc in "$@"; do
    version=$(sed -n 's/^# *define OPENSSL_FULL_VERSION_STR "\(.*\)"/\1/p; s/^# *define OPENSSL_VERSION_TEXT.*"OpenSSL \([^ ]*\) .*/\1/p' \
        "$inc/openssl/opensslv.h" | head -n1)
    compare "OpenSSL ${version:-?} headers in $inc" -I"$inc"
done

# No OpenSSL headers: the compiler's own search path, with every directory
# that holds an openssl/ subdirectory replaced by a copy without it.
shadow="$build/no-openssl"
rm -rf "$shadow"
mkdir -p "$shadow"
# search_path LANG: -nostdinc plus -isystem for each directory the compiler
# searches for LANG, shadowed where needed.
search_path() {
    local compiler=$1 lang=$2 dir n=0
    local -a dirs
    mapfile -t dirs < <($compiler -x "$lang" -E -v - < /dev/null 2>&1 |
        sed -n '/^#include <\.\.\.> search starts here:/,/^End of search list/{/^ /s/^ //p}')
    printf '%s\n' -nostdinc
    [ "$lang" = c++ ] && printf '%s\n' -nostdinc++
    for dir in "${dirs[@]}"; do
        n=$((n + 1))
        if [ -d "$dir/openssl" ]; then
            local copy="$shadow/$lang-$n"
            mkdir -p "$copy"
            for entry in "$dir"/*; do
                [ "$(basename "$entry")" = openssl ] || ln -sfn "$entry" "$copy/"
            done
            dir=$copy
        fi
        printf '%s\n' -isystem "$dir"
    done
}
mapfile -t c_path < <(search_path cc c)
mapfile -t cxx_path < <(search_path c++ c++)
printf '#include <openssl/opensslv.h>\n' > "$build/hidden.c"
if cc "${c_path[@]}" -E "$build/hidden.c" > /dev/null 2>&1; then
    result fail "no OpenSSL headers" "the shadowed search path still finds <openssl/opensslv.h>"
else
    result ok "no OpenSSL headers: the shadowed search path finds no <openssl/opensslv.h>"
fi
cat > "$build/standalone.c" <<'C'
#include <openssl/async.h>
#if defined(OPENSSL_VERSION_MAJOR) || defined(HEADER_ASYNCERR_H)
#error an OpenSSL header was included
#endif
#if !defined(OPENSSL_ASYNC_H) || !defined(HEADER_ASYNC_H) || ASYNC_R_FAILED_TO_SWAP_CONTEXT != 102
#error the stand-in does not define the async names itself
#endif
static int use(void) { ASYNC_JOB *job = 0; int ret = 0; return ASYNC_start_job(&job, 0, &ret, 0, 0, 0) == ASYNC_ERR && OSSL_BAD_ASYNC_FD == -1; }
int main(void) { return use() ? 0 : 1; }
C
cp "$build/standalone.c" "$build/standalone.cc"
for std in c89 c99 c11 c17 c++98 c++11 c++17; do
    compiler=cc source="$build/standalone.c" path=("${c_path[@]}")
    case $std in c++*) compiler=c++ source="$build/standalone.cc" path=("${cxx_path[@]}") ;; esac
    if $compiler -std="$std" -Wall -Wextra -pedantic -Werror "${path[@]}" -I"$root/include" -c -o /dev/null \
        "$source" 2> "$build/standalone.$std.log"; then
        result ok "no OpenSSL headers: the header stands alone as $std"
    else
        result fail "no OpenSSL headers, $std" "$(head -5 "$build/standalone.$std.log")"
    fi
done
if printf '#include <openssl/async.h>\n' | cc "${c_path[@]}" -I"$root/include" -DOPENSSL_NO_DEPRECATED_3_0 -E -dM -x c - |
    grep -q '^#define HEADER_ASYNC_H'; then
    result fail "no OpenSSL headers, OPENSSL_NO_DEPRECATED_3_0" "HEADER_ASYNC_H is still defined"
else
    result ok "no OpenSSL headers: OPENSSL_NO_DEPRECATED_3_0 leaves HEADER_ASYNC_H undefined"
fi

summary header-standin
