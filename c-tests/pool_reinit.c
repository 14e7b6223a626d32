/*
 * ASYNC_init_thread called again while the thread already has a pool (no
 * ASYNC_cleanup_thread in between) succeeds and installs a new pool with
 * the new limits; jobs that were paused before keep working and, when they
 * finish, go to the new pool.
 */
#include <openssl/async.h>
#include "common.h"

static int pause_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 1;
}

static const char *name(int rc)
{
    return rc == ASYNC_PAUSE ? "PAUSE" : rc == ASYNC_FINISH ? "FINISH"
           : rc == ASYNC_NO_JOBS ? "NO_JOBS" : "ERR";
}

static ASYNC_WAIT_CTX *ctxs[6];
static ASYNC_JOB *jobs[6];

/* Starts or resumes job `i`, prints the result and checks it is `want`. */
static void step(const char *what, int i, int want)
{
    int ret, rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0);

    printf("%s %c: %s\n", what, 'A' + i, name(rc));
    CHECK(rc == want);
}

int main(void)
{
    ASYNC_JOB *a;
    int i;

    for (i = 0; i < 6; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_init_thread(1, 0) == 1);
    step("start", 0, ASYNC_PAUSE);
    step("start", 1, ASYNC_NO_JOBS);
    a = jobs[0];
    /* A new pool with room for two; A, paused, is outside its count. */
    CHECK(ASYNC_init_thread(2, 0) == 1);
    step("start", 1, ASYNC_PAUSE);
    step("start", 2, ASYNC_PAUSE);
    step("start", 3, ASYNC_NO_JOBS);
    /* A finishes into the new pool: the next start gets its handle. */
    step("resume", 0, ASYNC_FINISH);
    step("start", 3, ASYNC_PAUSE);
    CHECK(jobs[3] == a);
    step("start", 4, ASYNC_NO_JOBS);
    for (i = 1; i <= 3; i++)
        step("resume", i, ASYNC_FINISH);
    ASYNC_cleanup_thread();
    for (i = 0; i < 6; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return TEST_DONE();
}
