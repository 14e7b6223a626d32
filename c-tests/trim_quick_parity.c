/* rustasync-only */
/*
 * The trimming countdown (RUSTASYNC_TRIM, src/trim.rs) counts every change
 * of the idle list, and the change that ends a period looks for idle jobs
 * to give back. The short start and finish (small or no arguments, a
 * pooled job) hand that one change to the general path; whichever path a start or finish takes, the jobs retired,
 * made again and counted must be the same. The same workload (bursts of
 * paused jobs, then single jobs, with a period of 7 changes so that the
 * looking change falls on starts and on finishes in turn) runs in two
 * processes: one whose jobs take 8-byte arguments (the short path where it
 * can), one whose take 200 bytes (on the heap: the general path always).
 * After every operation each prints the library's job counts (made,
 * freed, idle, started, finished, paused, resumed, paused now, peak); the
 * two traces must be identical, jobs must have been retired, and the pool must
 * still stop at its limit with ASYNC_NO_JOBS.
 */
#include <string.h>
#include <openssl/async.h>
#include <openssl/crypto.h>
#include <rustasync.h>
#include "child.h"

#define LIMIT 6
#define TRACE_MAX 65536

static size_t arg_size;
static unsigned char block[200];

static int trivial(void *arg)
{
    return arg != NULL && ((unsigned char *)arg)[arg_size - 1] == 0x5a ? 5 : -1;
}

/* The library's job figures, as one line on stdout. */
static void counts(const char *what)
{
    struct rustasync_stats s;

    memset(&s, 0, sizeof(s));
    rustasync_stats(&s);
    printf("%s: created %llu freed %llu jobs %llu idle %llu started %llu finished %llu paused %llu resumed %llu "
           "paused now %llu peak %llu\n",
           what, (unsigned long long)s.jobs_created, (unsigned long long)s.jobs_freed,
           (unsigned long long)s.pool_jobs, (unsigned long long)s.pool_idle, (unsigned long long)s.jobs_started,
           (unsigned long long)s.jobs_finished, (unsigned long long)s.jobs_paused, (unsigned long long)s.jobs_resumed,
           (unsigned long long)s.paused_now, (unsigned long long)s.paused_peak);
}

static int burst(int n, ASYNC_WAIT_CTX *ctx)
{
    ASYNC_JOB *jobs[LIMIT + 1] = { NULL };
    int ret, i, ok = 1;

    for (i = 0; i < n; i++)
        ok &= ASYNC_start_job(&jobs[i], ctx, &ret, pause_once_job, block, arg_size) == ASYNC_PAUSE;
    counts("burst paused");
    if (n == LIMIT)
        ok &= ASYNC_start_job(&jobs[LIMIT], ctx, &ret, pause_once_job, block, arg_size) == ASYNC_NO_JOBS;
    for (i = 0; i < n; i++)
        ok &= ASYNC_start_job(&jobs[i], ctx, &ret, pause_once_job, NULL, 0) == ASYNC_FINISH && ret == 7;
    counts("burst finished");
    return ok;
}

/* The workload, in the child; exits 0 when every job did as it should. */
static int workload(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ok = 1, round, i;

    /* libcrypto 3 in the process, as in quick_start_parity.c. */
    ok &= OpenSSL_version_num() >= 0x30000000L;
    memset(block, 0x5a, sizeof(block));
    ok &= ASYNC_init_thread(LIMIT, 1) == 1;
    for (round = 0; round < 8; round++) {
        ok &= burst(round % 2 ? LIMIT : 1 + round % LIMIT, ctx);
        /* Single jobs, one more each round, so the looks move along. */
        for (i = 0; i < 3 + round; i++) {
            ASYNC_JOB *job = NULL;
            int ret = 0;

            ok &= ASYNC_start_job(&job, ctx, &ret, trivial, block, arg_size) == ASYNC_FINISH && ret == 5;
            counts("single");
        }
        /* One pausing job between singles: a start and a finish apart. */
        {
            ASYNC_JOB *job = NULL;
            int ret = 0;

            ok &= ASYNC_start_job(&job, ctx, &ret, pause_once_job, block, arg_size) == ASYNC_PAUSE;
            counts("paused one");
            ok &= ASYNC_start_job(&job, ctx, &ret, pause_once_job, NULL, 0) == ASYNC_FINISH && ret == 7;
            counts("finished it");
        }
    }
    /* A job paused across ASYNC_cleanup_thread finishes with no pool (it
     * is freed), and one paused across ASYNC_init_thread finishes into the
     * new pool, outside its count. */
    for (i = 0; i < 2; i++) {
        ASYNC_JOB *job = NULL, *other = NULL;
        int ret = 0;

        ok &= ASYNC_start_job(&job, ctx, &ret, pause_once_job, block, arg_size) == ASYNC_PAUSE;
        if (i == 0)
            ASYNC_cleanup_thread();
        else
            ok &= ASYNC_init_thread(LIMIT, 1) == 1;
        counts(i == 0 ? "paused across a cleanup" : "paused across an init");
        ok &= ASYNC_start_job(&job, ctx, &ret, pause_once_job, NULL, 0) == ASYNC_FINISH && ret == 7;
        counts("finished");
        ok &= ASYNC_start_job(&other, ctx, &ret, trivial, block, arg_size) == ASYNC_FINISH && ret == 5;
        counts("another");
        ok &= ASYNC_start_job(&other, ctx, &ret, trivial, block, arg_size) == ASYNC_FINISH && ret == 5;
        counts("and another");
    }
    /* The earlier pool's job is reused outside the count: a new pool. */
    ok &= ASYNC_init_thread(LIMIT, 1) == 1;
    ok &= burst(LIMIT, ctx);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    fflush(stdout);
    return ok ? 0 : 1;
}

/* Runs the workload with `size_var`'s argument size; its trace goes to out. */
static int trace_with(const char *size_var, char *out, size_t cap)
{
    const char *const env[] = { "RUSTASYNC_TRIM=7", size_var, NULL };

    return run_self_output(NULL, env, out, cap);
}

static char quick[TRACE_MAX], general[TRACE_MAX];

int main(int argc, char **argv)
{
    const char *size = getenv("TRIM_QUICK_ARG_SIZE");
    const char *line, *last;
    unsigned long long freed = 0;
    int quick_ok, general_ok, same;

    (void)argc;
    self_path = argv[0];
    if (size != NULL) {
        arg_size = (size_t)atoi(size);
        return workload();
    }
    quick_ok = trace_with("TRIM_QUICK_ARG_SIZE=8", quick, sizeof(quick));
    general_ok = trace_with("TRIM_QUICK_ARG_SIZE=200", general, sizeof(general));
    CHECK(quick_ok);
    CHECK(general_ok);
    same = strcmp(quick, general) == 0;
    CHECK(same);
    if (!same) {
        const char *q = quick, *g = general;

        while (*q != '\0' && *q == *g)
            q++, g++;
        while (q > quick && q[-1] != '\n')
            q--, g--;
        printf("first difference:\n  8 bytes:   %.*s\n  200 bytes: %.*s\n", (int)strcspn(q, "\n"), q,
               (int)strcspn(g, "\n"), g);
    }
    /* Jobs were given back along the way (else nothing was compared). */
    last = quick;
    for (line = quick; (line = strstr(line, "freed ")) != NULL; line++)
        last = line;
    if (last != quick)
        freed = strtoull(last + strlen("freed "), NULL, 10);
    printf("jobs given back by the trimmer: %s\n", freed > 0 ? "some" : "none");
    CHECK(freed > 0);
    CHECK(strlen(quick) > 1000 && strlen(quick) < sizeof(quick) - 1);
    return TEST_DONE();
}
