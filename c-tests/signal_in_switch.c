/*
 * Signals arriving while the thread switches: an interval timer fires every
 * 50 microseconds during a loop of starts, pauses, resumes and finishes
 * (two jobs alternating, a new one now and then), so that handlers run
 * inside ASYNC_start_job and ASYNC_pause_job at every instruction, rustasync's
 * switching stubs and landings included, on the program's stack and on job
 * stacks. The handler asks ASYNC_get_current_job (it must be NULL or one of
 * the loop's jobs) and unwinds the interrupted stack with backtrace(3),
 * which walks through the stubs' call-frame information (and must neither
 * crash nor find nothing). The loop's results must be right, and enough
 * signals must have arrived (it runs until 20000 have, for at most 20
 * seconds; under valgrind, whose handlers are slow, every 2 ms until 300
 * have). Output is the same with OpenSSL's libcrypto.
 */
#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <openssl/async.h>
#include "common.h"

#define ENOUGH_SIGNALS 100

static ASYNC_JOB *volatile known[8];
static volatile sig_atomic_t known_count;
static volatile sig_atomic_t signals, strangers, empty_traces, in_job;

static void on_alarm(int sig)
{
    void *frames[64];
    ASYNC_JOB *current = ASYNC_get_current_job();
    int i, ours = current == NULL;

    (void)sig;
    for (i = 0; i < known_count && !ours; i++)
        ours = current == known[i];
    if (!ours)
        strangers++;
    if (current != NULL)
        in_job++;
    if (backtrace(frames, 64) < 2)
        empty_traces++;
    signals++;
}

static __attribute__((noinline)) int deeper(int n)
{
    volatile int pad[16];

    pad[0] = n;
    if (n > 0)
        return deeper(n - 1) + pad[0] - n;
    return ASYNC_pause_job();
}

static int pausing(void *arg)
{
    int n = *(int *)arg, i, sum = 0;

    for (i = 0; i < n; i++)
        sum += (i & 1) ? ASYNC_pause_job() : deeper(i % 5);
    return sum;
}

static void remember(ASYNC_JOB *job)
{
    int i;

    for (i = 0; i < known_count; i++)
        if (known[i] == job)
            return;
    if (known_count < 8)
        known[known_count++] = job;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    struct sigaction sa;
    int slow = under_checker("valgrind");
    long interval = slow ? 2000 : 50, wanted = slow ? 300 : 20000;
    struct itimerval every = { { 0, interval }, { 0, interval } }, off;
    struct timespec start, now;
    void *warm[4];
    long rounds = 0, bad_results = 0;
    int four = 4, one = 1;

    /* backtrace loads its unwinder on first use, which a handler must not. */
    CHECK(backtrace(warm, 4) > 0);
    CHECK(ASYNC_init_thread(3, 0) == 1);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

    /* Learn the pool's handles before the handler judges them: the pool
     * holds three jobs at most, reused last in, first out. */
    {
        ASYNC_JOB *a = NULL, *b = NULL, *c = NULL;
        int ret;

        ASYNC_start_job(&a, ctx, &ret, pausing, &one, sizeof(one));
        ASYNC_start_job(&b, ctx, &ret, pausing, &one, sizeof(one));
        ASYNC_start_job(&c, ctx, &ret, pausing, &one, sizeof(one));
        remember(a);
        remember(b);
        remember(c);
        CHECK(known_count == 3);
        CHECK(ASYNC_start_job(&a, ctx, &ret, pausing, NULL, 0) == ASYNC_FINISH && ret == 1);
        CHECK(ASYNC_start_job(&b, ctx, &ret, pausing, NULL, 0) == ASYNC_FINISH && ret == 1);
        CHECK(ASYNC_start_job(&c, ctx, &ret, pausing, NULL, 0) == ASYNC_FINISH && ret == 1);
    }

    CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        ASYNC_JOB *x = NULL, *y = NULL;
        int rx = -1, ry = -1, sx, sy, n;

        /* Two jobs alternating, four pauses each; a third now and then
         * that finishes at once. */
        sx = ASYNC_start_job(&x, ctx, &rx, pausing, &four, sizeof(four));
        sy = ASYNC_start_job(&y, ctx, &ry, pausing, &four, sizeof(four));
        for (n = 0; n < 4; n++) {
            sx = ASYNC_start_job(&x, ctx, &rx, pausing, NULL, 0);
            sy = ASYNC_start_job(&y, ctx, &ry, pausing, NULL, 0);
        }
        if (sx != ASYNC_FINISH || sy != ASYNC_FINISH || rx != 4 || ry != 4)
            bad_results++;
        if ((rounds & 7) == 0) {
            ASYNC_JOB *z = NULL;
            int zero = 0, rz = -1;

            if (ASYNC_start_job(&z, ctx, &rz, pausing, &zero, sizeof(zero)) != ASYNC_FINISH || rz != 0)
                bad_results++;
        }
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (signals < wanted && now.tv_sec - start.tv_sec < 20);
    memset(&off, 0, sizeof(off));
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);

    printf("results right in every round: %s\n", bad_results == 0 ? "yes" : "no");
    printf("at least %d signals: %s\n", ENOUGH_SIGNALS, signals >= ENOUGH_SIGNALS ? "yes" : "no");
    printf("some inside a job: %s\n", in_job > 0 ? "yes" : "no");
    printf("the handler saw only NULL or the loop's jobs: %s\n", strangers == 0 ? "yes" : "no");
    printf("every backtrace found frames: %s\n", empty_traces == 0 ? "yes" : "no");
    CHECK(bad_results == 0 && signals >= ENOUGH_SIGNALS && in_job > 0);
    CHECK(strangers == 0 && empty_traces == 0);
    CHECK(ASYNC_get_current_job() == NULL);
    ASYNC_cleanup_thread();
    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
