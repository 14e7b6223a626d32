/*
 * ASYNC_init_thread(max, init): at most max jobs exist (max 0 = no limit),
 * the init pre-created jobs count toward max, ASYNC_NO_JOBS when all max
 * jobs are busy (the function does not run and *job stays NULL), and
 * init > max fails without touching the existing pool.
 */
#include <openssl/async.h>
#include "common.h"

static int runs;

static const char *rc_name(int rc)
{
    switch (rc) {
    case ASYNC_ERR: return "ASYNC_ERR";
    case ASYNC_NO_JOBS: return "ASYNC_NO_JOBS";
    case ASYNC_PAUSE: return "ASYNC_PAUSE";
    case ASYNC_FINISH: return "ASYNC_FINISH";
    default: return "unknown";
    }
}

static int pause_once(void *arg)
{
    (void)arg;
    runs++;
    ASYNC_pause_job();
    return 1;
}

static int no_pause(void *arg)
{
    (void)arg;
    runs++;
    return 2;
}

/* Starts `n` pausing jobs into jobs[] and prints what each start returned. */
static void start_paused(const char *label, ASYNC_JOB **jobs, ASYNC_WAIT_CTX **ctxs, int n)
{
    int i, ret, rcs[8], no_jobs_ok = 1;

    for (i = 0; i < n; i++) {
        int before = runs;

        jobs[i] = NULL;
        rcs[i] = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0);
        if (rcs[i] == ASYNC_NO_JOBS && (jobs[i] != NULL || runs != before))
            no_jobs_ok = 0;
    }
    printf("%s:", label);
    for (i = 0; i < n; i++)
        printf(" %s", rc_name(rcs[i]));
    printf("\n");
    /* ASYNC_NO_JOBS leaves *job NULL and does not run the function. */
    CHECK(no_jobs_ok);
}

static void finish_all(ASYNC_JOB **jobs, ASYNC_WAIT_CTX **ctxs, int n)
{
    int i, ret;

    for (i = 0; i < n; i++)
        if (jobs[i] != NULL)
            CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_FINISH);
}

int main(void)
{
    ASYNC_JOB *jobs[8];
    ASYNC_WAIT_CTX *ctxs[8];
    ASYNC_JOB *first;
    int i, ret, rc;

    for (i = 0; i < 8; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();

    printf("init(2, 2) -> %d\n", ASYNC_init_thread(2, 2));
    start_paused("three starts with max 2, init 2", jobs, ctxs, 3);
    first = jobs[0];
    finish_all(jobs, ctxs, 1);
    jobs[2] = NULL;
    rc = ASYNC_start_job(&jobs[2], ctxs[2], &ret, pause_once, NULL, 0);
    printf("after one finished: %s, reuses the finished job's handle: %s\n",
           rc_name(rc), jobs[2] == first ? "yes" : "no");
    finish_all(jobs + 1, ctxs + 1, 2);
    ASYNC_cleanup_thread();

    printf("init(3, 1) -> %d\n", ASYNC_init_thread(3, 1));
    start_paused("four starts with max 3, init 1", jobs, ctxs, 4);
    finish_all(jobs, ctxs, 4);
    ASYNC_cleanup_thread();

    printf("init(1, 0) -> %d\n", ASYNC_init_thread(1, 0));
    start_paused("two starts with max 1", jobs, ctxs, 2);
    rc = ASYNC_start_job(&jobs[1], NULL, &ret, no_pause, NULL, 0);
    printf("a non-pausing job while the only job is paused: %s\n", rc_name(rc));
    finish_all(jobs, ctxs, 1);
    printf("five sequential non-pausing jobs with max 1:");
    for (i = 0; i < 5; i++) {
        ASYNC_JOB *job = NULL;

        ret = 0;
        rc = ASYNC_start_job(&job, NULL, &ret, no_pause, NULL, 0);
        printf(" %s/%d", rc_name(rc), ret);
    }
    printf("\n");
    ASYNC_cleanup_thread();

    printf("init(1, 1) -> %d\n", ASYNC_init_thread(1, 1));
    start_paused("two starts with max 1, init 1", jobs, ctxs, 2);
    finish_all(jobs, ctxs, 1);
    ASYNC_cleanup_thread();

    printf("init(1, 2) -> %d\n", ASYNC_init_thread(1, 2));
    printf("init(0, 5) -> %d\n", ASYNC_init_thread(0, 5));
    printf("init(0, 1) -> %d\n", ASYNC_init_thread(0, 1));
    printf("init(3, 4) -> %d\n", ASYNC_init_thread(3, 4));
    /* The failures above created no pool: the default (no limit) applies. */
    start_paused("eight starts after failed inits only", jobs, ctxs, 8);
    finish_all(jobs, ctxs, 8);
    ASYNC_cleanup_thread();

    /* A failing init leaves an existing pool as it was. */
    printf("init(1, 0) -> %d\n", ASYNC_init_thread(1, 0));
    printf("init(2, 3) -> %d\n", ASYNC_init_thread(2, 3));
    start_paused("two starts, pool still max 1", jobs, ctxs, 2);
    finish_all(jobs, ctxs, 1);
    ASYNC_cleanup_thread();

    printf("init(4, 4) -> %d\n", ASYNC_init_thread(4, 4));
    start_paused("five starts with max 4, init 4", jobs, ctxs, 5);
    finish_all(jobs, ctxs, 5);
    ASYNC_cleanup_thread();

    printf("function ran %d times\n", runs);
    for (i = 0; i < 8; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return TEST_DONE();
}
