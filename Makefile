# rustasync — build, demo, tests, benchmarks.
#
#   make demo    build the library and run OpenSSL's manual-page example on it
#   make test    everything CI checks
#   make check   the quick loop: fmt, clippy, unit tests, differential C tests
#   make bench   rustasync side by side with OpenSSL's own async layer
#                (make bench-quick: the same, tiny, only checks it all runs)
#   make install PREFIX=/usr/local DESTDIR=   /   make uninstall (same variables)
#
# Reliability checks (all run by `make test`):
#   make valgrind-test   the C tests under valgrind memcheck
#   make sanitize-test   the C tests built with ASan + UBSan (also:
#                        make c-test PROFILE=asan)
#   make fuzz-test       random API sequences on rustasync and on libcrypto
#                        (a model judges what OpenSSL leaves undefined)
#                        for FUZZ_SECONDS (default 30)
#                        and the parsers of the RUSTASYNC_* variables for
#                        ENV_FUZZ_SECONDS (default 10)
#   make stress-test     the C stress test for STRESS_SECONDS (default 60)
#   make secure-test     setuid/setgid/capability copies ignore RUSTASYNC_*
#   make wx-test         nothing writable and executable, stacks not executable
#
# Targets that need Debian packages install them (as root) or name them.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
BUILD    := build
LIBDIR   := $(BUILD)/lib
ABS_LIBDIR := $(abspath $(LIBDIR))
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR    := $(firstword $(subst ., ,$(VERSION)))
SONAME   := librustasync.so.$(MAJOR)
GENERATED_HEADER = $(shell ls -t target/release/build/rustasync-*/out/openssl/async.h 2>/dev/null | head -n1)
GENERATED_EXT_HEADER = $(shell ls -t target/release/build/rustasync-*/out/rustasync.h 2>/dev/null | head -n1)
# What a program linking librustasync.a needs besides it, as rustc printed
# it when the library was built (`make lib` captures it).
NATIVE_STATIC_LIBS := $(LIBDIR)/native-static-libs.txt

# Where `make install` puts things (GNU names; override any of them).
PREFIX      ?= /usr/local
DESTDIR     ?=
bindir      ?= $(PREFIX)/bin
libdir      ?= $(PREFIX)/lib
includedir  ?= $(PREFIX)/include
mandir      ?= $(PREFIX)/share/man
datadir     ?= $(PREFIX)/share
pkgconfigdir ?= $(libdir)/pkgconfig
# The .pc file names its directories relative to ${prefix} when it can, so
# that `pkg-config --define-prefix` can relocate it.
pc_libdir     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(libdir))
pc_includedir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(includedir))

# Debian packages: what building and the basic tests need, and what the
# tests with real programs need on top. The lists live in
# tools/debian-packages, which .ci/run reads too.
BUILD_PACKAGES := $(shell sed -n 's/^build //p' tools/debian-packages)
TEST_PACKAGES  := $(shell sed -n 's/^test //p' tools/debian-packages)

.PHONY: test-openssl35
.PHONY: all lib header demo test rust-test c-test manpage-test header-test install-test stats-test unload-test mutation-test lint check deps deps-test clean install uninstall \
	valgrind-test sanitize-test fuzz-test stress-test secure-test wx-test dlopen-test test-openssl111 gdb-test live-stats-test stat-tool \
	aarch64-test

FUZZ_SECONDS   ?= 30
ENV_FUZZ_SECONDS ?= 10
STRESS_SECONDS ?= 60

all: lib

deps:
	@tools/ensure-packages $(BUILD_PACKAGES)

deps-test:
	@tools/ensure-packages $(TEST_PACKAGES)

# The shared library with its SONAME and the usual symlinks, and the
# static library, staged in build/lib for the tests and the demo. Built with
# `cargo rustc` so that rustc prints the native libraries a static link
# needs (cargo replays the note when nothing was rebuilt).
lib:
	@mkdir -p $(LIBDIR)
	@$(CARGO) rustc --release --lib -- --print native-static-libs 2> $(BUILD)/cargo-lib.log; \
	    status=$$?; grep -v -e '^note: ' -e '^$$' $(BUILD)/cargo-lib.log >&2; [ $$status -eq 0 ]
	@sed -n 's/^note: native-static-libs: //p' $(BUILD)/cargo-lib.log | tail -n1 > $(NATIVE_STATIC_LIBS).new
	@if [ -s $(NATIVE_STATIC_LIBS).new ]; then mv $(NATIVE_STATIC_LIBS).new $(NATIVE_STATIC_LIBS); \
	    else rm -f $(NATIVE_STATIC_LIBS).new; fi
	@[ -s $(NATIVE_STATIC_LIBS) ] || { echo "rustc printed no native-static-libs" >&2; exit 1; }
	@# Copy then rename, so programs running on the old file keep their mapping.
	@cp target/release/librustasync.so $(LIBDIR)/.librustasync.so.tmp
	@mv -f $(LIBDIR)/.librustasync.so.tmp $(LIBDIR)/librustasync.so.$(VERSION)
	@ln -sf librustasync.so.$(VERSION) $(LIBDIR)/$(SONAME)
	@ln -sf $(SONAME) $(LIBDIR)/librustasync.so
	@cp target/release/librustasync.a $(LIBDIR)/.librustasync.a.tmp
	@mv -f $(LIBDIR)/.librustasync.a.tmp $(LIBDIR)/librustasync.a

# rustasync-stat, the reader of the live figures (RUSTASYNC_STATS=live).
stat-tool:
	$(CARGO) build --release --bin rustasync-stat
	@mkdir -p $(BUILD)/bin
	@cp target/release/rustasync-stat $(BUILD)/bin/.rustasync-stat.tmp
	@mv -f $(BUILD)/bin/.rustasync-stat.tmp $(BUILD)/bin/rustasync-stat

# Refreshes the committed headers from what cbindgen generated.
header: lib
	cp $(GENERATED_HEADER) include/openssl/async.h
	cp $(GENERATED_EXT_HEADER) include/rustasync.h

# Installs like any C library. The header goes to include/rustasync/openssl/
# so that `pkg-config --cflags rustasync` makes <openssl/async.h> ours,
# without replacing the system's.
install: lib stat-tool
	install -d $(DESTDIR)$(libdir) $(DESTDIR)$(pkgconfigdir) $(DESTDIR)$(includedir)/rustasync/openssl \
	    $(DESTDIR)$(bindir) $(DESTDIR)$(mandir)/man7 $(DESTDIR)$(datadir)/rustasync
	install -m 755 $(LIBDIR)/librustasync.so.$(VERSION) $(DESTDIR)$(libdir)/librustasync.so.$(VERSION)
	ln -sfn librustasync.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(libdir)/librustasync.so
	install -m 644 $(LIBDIR)/librustasync.a $(DESTDIR)$(libdir)/librustasync.a
	install -m 644 include/openssl/async.h $(DESTDIR)$(includedir)/rustasync/openssl/async.h
	install -m 644 include/rustasync.h $(DESTDIR)$(includedir)/rustasync.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(pc_libdir)|' -e 's|@INCLUDEDIR@|$(pc_includedir)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_STATIC_LIBS))|" \
	    tools/rustasync.pc.in > $(BUILD)/rustasync.pc
	install -m 644 $(BUILD)/rustasync.pc $(DESTDIR)$(pkgconfigdir)/rustasync.pc
	sed -e "s|^lib='@RUSTASYNC_LIB@'|lib='$(libdir)/$(SONAME)'|" tools/rustasync-preload > $(BUILD)/rustasync-preload
	install -m 755 $(BUILD)/rustasync-preload $(DESTDIR)$(bindir)/rustasync-preload
	install -m 755 $(BUILD)/bin/rustasync-stat $(DESTDIR)$(bindir)/rustasync-stat
	install -m 644 man/rustasync.7 $(DESTDIR)$(mandir)/man7/rustasync.7
	install -m 644 tools/gdb/rustasync.py $(DESTDIR)$(datadir)/rustasync/rustasync-gdb.py

uninstall:
	rm -f $(DESTDIR)$(libdir)/librustasync.so.$(VERSION) $(DESTDIR)$(libdir)/$(SONAME) \
	    $(DESTDIR)$(libdir)/librustasync.so $(DESTDIR)$(libdir)/librustasync.a \
	    $(DESTDIR)$(pkgconfigdir)/rustasync.pc $(DESTDIR)$(includedir)/rustasync.h \
	    $(DESTDIR)$(includedir)/rustasync/openssl/async.h $(DESTDIR)$(bindir)/rustasync-preload \
	    $(DESTDIR)$(bindir)/rustasync-stat $(DESTDIR)$(mandir)/man7/rustasync.7 $(DESTDIR)$(datadir)/rustasync/rustasync-gdb.py
	-rmdir $(DESTDIR)$(includedir)/rustasync/openssl $(DESTDIR)$(includedir)/rustasync \
	    $(DESTDIR)$(datadir)/rustasync 2>/dev/null

# OpenSSL's own example from ASYNC_start_job(3ssl), unmodified, linked with
# -lrustasync before -lcrypto.
demo: deps lib
	@tools/manpage-example.sh $(BUILD)/demo
	@$(CC) -w -Iinclude -o $(BUILD)/demo/example $(BUILD)/demo/example.c \
	    -L$(LIBDIR) -Wl,-rpath,$(ABS_LIBDIR) -lrustasync -lcrypto
	@echo "--- ASYNC_start_job(3ssl) example, running on librustasync:"
	@$(BUILD)/demo/example

# In CI every scenario must run: a test script that skips one fails.
test: export RUSTASYNC_NO_SKIPS := 1
test: deps deps-test lint rust-test header-test c-test mutation-test manpage-test install-test stats-test interop-test \
	provider-test sanitize-test valgrind-test fuzz-test secure-test wx-test dlopen-test unload-test test-openssl111 test-openssl35 gdb-test live-stats-test
	@echo "make test: all passed"

# The contributor's loop after every change (under a minute on a warm
# build): formatting, clippy, unit tests, the C tests (the stress and
# exhaustion tests cut short; `make test` runs them in full).
check: export STRESS_SECONDS := 2
check: export RUSTASYNC_TEST_SCALE := 20
check: lint rust-test c-test
	@echo "make check: passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test:
	$(CARGO) test --release

# RUSTASYNC_LIBDIR: the librustasync the C tests run against (the
# mutation test substitutes a hollow one).
RUSTASYNC_LIBDIR ?= $(LIBDIR)
C_TEST_BUILD     ?= $(BUILD)/c-tests
ifeq ($(PROFILE),asan)
c-test: sanitize-test
else
c-test: lib
	c-tests/run-diff.sh $(C_TEST_BUILD) $(RUSTASYNC_LIBDIR)
endif

# Every C test must fail against a librustasync that exports no ASYNC_*.
mutation-test:
	c-tests/mutation-test.sh $(BUILD)/mutation $(SONAME)

valgrind-test: deps-test lib
	c-tests/run-checked.sh valgrind $(BUILD)/valgrind $(LIBDIR)

sanitize-test: lib
	c-tests/run-checked.sh sanitize $(BUILD)/sanitize $(LIBDIR)

fuzz-test:
	$(CARGO) build --release -p rustasync-fuzz
	target/release/api_model $(FUZZ_SECONDS)
	target/release/env_parsers $(ENV_FUZZ_SECONDS)

# The library dlopen'ed by a program linked with neither it nor libcrypto,
# with a thread already running: its initial-exec TLS must still work.
dlopen-test: lib
	@mkdir -p $(BUILD)/dlopen
	$(CC) -std=c11 -O1 -g -Wall -Wextra -Werror -o $(BUILD)/dlopen/dlopen_tls c-tests/dlopen/dlopen_tls.c -ldl -lpthread
	$(BUILD)/dlopen/dlopen_tls $(ABS_LIBDIR)/librustasync.so

stress-test: lib
	@mkdir -p $(BUILD)/stress
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Ic-tests -Iinclude \
	    -DTEST_EXPECT_IMPL=\"librustasync.so\" -o $(BUILD)/stress/stress c-tests/stress.c \
	    -L$(LIBDIR) -Wl,-rpath,$(ABS_LIBDIR) -lrustasync -lcrypto -lpthread
	STRESS_SECONDS=$(STRESS_SECONDS) $(BUILD)/stress/stress

manpage-test: deps lib
	c-tests/manpage-test.sh $(BUILD)/manpage $(LIBDIR)

header-test: lib
	c-tests/header-test.sh $(BUILD)/header $(GENERATED_HEADER) $(GENERATED_EXT_HEADER)
	c-tests/header-standin.sh $(BUILD)/header-standin

# make install / uninstall into a staging root, then the man-page example
# built with nothing but pkg-config's flags, dynamically and statically.
install-test: deps deps-test lib
	c-tests/install-test.sh $(BUILD)/install-test

# RUSTASYNC_STATS=1 under the launcher with openssl speed: the report must
# match the jobs speed ran.
stats-test: deps lib
	c-tests/stats-test.sh $(BUILD)/stats-test

# A setuid-root, a setgid and a file-capability copy of a test program, run
# as nobody with every RUSTASYNC_* variable set: all must be ignored.
secure-test: deps deps-test lib
	c-tests/secure-test.sh $(BUILD)/secure-test $(LIBDIR)

# No mapping writable and executable, job stacks not executable: the
# library's program headers, a static link, openssl speed's live maps.
wx-test: deps deps-test lib
	c-tests/wx-test.sh $(BUILD)/wx-test $(LIBDIR)

# dlopen, use on three threads, dlclose, then thread exits, fork, a handled
# fault and a second dlopen: against libcrypto and librustasync alike.
unload-test: lib
	c-tests/unload-test.sh $(BUILD)/unload-test $(LIBDIR)

# The library built for aarch64 (the switch by a call, not the x86-64
# stubs) and the C tests that need no libcrypto under qemu-aarch64, output
# compared with x86-64's (run `make c-test` first). Not in `make test`: it
# needs rustup's aarch64 standard library, downloaded from rust-lang.org.
aarch64-test: deps
	c-tests/aarch64-qemu.sh $(BUILD)/aarch64

# The gdb extension (tools/gdb/rustasync.py) on three paused jobs and a
# running one: live, in a kernel core dump and in a gcore dump.
gdb-test: deps lib
	c-tests/gdb/gdb-test.sh $(BUILD)/gdb-test $(LIBDIR)

# RUSTASYNC_STATS=live and rustasync-stat with haproxy, the pausing engine
# and wrk.
live-stats-test: lib stat-tool interop-build deps-test
	c-tests/live-stats-test.sh $(BUILD)/live-stats $(LIBDIR) $(BUILD)/bin/rustasync-stat \
	    $(BUILD)/interop/pause_engine.so

# Programs built against OpenSSL 1.1.1: Debian 11's source package, built
# once into build/openssl-1.1.1 (a few minutes; reused afterwards), then
# the C tests, 1.1.1's man-page example, its error queue, speed and
# s_server/s_client with dasync, plain and preloaded.
OPENSSL111_DIR := $(BUILD)/openssl-1.1.1
test-openssl111: lib
	@tools/ensure-packages dpkg-dev perl iproute2 binutils
	tools/build-openssl.sh bullseye $(OPENSSL111_DIR)
	c-tests/openssl111/run.sh $(OPENSSL111_DIR) $(LIBDIR) $(BUILD)/openssl111-test
	c-tests/header-standin.sh $(BUILD)/openssl111-header $(OPENSSL111_DIR)/include

INTEROP_DEPS := deps deps-test lib

# OpenSSL 3.5 from Debian 13's source package, built once into
# build/openssl-3.5 (reused while it is there), and rustasync run against it
# on its libraries as upstream links them and relinked as Debian does.
OPENSSL35_DIR := $(BUILD)/openssl-3.5
test-openssl35: deps deps-test lib
	tools/build-openssl.sh trixie $(OPENSSL35_DIR)
	c-tests/openssl-build-test.sh $(OPENSSL35_DIR) $(BUILD)/openssl35-test $(LIBDIR)

include c-tests/interop/interop.mk
include bench/bench.mk

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
