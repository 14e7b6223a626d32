/*
 * Jobs that ASYNC_init_thread made ahead of time start with the
 * floating-point environment of their creation (OpenSSL enters a fresh
 * fibre with setcontext on the context saved then), so which job a start
 * gets is observable. A job paused across ASYNC_init_thread joins the new
 * pool when it finishes, above the two made ahead; thousands of starts then
 * reuse it alone, leaving the two unused for many of rustasync's trimming
 * periods (RUSTASYNC_TRIM, default 1,024 changes). rustasync must not give
 * them back (docs/operations.md: jobs made ahead are never retired): three
 * jobs paused at once must get the reused one (the caller's environment)
 * and the two made ahead (the environment at ASYNC_init_thread), as with
 * OpenSSL. (The trimmer spared the top `init` jobs of the list, which here
 * are the earlier pool's job and one made ahead: the other was given back
 * and made again when needed, starting with the caller's environment.)
 */
#include <xmmintrin.h>
#include <openssl/async.h>
#include "common.h"
#include "fp_env.h"

static const char *const modes[] = { "nearest", "down", "up", "toward-zero" };

static int pause_once(void *arg)
{
    (void)arg;
    printf("job starts rounding %s\n", modes[(_mm_getcsr() >> MX_RC_SHIFT) & 3]);
    ASYNC_pause_job();
    return 1;
}

static int trivial(void *arg)
{
    (void)arg;
    return 2;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *jobs[3] = { NULL, NULL, NULL };
    unsigned saved = _mm_getcsr();
    int ret = 0, i, ok = 1;

    set_rounding(1);
    CHECK(ASYNC_init_thread(10, 0) == 1);
    CHECK(ASYNC_start_job(&jobs[0], ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    CHECK(ASYNC_init_thread(10, 2) == 1); /* two made now, rounding down */
    set_rounding(2);
    CHECK(ASYNC_start_job(&jobs[0], ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH && ret == 1);
    for (i = 0; i < 5000; i++) {
        ASYNC_JOB *job = NULL;

        ok &= ASYNC_start_job(&job, ctx, &ret, trivial, NULL, 0) == ASYNC_FINISH && ret == 2;
    }
    CHECK(ok);
    for (i = 0; i < 3; i++) {
        set_rounding(2); /* a job made ahead that pauses leaves the caller its own */
        CHECK(ASYNC_start_job(&jobs[i], ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    }
    for (i = 0; i < 3; i++)
        CHECK(ASYNC_start_job(&jobs[i], ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH && ret == 1);
    _mm_setcsr(saved);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
