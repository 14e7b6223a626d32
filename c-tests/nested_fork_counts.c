/* rustasync-only */
/*
 * The hot path's bookkeeping under nesting, pause blocks and fork, with the
 * figures rustasync_stats() gives after each step (nesting crashes OpenSSL
 * 3.0, hence rustasync only):
 *  - ASYNC_get_current_job and ASYNC_get_wait_ctx at both levels, after
 *    each pause and resume, and in the caller (NULL);
 *  - an inner job resumed from outside its outer job, then from inside it;
 *  - ASYNC_block_pause in the outer job is the thread's: it stops the outer
 *    job's own pause, and is gone for the inner job once unblocked;
 *  - fork() inside the outer job while the inner one is paused: the child
 *    finishes the inner job from inside its copy of the outer job (the
 *    current job stays the outer one), and counts no job paused at the end;
 *  - jobs paused now never exceeds the jobs really paused (a decrement
 *    without a matching pause would wrap to a huge number), and is 0 once
 *    everything finished; the peak is 2.
 */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/async.h>
#include <rustasync.h>
#include "common.h"

#define INNER_PAUSES 4

static ASYNC_WAIT_CTX *outer_wait, *inner_wait;
static ASYNC_JOB *inner_handle, *outer_handle;
static int wrong_current;

static uint64_t paused_now(void)
{
    struct rustasync_stats s;

    return rustasync_stats(&s) == 1 ? s.paused_now : UINT64_MAX;
}

static int inner(void *arg)
{
    int i;

    (void)arg;
    inner_handle = ASYNC_get_current_job();
    if (ASYNC_get_wait_ctx(inner_handle) != inner_wait)
        wrong_current++;
    for (i = 0; i < INNER_PAUSES; i++) {
        ASYNC_pause_job();
        if (ASYNC_get_current_job() != inner_handle)
            wrong_current++;
    }
    return 11;
}

/* In the child forked inside the outer job: finishes the inner job. */
static int finish_in_child(ASYNC_JOB *job)
{
    int r = 0, rc;

    do {
        rc = ASYNC_start_job(&job, inner_wait, &r, inner, NULL, 0);
        if (ASYNC_get_current_job() != outer_handle)
            return 2;
    } while (rc == ASYNC_PAUSE);
    if (rc != ASYNC_FINISH || r != 11)
        return 3;
    /* The outer job's copy is running, not paused: nothing is paused. */
    return paused_now() == 0 ? 0 : 4;
}

static int outer(void *arg)
{
    ASYNC_JOB *job = NULL;
    int r = 0, rc, status = -1;
    pid_t child;

    (void)arg;
    outer_handle = ASYNC_get_current_job();
    CHECK(ASYNC_get_wait_ctx(outer_handle) == outer_wait);
    rc = ASYNC_start_job(&job, inner_wait, &r, inner, NULL, 0);
    CHECK(rc == ASYNC_PAUSE && job == inner_handle);
    CHECK(ASYNC_get_current_job() == outer_handle);
    CHECK(paused_now() == 1);
    ASYNC_pause_job(); /* both paused; the caller resumes the inner job */
    CHECK(ASYNC_get_current_job() == outer_handle);

    ASYNC_block_pause();
    ASYNC_pause_job(); /* blocked: returns at once */
    CHECK(ASYNC_get_current_job() == outer_handle);
    ASYNC_unblock_pause();

    fflush(stdout);
    child = fork();
    if (child == 0)
        _exit(finish_in_child(job));
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(paused_now() == 1);

    do {
        rc = ASYNC_start_job(&job, inner_wait, &r, inner, NULL, 0);
        if (ASYNC_get_current_job() != outer_handle)
            wrong_current++;
        if (rc == ASYNC_PAUSE)
            ASYNC_pause_job(); /* the outer job pauses with the inner one */
    } while (rc == ASYNC_PAUSE);
    CHECK(rc == ASYNC_FINISH && r == 11);
    return 22;
}

int main(void)
{
    ASYNC_JOB *job = NULL, *inner_job;
    int r = 0, rc, most = 0;

    outer_wait = ASYNC_WAIT_CTX_new();
    inner_wait = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_get_current_job() == NULL);
    CHECK(paused_now() == 0);

    rc = ASYNC_start_job(&job, outer_wait, &r, outer, NULL, 0);
    CHECK(rc == ASYNC_PAUSE && job == outer_handle);
    CHECK(ASYNC_get_current_job() == NULL);
    CHECK(paused_now() == 2);

    inner_job = inner_handle;
    rc = ASYNC_start_job(&inner_job, inner_wait, &r, inner, NULL, 0);
    CHECK(rc == ASYNC_PAUSE && inner_job == inner_handle);
    CHECK(ASYNC_get_current_job() == NULL);
    CHECK(paused_now() == 2);

    do {
        rc = ASYNC_start_job(&job, outer_wait, &r, outer, NULL, 0);
        if (paused_now() > 2)
            most = 3;
        if (ASYNC_get_current_job() != NULL)
            wrong_current++;
    } while (rc == ASYNC_PAUSE);
    CHECK(rc == ASYNC_FINISH && r == 22);
    CHECK(most == 0);
    CHECK(wrong_current == 0);
    CHECK(paused_now() == 0);
    {
        struct rustasync_stats s;

        CHECK(rustasync_stats(&s) == 1 && s.paused_peak == 2 && s.jobs_started == 2
              && s.jobs_finished == 2 && s.jobs_paused == s.jobs_resumed);
    }
    ASYNC_WAIT_CTX_free(outer_wait);
    ASYNC_WAIT_CTX_free(inner_wait);
    return TEST_DONE();
}
