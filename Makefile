# rustasync — build, demo, tests, benchmarks.
#
#   make demo    build the library and run OpenSSL's manual-page example on it
#   make test    everything CI checks
#   make bench   rustasync side by side with OpenSSL's own async layer
#
# Reliability checks (all run by `make test`):
#   make valgrind-test   the C tests under valgrind memcheck
#   make sanitize-test   the C tests built with ASan + UBSan (also:
#                        make c-test PROFILE=asan)
#   make fuzz-test       random API sequences against a reference model
#                        for FUZZ_SECONDS (default 30)
#   make stress-test     the C stress test for STRESS_SECONDS (default 60)
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

# Debian packages: what building and the basic tests need, and what the
# tests with real programs need on top.
BUILD_PACKAGES   := libssl-dev openssl libssl-doc groff-base gcc g++ make
INTEROP_PACKAGES := haproxy wrk valgrind

.PHONY: all lib header demo test rust-test c-test manpage-test header-test lint deps deps-interop clean \
	valgrind-test sanitize-test fuzz-test stress-test

FUZZ_SECONDS   ?= 30
STRESS_SECONDS ?= 60

all: lib

deps:
	@tools/ensure-packages $(BUILD_PACKAGES)

deps-interop:
	@tools/ensure-packages $(INTEROP_PACKAGES)

# The shared library with its SONAME and the usual symlinks, and the
# static library, staged in build/lib for the tests and the demo.
lib:
	$(CARGO) build --release
	@mkdir -p $(LIBDIR)
	@cp target/release/librustasync.so $(LIBDIR)/librustasync.so.$(VERSION)
	@ln -sf librustasync.so.$(VERSION) $(LIBDIR)/$(SONAME)
	@ln -sf $(SONAME) $(LIBDIR)/librustasync.so
	@cp target/release/librustasync.a $(LIBDIR)/librustasync.a

# Refreshes the committed header from what cbindgen generated.
header: lib
	cp $(GENERATED_HEADER) include/openssl/async.h

# OpenSSL's own example from ASYNC_start_job(3ssl), unmodified, linked with
# -lrustasync before -lcrypto.
demo: deps lib
	@tools/manpage-example.sh $(BUILD)/demo
	@$(CC) -w -Iinclude -o $(BUILD)/demo/example $(BUILD)/demo/example.c \
	    -L$(LIBDIR) -Wl,-rpath,$(ABS_LIBDIR) -lrustasync -lcrypto
	@echo "--- ASYNC_start_job(3ssl) example, running on librustasync:"
	@$(BUILD)/demo/example

test: deps lint rust-test header-test c-test manpage-test sanitize-test valgrind-test fuzz-test
	@echo "make test: all passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test:
	$(CARGO) test --release

ifeq ($(PROFILE),asan)
c-test: sanitize-test
else
c-test: lib
	c-tests/run-diff.sh $(BUILD)/c-tests $(LIBDIR)
endif

valgrind-test: lib
	@tools/ensure-packages valgrind
	c-tests/run-checked.sh valgrind $(BUILD)/valgrind $(LIBDIR)

sanitize-test: lib
	c-tests/run-checked.sh sanitize $(BUILD)/sanitize $(LIBDIR)

fuzz-test:
	$(CARGO) build --release -p rustasync-fuzz
	target/release/api_model $(FUZZ_SECONDS)

stress-test: lib
	@mkdir -p $(BUILD)/stress
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Ic-tests -Iinclude \
	    -o $(BUILD)/stress/stress c-tests/stress.c \
	    -L$(LIBDIR) -Wl,-rpath,$(ABS_LIBDIR) -lrustasync -lcrypto -lpthread
	STRESS_SECONDS=$(STRESS_SECONDS) $(BUILD)/stress/stress

manpage-test: deps lib
	c-tests/manpage-test.sh $(BUILD)/manpage $(LIBDIR)

header-test: lib
	c-tests/header-test.sh $(BUILD)/header $(GENERATED_HEADER)

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
