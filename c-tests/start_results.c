/*
 * ASYNC_start_job's results: ASYNC_PAUSE sets *job to the same handle on
 * every pause, ASYNC_FINISH sets *job to NULL and *ret to the function's
 * return value (any int, negative too), and *ret is not written on pause.
 */
#include <limits.h>
#include <openssl/async.h>
#include "common.h"

static int pause_then_return(void *arg)
{
    const int *v = arg;
    int i;

    for (i = 0; i < v[1]; i++)
        ASYNC_pause_job();
    return v[0];
}

int main(void)
{
    static const int values[] = { 0, 1, -1, 7, 12345, INT_MAX, INT_MIN };
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    size_t k;

    for (k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        int args[2] = { values[k], (int)k % 4 };
        ASYNC_JOB *job = NULL, *handle = NULL;
        int ret = 77777, rc, pauses = 0, same = 1, ret_untouched = 1;

        for (;;) {
            rc = ASYNC_start_job(&job, ctx, &ret, pause_then_return, args, sizeof(args));
            if (rc != ASYNC_PAUSE)
                break;
            pauses++;
            if (handle == NULL)
                handle = job;
            same &= job == handle && job != NULL;
            ret_untouched &= ret == 77777;
        }
        printf("value %d with %d pauses: %s, *ret %d, *job %s, same handle each pause: %s,"
               " *ret untouched while paused: %s\n",
               values[k], pauses, rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", ret,
               job == NULL ? "NULL" : "set", same ? "yes" : "no", ret_untouched ? "yes" : "no");
        CHECK(rc == ASYNC_FINISH && ret == values[k] && job == NULL && same && ret_untouched);
    }

    /* A different ret pointer on each resume: only the last one is written. */
    {
        int args[2] = { 31, 2 }, r1 = 1, r2 = 2, r3 = 3;
        ASYNC_JOB *job = NULL;

        CHECK(ASYNC_start_job(&job, ctx, &r1, pause_then_return, args, sizeof(args)) == ASYNC_PAUSE);
        CHECK(ASYNC_start_job(&job, ctx, &r2, pause_then_return, NULL, 0) == ASYNC_PAUSE);
        CHECK(ASYNC_start_job(&job, ctx, &r3, pause_then_return, NULL, 0) == ASYNC_FINISH);
        printf("three ret pointers: %d %d %d\n", r1, r2, r3);
    }
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
