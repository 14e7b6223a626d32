/* rustasync-only */
/*
 * The floating-point environment stays the thread's when jobs nest (a job
 * starting another; OpenSSL 3.0 cannot nest) and when several threads
 * switch at once. Nested: every side sees the rounding mode and exception
 * flags the side that switched to it left, through an inner job's pause,
 * the outer job's pause, resumes from outside and from the outer job, and
 * the inner job's finish; jobs made ahead by ASYNC_init_thread start with
 * the environment of their creation, each (outer and inner alike). Threads:
 * four threads, each with its own rounding mode, start, pause and resume
 * jobs in a loop; every job sees its own thread's mode and every caller
 * the flag its job raised, never another thread's. libcrypto 3 is in the
 * process, as in quick_start_parity.c.
 */
#include <pthread.h>
#include <stdint.h>
#include <xmmintrin.h>
#include <openssl/async.h>
#include <openssl/crypto.h>
#include "common.h"
#include "fp_env.h"

#define NEAREST 0u
#define DOWN 1u
#define UP 2u
#define TOWARD_ZERO 3u

/* Whether both units round as `mode` and MXCSR's flags are `flags`
 * (valgrind, which does not emulate the flags: the rounding only). */
static int env_is(unsigned mode, unsigned flags)
{
    unsigned mx = _mm_getcsr();

    return ((mx >> MX_RC_SHIFT) & 3) == mode && ((x87_cw() >> X87_RC_SHIFT) & 3) == mode
           && ((mx & MX_FLAGS) == flags || under_checker("valgrind"));
}

static volatile double one = 1.0, three = 3.0, zero = 0.0, sink;

static ASYNC_JOB *paused_inner;
static ASYNC_WAIT_CTX *shared_ctx;

static int inner(void *arg)
{
    (void)arg;
    CHECK(env_is(NEAREST, 0)); /* made ahead: its creation's, not the outer job's */
    set_rounding(TOWARD_ZERO);
    sink = one / three;
    ASYNC_pause_job();
    CHECK(env_is(UP, MX_DIVZERO)); /* resumed by the outer job */
    set_rounding(DOWN);
    set_flags(MX_INEXACT);
    ASYNC_pause_job();
    CHECK(env_is(TOWARD_ZERO, 0)); /* resumed from outside any job */
    set_flags(MX_DIVZERO | MX_INEXACT);
    return 9;
}

static int outer(void *arg)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    (void)arg;
    CHECK(env_is(NEAREST, 0)); /* made ahead: its creation's, not the caller's */
    set_rounding(UP);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, inner, NULL, 0) == ASYNC_PAUSE);
    CHECK(env_is(TOWARD_ZERO, MX_INEXACT)); /* what the inner job left */
    set_rounding(DOWN);
    ASYNC_pause_job();
    CHECK(env_is(UP, 0)); /* the caller's at the resume */
    set_flags(MX_DIVZERO);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, inner, NULL, 0) == ASYNC_PAUSE);
    CHECK(env_is(DOWN, MX_INEXACT));
    paused_inner = job; /* the caller finishes it */
    set_rounding(NEAREST);
    return 4;
}

/* Pooled jobs, nested: each starts with the environment of its starter. */
static int pooled_inner(void *arg)
{
    (void)arg;
    CHECK(env_is(DOWN, MX_DIVZERO));
    set_rounding(UP);
    sink = one / three;
    return 2;
}

static int pooled_outer(void *arg)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    (void)arg;
    CHECK(env_is(TOWARD_ZERO, 0));
    set_rounding(DOWN);
    set_flags(MX_DIVZERO);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, pooled_inner, &ret, sizeof(ret)) == ASYNC_FINISH && ret == 2);
    CHECK(env_is(UP, MX_DIVZERO | MX_INEXACT));
    set_flags(0);
    return 3;
}

#define THREADS 4
#define ROUNDS 2000

struct thread_run {
    unsigned mode;
    int wrong;
};

static int thread_job(void *arg)
{
    unsigned mode = *(unsigned *)arg;
    int wrong = 0;

    wrong += !env_is(mode, 0);
    sink = one / three;
    ASYNC_pause_job();
    wrong += !env_is(mode, 0); /* the caller cleared the flag */
    sink = one / zero;
    return wrong;
}

static void *thread_main(void *arg)
{
    struct thread_run *run = arg;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int i, ret;

    set_rounding(run->mode);
    set_flags(0);
    for (i = 0; i < ROUNDS; i++) {
        ASYNC_JOB *job = NULL;

        if (ASYNC_start_job(&job, ctx, &ret, thread_job, &run->mode, sizeof(run->mode)) != ASYNC_PAUSE) {
            run->wrong++;
            break;
        }
        run->wrong += !env_is(run->mode, MX_INEXACT);
        set_flags(0);
        if (ASYNC_start_job(&job, ctx, &ret, thread_job, NULL, 0) != ASYNC_FINISH) {
            run->wrong++;
            break;
        }
        run->wrong += ret + !env_is(run->mode, MX_DIVZERO);
        set_flags(0);
    }
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return NULL;
}

int main(void)
{
    unsigned saved_mx = _mm_getcsr();
    uint16_t saved_cw = x87_cw();
    ASYNC_JOB *job = NULL;
    struct thread_run runs[THREADS];
    pthread_t threads[THREADS];
    int ret = 0, i, wrong = 0;

    CHECK(OpenSSL_version_num() >= 0x30000000L);
    shared_ctx = ASYNC_WAIT_CTX_new();
    set_rounding(NEAREST);
    set_flags(0);
    CHECK(ASYNC_init_thread(4, 2) == 1);
    set_rounding(DOWN);
    set_flags(MX_DIVZERO);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, outer, NULL, 0) == ASYNC_PAUSE);
    CHECK(env_is(DOWN, MX_INEXACT));
    set_rounding(UP);
    set_flags(0);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, outer, NULL, 0) == ASYNC_FINISH && ret == 4);
    CHECK(env_is(NEAREST, MX_INEXACT));
    CHECK(paused_inner != NULL);
    set_rounding(TOWARD_ZERO);
    set_flags(0);
    CHECK(ASYNC_start_job(&paused_inner, shared_ctx, &ret, inner, NULL, 0) == ASYNC_FINISH && ret == 9);
    CHECK(env_is(TOWARD_ZERO, MX_DIVZERO | MX_INEXACT));

    job = NULL;
    set_flags(0);
    CHECK(ASYNC_start_job(&job, shared_ctx, &ret, pooled_outer, &ret, sizeof(ret)) == ASYNC_FINISH && ret == 3);
    CHECK(env_is(UP, 0));

    for (i = 0; i < THREADS; i++) {
        runs[i].mode = (unsigned)i & 3;
        runs[i].wrong = 0;
        CHECK(pthread_create(&threads[i], NULL, thread_main, &runs[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        wrong += runs[i].wrong;
    }
    printf("threads: %d wrong environments in %d rounds each\n", wrong, ROUNDS);
    CHECK(wrong == 0);

    _mm_setcsr(saved_mx);
    set_x87_cw(saved_cw);
    ASYNC_WAIT_CTX_free(shared_ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
