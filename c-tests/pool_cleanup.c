/*
 * ASYNC_cleanup_thread frees the thread's pool: afterwards new jobs work
 * again (the default, unlimited pool), and a new ASYNC_init_thread sets
 * new limits. Repeated cleanups, and a cleanup before any use, are
 * harmless.
 */
#include <openssl/async.h>
#include "common.h"

#define N 6

static int finish_failures;

static int pause_once(void *arg)
{
    int v = arg == NULL ? 0 : *(const int *)arg;

    ASYNC_pause_job();
    return v * 2;
}

/* Starts up to n pausing jobs; returns how many paused, finishes them all. */
static int paused_then_finished(ASYNC_WAIT_CTX **ctxs, int n, int *no_jobs)
{
    ASYNC_JOB *jobs[N] = { NULL };
    int i, ret, paused = 0;

    *no_jobs = 0;
    for (i = 0; i < n; i++) {
        int rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, &i, sizeof(i));

        if (rc == ASYNC_PAUSE)
            paused++;
        else if (rc == ASYNC_NO_JOBS)
            (*no_jobs)++;
    }
    for (i = 0; i < n; i++) {
        if (jobs[i] == NULL)
            continue;
        ret = -1;
        if (ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0) != ASYNC_FINISH
            || ret != i * 2)
            finish_failures++;
    }
    return paused;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctxs[N];
    int i, paused, no_jobs;

    for (i = 0; i < N; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();

    ASYNC_cleanup_thread(); /* before any use */
    printf("cleanup before any use: fine\n");

    CHECK(ASYNC_init_thread(1, 1) == 1);
    paused = paused_then_finished(ctxs, N, &no_jobs);
    printf("pool (1, 1): %d paused, %d ASYNC_NO_JOBS\n", paused, no_jobs);

    ASYNC_cleanup_thread();
    paused = paused_then_finished(ctxs, N, &no_jobs);
    printf("after cleanup, no init: %d paused, %d ASYNC_NO_JOBS\n", paused, no_jobs);

    ASYNC_cleanup_thread();
    ASYNC_cleanup_thread();
    CHECK(ASYNC_init_thread(2, 0) == 1);
    paused = paused_then_finished(ctxs, N, &no_jobs);
    printf("after two cleanups, pool (2, 0): %d paused, %d ASYNC_NO_JOBS\n", paused, no_jobs);

    ASYNC_cleanup_thread();
    CHECK(ASYNC_init_thread(3, 3) == 1);
    paused = paused_then_finished(ctxs, N, &no_jobs);
    printf("pool (3, 3): %d paused, %d ASYNC_NO_JOBS\n", paused, no_jobs);
    ASYNC_cleanup_thread();

    /* Cleanup and re-init in a loop: nothing accumulates, nothing breaks. */
    for (i = 0; i < 200; i++) {
        int ok = ASYNC_init_thread(2, 2) == 1;

        ok = ok && paused_then_finished(ctxs, 3, &no_jobs) == 2 && no_jobs == 1;
        ASYNC_cleanup_thread();
        if (!ok)
            break;
    }
    printf("200 init/use/cleanup cycles completed: %d\n", i);
    CHECK(i == 200);
    CHECK(finish_failures == 0);

    for (i = 0; i < N; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return TEST_DONE();
}
