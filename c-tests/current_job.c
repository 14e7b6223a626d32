/*
 * ASYNC_get_current_job is NULL outside a job and the job's own handle
 * inside it (the handle ASYNC_start_job reports on pause), before and
 * after pauses. ASYNC_get_wait_ctx returns the context a job was started
 * with, inside the job and for a paused job from outside. ASYNC_is_capable
 * is 1 on this platform.
 */
#include <openssl/async.h>
#include "common.h"

struct probe {
    ASYNC_JOB *before_pause;
    ASYNC_JOB *after_pause;
    ASYNC_WAIT_CTX *ctx_before;
    ASYNC_WAIT_CTX *ctx_after;
};

static struct probe probes[3];

static int probing_job(void *arg)
{
    struct probe *p = &probes[*(const int *)arg];

    p->before_pause = ASYNC_get_current_job();
    p->ctx_before = ASYNC_get_wait_ctx(p->before_pause);
    ASYNC_pause_job();
    p->after_pause = ASYNC_get_current_job();
    p->ctx_after = ASYNC_get_wait_ctx(p->after_pause);
    return 0;
}

static ASYNC_WAIT_CTX *ctx_of_unpaused;
static int current_non_null;

static int no_pause_job(void *arg)
{
    ASYNC_JOB *me = ASYNC_get_current_job();

    (void)arg;
    current_non_null = me != NULL;
    ctx_of_unpaused = ASYNC_get_wait_ctx(me);
    return 0;
}

static const char *yn(int b)
{
    return b ? "yes" : "no";
}

int main(void)
{
    ASYNC_WAIT_CTX *ctxs[3];
    ASYNC_JOB *jobs[3] = { NULL }, *handles[3];
    int i, ret;

    printf("ASYNC_is_capable: %d\n", ASYNC_is_capable());
    printf("outside any job, current job NULL: %s\n", yn(ASYNC_get_current_job() == NULL));
    for (i = 0; i < 3; i++) {
        ctxs[i] = ASYNC_WAIT_CTX_new();
        CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, probing_job, &i, sizeof(i)) == ASYNC_PAUSE);
        handles[i] = jobs[i];
    }
    printf("while three jobs are paused, current job NULL: %s\n",
           yn(ASYNC_get_current_job() == NULL));
    for (i = 0; i < 3; i++)
        printf("paused job %d: get_wait_ctx from outside is its ctx: %s, not another's: %s\n", i,
               yn(ASYNC_get_wait_ctx(jobs[i]) == ctxs[i]),
               yn(ASYNC_get_wait_ctx(jobs[i]) != ctxs[(i + 1) % 3]));
    for (i = 2; i >= 0; i--)
        CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, probing_job, NULL, 0) == ASYNC_FINISH);
    for (i = 0; i < 3; i++) {
        struct probe *p = &probes[i];

        printf("job %d: inside, current job is its handle: before pause %s, after %s;"
               " wait ctx is its own: before %s, after %s\n", i,
               yn(p->before_pause == handles[i]), yn(p->after_pause == handles[i]),
               yn(p->ctx_before == ctxs[i]), yn(p->ctx_after == ctxs[i]));
    }
    printf("after they finished, current job NULL: %s\n", yn(ASYNC_get_current_job() == NULL));

    ctx_of_unpaused = ctxs[0];
    CHECK(ASYNC_start_job(&jobs[0], NULL, &ret, no_pause_job, NULL, 0) == ASYNC_FINISH);
    printf("job started with a NULL ctx: current job set %s, get_wait_ctx NULL %s\n",
           yn(current_non_null), yn(ctx_of_unpaused == NULL));
    CHECK(ASYNC_start_job(&jobs[0], ctxs[1], &ret, no_pause_job, NULL, 0) == ASYNC_FINISH);
    printf("job started with ctx 1 that never pauses: get_wait_ctx is ctx 1 %s\n",
           yn(ctx_of_unpaused == ctxs[1]));
    ASYNC_cleanup_thread();
    printf("after cleanup, current job NULL: %s, ASYNC_is_capable: %d\n",
           yn(ASYNC_get_current_job() == NULL), ASYNC_is_capable());
    for (i = 0; i < 3; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return TEST_DONE();
}
