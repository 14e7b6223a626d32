/*
 * ASYNC_WAIT_CTX callback and status: get_callback returns 0 (outputs
 * untouched) when no callback is set, set/get round-trips the function and
 * its argument, a NULL callback counts as none, set_callback on a NULL
 * context returns 0, and the library itself never calls the callback.
 * Status defaults to ASYNC_STATUS_UNSUPPORTED and round-trips.
 */
#include <openssl/async.h>
#include "common.h"

static int calls_1, calls_2;
static int arg_1 = 1, arg_2 = 2;

static int callback_1(void *arg)
{
    calls_1++;
    return *(int *)arg * 10;
}

static int callback_2(void *arg)
{
    calls_2++;
    return arg == NULL ? -5 : -6;
}

static void show(const char *label, ASYNC_WAIT_CTX *ctx)
{
    ASYNC_callback_fn fn = callback_2;
    void *arg = &arg_2;
    int r = ASYNC_WAIT_CTX_get_callback(ctx, &fn, &arg);

    printf("%s: get_callback -> %d, fn %s, arg %s\n", label, r,
           fn == callback_1 ? "callback_1" : fn == callback_2 ? "callback_2 (or untouched)"
           : fn == NULL ? "NULL" : "other",
           arg == &arg_1 ? "arg_1" : arg == &arg_2 ? "arg_2 (or untouched)"
           : arg == NULL ? "NULL" : "other");
}

static int job(void *unused)
{
    (void)unused;
    ASYNC_pause_job();
    ASYNC_pause_job();
    return 0;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_callback_fn fn = NULL;
    void *arg = NULL;
    ASYNC_JOB *j = NULL;
    int ret, rc;
    static const int statuses[] = { ASYNC_STATUS_ERR, ASYNC_STATUS_OK, ASYNC_STATUS_EAGAIN,
                                    ASYNC_STATUS_UNSUPPORTED, 42, -1 };
    size_t k;

    show("new ctx", ctx);
    printf("set callback_1/arg_1 -> %d\n", ASYNC_WAIT_CTX_set_callback(ctx, callback_1, &arg_1));
    show("after set", ctx);
    if (ASYNC_WAIT_CTX_get_callback(ctx, &fn, &arg) == 1)
        printf("calling what get_callback returned: %d\n", fn(arg));
    printf("set callback_2/NULL -> %d\n", ASYNC_WAIT_CTX_set_callback(ctx, callback_2, NULL));
    show("after set with NULL arg", ctx);
    printf("set NULL/arg_1 -> %d\n", ASYNC_WAIT_CTX_set_callback(ctx, NULL, &arg_1));
    show("after set NULL callback", ctx);
    printf("set_callback on a NULL ctx -> %d\n",
           ASYNC_WAIT_CTX_set_callback(NULL, callback_1, &arg_1));

    printf("default status: %d (ASYNC_STATUS_UNSUPPORTED is %d)\n",
           ASYNC_WAIT_CTX_get_status(ctx), ASYNC_STATUS_UNSUPPORTED);
    for (k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
        int r = ASYNC_WAIT_CTX_set_status(ctx, statuses[k]);

        printf("set_status(%d) -> %d, get_status -> %d\n", statuses[k], r,
               ASYNC_WAIT_CTX_get_status(ctx));
    }

    /* The library never calls the callback: not on pause, resume, finish or free. */
    calls_1 = calls_2 = 0;
    ASYNC_WAIT_CTX_set_callback(ctx, callback_1, &arg_1);
    ASYNC_WAIT_CTX_set_status(ctx, ASYNC_STATUS_EAGAIN);
    do {
        rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    } while (rc == ASYNC_PAUSE);
    CHECK(rc == ASYNC_FINISH);
    printf("after a job with pauses: callback calls %d, status %d\n", calls_1,
           ASYNC_WAIT_CTX_get_status(ctx));
    show("after the job", ctx);
    ASYNC_WAIT_CTX_free(ctx);
    printf("after free: callback calls %d %d\n", calls_1, calls_2);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
