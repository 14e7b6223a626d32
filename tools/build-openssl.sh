#!/usr/bin/env bash
# Builds an OpenSSL release from a Debian suite's `openssl` source package,
# Debian's patches applied, into DEST (shared libraries, the `openssl`
# binary, headers, engines), for testing rustasync against OpenSSL versions
# the machine does not have.
#
#   tools/build-openssl.sh SUITE DEST [CONFIG_OPTION...]
#   e.g. tools/build-openssl.sh bullseye build/openssl-1.1.1
#
# OpenSSL is configured `shared no-tests` plus the options given; the
# static libcrypto.a and libssl.a are not built (half the compile).
# DEST/symbolic/ and DEST/nosymbolic/ hold libcrypto and libssl linked with
# -Bsymbolic (as upstream links 3.x) and without (as Debian's packages are).
# apt is pointed at a private sources list, package lists and cache under
# DEST.work, so the machine's own apt configuration is neither read nor
# changed. Each version the suite lists is tried, the security suite's
# first: a listed version is not always downloadable. A DEST that already
# holds a built `openssl` is reused as it is.
set -euo pipefail
suite=${1:?usage: build-openssl.sh SUITE DEST}
dest=${2:?usage: build-openssl.sh SUITE DEST}
shift 2
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
# One build at a time per DEST: a second caller (CI starts the build early
# in the background, then `make` asks for it) waits, then reuses it.
exec 9>"$dest.lock"
flock 9
if [ -x "$dest/apps/openssl" ] && [ -f "$dest/.built" ]; then
    echo "build-openssl: reusing $dest"
    exit 0
fi
command -v dpkg-source >/dev/null && command -v make >/dev/null && command -v perl >/dev/null ||
    { echo "build-openssl: needs dpkg-dev, make and perl (apt-get install dpkg-dev make perl)" >&2; exit 1; }

work=$dest.work
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
mirror=http://deb.debian.org
cat > "$work/sources.list" <<EOF
deb-src $mirror/debian-security $suite-security main
deb-src $mirror/debian $suite main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/none"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -q update >"$work/apt-update.log" 2>&1 ||
    { cat "$work/apt-update.log" >&2; exit 1; }

# `apt-cache showsrc` lists the security suite's record first (it comes first
# in the sources list).
mapfile -t versions < <(apt-cache "${apt_opts[@]}" showsrc openssl | sed -n 's/^Version: //p')
[ ${#versions[@]} -gt 0 ] || { echo "build-openssl: no openssl source in $suite" >&2; exit 1; }
fetched=
for v in "${versions[@]}"; do
    if (cd "$work/src" && apt-get "${apt_opts[@]}" -q --download-only source "openssl=$v") \
        >"$work/apt-source.log" 2>&1; then
        fetched=$v
        break
    fi
    echo "build-openssl: openssl $v from $suite could not be fetched; trying the next version" >&2
done
if [ -n "$fetched" ]; then
    # Without signature checks: apt verified every file against the suite's
    # signed index.
    (cd "$work/src" && dpkg-source --no-check -x "openssl_${fetched#*:}.dsc" tree) >"$work/dpkg-source.log" 2>&1 ||
        { cat "$work/dpkg-source.log" >&2; exit 1; }
else
    # The upstream tarball alone still builds the same OpenSSL release,
    # without Debian's patches; say so loudly.
    orig=$(ls "$work/src"/openssl_*.orig.tar.gz 2>/dev/null | head -n1)
    [ -n "$orig" ] || { cat "$work/apt-source.log" >&2; exit 1; }
    echo "build-openssl: WARNING: only $(basename "$orig") arrived; building without Debian's patches" >&2
    mkdir "$work/src/tree"
    tar -xzf "$orig" -C "$work/src/tree" --strip-components=1
    fetched=$(basename "$orig" .orig.tar.gz)
    fetched="${fetched#openssl_} (upstream tarball only)"
fi

rm -rf "$dest"
mv "$work/src/tree" "$dest"
cd "$dest"
# Built in place, never installed: programs find libcrypto through an rpath
# to this directory; engines are found through OPENSSL_ENGINES.
./config shared no-tests "$@" -Wl,-rpath,"$dest" >config.log 2>&1 || { cat config.log >&2; exit 1; }
sed -i -e '/^LIBS=/,/[^\\]$/s/ libcrypto\.a\| libssl\.a//g' -e 's/^INSTALL_LIBS=.*/INSTALL_LIBS=/' Makefile
make -j"$(nproc)" >make.log 2>&1 || { tail -n 50 make.log >&2; exit 1; }
# Upstream links 3.x's libcrypto and libssl with -Bsymbolic; Debian's
# packages do not (debian/patches/no-symbolic.patch). Both linkages of the
# same objects, for tests that must hold in either: DEST/symbolic/ and
# DEST/nosymbolic/ (put one in LD_LIBRARY_PATH).
ldflags=$(sed -n 's/^LIB_LDFLAGS=//p' Makefile)
if [[ $ldflags == *-shared* ]]; then
    base=${ldflags//-Wl,-Bsymbolic/}
    shlibs=$(ls libcrypto.so.* libssl.so.*)
    for linkage in symbolic nosymbolic; do
        flags=$base
        [ $linkage = symbolic ] && flags="$base -Wl,-Bsymbolic"
        mkdir -p $linkage
        # shellcheck disable=SC2086 # a list of file names
        rm -f $shlibs
        # shellcheck disable=SC2086
        make LIB_LDFLAGS="$flags" $shlibs >>make.log 2>&1 || { tail -n 20 make.log >&2; exit 1; }
        # shellcheck disable=SC2086
        mv $shlibs $linkage/
    done
    # shellcheck disable=SC2086
    make $shlibs >>make.log 2>&1 || { tail -n 20 make.log >&2; exit 1; }
fi
echo "$fetched" > .built
rm -rf "$work"
echo "build-openssl: $(apps/openssl version) (Debian $fetched, $suite) built in $dest"
