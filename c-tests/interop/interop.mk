# c-tests/interop/interop.mk - rustasync with real OpenSSL programs (issue #3).
#
# Included from the top-level Makefile, which provides BUILD and LIBDIR
# (defaults below only for use on its own: make -f c-tests/interop/interop.mk).
#
#   make interop-build   the pausing engine and the async_tls program
#   make interop-test    build them and run c-tests/interop/run.sh
#                        (QUICK=1 for short load runs, ONLY=REGEX for a subset)
#
# Needs: libssl-dev, openssl, haproxy, wrk, iproute2 (ss), curl.
# INTEROP_DEPS lists targets to make first (set it to "lib" so that the
# preload half finds $(LIBDIR)/librustasync.so; without it run.sh fails).

BUILD  ?= build
LIBDIR ?= $(BUILD)/lib
CC     ?= cc

INTEROP_SRC    := c-tests/interop
INTEROP_DIR    := $(BUILD)/interop
INTEROP_CFLAGS := -Wall -Wextra -Werror -O2 -DOPENSSL_API_COMPAT=0x10100000L
INTEROP_DEPS   ?=

.PHONY: interop-build interop-test provider-test

interop-build: $(INTEROP_DIR)/pause_engine.so $(INTEROP_DIR)/pause_provider.so $(INTEROP_DIR)/async_tls

$(INTEROP_DIR)/pause_engine.so $(INTEROP_DIR)/pause_provider.so: $(INTEROP_DIR)/%.so: $(INTEROP_SRC)/%.c $(INTEROP_SRC)/offload.h
	@mkdir -p $(INTEROP_DIR)
	$(CC) $(INTEROP_CFLAGS) -shared -fPIC -Wl,-z,nodelete -o $@ $< -lcrypto -lpthread

$(INTEROP_DIR)/async_tls: $(INTEROP_SRC)/async_tls.c
	@mkdir -p $(INTEROP_DIR)
	$(CC) $(INTEROP_CFLAGS) -o $@ $< -lssl -lcrypto -lpthread

# The pausing provider with the system's OpenSSL: speed, s_server/s_client,
# async_tls and haproxy, plain and preloaded.
provider-test: $(INTEROP_DEPS)
	MODULE=provider RUSTASYNC_LIB=$(abspath $(LIBDIR))/librustasync.so \
	c-tests/interop/pausing.sh $(INTEROP_DIR)/provider

interop-test: $(INTEROP_DEPS) interop-build
	RUSTASYNC_LIB=$(abspath $(LIBDIR))/librustasync.so \
	INTEROP_BIN=$(abspath $(INTEROP_DIR)) \
	$(INTEROP_SRC)/run.sh $(abspath $(INTEROP_DIR))/out
