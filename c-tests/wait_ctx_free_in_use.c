/*
 * A wait context freed while a job uses it: during the (first) fd cleanup
 * that ASYNC_WAIT_CTX_free runs, the context is intact in OpenSSL, and a
 * job started with it still has it as its wait context.
 * A: the running job frees its own context; the cleanup asks
 *    ASYNC_get_wait_ctx of the current job, then the job finishes.
 * B: the job is paused when the context is freed; the cleanup resumes it,
 *    the job asks for its wait context and finishes.
 * (Only the first cleanup may look at the context: OpenSSL frees each fd
 * entry after its cleanup. After the free the job never pauses again.)
 */
#include <openssl/async.h>
#include "common.h"

static ASYNC_WAIT_CTX *ctx;
static ASYNC_JOB *paused;
static int key;
static char mode;

static int job_fn(void *arg)
{
    (void)arg;
    if (mode == 'A') {
        ASYNC_WAIT_CTX_free(ASYNC_get_wait_ctx(ASYNC_get_current_job()));
        return 1;
    }
    ASYNC_pause_job();
    printf("  job after its resume: own wait context %s\n",
           ASYNC_get_wait_ctx(ASYNC_get_current_job()) == ctx ? "is the one being freed" : "is gone");
    return 2;
}

static void cleanup(ASYNC_WAIT_CTX *freed, const void *k, OSSL_ASYNC_FD fd, void *data)
{
    (void)k;
    (void)fd;
    (void)data;
    printf("  cleanup: context passed %s\n", freed == ctx ? "is the one being freed" : "differs");
    if (mode == 'A') {
        ASYNC_JOB *job = ASYNC_get_current_job();

        printf("  cleanup: current job's wait context %s\n",
               job != NULL && ASYNC_get_wait_ctx(job) == freed ? "is the one being freed" : "is gone");
    } else {
        int ret = 0;
        int r = ASYNC_start_job(&paused, freed, &ret, job_fn, NULL, 0);

        printf("  cleanup: resumed the paused job: %s, %d\n", r == ASYNC_FINISH ? "finished" : "not finished",
               ret);
    }
}

static void run(char which)
{
    ASYNC_JOB *job = NULL;
    int ret = 0, r;

    mode = which;
    printf("case %c\n", which);
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ctx != NULL);
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &key, 5, NULL, cleanup) == 1);
    r = ASYNC_start_job(&job, ctx, &ret, job_fn, NULL, 0);
    if (which == 'A') {
        CHECK(r == ASYNC_FINISH && ret == 1);
    } else {
        CHECK(r == ASYNC_PAUSE);
        paused = job;
        ASYNC_WAIT_CTX_free(ctx);
    }
}

int main(void)
{
    run('A');
    run('B');
    return TEST_DONE();
}
