/*
 * The first ASYNC_start_job on a thread that never called
 * ASYNC_init_thread behaves as ASYNC_init_thread(0, 0): the pool has no
 * limit, so many jobs can be paused at once.
 */
#include <openssl/async.h>
#include "common.h"

#define NJOBS 64

static int pause_once(void *arg)
{
    int id = *(const int *)arg;

    if (ASYNC_pause_job() != 1)
        return -1;
    return id + 1000;
}

int main(void)
{
    ASYNC_JOB *jobs[NJOBS] = { NULL };
    ASYNC_WAIT_CTX *ctxs[NJOBS];
    int i, j, ret, paused = 0, finished = 0, no_jobs = 0, distinct = 1;
    long sum = 0;

    for (i = 0; i < NJOBS; i++) {
        int rc;

        ctxs[i] = ASYNC_WAIT_CTX_new();
        rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, &i, sizeof(i));
        if (rc == ASYNC_PAUSE)
            paused++;
        else if (rc == ASYNC_NO_JOBS)
            no_jobs++;
    }
    printf("without ASYNC_init_thread: %d of %d jobs paused, %d ASYNC_NO_JOBS\n",
           paused, NJOBS, no_jobs);
    CHECK(paused == NJOBS);
    for (i = 0; i < NJOBS; i++)
        for (j = i + 1; j < NJOBS; j++)
            if (jobs[i] == jobs[j])
                distinct = 0;
    printf("paused handles all distinct: %s\n", distinct ? "yes" : "no");
    CHECK(distinct);

    for (i = 0; i < NJOBS; i++) {
        ret = -1;
        if (ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_FINISH
            && jobs[i] == NULL) {
            finished++;
            sum += ret;
        }
    }
    printf("finished %d, sum of results %ld\n", finished, sum);
    CHECK(finished == NJOBS);
    CHECK(sum == NJOBS * 1000L + (long)NJOBS * (NJOBS - 1) / 2);

    /* Explicit (0, 0) is the same: no limit. */
    ASYNC_cleanup_thread();
    CHECK(ASYNC_init_thread(0, 0) == 1);
    paused = 0;
    for (i = 0; i < NJOBS; i++)
        if (ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, &i, sizeof(i)) == ASYNC_PAUSE)
            paused++;
    printf("after ASYNC_init_thread(0, 0): %d of %d jobs paused\n", paused, NJOBS);
    CHECK(paused == NJOBS);
    for (i = 0; i < NJOBS; i++)
        CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_FINISH
              && ret == i + 1000);
    for (i = 0; i < NJOBS; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
