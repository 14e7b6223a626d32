/*
 * ASYNC_init_thread called again while the thread already has a pool (no
 * ASYNC_cleanup_thread in between) succeeds and installs a new pool with
 * the new limits; jobs that were paused before keep working and, when they
 * finish, go to the new pool.
 */
#include <openssl/async.h>
#include "common.h"

static int pause_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 1;
}

static const char *name(int rc)
{
    return rc == ASYNC_PAUSE ? "PAUSE" : rc == ASYNC_FINISH ? "FINISH"
           : rc == ASYNC_NO_JOBS ? "NO_JOBS" : "ERR";
}

int main(void)
{
    ASYNC_WAIT_CTX *ctxs[6];
    ASYNC_JOB *jobs[6] = { NULL }, *a;
    int i, ret;

    for (i = 0; i < 6; i++)
        ctxs[i] = ASYNC_WAIT_CTX_new();
    printf("init(1, 0) -> %d\n", ASYNC_init_thread(1, 0));
    printf("start A: %s\n", name(ASYNC_start_job(&jobs[0], ctxs[0], &ret, pause_once, NULL, 0)));
    printf("start B: %s\n", name(ASYNC_start_job(&jobs[1], ctxs[1], &ret, pause_once, NULL, 0)));
    a = jobs[0];
    printf("init(2, 0) again -> %d\n", ASYNC_init_thread(2, 0));
    printf("start B: %s\n", name(ASYNC_start_job(&jobs[1], ctxs[1], &ret, pause_once, NULL, 0)));
    printf("start C: %s\n", name(ASYNC_start_job(&jobs[2], ctxs[2], &ret, pause_once, NULL, 0)));
    printf("start D: %s\n", name(ASYNC_start_job(&jobs[3], ctxs[3], &ret, pause_once, NULL, 0)));
    printf("resume A: %s\n", name(ASYNC_start_job(&jobs[0], ctxs[0], &ret, pause_once, NULL, 0)));
    printf("start D: %s", name(ASYNC_start_job(&jobs[3], ctxs[3], &ret, pause_once, NULL, 0)));
    printf(", got A's handle: %s\n", jobs[3] == a ? "yes" : "no");
    printf("start E: %s\n", name(ASYNC_start_job(&jobs[4], ctxs[4], &ret, pause_once, NULL, 0)));
    for (i = 1; i < 6; i++)
        if (jobs[i] != NULL)
            printf("resume %c: %s\n", 'A' + i,
                   name(ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_once, NULL, 0)));
    ASYNC_cleanup_thread();
    for (i = 0; i < 6; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    return TEST_DONE();
}
