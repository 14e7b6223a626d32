/*
 * What c-tests/gdb/gdb-test.sh debugs: three jobs paused in three different
 * functions (each two calls below its job function), and a fourth job that
 * is running when the program stops in stop_here() (a gdb breakpoint, or
 * abort() for a kernel core dump). Built with -O0 -g so that every function
 * keeps its own frame.
 */
#include <openssl/async.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

NOINLINE void stop_here(int marker)
{
    /* gdb breaks here; the asm keeps the call from being optimised away.
     * With PAUSED_JOBS_ABORT set the program dumps core here instead. */
    __asm__ volatile("" : : "r"(marker) : "memory");
    if (getenv("PAUSED_JOBS_ABORT") != NULL)
        abort();
}

NOINLINE static void alpha_leaf(void) { ASYNC_pause_job(); }
NOINLINE static void alpha_middle(void) { alpha_leaf(); }
NOINLINE static int job_alpha(void *arg) { (void)arg; alpha_middle(); return 1; }

NOINLINE static void beta_leaf(void) { ASYNC_pause_job(); }
NOINLINE static void beta_middle(void) { beta_leaf(); }
NOINLINE static int job_beta(void *arg) { (void)arg; beta_middle(); return 2; }

NOINLINE static void gamma_leaf(void) { ASYNC_pause_job(); }
NOINLINE static void gamma_middle(void) { gamma_leaf(); }
NOINLINE static int job_gamma(void *arg) { (void)arg; gamma_middle(); return 3; }

NOINLINE static void delta_inner(void) { stop_here(4); }
NOINLINE static int job_delta(void *arg) { (void)arg; delta_inner(); return 4; }

NOINLINE static int start_one(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int (*fn)(void *))
{
    int ret = 0;
    return ASYNC_start_job(job, ctx, &ret, fn, NULL, 0);
}

int main(void)
{
    ASYNC_JOB *jobs[4] = {NULL, NULL, NULL, NULL};
    ASYNC_WAIT_CTX *ctx[4];
    int (*fns[4])(void *) = {job_alpha, job_beta, job_gamma, job_delta};
    int i;

    setvbuf(stdout, NULL, _IONBF, 0);
    for (i = 0; i < 4; i++) {
        ctx[i] = ASYNC_WAIT_CTX_new();
        if (ctx[i] == NULL)
            return 1;
    }
    for (i = 0; i < 3; i++) {
        if (start_one(&jobs[i], ctx[i], fns[i]) != ASYNC_PAUSE) {
            fprintf(stderr, "job %d did not pause\n", i);
            return 1;
        }
        printf("paused job %d at %p\n", i, (void *)jobs[i]);
    }
    /* The fourth runs to completion, stopping in stop_here() on the way. */
    if (start_one(&jobs[3], ctx[3], fns[3]) != ASYNC_FINISH)
        return 1;
    for (i = 0; i < 3; i++) {
        if (start_one(&jobs[i], ctx[i], fns[i]) != ASYNC_FINISH)
            return 1;
    }
    for (i = 0; i < 4; i++)
        ASYNC_WAIT_CTX_free(ctx[i]);
    printf("all finished\n");
    return 0;
}
