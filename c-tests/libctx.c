/*
 * The thread's default OSSL_LIB_CTX follows the job: a job that makes its
 * own context the default and pauses leaves the caller's default as it
 * was, and gets its own back on resume; a job that does not touch it gets
 * back what it had last time, whatever the caller changed meanwhile; a new
 * job starts with the caller's current default; when a job finishes the
 * caller's default is restored. Only "which context" facts are printed.
 */
#include <openssl/crypto.h>
#include <openssl/async.h>
#include "common.h"

static OSSL_LIB_CTX *base, *own, *callers;

static const char *which(OSSL_LIB_CTX *c)
{
    if (c == base)
        return "the original default";
    if (c == own)
        return "the job's own ctx";
    if (c == callers)
        return "the caller's new ctx";
    return "some other ctx";
}

static const char *current(void)
{
    return which(OSSL_LIB_CTX_set0_default(NULL));
}

static int switching_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s\n", current());
    own = OSSL_LIB_CTX_new();
    OSSL_LIB_CTX_set0_default(own);
    printf("  job: set its own, now %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: after resume %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: after second resume %s; finishing with it set\n", current());
    return 1;
}

static int passive_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: after resume %s; finishing\n", current());
    return 2;
}

static int setting_then_restoring_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s\n", current());
    OSSL_LIB_CTX_set0_default(own);
    ASYNC_pause_job();
    printf("  job: after resume %s; sets the original default back\n", current());
    OSSL_LIB_CTX_set0_default(base);
    ASYNC_pause_job();
    printf("  job: after resume %s\n", current());
    return 3;
}

static int set_and_finish(void *arg)
{
    (void)arg;
    printf("  job: starts with %s, sets the job's own ctx and finishes\n", current());
    OSSL_LIB_CTX_set0_default(own);
    return 4;
}

static void step(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int (*fn)(void *))
{
    int ret = 0, rc = ASYNC_start_job(job, ctx, &ret, fn, NULL, 0);

    printf("caller: %s, default is %s\n",
           rc == ASYNC_PAUSE ? "ASYNC_PAUSE" : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other",
           current());
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;

    base = OSSL_LIB_CTX_set0_default(NULL);
    CHECK(base != NULL);
    printf("caller: default is %s\n", current());

    printf("a job that sets its own default:\n");
    step(&job, ctx, switching_job);
    step(&job, ctx, switching_job);
    callers = OSSL_LIB_CTX_new();
    OSSL_LIB_CTX_set0_default(callers);
    printf("caller: set a new default while the job is paused: %s\n", current());
    step(&job, ctx, switching_job);
    CHECK(job == NULL);

    printf("a new job (caller's default is its new ctx):\n");
    step(&job, ctx, passive_job);
    OSSL_LIB_CTX_set0_default(base);
    printf("caller: set the original default back while the job is paused\n");
    step(&job, ctx, passive_job);

    printf("a job started with the original default that switches and switches back:\n");
    step(&job, ctx, setting_then_restoring_job);
    OSSL_LIB_CTX_set0_default(callers);
    printf("caller: set its new ctx while the job is paused\n");
    step(&job, ctx, setting_then_restoring_job);
    step(&job, ctx, setting_then_restoring_job);

    printf("a job that never pauses, caller's default is %s:\n", current());
    step(&job, NULL, set_and_finish);

    OSSL_LIB_CTX_set0_default(base);
    printf("caller: back to %s\n", current());
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    OSSL_LIB_CTX_free(callers);
    OSSL_LIB_CTX_free(own);
    return TEST_DONE();
}
