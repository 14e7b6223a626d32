/*
 * A new job's start and its finish must look the same whichever way the
 * library takes them. rustasync starts a job from the idle list with small
 * or no arguments, and finishes it back there, by a short path of loads
 * and stores; a heap argument block (over 96 bytes), a non-NULL pointer
 * with size 0, an empty pool, a pool at its limit, no pool at all (after
 * ASYNC_cleanup_thread) or a job of an earlier pool (ASYNC_init_thread
 * while it was paused) take the general one. Here every kind of argument block (NULL;
 * 1, 8, 40, 96, 97 and 200 bytes; a pointer with size 0) is run through
 * the same scenarios, one after another on the same pooled jobs (so a job
 * whose last run had heap arguments runs next with inline ones and the
 * other way round): what the job sees (its arguments, ASYNC_get_current_job,
 * ASYNC_get_wait_ctx), what the caller gets (return codes, *job, *ret, the
 * current job afterwards, the wait fds the job left), which pooled job
 * comes back (last in, first out), ASYNC_NO_JOBS at the limit, starts
 * after ASYNC_cleanup_thread and a job paused across ASYNC_init_thread. Output is the
 * same with OpenSSL's libcrypto (1.1.1's refusal of a pointer with size 0
 * included, under make test-openssl111).
 */
#include <string.h>
#include <openssl/async.h>
#include <openssl/crypto.h>
#include "common.h"

#define MAX_BLOCK 200
#define MAX_HANDLES 16

struct mode {
    const char *name;
    int null_args;
    size_t size;
};

static const struct mode modes[] = {
    { "NULL", 1, 0 },  { "1 byte", 0, 1 },      { "8 bytes", 0, 8 },     { "40 bytes", 0, 40 },
    { "96 bytes", 0, 96 }, { "97 bytes", 0, 97 }, { "200 bytes", 0, MAX_BLOCK }, { "size 0", 0, 0 },
};

static unsigned char block[MAX_BLOCK];
static ASYNC_WAIT_CTX *expected_ctx;
static size_t expected_size;
static int pauses_wanted;
static ASYNC_JOB *handles[MAX_HANDLES];
static int handle_count;
/* Off once jobs are freed: a freed job's address may come back as a new one's. */
static int show_handles = 1;

/* A stable name for a handle: the order in which it was first seen. */
static int handle_no(ASYNC_JOB *job)
{
    int i;

    if (job == NULL)
        return -1;
    for (i = 0; i < handle_count; i++)
        if (handles[i] == job)
            return i;
    if (handle_count == MAX_HANDLES)
        return 99;
    handles[handle_count] = job;
    return handle_count++;
}

static unsigned sum_of(const unsigned char *p, size_t n)
{
    unsigned s = 0;
    size_t i;

    for (i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

static void fill(unsigned seed)
{
    size_t i;

    for (i = 0; i < sizeof(block); i++)
        block[i] = (unsigned char)(seed * 7 + i * 13 + 1);
}

/* What the job checks of itself; returns a digest of what it saw. */
static int probe(void *arg)
{
    /* The expectations are the starter's at the start; later starts change them. */
    ASYNC_WAIT_CTX *ctx = expected_ctx;
    size_t size = expected_size;
    int pauses = pauses_wanted;
    ASYNC_JOB *self = ASYNC_get_current_job();
    unsigned before = arg == NULL ? 0 : sum_of(arg, size);
    int i, fine = 1;

    fine &= self != NULL;
    fine &= self != NULL && ASYNC_get_wait_ctx(self) == ctx;
    fine &= arg == NULL || arg != (void *)block;
    if (ctx != NULL)
        fine &= ASYNC_WAIT_CTX_set_wait_fd(ctx, &fine, 40 + pauses, NULL, NULL);
    /* The caller's block changes while the job is paused: the copy must not. */
    for (i = 0; i < pauses; i++) {
        fine &= ASYNC_pause_job() == 1;
        fine &= ASYNC_get_current_job() == self;
        fine &= self != NULL && ASYNC_get_wait_ctx(self) == ctx;
    }
    fine &= arg == NULL || sum_of(arg, size) == before;
    if (ctx != NULL)
        fine &= ASYNC_WAIT_CTX_clear_fd(ctx, &fine);
    return fine ? (int)(before % 100000) + (arg == NULL ? 7 : 0) : -1;
}

static const char *rc_name(int rc)
{
    return rc == ASYNC_PAUSE ? "PAUSE" : rc == ASYNC_FINISH ? "FINISH" : rc == ASYNC_NO_JOBS ? "NO_JOBS" : "ERR";
}

static size_t fd_count(ASYNC_WAIT_CTX *ctx)
{
    size_t n = 0;

    if (ctx != NULL)
        ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, &n);
    return n;
}

/* Starts a job in mode m that pauses `pauses` times; returns the rc. */
static int start(const struct mode *m, ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int pauses, int *ret)
{
    int rc;

    fill((unsigned)m->size);
    expected_ctx = ctx;
    expected_size = m->size;
    pauses_wanted = pauses;
    *ret = -99;
    rc = ASYNC_start_job(job, ctx, ret, probe, m->null_args ? NULL : block, m->size);
    /* The caller may reuse its block as soon as the start returns. */
    memset(block, 0xa5, sizeof(block));
    return rc;
}

static void report(const char *what, int rc, ASYNC_JOB *job, int ret, ASYNC_WAIT_CTX *ctx)
{
    printf("  %s: %s, *job %s #%d, ret %d, current %s, fds %zu\n", what, rc_name(rc), job == NULL ? "NULL" : "job",
           show_handles ? handle_no(job) : 0, rc == ASYNC_FINISH ? ret : -99, ASYNC_get_current_job() == NULL ? "NULL" : "set",
           fd_count(ctx));
}

static void run_through(const struct mode *m, ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int *ret)
{
    int rc;

    while ((rc = ASYNC_start_job(job, ctx, ret, probe, NULL, 0)) == ASYNC_PAUSE)
        ;
    (void)m;
    report("resumed to the end", rc, *job, *ret, ctx);
}

static void scenarios(const struct mode *m, ASYNC_WAIT_CTX *ctx, ASYNC_WAIT_CTX *other)
{
    ASYNC_JOB *a = NULL, *b = NULL, *c = NULL;
    int ra, rb, rc_, rc;

    printf("%s:\n", m->name);
    /* Straight to the end, with a context, without, and paused once. */
    rc = start(m, &a, ctx, 0, &ra);
    report("finish at once", rc, a, ra, ctx);
    rc = start(m, &a, NULL, 0, &ra);
    report("finish at once, no wait ctx", rc, a, ra, NULL);
    rc = start(m, &a, ctx, 1, &ra);
    report("pause", rc, a, ra, ctx);
    run_through(m, &a, ctx, &ra);

    /* Two at once on one shared context, finished in the order started. */
    a = b = NULL;
    rc = start(m, &a, ctx, 2, &ra);
    report("first of two", rc, a, ra, ctx);
    rc = start(m, &b, ctx, 1, &rb);
    report("second of two", rc, b, rb, ctx);
    run_through(m, &a, ctx, &ra);
    run_through(m, &b, ctx, &rb);

    /* The pool's limit is 3: the fourth start gets ASYNC_NO_JOBS, and a
     * start after one finished gets that job back. */
    a = b = c = NULL;
    rc = start(m, &a, ctx, 1, &ra);
    rc = start(m, &b, other, 1, &rb);
    rc = start(m, &c, ctx, 1, &rc_);
    report("third paused", rc, c, rc_, ctx);
    {
        ASYNC_JOB *d = NULL;
        int rd;

        rc = start(m, &d, ctx, 0, &rd);
        report("fourth", rc, d, rd, ctx);
        run_through(m, &b, other, &rb);
        rc = start(m, &d, ctx, 1, &rd);
        report("fourth after one finished", rc, d, rd, ctx);
        run_through(m, &d, ctx, &rd);
    }
    run_through(m, &c, ctx, &rc_);
    run_through(m, &a, ctx, &ra);
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new(), *other = ASYNC_WAIT_CTX_new();
    size_t i;

    /* libcrypto in the process (a program using nothing of it is linked
     * without it): rustasync's short path then reads the default library
     * context where libcrypto 3 keeps it, as in every libssl user. */
    CHECK(OpenSSL_version_num() >= 0x10101000L);
    CHECK(ASYNC_init_thread(3, 0) == 1);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        scenarios(&modes[i], ctx, other);
    /* Modes alternating on the same pooled job. */
    printf("alternating:\n");
    for (i = 0; i < 2 * sizeof(modes) / sizeof(modes[0]); i++) {
        const struct mode *m = &modes[(i * 5) % (sizeof(modes) / sizeof(modes[0]))];
        /* (OpenSSL 3.0 crashes resuming a job started without a wait ctx.) */
        ASYNC_WAIT_CTX *w = (i & 1) || i % 3 == 0 ? ctx : NULL;
        ASYNC_JOB *a = NULL;
        int ra, rc = start(m, &a, w, (int)(i % 3 == 0), &ra);

        printf(" %s", m->name);
        if (rc == ASYNC_PAUSE)
            run_through(m, &a, w, &ra);
        else
            report("", rc, a, ra, w);
    }

    /* ASYNC_cleanup_thread, a start on the default pool that follows, then
     * ASYNC_init_thread with a job paused: it finishes into the new pool,
     * which goes on. */
    printf("across cleanup and init:\n");
    show_handles = 0;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const struct mode *m = &modes[i];
        ASYNC_JOB *a = NULL, *b = NULL;
        int ra, rb, rc;

        printf(" %s\n", m->name);
        rc = start(m, &a, ctx, 1, &ra);
        report("paused", rc, a, ra, ctx);
        run_through(m, &a, ctx, &ra);
        /* (OpenSSL 3.0 crashes resuming a job paused across a cleanup.) */
        ASYNC_cleanup_thread();
        a = NULL;
        rc = start(m, &a, ctx, 0, &ra);
        report("after cleanup", rc, a, ra, ctx);
        rc = start(m, &b, other, 1, &rb);
        report("paused", rc, b, rb, other);
        CHECK(ASYNC_init_thread(2, 1) == 1);
        run_through(m, &b, other, &rb);
        a = NULL;
        rc = start(m, &a, ctx, 0, &ra);
        report("in the new pool", rc, a, ra, ctx);
    }
    ASYNC_cleanup_thread();
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_WAIT_CTX_free(other);
    return TEST_DONE();
}
