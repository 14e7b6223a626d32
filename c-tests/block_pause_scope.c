/*
 * In OpenSSL 3.0 the pause-blocking count belongs to the thread, not to
 * the job: a job that returns while still blocked leaves pausing blocked
 * for the next job on the thread, until something unblocks it or
 * ASYNC_cleanup_thread resets the thread's state.
 */
#include <openssl/async.h>
#include "common.h"

static int block_and_return(void *arg)
{
    (void)arg;
    ASYNC_block_pause();
    return 1;
}

static int try_pause(void *arg)
{
    (void)arg;
    printf("  job: ASYNC_pause_job -> %d\n", ASYNC_pause_job());
    return 2;
}

static int unblock_then_pause(void *arg)
{
    (void)arg;
    ASYNC_unblock_pause();
    printf("  job: after one unblock, ASYNC_pause_job -> %d\n", ASYNC_pause_job());
    return 3;
}

static const char *name(int rc)
{
    return rc == ASYNC_PAUSE ? "ASYNC_PAUSE" : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other";
}

/* Runs fn as a job to its end; checks how often it paused and that it
 * returned its own value. */
static void run(const char *label, int (*fn)(void *), ASYNC_WAIT_CTX *ctx, int want_pauses, int want_ret)
{
    ASYNC_JOB *job = NULL;
    int ret = 0, rc, pauses = 0;

    printf("%s\n", label);
    do {
        rc = ASYNC_start_job(&job, ctx, &ret, fn, NULL, 0);
        printf("  caller: %s\n", name(rc));
        pauses += rc == ASYNC_PAUSE;
    } while (rc == ASYNC_PAUSE);
    CHECK(rc == ASYNC_FINISH);
    CHECK(pauses == want_pauses);
    CHECK(ret == want_ret);
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();

    run("a job blocks pausing and returns", block_and_return, ctx, 0, 1);
    /* The block outlives its job: the next one cannot pause. */
    run("the next job tries to pause", try_pause, ctx, 0, 2);
    run("a job unblocks once and pauses", unblock_then_pause, ctx, 1, 3);
    run("a job blocks pausing and returns", block_and_return, ctx, 0, 1);
    /* ASYNC_cleanup_thread resets the thread's count. */
    ASYNC_cleanup_thread();
    run("after ASYNC_cleanup_thread the next job tries to pause", try_pause, ctx, 1, 2);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
