#!/usr/bin/env bash
# rustasync against an OpenSSL built from source by tools/build-openssl.sh
# (make test-openssl35: Debian 13's OpenSSL 3.5), once on libcrypto and
# libssl as upstream links them (-Bsymbolic, DEST/symbolic) and once as
# Debian's packages are (without, DEST/nosymbolic):
#   - bindings: `openssl version` with every import bound at start-up shows
#     each ASYNC_* reference bound to that libcrypto when plain and to
#     librustasync when preloaded, libcrypto's own included where it has any;
#   - the differential C tests (c-tests/*.c) compiled against the build's
#     headers: each program run plain and preloaded, and built with our
#     header and -lrustasync; all three outputs identical, and the plain and
#     preloaded runs bound their ASYNC_* calls where they should (tests marked
#     rustasync-only run in the -lrustasync build alone; no-libcrypto ones
#     have nothing to do with OpenSSL and belong to `make c-test`);
#   - the example of the build's own doc/man3/ASYNC_start_job.pod, the same
#     three ways, printing what the page documents;
#   - c-tests/interop/pausing.sh with the pausing engine (speed, s_server /
#     s_client) and with the pausing provider (speed, s_server / s_client,
#     async_tls, haproxy);
#   - the header stand-in checks with the build's headers.
#
#   c-tests/openssl-build-test.sh OPENSSL_DIR OUT_DIR LIBDIR
set -uo pipefail
ossl=$(cd "${1:?OpenSSL build dir}" && pwd)
out=${2:?output dir}
libdir=$(cd "${3:?lib dir}" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
root=$TESTS_ROOT
lib=$libdir/librustasync.so
if [ -n "$(ls -A "$out" 2> /dev/null)" ] && [ ! -f "$out/.openssl-build-test-out" ]; then
    echo "openssl-build-test.sh: $out exists and is not an output dir of this script; not touching it" >&2
    exit 2
fi
rm -rf "$out"
mkdir -p "$out"
touch "$out/.openssl-build-test-out"
out=$(cd "$out" && pwd)
version=$("$ossl/apps/openssl" version | cut -d" " -f1-2)
echo "     $version ($(cat "$ossl/.built")), in $ossl"

variants=(symbolic nosymbolic)
libs_of() { echo "$ossl/$1"; }
for variant in "${variants[@]}"; do
    [ -f "$ossl/$variant/libcrypto.so.3" ] || fail "$variant" "$ossl/$variant/libcrypto.so.3 missing (rebuild: rm -rf $ossl)"
done

# bound LOGBASE TARGET: the ASYNC_* bindings logged under LOGBASE.* all go
# to TARGET (and there is at least one); prints what is wrong, if anything.
bound() {
    local all=$1.all
    cat "$1".[0-9]* 2> /dev/null | grep "normal symbol \`ASYNC_" > "$all"
    rm -f "$1".[0-9]*
    [ -s "$all" ] || { echo "no ASYNC_* binding logged"; return; }
    if grep -v " to $2 \[" "$all" > "$all.wrong"; then
        echo "bound elsewhere than $2: $(head -1 "$all.wrong" | tr -s ' ')"
    fi
}

# run VARIANT LIBS LOGBASE CMD...: CMD on the given libraries, plain or
# preloaded, bindings logged.
run() {
    local v=$1 libs=$2 log=$3
    shift 3
    if [ "$v" = preload ]; then
        env LD_LIBRARY_PATH="$libs" LD_PRELOAD="$lib" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$log" "$@"
    else
        env LD_LIBRARY_PATH="$libs" LD_DEBUG=bindings LD_DEBUG_OUTPUT="$log" "$@"
    fi
}

# ------------------------------------------------------------ bindings
for variant in "${variants[@]}"; do
    libs=$(libs_of "$variant")
    relocs=$(readelf -rW "$libs/libcrypto.so.3" | grep -c ' ASYNC_')
    if [ "$variant" = symbolic ] && [ "$relocs" -ne 0 ]; then
        fail "$variant: libcrypto" "$relocs relocations against its own ASYNC_* (not linked -Bsymbolic?)"
    elif [ "$variant" = nosymbolic ] && [ "$relocs" -eq 0 ]; then
        fail "$variant: libcrypto" "no relocation against its own ASYNC_* (still -Bsymbolic?)"
    else
        pass "$variant: libcrypto has $relocs dynamic relocations against its own ASYNC_* functions"
    fi
    for v in plain preload; do
        log=$out/bindings-$variant-$v
        run "$v" "$libs" "$log" LD_BIND_NOW=1 "$ossl/apps/openssl" version > /dev/null 2>&1
        target=$libs/libcrypto.so.3
        [ "$v" = preload ] && target=$lib
        why=$(bound "$log" "$target")
        from=$(sed 's/.*binding file \([^ ]*\) .*/\1/' "$log.all" | xargs -r -n1 basename | sort | uniq -c | tr -s ' ' | tr '\n' ',')
        if [ -z "$why" ] && [ "$variant" = nosymbolic ] && ! grep -q "binding file [^ ]*/libcrypto.so.3 " "$log.all"; then
            why="libcrypto's own ASYNC_* references were not bound through the PLT"
        fi
        if [ -n "$why" ]; then fail "$variant-$v: bindings of openssl, libssl, libcrypto" "$why"; else
            pass "$variant-$v: every ASYNC_* reference bound to $(basename "$target") (from:${from%,})"
        fi
    done
done

# ------------------------------------------------------------ C tests
# Each program checks at start that its ASYNC_* functions come from the
# library it was built to expect (common.h), so the native program is built
# twice: expecting libcrypto (plain) and librustasync (preloaded).
against=(-isystem "$ossl/include" -L"$ossl" -Wl,-rpath,"$ossl")
mkdir -p "$out/c"
for src in "$root"/c-tests/*.c; do
    name=$(basename "$src" .c)
    grep -q '^/\* no-libcrypto \*/' "$src" && continue
    only=0
    grep -q '^/\* rustasync-only \*/' "$src" && only=1
    bin=$out/c/$name
    if ! compile_c_test rustasync "$bin.linked" "$src" -I"$root/include" "${against[@]}" \
        -L"$libdir" -Wl,-rpath,"$libdir" -lrustasync -lcrypto -lpthread; then
        fail "c-tests $name" "does not compile with our header against $version: $(head -3 "$bin.linked.cc.log")"
        continue
    fi
    if [ $only = 0 ] && ! { compile_c_test libcrypto "$bin.plain" "$src" "${against[@]}" -lcrypto -lpthread &&
        compile_c_test rustasync "$bin.preload" "$src" "${against[@]}" -lcrypto -lpthread; }; then
        fail "c-tests $name" "does not compile against $version's headers: $(cat "$bin".*.cc.log | head -3)"
        continue
    fi
    for variant in "${variants[@]}"; do
        libs=$(libs_of "$variant")
        label="$variant: $name"
        if ! LD_LIBRARY_PATH=$libs timeout 120 "$bin.linked" > "$bin.$variant.linked.out" 2> "$bin.err"; then
            fail "$label" "-lrustasync build failed: $(grep -m2 FAILED "$bin.$variant.linked.out" "$bin.err" | tr '\n' ' ')"
            continue
        fi
        if [ $only = 1 ]; then
            pass "$label (rustasync only, linked with $version's libcrypto)"
            continue
        fi
        why=
        for v in plain preload; do
            if ! run "$v" "$libs" "$bin.$variant.$v.bind" timeout 120 "$bin.$v" > "$bin.$variant.$v.out" 2> "$bin.err"; then
                why="$v run failed: $(grep -m2 FAILED "$bin.$variant.$v.out" "$bin.err" | tr '\n' ' ')"
                break
            fi
            target=$libs/libcrypto.so.3
            [ "$v" = preload ] && target=$lib
            why=$(bound "$bin.$variant.$v.bind" "$target")
            [ -n "$why" ] && { why="$v: $why"; break; }
        done
        if [ -z "$why" ]; then
            for v in preload linked; do
                if ! diff -u "$bin.$variant.plain.out" "$bin.$variant.$v.out" > "$bin.$variant.$v.diff"; then
                    why="$v output differs from $version's (see $bin.$variant.$v.diff)"
                    break
                fi
            done
        fi
        if [ -n "$why" ]; then fail "$label" "$why"; else
            pass "$label ($(wc -l < "$bin.$variant.plain.out") lines identical: plain, preloaded, -lrustasync)"
        fi
    done
done

# ------------------------------------------------------------ man page
pod=$ossl/doc/man3/ASYNC_start_job.pod
mp=$out/manpage
mkdir -p "$mp"
if pod2man --section=3ssl --center=OpenSSL "$pod" > "$mp/ASYNC_start_job.3ssl" 2> "$mp/pod2man.log" &&
    "$root/tools/manpage-example.sh" "$mp" "$mp/ASYNC_start_job.3ssl"; then
    cc -w "${against[@]}" -o "$mp/native" "$mp/example.c" -lcrypto
    cc -w -I"$root/include" "${against[@]}" -o "$mp/linked" "$mp/example.c" \
        -L"$libdir" -Wl,-rpath,"$libdir" -lrustasync -lcrypto
    for variant in "${variants[@]}"; do
        libs=$(libs_of "$variant")
        for v in plain preload linked; do
            why=
            if [ "$v" = linked ]; then
                LD_LIBRARY_PATH=$libs timeout 30 "$mp/linked" > "$mp/$variant.$v.out" 2>&1 || why="exit status $?"
            else
                run "$v" "$libs" "$mp/$variant.$v.bind" timeout 30 "$mp/native" > "$mp/$variant.$v.out" 2>&1 ||
                    why="exit status $?"
                target=$libs/libcrypto.so.3
                [ "$v" = preload ] && target=$lib
                [ -z "$why" ] && why=$(bound "$mp/$variant.$v.bind" "$target")
            fi
            [ -z "$why" ] && ! diff -u "$mp/expected.txt" "$mp/$variant.$v.out" > "$mp/$variant.$v.diff" &&
                why="output differs from the page's (see $mp/$variant.$v.diff)"
            if [ -n "$why" ]; then fail "$variant-$v: ASYNC_start_job.pod example" "$why"; else
                pass "$variant-$v: the example of $version's ASYNC_start_job.pod prints the documented output"
            fi
        done
    done
else
    fail "ASYNC_start_job.pod example" "could not extract it from $pod: $(head -2 "$mp/pod2man.log")"
fi

# ------------------------------------------------------------ pausing modules
for variant in "${variants[@]}"; do
    for module in engine provider; do
        only=.
        [ "$module" = engine ] && only='speed|sserver'
        log=$out/pausing-$variant-$module.log
        MODULE=$module OPENSSL_DIR=$ossl OPENSSL_LIBDIR=$(libs_of "$variant") RUSTASYNC_LIB=$lib \
            ONLY=$only QUICK=1 "$root/c-tests/interop/pausing.sh" "$out/pausing-$variant-$module" > "$log" 2>&1
        while read -r line; do
            case $line in
                PASS*) pass "$variant-$module: ${line#PASS }" ;;
                FAIL*) fail "$variant-$module: ${line#FAIL }" "" ;;
                SKIP*) skip "$variant-$module: ${line#SKIP }" "" ;;
            esac
        done < "$log"
        grep -q '^pausing: [0-9]* passed, 0 failed, 0 skipped$' "$log" ||
            fail "$variant-$module: pausing.sh" "did not finish cleanly (see $log)"
    done
done

# ------------------------------------------------------------ header
if "$root/c-tests/header-standin.sh" "$out/header" "$ossl/include" > "$out/header.log" 2>&1; then
    pass "header stand-in with $version's headers ($(grep -c '^PASS' "$out/header.log") checks)"
else
    fail "header stand-in with $version's headers" "$(grep -m3 '^FAIL' "$out/header.log" | tr '\n' ' ')"
fi

summary openssl-build-test
