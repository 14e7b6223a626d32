/*
 * Resuming a paused job uses what the job was started with: the wait
 * context, function and arguments passed on resume are ignored (only the
 * ret pointer of the final call is written). The fd bookkeeping reset on
 * resume applies to the job's own context, not the one passed on resume.
 */
#include <openssl/async.h>
#include "common.h"

static ASYNC_WAIT_CTX *ctx1, *ctx2;
static const char key = 'k';

static const char *which(ASYNC_WAIT_CTX *c)
{
    return c == ctx1 ? "ctx1" : c == ctx2 ? "ctx2" : c == NULL ? "NULL" : "other";
}

static void counts(const char *label, ASYNC_WAIT_CTX *c)
{
    size_t nadd = 99, ndel = 99;

    ASYNC_WAIT_CTX_get_changed_fds(c, NULL, &nadd, NULL, &ndel);
    printf("%s: %zu added, %zu deleted\n", label, nadd, ndel);
}

static int job_a(void *arg)
{
    int v = *(const int *)arg;

    printf("  job_a: arg %d, wait ctx %s\n", v, which(ASYNC_get_wait_ctx(ASYNC_get_current_job())));
    ASYNC_WAIT_CTX_set_wait_fd(ctx1, &key, 5, NULL, NULL);
    ASYNC_WAIT_CTX_set_wait_fd(ctx2, &key, 6, NULL, NULL);
    ASYNC_pause_job();
    printf("  job_a: resumed, arg %d, wait ctx %s\n", *(const int *)arg,
           which(ASYNC_get_wait_ctx(ASYNC_get_current_job())));
    counts("  job_a: ctx1 after resume", ctx1);
    counts("  job_a: ctx2 after resume", ctx2);
    return 100 + v;
}

static int job_b(void *arg)
{
    (void)arg;
    printf("  job_b ran (it should not)\n");
    return -1;
}

int main(void)
{
    ASYNC_JOB *job = NULL;
    int one = 1, two = 2, ret = 0, rc;

    ctx1 = ASYNC_WAIT_CTX_new();
    ctx2 = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_start_job(&job, ctx1, &ret, job_a, &one, sizeof(one)) == ASYNC_PAUSE);
    rc = ASYNC_start_job(&job, ctx2, &ret, job_b, &two, sizeof(two));
    printf("resumed with ctx2, job_b and other args: %s, ret %d\n",
           rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", ret);
    CHECK(rc == ASYNC_FINISH && ret == 101);
    ASYNC_WAIT_CTX_free(ctx1);
    ASYNC_WAIT_CTX_free(ctx2);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
