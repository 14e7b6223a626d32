/* rustasync-only */
/*
 * ASYNC_start_job inside a running job: real nesting. The inner job runs on
 * its own stack; when it pauses, the outer job's ASYNC_start_job returns
 * ASYNC_PAUSE, and the outer job decides what to do (pause itself, resume
 * the inner job, finish). A paused inner job may be resumed from inside its
 * outer job or from outside any job. OpenSSL 3.0 instead returns an error,
 * drops the outer job and crashes later.
 */
#include <openssl/async.h>
#include "common.h"

struct inner_args {
    int base;
    int pauses;
};

static int inner(void *arg)
{
    struct inner_args *a = arg;
    int i, sum = a->base;

    for (i = 0; i < a->pauses; i++) {
        if (ASYNC_pause_job() != 1)
            return -1000;
        sum += 1;
    }
    return sum;
}

static int inner_seen_current_ok;
static int depth3(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 3;
}

/* Runs an inner job to completion, pausing itself each time the inner job
 * pauses: the caller outside sees the outer job pause. */
static int outer_relay(void *arg)
{
    ASYNC_JOB *self = ASYNC_get_current_job(), *in = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    struct inner_args a = { *(int *)arg, 3 };
    int ret = -1, rc, pauses = 0;

    while ((rc = ASYNC_start_job(&in, ctx, &ret, inner, &a, sizeof(a))) == ASYNC_PAUSE) {
        /* Back in the outer job: it is current again. */
        if (ASYNC_get_current_job() != self || in == NULL)
            return -1;
        pauses++;
        ASYNC_pause_job();
    }
    ASYNC_WAIT_CTX_free(ctx);
    if (rc != ASYNC_FINISH)
        return -2;
    return ret * 10 + pauses;
}

/* Starts an inner job, and hands its paused handle out through arg. */
static int outer_leaves_inner(void *arg)
{
    ASYNC_JOB **out = *(ASYNC_JOB ***)arg; /* the job got a copy of the pointer */
    struct inner_args a = { 100, 2 };
    int ret = -1;

    *out = NULL;
    if (ASYNC_start_job(out, NULL, &ret, inner, &a, sizeof(a)) != ASYNC_PAUSE)
        return -1;
    return 7; /* finishes with the inner job still paused */
}

/* Three levels deep. */
static int level2(void *arg)
{
    ASYNC_JOB *j = NULL;
    int ret = -1;

    (void)arg;
    while (ASYNC_start_job(&j, NULL, &ret, depth3, NULL, 0) == ASYNC_PAUSE)
        ASYNC_pause_job();
    return ret + 20;
}

static int level1(void *arg)
{
    ASYNC_JOB *j = NULL, *self = ASYNC_get_current_job();
    int ret = -1;

    (void)arg;
    while (ASYNC_start_job(&j, NULL, &ret, level2, NULL, 0) == ASYNC_PAUSE) {
        inner_seen_current_ok += ASYNC_get_current_job() == self;
        ASYNC_pause_job();
    }
    return ret + 100;
}

int main(void)
{
    ASYNC_JOB *outer = NULL, *leftover = NULL, **slot;
    int ret = -1, rc, v = 4, pauses = 0;
    ASYNC_JOB *handle_box = NULL;

    /* Outer relays inner's three pauses. */
    while ((rc = ASYNC_start_job(&outer, NULL, &ret, outer_relay, &v, sizeof(v))) == ASYNC_PAUSE) {
        CHECK(ASYNC_get_current_job() == NULL);
        pauses++;
    }
    CHECK(rc == ASYNC_FINISH);
    CHECK(pauses == 3);
    CHECK(ret == (4 + 3) * 10 + 3);

    /* An inner job outlives its outer job and is finished from outside. */
    slot = &handle_box;
    CHECK(ASYNC_start_job(&outer, NULL, &ret, outer_leaves_inner, &slot, sizeof(slot)) == ASYNC_FINISH);
    CHECK(ret == 7 && outer == NULL);
    leftover = handle_box;
    CHECK(leftover != NULL);
    pauses = 0;
    while ((rc = ASYNC_start_job(&leftover, NULL, &ret, NULL, NULL, 0)) == ASYNC_PAUSE)
        pauses++;
    CHECK(rc == ASYNC_FINISH && ret == 102 && pauses == 1);

    /* Three levels: every pause travels up through both outer jobs. */
    pauses = 0;
    outer = NULL;
    while ((rc = ASYNC_start_job(&outer, NULL, &ret, level1, NULL, 0)) == ASYNC_PAUSE)
        pauses++;
    CHECK(rc == ASYNC_FINISH && ret == 123 && pauses == 1);
    CHECK(inner_seen_current_ok == 1);
    CHECK(ASYNC_get_current_job() == NULL);

    ASYNC_cleanup_thread();
    return TEST_DONE();
}
