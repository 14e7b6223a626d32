/* rustasync-only */
/*
 * Job stacks: the default holds 48 KiB of locals (OpenSSL's 32 KiB stacks
 * crash near 30 KiB), and RUSTASYNC_STACK_SIZE=256K holds 200 KiB. The test
 * re-runs itself with the variable set.
 */
#include <string.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

static int use_stack(void *arg)
{
    size_t kib = *(size_t *)arg;
    volatile char *area = __builtin_alloca(kib * 1024);
    size_t i, sum = 0;

    for (i = 0; i < kib * 1024; i += 512)
        area[i] = (char)(i >> 9);
    ASYNC_pause_job();
    for (i = 0; i < kib * 1024; i += 512)
        sum += (unsigned char)area[i];
    return (int)(sum & 0x7fffffff);
}

static int run(size_t kib)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    int ret = -1, rc;

    while ((rc = ASYNC_start_job(&job, ctx, &ret, use_stack, &kib, sizeof(kib))) == ASYNC_PAUSE)
        ;
    ASYNC_WAIT_CTX_free(ctx);
    return rc == ASYNC_FINISH ? ret : -1;
}

static int expected(size_t kib)
{
    size_t i, sum = 0;

    for (i = 0; i < kib * 1024; i += 512)
        sum += (unsigned char)(char)(i >> 9);
    return (int)(sum & 0x7fffffff);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("RUSTASYNC_STACK_SIZE") == NULL) {
        CHECK(run(48) == expected(48));
        fflush(stdout);
        setenv("RUSTASYNC_STACK_SIZE", "256K", 1);
        /* argv[0] rather than /proc/self/exe, which under valgrind is
         * valgrind itself (c-tests/run-checked.sh). */
        execv(argv[0], argv);
        perror("execv");
        return EXIT_FAILURE;
    }
    CHECK(strcmp(getenv("RUSTASYNC_STACK_SIZE"), "256K") == 0);
    CHECK(run(200) == expected(200));
    return TEST_DONE();
}
