/*
 * Finished jobs go back to the thread's pool and are reused last in,
 * first out, as OpenSSL's pool stack does: the most recently finished
 * job's handle is the next one handed out.
 */
#include <openssl/async.h>
#include "common.h"

#define N 4

static ASYNC_JOB *seen_inside;

static int pause_once(void *arg)
{
    (void)arg;
    seen_inside = ASYNC_get_current_job();
    ASYNC_pause_job();
    return 1;
}

static int record_handle(void *arg)
{
    (void)arg;
    seen_inside = ASYNC_get_current_job();
    return 2;
}

static char which(ASYNC_JOB *job, ASYNC_JOB **old, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (job == old[i])
            return (char)('A' + i);
    return '?';
}

static void run_scenario(const char *label)
{
    ASYNC_JOB *old[N] = { NULL }, *again[N] = { NULL }, *job, *prev;
    ASYNC_WAIT_CTX *ctxs[N];
    int order[N] = { 2, 0, 3, 1 };
    char letters[8];
    int i, ret, rcs_ok = 1;

    printf("%s\n", label);
    for (i = 0; i < N; i++) {
        ctxs[i] = ASYNC_WAIT_CTX_new();
        CHECK(ASYNC_start_job(&old[i], ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    }
    for (i = 0; i < N; i++) {
        job = old[order[i]];
        letters[i] = (char)('A' + order[i]);
        rcs_ok &= ASYNC_start_job(&job, ctxs[order[i]], &ret, pause_once, NULL, 0) == ASYNC_FINISH;
    }
    letters[N] = '\0';
    printf("finished in the order: %s\n", letters);
    for (i = 0; i < N; i++) {
        rcs_ok &= ASYNC_start_job(&again[i], ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_PAUSE;
        letters[i] = which(again[i], old, N);
    }
    printf("new jobs got the handles of: %s\n", letters);
    for (i = 0; i < N; i++) {
        job = again[i];
        rcs_ok &= ASYNC_start_job(&job, ctxs[i], &ret, pause_once, NULL, 0) == ASYNC_FINISH;
    }

    /* A job that never pauses: the same pooled job every time. */
    prev = NULL;
    for (i = 0; i < 5; i++) {
        job = NULL;
        seen_inside = NULL;
        rcs_ok &= ASYNC_start_job(&job, NULL, &ret, record_handle, NULL, 0) == ASYNC_FINISH;
        letters[i] = i == 0 ? '-' : seen_inside == prev ? 'y' : 'n';
        prev = seen_inside;
    }
    letters[5] = '\0';
    printf("five non-pausing jobs, same handle as the previous one: %s\n", letters);
    printf("that handle is the one finished last (%c): %s\n",
           which(again[N - 1], old, N), prev == again[N - 1] ? "yes" : "no");
    CHECK(rcs_ok);
    for (i = 0; i < N; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
}

int main(void)
{
    run_scenario("default pool");
    ASYNC_cleanup_thread();
    CHECK(ASYNC_init_thread(4, 0) == 1);
    run_scenario("pool (4, 0)");
    ASYNC_cleanup_thread();
    CHECK(ASYNC_init_thread(6, 6) == 1);
    run_scenario("pool (6, 6)");
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
