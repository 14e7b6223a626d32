/*
 * Failures go on OpenSSL's error queue: ASYNC_init_thread with init > max
 * (including (0, 5)) adds exactly one entry, library ERR_LIB_ASYNC and
 * reason ASYNC_R_INVALID_POOL_SIZE. Successful calls, and outcomes that are
 * not errors (ASYNC_NO_JOBS, get_fd/clear_fd/get_callback returning 0),
 * leave the queue empty.
 */
#include <openssl/err.h>
#include <openssl/async.h>
#include "common.h"

static void drain(const char *label, int expect)
{
    unsigned long e;
    int n = 0;

    printf("%s:", label);
    while ((e = ERR_get_error()) != 0) {
        const char *why = ERR_reason_error_string(e);

        n++;
        printf(" [lib %d reason %d \"%s\"]", ERR_GET_LIB(e), ERR_GET_REASON(e),
               why == NULL ? "(none)" : why);
        if (ERR_GET_LIB(e) != ERR_LIB_ASYNC || ERR_GET_REASON(e) != ASYNC_R_INVALID_POOL_SIZE)
            expect = -1;
    }
    printf(" %d entries\n", n);
    CHECK(n == expect);
}

static int pause_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 0;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *a = NULL, *b = NULL;
    ASYNC_callback_fn fn;
    void *arg;
    OSSL_ASYNC_FD fd;
    int ret;

    printf("ERR_LIB_ASYNC %d, ASYNC_R_INVALID_POOL_SIZE %d\n", ERR_LIB_ASYNC,
           ASYNC_R_INVALID_POOL_SIZE);
    ERR_clear_error();
    drain("start", 0);

    printf("init(1, 2) -> %d\n", ASYNC_init_thread(1, 2));
    drain("after init(1, 2)", 1);
    printf("init(0, 5) -> %d\n", ASYNC_init_thread(0, 5));
    drain("after init(0, 5)", 1);
    printf("init(3, 4) twice -> %d %d\n", ASYNC_init_thread(3, 4), ASYNC_init_thread(3, 4));
    drain("after two failing inits", 2);

    printf("init(1, 1) -> %d\n", ASYNC_init_thread(1, 1));
    drain("after init(1, 1)", 0);
    printf("start -> %d\n", ASYNC_start_job(&a, ctx, &ret, pause_once, NULL, 0));
    printf("second start (pool full) -> %d\n", ASYNC_start_job(&b, ctx, &ret, pause_once, NULL, 0));
    printf("resume -> %d\n", ASYNC_start_job(&a, ctx, &ret, pause_once, NULL, 0));
    drain("after a job and ASYNC_NO_JOBS", 0);

    printf("pause outside -> %d\n", ASYNC_pause_job());
    ASYNC_block_pause();
    ASYNC_unblock_pause();
    printf("get_fd unknown -> %d\n", ASYNC_WAIT_CTX_get_fd(ctx, &fd, &fd, &arg));
    printf("clear_fd unknown -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &fd));
    printf("get_callback none -> %d\n", ASYNC_WAIT_CTX_get_callback(ctx, &fn, &arg));
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &fd, 3, NULL, NULL);
    ASYNC_WAIT_CTX_clear_fd(ctx, &fd);
    ASYNC_WAIT_CTX_set_status(ctx, ASYNC_STATUS_OK);
    drain("after wait ctx calls that return 0", 0);

    ASYNC_cleanup_thread();
    printf("init(0, 0) -> %d\n", ASYNC_init_thread(0, 0));
    printf("init(2, 2) after cleanup -> ");
    ASYNC_cleanup_thread();
    printf("%d\n", ASYNC_init_thread(2, 2));
    drain("after successful inits", 0);
    ASYNC_cleanup_thread();
    drain("after cleanup", 0);

    /* A failing init leaves earlier entries in place and adds one. */
    ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
    printf("init(1, 2) -> %d\n", ASYNC_init_thread(1, 2));
    printf("oldest entry is the SSL one: %s\n",
           ERR_GET_LIB(ERR_get_error()) == ERR_LIB_SSL ? "yes" : "no");
    drain("rest", 1);

    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
