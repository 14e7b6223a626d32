/*
 * The floating-point environment belongs to the thread, as with OpenSSL
 * (whose switch leaves MXCSR and the x87 control word alone): rounding
 * mode, precision and exception flags flow from caller to job and back at
 * every start, pause, resume and finish, and a pooled job starts with its
 * caller's environment, not the one the previous job left. MXCSR and the
 * x87 control word are read and written directly (no libm).
 */
#include <stdint.h>
#include <string.h>
#include <xmmintrin.h>
#include <openssl/async.h>
#include "common.h"
#include "fp_env.h"

static const char *const modes[] = { "nearest", "down", "up", "toward-zero" };

static void set_precision(unsigned pc)
{
    set_x87_cw((uint16_t)((x87_cw() & ~(3u << X87_PC_SHIFT)) | (pc << X87_PC_SHIFT)));
}

static void show(const char *who)
{
    unsigned mx = _mm_getcsr();
    uint16_t cw = x87_cw();

    printf("%s: sse rounding %s, x87 rounding %s", who, modes[(mx >> MX_RC_SHIFT) & 3],
           modes[(cw >> X87_RC_SHIFT) & 3]);
    /* valgrind emulates neither x87 precision control nor MXCSR's sticky
     * exception flags: under it (both runs) only rounding is compared. */
    if (!under_checker("valgrind"))
        printf(", x87 precision %u, inexact %d, divide-by-zero %d", (cw >> X87_PC_SHIFT) & 3, !!(mx & MX_INEXACT),
               !!(mx & MX_DIVZERO));
    printf("\n");
}

static volatile double one = 1.0, three = 3.0, zero = 0.0;
static volatile double sink;

static int first_job(void *arg)
{
    (void)arg;
    show("job A at start");
    set_rounding(3);
    set_precision(2);
    set_flags(0);
    ASYNC_pause_job();
    show("job A resumed");
    sink = one / three; /* inexact */
    ASYNC_pause_job();
    show("job A resumed again");
    return 1;
}

static int second_job(void *arg)
{
    (void)arg;
    show("job B at start");
    set_rounding(2);
    return 2;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    unsigned saved_mx = _mm_getcsr();
    uint16_t saved_cw = x87_cw();
    int ret = 0;

    ASYNC_init_thread(1, 1);
    set_rounding(2);
    set_precision(3);
    set_flags(0);
    show("caller before start");
    CHECK(ASYNC_start_job(&job, ctx, &ret, first_job, NULL, 0) == ASYNC_PAUSE);
    show("caller after first pause");
    set_rounding(1);
    show("caller before resume");
    CHECK(ASYNC_start_job(&job, ctx, &ret, first_job, NULL, 0) == ASYNC_PAUSE);
    show("caller after second pause");
    set_flags(0);
    sink = one / zero; /* divide-by-zero, raised while the job is paused */
    set_rounding(0);
    CHECK(ASYNC_start_job(&job, ctx, &ret, first_job, NULL, 0) == ASYNC_FINISH && ret == 1);
    show("caller after finish");

    /* The pooled job starts with the caller's environment. */
    set_rounding(3);
    set_precision(0);
    set_flags(0);
    job = NULL;
    CHECK(ASYNC_start_job(&job, ctx, &ret, second_job, NULL, 0) == ASYNC_FINISH && ret == 2);
    show("caller after job B");

    _mm_setcsr(saved_mx);
    set_x87_cw(saved_cw);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
