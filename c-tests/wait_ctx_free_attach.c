/* rustasync-only */
/*
 * A job started with a wait context by one of that context's own fd
 * cleanups, while ASYNC_WAIT_CTX_free runs them, and left paused: once the
 * free returns the job must go on without a context (ASYNC_get_wait_ctx
 * gives NULL), and resuming it, which resets a context's counts, must not
 * touch the freed one. (OpenSSL leaves the job a dangling pointer, which
 * its resume writes through, hence rustasync only; under valgrind a write
 * to the freed context is an error.)
 */
#include <openssl/async.h>
#include "common.h"

static ASYNC_WAIT_CTX *ctx;
static ASYNC_JOB *started;
static int key, other_key;

static int job_fn(void *arg)
{
    (void)arg;
    /* A change the resume has to reset the counts for. */
    ASYNC_WAIT_CTX_set_wait_fd(ASYNC_get_wait_ctx(ASYNC_get_current_job()), &other_key, 6, NULL, NULL);
    ASYNC_pause_job();
    printf("job after its resume: wait context %s\n",
           ASYNC_get_wait_ctx(ASYNC_get_current_job()) == NULL ? "NULL" : "still set");
    return 4;
}

static void cleanup(ASYNC_WAIT_CTX *freed, const void *k, OSSL_ASYNC_FD fd, void *data)
{
    int ret = 0;

    (void)k;
    (void)fd;
    (void)data;
    CHECK(ASYNC_start_job(&started, freed, &ret, job_fn, NULL, 0) == ASYNC_PAUSE);
}

int main(void)
{
    int ret = 0;

    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ctx != NULL);
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &key, 5, NULL, cleanup) == 1);
    ASYNC_WAIT_CTX_free(ctx);
    CHECK(started != NULL);
    CHECK(ASYNC_get_wait_ctx(started) == NULL);
    CHECK(ASYNC_start_job(&started, NULL, &ret, job_fn, NULL, 0) == ASYNC_FINISH && ret == 4);
    return TEST_DONE();
}
