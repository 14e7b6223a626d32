/*
 * ASYNC_pause_job outside a job returns 1 and does nothing: before the
 * thread ever used a job, between jobs, while a job of this thread is
 * paused, and after ASYNC_cleanup_thread. The same holds on a thread
 * that never started a job.
 */
#include <pthread.h>
#include <openssl/async.h>
#include "common.h"

static int pause_once(void *arg)
{
    (void)arg;
    return ASYNC_pause_job() == 1 ? 9 : -9;
}

static void *fresh_thread(void *arg)
{
    int *result = arg;

    *result = ASYNC_pause_job();
    return NULL;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    pthread_t t;
    int ret = 0, thread_result = -1;

    printf("before any job: %d\n", ASYNC_pause_job());
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    printf("while this thread's job is paused: %d\n", ASYNC_pause_job());
    printf("current job still NULL: %s\n", ASYNC_get_current_job() == NULL ? "yes" : "no");
    CHECK(ASYNC_start_job(&job, ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH);
    printf("job returned %d\n", ret);
    printf("after the job finished: %d\n", ASYNC_pause_job());
    ASYNC_cleanup_thread();
    printf("after cleanup: %d\n", ASYNC_pause_job());
    pthread_create(&t, NULL, fresh_thread, &thread_result);
    pthread_join(t, NULL);
    printf("on a new thread: %d\n", thread_result);
    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
