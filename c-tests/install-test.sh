#!/usr/bin/env bash
# `make install` and `make uninstall` into a staging root, checked the way a
# C user and a packager would:
#  - the files and symlinks are where they belong, the SONAME is right;
#  - pkg-config (pointed at the staging root with PKG_CONFIG_PATH and
#    PKG_CONFIG_SYSROOT_DIR) gives flags that make <openssl/async.h> ours,
#    and Libs.private is what rustc printed for the static library;
#  - the example of rustasync(7), extracted from the installed page, builds
#    with nothing but those flags, dynamically and statically, and prints
#    the output the page documents; the page renders without warnings;
#  - the installed launcher preloads the installed library;
#  - uninstall leaves no file behind.
#
#   c-tests/install-test.sh BUILD_DIR
set -uo pipefail
build=${1:?build dir}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)
# shellcheck source=c-tests/lib.sh
. "$(dirname "$0")/lib.sh"
CHECK_LOG=$build/check.log

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)
major=${version%%.*}
prefix=/usr/local
stage="$build/stage"
rm -rf "$stage"
if ! make -s -C "$root" install PREFIX="$prefix" DESTDIR="$stage" > "$build/install.log" 2>&1; then
    result fail "make install" "$(tail -5 "$build/install.log")"
    summary install
    exit 1
fi
result ok "make install DESTDIR=... PREFIX=$prefix"
lib="$stage$prefix/lib"
inc="$stage$prefix/include"

# Layout.
for f in "lib/librustasync.so.$version" lib/librustasync.a include/rustasync/openssl/async.h include/rustasync.h \
    lib/pkgconfig/rustasync.pc bin/rustasync-preload bin/rustasync-stat share/man/man7/rustasync.7 \
    share/rustasync/rustasync-gdb.py; do
    check "installed $f" test -f "$stage$prefix/$f"
done
check "symlink librustasync.so.$major -> librustasync.so.$version" \
    test "$(readlink "$lib/librustasync.so.$major")" = "librustasync.so.$version"
check "symlink librustasync.so -> librustasync.so.$major" test "$(readlink "$lib/librustasync.so")" = "librustasync.so.$major"
check "launcher is executable" test -x "$stage$prefix/bin/rustasync-preload"
soname=$(readelf -d "$lib/librustasync.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "SONAME is librustasync.so.$major (readelf -d)" test "$soname" = "librustasync.so.$major"
check "installed headers equal the committed ones" \
    sh -c "cmp '$inc/rustasync/openssl/async.h' '$root/include/openssl/async.h' && cmp '$inc/rustasync.h' '$root/include/rustasync.h'"
check "man page version matches Cargo.toml" grep -q "^\.TH RUSTASYNC 7 .*\"rustasync $version\"" \
    "$stage$prefix/share/man/man7/rustasync.7"

# pkg-config, pointed at the staging root.
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_LIBDIR="$lib/pkgconfig"
check "pkg-config --modversion is $version" test "$(pkg-config --modversion rustasync)" = "$version"
cflags=$(pkg-config --cflags rustasync)
libs=$(pkg-config --libs rustasync)
static_libs=$(pkg-config --static --libs rustasync)
echo "     cflags: $cflags"
echo "     libs:   $libs"
echo "     static: $static_libs"
printf '#include <openssl/async.h>\n#include <rustasync.h>\n' > "$build/which.c"
# shellcheck disable=SC2086
cc $cflags -M "$build/which.c" > "$build/which.deps" 2>&1
check "<openssl/async.h> resolves to ours" grep -q "$inc/rustasync/openssl/async.h" "$build/which.deps"
check "<rustasync.h> resolves to the installed one" grep -q "$inc/rustasync.h" "$build/which.deps"
check "Libs.private is rustc's native-static-libs" \
    test "$(sed -n 's/^Libs.private: //p' "$lib/pkgconfig/rustasync.pc")" = "$(cat "$root/build/lib/native-static-libs.txt")"

# The example from the installed page, with nothing but pkg-config's flags.
page="$stage$prefix/share/man/man7/rustasync.7"
"$root/tools/manpage-example.sh" "$build/example" "$page" || exit 1
src="$build/example/example.c"
expected="$build/example/expected.txt"
# shellcheck disable=SC2086
check "example builds dynamically with pkg-config flags (-Wall -Wextra -Werror)" \
    cc -std=c99 -Wall -Wextra -Werror $cflags -o "$build/dynamic" "$src" $libs -lcrypto
# shellcheck disable=SC2086
check "example builds statically with pkg-config --static flags" \
    cc -std=c99 -Wall -Wextra -Werror $cflags -o "$build/static" "$src" \
    ${static_libs/-lrustasync/-Wl,-Bstatic -lrustasync -Wl,-Bdynamic} -lcrypto
check "dynamic build needs librustasync.so.$major" sh -c "readelf -d '$build/dynamic' | grep -q 'NEEDED.*\[librustasync.so.$major\]'"
check "static build needs no librustasync" sh -c "! readelf -d '$build/static' | grep -q librustasync"
check "static build defines every ASYNC_* it uses" sh -c "! nm -D '$build/static' | grep -q ' U ASYNC_'"
for variant in dynamic static; do
    LD_LIBRARY_PATH="$lib" timeout 30 env -u RUSTASYNC_STATS "$build/$variant" > "$build/$variant.out" 2> "$build/$variant.err"
    status=$?
    if [ $status -eq 0 ] && diff -u "$expected" "$build/$variant.out" > "$build/$variant.diff"; then
        result ok "example ($variant) prints the output the page documents"
    else
        result fail "example ($variant)" "status $status; $(head -20 "$build/$variant.diff" "$build/$variant.err")"
    fi
done

# The page renders: no groff warnings, and man(1) shows every section.
check "man page renders without groff warnings" sh -c "groff -man -Tascii -ww -z '$page' 2>&1 | (! grep .)"
man -l "$page" 2> "$build/man.err" | col -b > "$build/man.txt"
for section in NAME SYNOPSIS DESCRIPTION USAGE EXTENSIONS ENVIRONMENT "DIFFERENCES FROM OPENSSL" EXAMPLES; do
    check "man -l shows section $section" grep -q "^$section" "$build/man.txt"
done
for variable in RUSTASYNC_LOG RUSTASYNC_STATS RUSTASYNC_STACK_SIZE RUSTASYNC_GUARD; do
    check "man page documents $variable" grep -q "^       $variable" "$build/man.txt"
done

# The installed launcher names the installed library by its SONAME; run
# from a real (non-staged) prefix it preloads it.
check "staged launcher preloads $prefix/lib/librustasync.so.$major" \
    grep -q "^lib='$prefix/lib/librustasync.so.$major'$" "$stage$prefix/bin/rustasync-preload"
real="$build/prefix"
rm -rf "$real"
if make -s -C "$root" install PREFIX="$real" > "$build/install-real.log" 2>&1; then
    preload=$(LD_PRELOAD= "$real/bin/rustasync-preload" sh -c 'echo "$LD_PRELOAD"')
    check "installed launcher sets LD_PRELOAD to the installed library" test "$preload" = "$real/lib/librustasync.so.$major"
    maps=$("$real/bin/rustasync-preload" sh -c 'cat /proc/$$/maps')
    check "a command under the launcher has the library mapped" grep -q "$real/lib/librustasync.so.$version" <<< "$maps"
    make -s -C "$root" uninstall PREFIX="$real" > /dev/null 2>&1
else
    result fail "make install PREFIX=$real" "$(tail -5 "$build/install-real.log")"
fi

# Uninstall removes every file and symlink it installed.
if make -s -C "$root" uninstall PREFIX="$prefix" DESTDIR="$stage" > "$build/uninstall.log" 2>&1; then
    left=$(find "$stage" \( -type f -o -type l \) | sed "s|^$stage||")
    check "make uninstall leaves no file behind" test -z "$left"
    check "make uninstall removes include/rustasync" test ! -e "$inc/rustasync"
    [ -z "$left" ] || echo "     left behind: $left"
else
    result fail "make uninstall" "$(tail -5 "$build/uninstall.log")"
fi

summary install
