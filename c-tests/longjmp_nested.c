/* rustasync-only */
/*
 * A job left with longjmp, then the library used on from where the jump
 * landed, with jobs entered both ways rustasync switches: a fresh fibre by
 * a call, a pooled or resumed one by the jumping stubs of ASYNC_start_job
 * and ASYNC_pause_job. (OpenSSL 3.0 cannot nest jobs, and crashes or
 * reports a previous run's result when a job it had paused or reused is
 * left this way.)
 *
 *  1. An inner job longjmps into its outer job, which then returns: the
 *     outer job's ASYNC_start_job caller gets ASYNC_FINISH with the outer
 *     job's value, no job is current, and the jobs started next run their
 *     own functions. (The landing used to take the abandoned inner job for
 *     the one that finished: its result came back, the thread stayed "in"
 *     the outer job, and the next start ran the outer function again.)
 *  2. The same, the outer job pausing after the jump: the first pause
 *     returns 0 (the inner job is abandoned), the next one pauses.
 * Each case runs with the inner job fresh (its first run) and with it
 * paused and resumed once before the jump.
 */
#include <setjmp.h>
#include <openssl/err.h>
#include <openssl/async.h>
#include "common.h"

static jmp_buf into_outer;
static int outer_runs, after_jump;

struct how {
    int inner_pauses; /* 0 or 1: pause (and be resumed) before the jump */
    int then;         /* 1: return, 2: pause */
};

static int inner(void *arg)
{
    const struct how *h = arg;

    if (h->inner_pauses)
        ASYNC_pause_job();
    longjmp(into_outer, 1);
}

static int returns_five(void *arg)
{
    (void)arg;
    return 5;
}

static int pauses_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 6;
}

static int outer(void *arg)
{
    const struct how *h = arg;
    ASYNC_JOB *self = ASYNC_get_current_job(), *in = NULL;
    int r = 0, rc;

    outer_runs++;
    if (setjmp(into_outer) == 0) {
        rc = ASYNC_start_job(&in, NULL, &r, inner, (void *)h, sizeof(*h));
        if (rc == ASYNC_PAUSE)
            ASYNC_start_job(&in, NULL, &r, inner, NULL, 0);
        return -1; /* not reached */
    }
    after_jump++;
    /* Still "current" until the library is called: as at top level. */
    if (h->then == 1)
        return ASYNC_get_current_job() != self ? 42 : -11;
    if (h->then == 2) {
        if (ASYNC_pause_job() != 0)
            return -7;
        if (ASYNC_get_current_job() != self)
            return -8;
        if (ASYNC_pause_job() != 1)
            return -9;
    }
    return ASYNC_get_current_job() == self ? 42 : -10;
}

/* Runs `outer` to its end from outside any job. */
static void nested_case(int inner_pauses, int then)
{
    struct how h = { inner_pauses, then };
    ASYNC_JOB *job = NULL;
    int ret = 0, rc, pauses = 0, i;

    outer_runs = after_jump = 0;
    while ((rc = ASYNC_start_job(&job, NULL, &ret, outer, &h, sizeof(h))) == ASYNC_PAUSE)
        pauses++;
    printf("inner %s, outer %s: %s with %d after %d pauses; current job %s\n",
           inner_pauses ? "paused once" : "fresh",
           then == 1 ? "returns" : "pauses",
           rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", ret, pauses,
           ASYNC_get_current_job() == NULL ? "NULL" : "set");
    CHECK(rc == ASYNC_FINISH && ret == 42 && job == NULL);
    CHECK(pauses == (then == 1 ? 0 : 1));
    CHECK(ASYNC_get_current_job() == NULL);
    ERR_clear_error();
    /* The pool's jobs run what they are given, the outer function no more. */
    for (i = 0; i < 3; i++) {
        ret = 0;
        CHECK(ASYNC_start_job(&job, NULL, &ret, returns_five, NULL, 0) == ASYNC_FINISH && ret == 5);
        CHECK(ASYNC_start_job(&job, NULL, &ret, pauses_once, NULL, 0) == ASYNC_PAUSE);
        CHECK(ASYNC_start_job(&job, NULL, &ret, pauses_once, NULL, 0) == ASYNC_FINISH && ret == 6);
    }
    CHECK(outer_runs == 1 && after_jump == 1);
    CHECK(ASYNC_get_current_job() == NULL);
}

int main(void)
{
    int inner_pauses, then;

    for (inner_pauses = 0; inner_pauses <= 1; inner_pauses++)
        for (then = 1; then <= 2; then++)
            nested_case(inner_pauses, then);

    ASYNC_cleanup_thread();
    return TEST_DONE();
}
