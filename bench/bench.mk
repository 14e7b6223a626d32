# Benchmarks (issue #4). Included by the top-level Makefile, which provides
# BUILD (build directory), LIBDIR (where librustasync.so lands) and a `lib`
# target that builds $(LIBDIR)/librustasync.so.
#
#   make bench        full run: 5 runs per side, alternated native / rustasync,
#                     table on stdout and in $(BUILD)/bench/table.md (< 5 min)
#   make bench-quick  smoke test for CI: 1 run, tiny counts, no timing judged
#
# Variables passed through to bench/run.sh: RUNS, SPEED_SECONDS, PAUSE_ENGINE,
# OPENSSL (see the top of bench/run.sh).

BENCH_DIR := $(BUILD)/bench
BENCH_BIN := $(BENCH_DIR)/async_bench
BENCH_CFLAGS := -O2 -Wall -Wextra -Werror
BENCH_LIBS := -lcrypto -lpthread -lm

# The `context` crate micro-benchmark, once Cargo.toml declares it as the
# example `context_switch` (path = "bench/context_switch.rs").
BENCH_CARGO_TARGET := $(or $(CARGO_TARGET_DIR),target)
BENCH_CTX_BIN := $(BENCH_CARGO_TARGET)/release/examples/context_switch
BENCH_HAVE_CTX := $(shell grep -qs 'bench/context_switch.rs' Cargo.toml && echo yes)

$(BENCH_BIN): bench/async_bench.c
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(BENCH_LIBS)

.PHONY: bench bench-quick bench-bin bench-ctx

bench-bin: $(BENCH_BIN)

bench-ctx:
ifeq ($(BENCH_HAVE_CTX),yes)
	cargo build --release --example context_switch
endif

BENCH_ENV = BUILD=$(BUILD) BENCH_BIN=$(BENCH_BIN) \
	RUSTASYNC_LIB=$(LIBDIR)/librustasync.so \
	$(if $(BENCH_HAVE_CTX),CONTEXT_BENCH=$(BENCH_CTX_BIN))

bench: lib $(BENCH_BIN) bench-ctx
	$(BENCH_ENV) bash bench/run.sh

bench-quick: lib $(BENCH_BIN) bench-ctx
	QUICK=1 $(BENCH_ENV) bash bench/run.sh
