/*
 * rustasync_stats() counts what really happened, across threads: jobs
 * created, started, finished, pauses and resumes, the peak of jobs paused
 * at once on one thread, pool sizes, and (with RUSTASYNC_STATS set) the
 * deepest stack use, which must cover a job that used a known amount of
 * stack.
 */
/* rustasync-only */
#include <pthread.h>
#include <string.h>
#include <openssl/async.h>
#include <rustasync.h>
#include "common.h"

#define THREADS 2
#define JOBS 5
#define PAUSES 3
#define DEEP_BYTES (24 * 1024)

static int pausing(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < PAUSES; i++)
        ASYNC_pause_job();
    return 1;
}

/* Uses DEEP_BYTES of stack, then pauses so the job is alive when measured. */
static int deep(void *arg)
{
    volatile unsigned char buffer[DEEP_BYTES];
    size_t i;

    (void)arg;
    for (i = 0; i < sizeof(buffer); i++)
        buffer[i] = (unsigned char)(i * 7 + 1);
    ASYNC_pause_job();
    return buffer[0];
}

/* Each thread: JOBS jobs paused at once, each PAUSES times, all finished. */
static void *worker(void *unused)
{
    ASYNC_JOB *jobs[JOBS] = { 0 };
    int ret, round, j, failures = 0;

    (void)unused;
    if (!ASYNC_init_thread(JOBS, 0))
        return (void *)1;
    for (j = 0; j < JOBS; j++)
        if (ASYNC_start_job(&jobs[j], NULL, &ret, pausing, NULL, 0) != ASYNC_PAUSE)
            failures++;
    for (round = 1; round <= PAUSES; round++)
        for (j = 0; j < JOBS; j++) {
            int want = round < PAUSES ? ASYNC_PAUSE : ASYNC_FINISH;
            if (ASYNC_start_job(&jobs[j], NULL, &ret, pausing, NULL, 0) != want)
                failures++;
        }
    ASYNC_cleanup_thread();
    return failures ? (void *)1 : NULL;
}

/* Leaves two jobs paused and one idle, and exits: the library frees them. */
static void *leaver(void *unused)
{
    ASYNC_JOB *a = NULL, *b = NULL;
    int ret;

    (void)unused;
    if (!ASYNC_init_thread(3, 3))
        return (void *)1;
    if (ASYNC_start_job(&a, NULL, &ret, pausing, NULL, 0) != ASYNC_PAUSE ||
        ASYNC_start_job(&b, NULL, &ret, pausing, NULL, 0) != ASYNC_PAUSE)
        return (void *)1;
    return NULL;
}

int main(void)
{
    struct rustasync_stats st;
    pthread_t threads[THREADS];
    ASYNC_JOB *job = NULL;
    void *failed;
    int i, ret = 0;

    /* Read by the library on first use, which is below. */
    setenv("RUSTASYNC_STATS", "1", 1);

    CHECK(rustasync_stats(NULL) == 0);
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.jobs_created == 0 && st.jobs_started == 0 && st.threads == 0);

    for (i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, NULL) == 0);
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], &failed) == 0);
        CHECK(failed == NULL);
    }
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.threads == THREADS);
    CHECK(st.jobs_created == THREADS * JOBS);
    CHECK(st.jobs_freed == THREADS * JOBS);
    CHECK(st.jobs_started == THREADS * JOBS);
    CHECK(st.jobs_finished == THREADS * JOBS);
    CHECK(st.jobs_paused == THREADS * JOBS * PAUSES);
    CHECK(st.jobs_resumed == THREADS * JOBS * PAUSES);
    CHECK(st.paused_now == 0);
    CHECK(st.paused_peak == JOBS);
    CHECK(st.pool_jobs == 0 && st.pool_idle == 0);
    CHECK(st.stack_measured == 1);
    CHECK(st.stack_size >= 16 * 1024);

    /* On this thread: a pool of 2, one job paused deep in its stack. */
    CHECK(ASYNC_init_thread(2, 2) == 1);
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.pool_jobs == 2 && st.pool_idle == 2 && st.threads == THREADS + 1);
    CHECK(ASYNC_start_job(&job, NULL, &ret, deep, NULL, 0) == ASYNC_PAUSE);
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.paused_now == 1 && st.pool_idle == 1);
    CHECK(st.stack_deepest >= DEEP_BYTES);
    CHECK(st.stack_deepest < DEEP_BYTES + 8 * 1024);
    CHECK(st.stack_deepest <= st.stack_size);
    CHECK(ASYNC_start_job(&job, NULL, &ret, deep, NULL, 0) == ASYNC_FINISH);
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.paused_now == 0 && st.pool_idle == 2);
    CHECK(st.jobs_started == THREADS * JOBS + 1 && st.jobs_finished == THREADS * JOBS + 1);
    ASYNC_cleanup_thread();
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.pool_jobs == 0 && st.jobs_freed == st.jobs_created);

    /* A thread that exits with jobs paused: they are freed, not counted as
     * paused or idle any more, and never counted as finished. */
    CHECK(pthread_create(&threads[0], NULL, leaver, NULL) == 0);
    CHECK(pthread_join(threads[0], &failed) == 0);
    CHECK(failed == NULL);
    CHECK(rustasync_stats(&st) == 1);
    CHECK(st.threads == THREADS + 2);
    CHECK(st.jobs_created == THREADS * JOBS + 2 + 3);
    CHECK(st.jobs_freed == st.jobs_created);
    CHECK(st.jobs_started == THREADS * JOBS + 1 + 2);
    CHECK(st.jobs_finished == THREADS * JOBS + 1);
    CHECK(st.paused_now == 0 && st.pool_jobs == 0 && st.pool_idle == 0);
    return TEST_DONE();
}
