/*
 * A pool with a limit keeps OpenSSL's count when rustasync gives idle jobs
 * back to the kernel (src/trim.rs): after 100 jobs paused at once and
 * finished, 50,000 jobs one at a time leave 99 of them idle and unused long
 * enough to be retired; the pool must still hold 100 jobs, so 100 can be
 * paused at once again and the 101st gets ASYNC_NO_JOBS, as in OpenSSL.
 */
#include <openssl/async.h>
#include "common.h"

#define LIMIT 100

static int pause_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 3;
}

static int trivial(void *arg)
{
    (void)arg;
    return 5;
}

/* Pauses LIMIT jobs at once, checks the next start is refused, finishes them. */
static void burst(const char *when)
{
    ASYNC_JOB *jobs[LIMIT + 1] = {NULL};
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, paused = 0, finished = 0, i;

    for (i = 0; i < LIMIT; i++)
        paused += ASYNC_start_job(&jobs[i], ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE;
    printf("%s: %d of %d jobs paused at once\n", when, paused, LIMIT);
    CHECK(paused == LIMIT);
    CHECK(ASYNC_start_job(&jobs[LIMIT], ctx, &ret, pause_once, NULL, 0) == ASYNC_NO_JOBS);
    for (i = 0; i < LIMIT; i++)
        finished += ASYNC_start_job(&jobs[i], ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH && ret == 3;
    CHECK(finished == LIMIT);
    ASYNC_WAIT_CTX_free(ctx);
}

int main(void)
{
    ASYNC_JOB *job = NULL, *first = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, ok = 1, i;

    CHECK(ASYNC_init_thread(LIMIT, 0) == 1);
    burst("first burst");
    for (i = 0; i < 50000; i++) {
        job = NULL;
        ok &= ASYNC_start_job(&job, NULL, &ret, trivial, NULL, 0) == ASYNC_FINISH && ret == 5;
    }
    CHECK(ok);
    /* The pool still hands back the job that finished last. */
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    first = job;
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH);
    job = NULL;
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    CHECK(job == first);
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH);
    burst("after 50,000 jobs one at a time");
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
