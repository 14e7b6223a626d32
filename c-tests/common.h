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

/*
 * Proof of which implementation runs. A differential test compares two
 * runs; that means something only if one ran on OpenSSL's libcrypto and the
 * other on librustasync. The build names the file the ASYNC_* functions
 * must come from (TEST_EXPECT_IMPL, from c-tests/lib.sh); before main, every
 * function of the <openssl/async.h> it is built with (OpenSSL 3.0's, or
 * 1.1.1's for make test-openssl111) is looked up with dladdr and
 * the test fails at once if one lives anywhere else (a swapped link order,
 * a library that lacks the function, a static copy). Silent on success, so
 * both runs print the same lines.
 */
#ifndef TEST_EXPECT_IMPL
#error "build C tests with -DTEST_EXPECT_IMPL=\"librustasync.so\" or \"libcrypto.so\" (c-tests/lib.sh)"
#endif
#include <dlfcn.h>
#include <string.h>
#include <openssl/async.h>
#include <openssl/opensslv.h>

/*
 * The checker a run is under, as c-tests/run-checked.sh says
 * (RUSTASYNC_TEST_CHECKER=valgrind or sanitize). The reference run it
 * compares the output with gets the same variable, so a part a test leaves
 * out under a checker is left out of both.
 */
static inline int under_checker(const char *mode)
{
    const char *checker = getenv("RUSTASYNC_TEST_CHECKER");

    return checker != NULL && strcmp(checker, mode) == 0;
}

static inline int under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#else
    return under_checker("sanitize");
#endif
}

typedef void (*test_any_fn)(void);

__attribute__((constructor)) static void test_check_implementation(void)
{
    static const struct {
        const char *name;
        test_any_fn fn;
    } fns[] = {
#define TEST_FN(f) { #f, (test_any_fn)f }
        TEST_FN(ASYNC_init_thread), TEST_FN(ASYNC_cleanup_thread), TEST_FN(ASYNC_is_capable),
        TEST_FN(ASYNC_start_job), TEST_FN(ASYNC_pause_job), TEST_FN(ASYNC_get_current_job),
        TEST_FN(ASYNC_get_wait_ctx), TEST_FN(ASYNC_block_pause), TEST_FN(ASYNC_unblock_pause),
        TEST_FN(ASYNC_WAIT_CTX_new), TEST_FN(ASYNC_WAIT_CTX_free), TEST_FN(ASYNC_WAIT_CTX_set_wait_fd),
        TEST_FN(ASYNC_WAIT_CTX_get_fd), TEST_FN(ASYNC_WAIT_CTX_get_all_fds),
        TEST_FN(ASYNC_WAIT_CTX_get_changed_fds), TEST_FN(ASYNC_WAIT_CTX_clear_fd),
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        /* 3.0's additions; built against 1.1.1's headers (make test-openssl111) without. */
        TEST_FN(ASYNC_WAIT_CTX_set_callback), TEST_FN(ASYNC_WAIT_CTX_get_callback),
        TEST_FN(ASYNC_WAIT_CTX_set_status), TEST_FN(ASYNC_WAIT_CTX_get_status),
#endif
#undef TEST_FN
    };
    size_t i;

    for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        Dl_info where;
        const void *addr;
        const char *file, *base;

        memcpy(&addr, &fns[i].fn, sizeof(addr));
        file = dladdr(addr, &where) != 0 && where.dli_fname != NULL ? where.dli_fname : "(no object)";
        base = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
        if (strncmp(base, TEST_EXPECT_IMPL, strlen(TEST_EXPECT_IMPL)) != 0) {
            printf("FAILED: implementation check: %s comes from %s, not %s\n", fns[i].name, file,
                   TEST_EXPECT_IMPL);
            fflush(stdout);
            exit(EXIT_FAILURE);
        }
    }
}

#endif
