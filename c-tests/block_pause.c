/*
 * ASYNC_block_pause/ASYNC_unblock_pause nest inside a job: while blocked,
 * ASYNC_pause_job returns 1 without pausing (the caller does not see
 * ASYNC_PAUSE); once every block is undone it pauses again. Extra
 * unblocks are ignored. Outside a job both calls are ignored: they block
 * nothing and do not affect the next job.
 */
#include <openssl/async.h>
#include "common.h"

static int step;

static void say(const char *what)
{
    printf("  [%d] job: %s\n", ++step, what);
}

static int nesting_job(void *arg)
{
    (void)arg;
    ASYNC_block_pause();
    ASYNC_block_pause();
    say("blocked twice");
    printf("  job: pause while blocked twice -> %d\n", ASYNC_pause_job());
    ASYNC_unblock_pause();
    printf("  job: pause while blocked once -> %d\n", ASYNC_pause_job());
    ASYNC_unblock_pause();
    say("fully unblocked, pausing");
    printf("  job: pause after full unblock -> %d\n", ASYNC_pause_job());
    say("resumed");
    ASYNC_unblock_pause();
    ASYNC_unblock_pause();
    say("two extra unblocks, then block once");
    ASYNC_block_pause();
    printf("  job: pause while blocked once -> %d\n", ASYNC_pause_job());
    ASYNC_unblock_pause();
    say("unblocked, pausing");
    printf("  job: pause -> %d\n", ASYNC_pause_job());
    say("resumed, three blocks across a pause-free stretch");
    ASYNC_block_pause();
    ASYNC_block_pause();
    ASYNC_block_pause();
    ASYNC_pause_job();
    ASYNC_unblock_pause();
    ASYNC_pause_job();
    ASYNC_unblock_pause();
    ASYNC_pause_job();
    ASYNC_unblock_pause();
    say("all three undone, pausing");
    ASYNC_pause_job();
    say("resumed, finishing");
    return 5;
}

static int simple_pauser(void *arg)
{
    (void)arg;
    say("pausing");
    ASYNC_pause_job();
    say("resumed");
    return 6;
}

/* Runs fn as a job to its end; checks how often it paused and what it
 * returned. */
static void drive(const char *label, int (*fn)(void *), ASYNC_WAIT_CTX *ctx, int want_pauses,
                  int want_ret)
{
    ASYNC_JOB *job = NULL;
    int ret = 0, rc, pauses = 0;

    printf("%s\n", label);
    step = 0;
    do {
        rc = ASYNC_start_job(&job, ctx, &ret, fn, NULL, 0);
        printf("caller: %s\n", rc == ASYNC_PAUSE ? "ASYNC_PAUSE"
                               : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other");
        pauses += rc == ASYNC_PAUSE;
    } while (rc == ASYNC_PAUSE);
    printf("caller: ret %d\n", ret);
    CHECK(rc == ASYNC_FINISH);
    CHECK(pauses == want_pauses);
    CHECK(ret == want_ret);
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();

    ASYNC_block_pause();
    ASYNC_block_pause();
    /* Blocks outside a job block nothing: the job pauses once. */
    drive("blocked twice outside any job (before the thread's first job):", simple_pauser, ctx, 1, 6);
    /* Only the three pauses made with no block left go through. */
    drive("nesting inside a job:", nesting_job, ctx, 3, 5);
    ASYNC_block_pause();
    drive("blocked once outside a job (after jobs ran):", simple_pauser, ctx, 1, 6);
    ASYNC_unblock_pause();
    ASYNC_unblock_pause();
    ASYNC_unblock_pause();
    drive("after three unblocks outside a job:", nesting_job, ctx, 3, 5);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
