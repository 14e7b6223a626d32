/*
 * Pools are per thread: a second thread has its own pool and limits, sees
 * no current job while the main thread has one paused, and each thread
 * resumes its own paused jobs while the other's are paused too. A thread
 * that exits frees its pool (nothing to observe but that it works).
 */
#include <pthread.h>
#include <string.h>
#include <openssl/async.h>
#include "common.h"

#define MANY 200

struct report {
    int no_init_paused;      /* of 3 starts in a thread without init */
    int current_null;        /* ASYNC_get_current_job() outside a job */
    int init_ok;             /* ASYNC_init_thread(2, 0) succeeded */
    int limited_paused;      /* with ASYNC_init_thread(2, 0), of 3 starts */
    int limited_no_jobs;
    int interleaved_ok;      /* jobs resumed while the other thread works */
    long sum;
};

static pthread_barrier_t barrier;

static int pause_n(void *arg)
{
    int n = *(const int *)arg, i;
    ASYNC_JOB *me = ASYNC_get_current_job();

    for (i = 0; i < n; i++) {
        if (ASYNC_pause_job() != 1 || ASYNC_get_current_job() != me)
            return -1000000;
    }
    return n;
}

static int start_jobs(ASYNC_JOB **jobs, ASYNC_WAIT_CTX **ctxs, int n, int pauses, int *no_jobs)
{
    int i, ret, paused = 0;

    *no_jobs = 0;
    for (i = 0; i < n; i++) {
        int rc;

        jobs[i] = NULL;
        rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_n, &pauses, sizeof(pauses));
        if (rc == ASYNC_PAUSE)
            paused++;
        else if (rc == ASYNC_NO_JOBS)
            (*no_jobs)++;
    }
    return paused;
}

/* Resumes every paused job until it finishes; returns the sum of results. */
static long drain(ASYNC_JOB **jobs, ASYNC_WAIT_CTX **ctxs, int n)
{
    int i, ret, live = 1;
    long sum = 0;

    while (live) {
        live = 0;
        for (i = 0; i < n; i++) {
            int rc;

            if (jobs[i] == NULL)
                continue;
            rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_n, NULL, 0);
            if (rc == ASYNC_FINISH)
                sum += ret;
            else if (rc == ASYNC_PAUSE)
                live = 1;
            else
                return -1;
        }
    }
    return sum;
}

static void *worker(void *arg)
{
    struct report *r = arg;
    ASYNC_JOB *jobs[MANY];
    ASYNC_WAIT_CTX *ctxs[MANY];
    int i, no_jobs;

    for (i = 0; i < MANY; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();

    /* Phase 1: main has its only job paused (its pool is (1, 0)). */
    pthread_barrier_wait(&barrier);
    r->current_null = ASYNC_get_current_job() == NULL;
    r->no_init_paused = start_jobs(jobs, ctxs, 3, 1, &no_jobs);
    drain(jobs, ctxs, 3);
    ASYNC_cleanup_thread();
    r->init_ok = ASYNC_init_thread(2, 0) == 1;
    r->limited_paused = start_jobs(jobs, ctxs, 3, 1, &r->limited_no_jobs);
    drain(jobs, ctxs, 3);
    ASYNC_cleanup_thread();
    pthread_barrier_wait(&barrier);

    /* Phase 2: both threads pause many jobs and resume their own. */
    r->interleaved_ok = start_jobs(jobs, ctxs, MANY, 3, &no_jobs) == MANY;
    pthread_barrier_wait(&barrier);
    r->sum = drain(jobs, ctxs, MANY);
    pthread_barrier_wait(&barrier);

    for (i = 0; i < MANY; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return NULL; /* exits with its pool still there: freed at thread exit */
}

static void print_report(const char *who, const struct report *r)
{
    printf("%s: no current job outside a job: %s\n", who, r->current_null ? "yes" : "no");
    printf("%s: without init, %d of 3 jobs paused\n", who, r->no_init_paused);
    printf("%s: with init (2, 0), %d of 3 paused, %d ASYNC_NO_JOBS\n", who,
           r->limited_paused, r->limited_no_jobs);
    printf("%s: %d jobs paused alongside the other thread's: %s, results sum %ld\n", who,
           MANY, r->interleaved_ok ? "all" : "not all", r->sum);
}

int main(void)
{
    pthread_t threads[2];
    struct report reports[2];
    ASYNC_JOB *mine[MANY], *extra = NULL;
    ASYNC_WAIT_CTX *ctxs[MANY];
    int i, no_jobs, ret, one = 1, rc;
    long sum;

    memset(reports, 0, sizeof(reports));
    for (i = 0; i < MANY; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();
    pthread_barrier_init(&barrier, NULL, 3);

    CHECK(ASYNC_init_thread(1, 0) == 1);
    CHECK(start_jobs(mine, ctxs, 1, 1, &no_jobs) == 1);
    for (i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, worker, &reports[i]);
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    /* The other threads' pools did not change this thread's limit. */
    rc = ASYNC_start_job(&extra, ctxs[1], &ret, pause_n, &one, sizeof(one));
    printf("main: second job with pool (1, 0) after the threads' work: %s\n",
           rc == ASYNC_NO_JOBS ? "ASYNC_NO_JOBS" : "other");
    CHECK(drain(mine, ctxs, 1) == 1);
    ASYNC_cleanup_thread();

    i = start_jobs(mine, ctxs, MANY, 2, &no_jobs);
    pthread_barrier_wait(&barrier);
    sum = drain(mine, ctxs, MANY);
    pthread_barrier_wait(&barrier);
    for (i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    printf("main: %d jobs paused alongside the threads', results sum %ld\n", MANY, sum);
    CHECK(sum == MANY * 2L);

    print_report("thread 1", &reports[0]);
    print_report("thread 2", &reports[1]);
    for (i = 0; i < 2; i++) {
        CHECK(reports[i].current_null);
        CHECK(reports[i].init_ok);
        CHECK(reports[i].no_init_paused == 3);
        CHECK(reports[i].limited_paused == 2 && reports[i].limited_no_jobs == 1);
        CHECK(reports[i].interleaved_ok);
        CHECK(reports[i].sum == MANY * 3L);
    }
    pthread_barrier_destroy(&barrier);
    for (i = 0; i < MANY; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
