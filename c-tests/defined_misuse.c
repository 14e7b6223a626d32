/* rustasync-only */
/*
 * Misuse that is undefined with OpenSSL and defined with rustasync:
 *  - ASYNC_WAIT_CTX_free while a job that uses the context is paused: the
 *    cleanups run, and the job goes on with no wait context
 *    (ASYNC_get_wait_ctx gives NULL); nothing touches the freed context
 *    (valgrind-test checks that).
 *  - a job freed while paused with a context (its thread exits) is
 *    detached from it: freeing the context later leaves whatever job reuses
 *    the control block alone.
 *  - ASYNC_pause_job after the running job was left with longjmp: returns
 *    0 (the caller is not on the job's stack) instead of switching to a
 *    stale context; the thread is out of the job, and the library works on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <openssl/async.h>
#include "common.h"

static int cleanups;

static void count_cleanup(ASYNC_WAIT_CTX *c, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)c;
    (void)key;
    (void)fd;
    (void)data;
    cleanups++;
}

static int key;

/* Registers an fd, pauses, then reports whether it still has a context. */
static int context_job(void *arg)
{
    ASYNC_WAIT_CTX *mine = ASYNC_get_wait_ctx(ASYNC_get_current_job());

    (void)arg;
    ASYNC_WAIT_CTX_set_wait_fd(mine, &key, 42, NULL, count_cleanup);
    ASYNC_pause_job();
    if (ASYNC_get_wait_ctx(ASYNC_get_current_job()) != NULL)
        return 2;
    ASYNC_pause_job(); /* pausing without a context works too */
    return 1;
}

static int pausing_job(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 3;
}

static ASYNC_WAIT_CTX *shared_ctx;

static void *thread_leaving_a_paused_job(void *arg)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    (void)arg;
    if (ASYNC_start_job(&job, shared_ctx, &ret, pausing_job, NULL, 0) != ASYNC_PAUSE)
        return (void *)1;
    return NULL; /* exits with the job paused: the library frees it */
}

static ASYNC_WAIT_CTX *second_ctx;

static int checking_job(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    /* shared_ctx was freed meanwhile; this job's context is untouched. */
    return ASYNC_get_wait_ctx(ASYNC_get_current_job()) == second_ctx ? 4 : 5;
}

static jmp_buf out;

static int jumping_job(void *arg)
{
    (void)arg;
    longjmp(out, 1);
}

int main(void)
{
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    pthread_t t;
    void *status = NULL;
    int ret = 0;

    /* 1. Freed while its job is paused. */
    CHECK(ASYNC_start_job(&job, ctx, &ret, context_job, NULL, 0) == ASYNC_PAUSE);
    ASYNC_WAIT_CTX_free(ctx);
    CHECK(cleanups == 1);
    CHECK(ASYNC_get_wait_ctx(job) == NULL);
    CHECK(ASYNC_start_job(&job, NULL, &ret, context_job, NULL, 0) == ASYNC_PAUSE);
    CHECK(ASYNC_start_job(&job, NULL, &ret, context_job, NULL, 0) == ASYNC_FINISH);
    CHECK(ret == 1);

    /* 2. A paused job freed with its thread, then its context freed. */
    shared_ctx = ASYNC_WAIT_CTX_new();
    CHECK(pthread_create(&t, NULL, thread_leaving_a_paused_job, NULL) == 0);
    CHECK(pthread_join(t, &status) == 0 && status == NULL);
    second_ctx = ASYNC_WAIT_CTX_new();
    {
        /* Three jobs at once: new control blocks, the freed one among them. */
        ASYNC_JOB *jobs[3] = { NULL, NULL, NULL };
        for (int i = 0; i < 3; i++)
            CHECK(ASYNC_start_job(&jobs[i], second_ctx, &ret, checking_job, NULL, 0) == ASYNC_PAUSE);
        ASYNC_WAIT_CTX_free(shared_ctx);
        for (int i = 0; i < 3; i++) {
            CHECK(ASYNC_start_job(&jobs[i], second_ctx, &ret, checking_job, NULL, 0) == ASYNC_FINISH);
            CHECK(ret == 4);
        }
    }
    ASYNC_WAIT_CTX_free(second_ctx);

    /* 3. Pausing after the job was left with longjmp. */
    job = NULL;
    if (setjmp(out) == 0) {
        ASYNC_start_job(&job, NULL, &ret, jumping_job, NULL, 0);
        CHECK(!"longjmp returned here");
    }
    CHECK(ASYNC_get_current_job() != NULL);
    CHECK(ASYNC_pause_job() == 0);
    CHECK(ASYNC_get_current_job() == NULL);
    job = NULL;
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_start_job(&job, ctx, &ret, pausing_job, NULL, 0) == ASYNC_PAUSE);
    CHECK(ASYNC_start_job(&job, ctx, &ret, pausing_job, NULL, 0) == ASYNC_FINISH && ret == 3);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
