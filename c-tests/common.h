/*
 * Shared helpers for the C tests. Every test prints only deterministic
 * lines (no addresses, no timings), so the same program linked against
 * OpenSSL's libcrypto and against librustasync must print the same output.
 */
#ifndef RUSTASYNC_TEST_COMMON_H
#define RUSTASYNC_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>

static int test_failures;

/* Prints the outcome of one expectation and remembers failures. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            printf("ok: %s\n", #cond);                                       \
        } else {                                                             \
            printf("FAILED: %s (%s:%d)\n", #cond, __FILE__, __LINE__);       \
            test_failures++;                                                 \
        }                                                                    \
    } while (0)

/* The exit status of a test: 0 when every CHECK held. */
#define TEST_DONE() (test_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE)

#endif
