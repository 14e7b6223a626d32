/*
 * Jobs start, pause, resume and finish; arguments are copied; results come
 * back through *ret; the handle is stable across pauses and cleared at the
 * end; many jobs may be paused at once and resumed in any order.
 */
#include <string.h>
#include <openssl/async.h>
#include "common.h"

struct args {
    int id;
    int pauses;
    char text[24];
};

static int paused_job(void *arg)
{
    struct args *a = arg;
    int i;

    for (i = 0; i < a->pauses; i++) {
        a->text[0] = 'x'; /* writes go to the job's own copy */
        if (ASYNC_pause_job() != 1)
            return -1;
    }
    return a->id * 10 + (int)strlen(a->text);
}

static int null_args(void *arg)
{
    return arg == NULL ? 7 : 8;
}

int main(void)
{
    ASYNC_JOB *job = NULL, *first = NULL;
    ASYNC_JOB *jobs[8] = { NULL };
    struct args a = { 4, 3, "hello" };
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_WAIT_CTX *ctxs[8];
    int ret = -1, rc, i, rounds, order[8] = { 5, 2, 7, 0, 3, 6, 1, 4 };

    CHECK(ASYNC_get_current_job() == NULL);
    CHECK(ASYNC_pause_job() == 1);

    for (i = 0; i < 3; i++) {
        rc = ASYNC_start_job(&job, ctx, &ret, paused_job, &a, sizeof(a));
        CHECK(rc == ASYNC_PAUSE);
        CHECK(job != NULL);
        if (first == NULL)
            first = job;
        CHECK(job == first);
    }
    rc = ASYNC_start_job(&job, ctx, &ret, paused_job, &a, sizeof(a));
    CHECK(rc == ASYNC_FINISH);
    CHECK(job == NULL);
    printf("ret = %d, caller's text still \"%s\"\n", ret, a.text);

    ret = -1;
    CHECK(ASYNC_start_job(&job, NULL, &ret, null_args, NULL, 0) == ASYNC_FINISH);
    printf("NULL args: ret = %d\n", ret);
    CHECK(ASYNC_start_job(&job, NULL, &ret, null_args, &a, 0) == ASYNC_FINISH);
    printf("size 0: ret = %d\n", ret);

    /* Eight jobs paused at once, resumed in a scrambled order. */
    for (i = 0; i < 8; i++) {
        struct args b = { i, 2, "ab" };
        ctxs[i] = ASYNC_WAIT_CTX_new();
        CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, paused_job, &b, sizeof(b)) == ASYNC_PAUSE);
    }
    for (rounds = 0; rounds < 2; rounds++) {
        for (i = 0; i < 8; i++) {
            int k = order[i];
            rc = ASYNC_start_job(&jobs[k], ctxs[k], &ret, paused_job, NULL, 0);
            if (rc == ASYNC_FINISH)
                printf("job %d finished in round %d with %d\n", k, rounds, ret);
            else
                printf("job %d: %s in round %d\n", k, rc == ASYNC_PAUSE ? "paused" : "error", rounds);
        }
    }
    for (i = 0; i < 8; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
