/*
 * async_bench: micro-benchmarks of the OpenSSL 3 async job API
 * (ASYNC_start_job / ASYNC_pause_job / ASYNC_WAIT_CTX_*), written against the
 * public <openssl/async.h> only, so that the same binary measures the system
 * libcrypto (run as is) and librustasync (run with LD_PRELOAD).
 *
 * Usage: async_bench [-q] [-n OPS] NAME  (-q: tiny counts, a smoke test;
 *                                         -n: one batch of OPS operations)
 *        async_bench list           (the benchmark names)
 *        async_bench which          (which object provides ASYNC_start_job)
 *        async_bench metrics NAME   (the metric names NAME prints)
 *
 * One benchmark per run. Each prints lines of the form
 *     RESULT <metric> <value> <unit>
 * (and comments starting with '#'); it exits non-zero on any failure.
 * Timed figures are the median over several batches inside the run.
 *
 * No floating-point arithmetic runs on the calling side while anything is
 * timed: a context switch that saves and restores MXCSR can be much slower
 * when the two sides' FP status flags differ, so the state is kept fixed
 * (flags clear on both sides) and the case where they differ is measured on
 * purpose by pause_resume_fpflags.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o async_bench async_bench.c \
 *           -lcrypto -lpthread -lm
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fenv.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/crypto.h>

/* ------------------------------------------------------------------------ */
/* Sizes: full run, then quick (-q) run.                                    */

struct sizes {
    long batches;        /* timed batches for the per-op loops */
    long per_batch;      /* operations per batch */
    long warmup;         /* untimed operations first */
    long cold_samples;   /* threads for cold_start */
    long shuffle_jobs;   /* paused jobs for shuffled_resume */
    long shuffle_rounds; /* timed rounds for shuffled_resume */
    long paused_jobs;    /* paused jobs for paused_memory */
    long mt_per_batch;   /* operations per batch, per thread, two_threads */
    long burst_jobs;     /* jobs paused at once for burst_memory */
    long burst_calls;    /* start calls after the burst, burst_memory */
};

static const struct sizes FULL = {
    .batches = 15, .per_batch = 100000, .warmup = 20000,
    .cold_samples = 200, .shuffle_jobs = 10000, .shuffle_rounds = 11,
    .paused_jobs = 100000, .mt_per_batch = 50000,
    .burst_jobs = 10000, .burst_calls = 100000,
};

static const struct sizes QUICK = {
    .batches = 3, .per_batch = 1000, .warmup = 100,
    .cold_samples = 8, .shuffle_jobs = 1000, .shuffle_rounds = 3,
    .paused_jobs = 100000, .mt_per_batch = 1000,
    .burst_jobs = 10000, .burst_calls = 100000,
};

static const struct sizes *sz = &FULL;
static struct sizes custom; /* for -n */

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("async_bench: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/*
 * The calling thread's CPU time: on a machine shared with other work, time
 * the thread spends waiting for a core is not counted (what other load does
 * to the caches and TLBs still is). Every timed loop runs on one thread.
 */
static uint64_t now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        fail("clock_gettime: %s", strerror(errno));
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Sorts v in place; returns the median (upper median for even n). */
static uint64_t median_u64(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    return v[n / 2];
}

static void result(const char *metric, double value, const char *unit)
{
    printf("RESULT %s %.2f %s\n", metric, value, unit);
    fflush(stdout);
}

/* Batch nanoseconds -> "# min/max" comment and the median per operation. */
static double per_op_median(const char *metric, uint64_t *batch_ns, long batches, long ops)
{
    uint64_t med = median_u64(batch_ns, (size_t)batches);

    printf("# %s: %ld batches x %ld ops, per op min %.2f max %.2f ns\n", metric,
           batches, ops, (double)batch_ns[0] / (double)ops,
           (double)batch_ns[batches - 1] / (double)ops);
    return (double)med / (double)ops;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        fail("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static const char *start_job_status(int r)
{
    switch (r) {
    case ASYNC_ERR: return "ASYNC_ERR";
    case ASYNC_NO_JOBS: return "ASYNC_NO_JOBS";
    case ASYNC_PAUSE: return "ASYNC_PAUSE";
    case ASYNC_FINISH: return "ASYNC_FINISH";
    default: return "unknown status";
    }
}

static void init_thread(size_t max_size, size_t init_size)
{
    if (ASYNC_init_thread(max_size, init_size) != 1)
        fail("ASYNC_init_thread(%zu, %zu) failed", max_size, init_size);
}

static ASYNC_WAIT_CTX *new_wait_ctx(void)
{
    ASYNC_WAIT_CTX *w = ASYNC_WAIT_CTX_new();

    if (w == NULL)
        fail("ASYNC_WAIT_CTX_new failed");
    return w;
}

/* ------------------------------------------------------------------------ */
/* Job functions                                                            */

/* A job that does nothing and reports success. */
static int job_trivial(void *arg)
{
    (void)arg;
    return 7;
}

/* A job that pauses *(long *)arg times, then finishes. */
static int job_pauser(void *arg)
{
    long n = *(const long *)arg;

    for (long i = 0; i < n; i++)
        if (ASYNC_pause_job() != 1)
            return -1;
    return 7;
}

/*
 * Same, but first sets the divide-by-zero status flag on the job's side only
 * (exceptions are masked, so nothing traps): from then on a switcher that
 * saves and restores MXCSR loads a different value on every switch.
 */
static volatile double fp_zero = 0.0, fp_one = 1.0, fp_sink;

static int job_pauser_fpflags(void *arg)
{
    fp_sink = fp_one / fp_zero;
    return job_pauser(arg);
}

/*
 * Same, but the job makes its own library context the thread's default
 * first: every switch then has to swap the default (OpenSSL always writes
 * it; rustasync reads it and writes only when it differs).
 */
static OSSL_LIB_CTX *bench_libctx;

static int job_pauser_libctx(void *arg)
{
    OSSL_LIB_CTX_set0_default(bench_libctx);
    return job_pauser(arg);
}

/* A job that pauses until stop_jobs is set (one per paused slot). */
static volatile int stop_jobs;

static int job_until_stopped(void *arg)
{
    (void)arg;
    while (!stop_jobs)
        if (ASYNC_pause_job() != 1)
            return -1;
    return 7;
}

/* ------------------------------------------------------------------------ */
/* Loops shared by the single- and two-thread benchmarks                    */

/* n start->finish cycles of a trivial job; returns elapsed ns. */
static uint64_t loop_start_finish(ASYNC_WAIT_CTX *w, long n)
{
    uint64_t t0 = now_ns();

    for (long i = 0; i < n; i++) {
        ASYNC_JOB *job = NULL;
        int ret = 0, r = ASYNC_start_job(&job, w, &ret, job_trivial, NULL, 0);

        if (r != ASYNC_FINISH || ret != 7)
            fail("start_finish: ASYNC_start_job gave %s, job result %d",
                 start_job_status(r), ret);
    }
    return now_ns() - t0;
}

/* One job that pauses n times, resumed until it finishes; returns ns. */
static uint64_t loop_pause_resume(ASYNC_WAIT_CTX *w, long n, int (*fn)(void *))
{
    ASYNC_JOB *job = NULL;
    int ret = 0, r;
    long pauses = 0;
    uint64_t t0 = now_ns(), t1;

    while ((r = ASYNC_start_job(&job, w, &ret, fn, &n, sizeof(n))) == ASYNC_PAUSE)
        pauses++;
    t1 = now_ns();
    if (r != ASYNC_FINISH || ret != 7 || pauses != n)
        fail("pause_resume: ASYNC_start_job gave %s after %ld of %ld pauses, "
             "job result %d", start_job_status(r), pauses, n, ret);
    return t1 - t0;
}

/* ------------------------------------------------------------------------ */
/* 1. start -> finish of a trivial job, warm pool                           */

static int bench_start_finish(void)
{
    ASYNC_WAIT_CTX *w;
    uint64_t *ns = xcalloc((size_t)sz->batches, sizeof(*ns));

    init_thread(1, 1);
    w = new_wait_ctx();
    loop_start_finish(w, sz->warmup);
    for (long b = 0; b < sz->batches; b++)
        ns[b] = loop_start_finish(w, sz->per_batch);
    result("start_finish", per_op_median("start_finish", ns, sz->batches, sz->per_batch),
           "ns/job");
    ASYNC_WAIT_CTX_free(w);
    ASYNC_cleanup_thread();
    free(ns);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 2. pause -> resume round trip inside one job                             */

static int run_pause_resume(const char *metric, int (*fn)(void *))
{
    ASYNC_WAIT_CTX *w;
    uint64_t *ns = xcalloc((size_t)sz->batches, sizeof(*ns));

    init_thread(1, 1);
    w = new_wait_ctx();
    loop_pause_resume(w, sz->warmup, fn);
    /* Each batch is one job: one start, per_batch pause/resume round trips,
     * one finish; the start and finish add under 0.2% at full size. */
    for (long b = 0; b < sz->batches; b++)
        ns[b] = loop_pause_resume(w, sz->per_batch, fn);
    result(metric, per_op_median(metric, ns, sz->batches, sz->per_batch), "ns/roundtrip");
    ASYNC_WAIT_CTX_free(w);
    ASYNC_cleanup_thread();
    free(ns);
    return 0;
}

static int bench_pause_resume(void)
{
    return run_pause_resume("pause_resume", job_pauser);
}

static int bench_pause_resume_fpflags(void)
{
    return run_pause_resume("pause_resume_fpflags", job_pauser_fpflags);
}

static int bench_pause_resume_libctx(void)
{
    int rc;

    bench_libctx = OSSL_LIB_CTX_new();
    if (bench_libctx == NULL)
        fail("OSSL_LIB_CTX_new failed");
    rc = run_pause_resume("pause_resume_libctx", job_pauser_libctx);
    OSSL_LIB_CTX_free(bench_libctx);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* 3. cold start: first job on a fresh thread, stack creation included      */

static void *cold_thread(void *arg)
{
    uint64_t *out = arg, t0, t1;
    ASYNC_WAIT_CTX *w = new_wait_ctx();
    ASYNC_JOB *job = NULL;
    int ret = 0, r;

    t0 = now_ns();
    r = ASYNC_start_job(&job, w, &ret, job_trivial, NULL, 0);
    t1 = now_ns();
    if (r != ASYNC_FINISH || ret != 7)
        fail("cold_start: ASYNC_start_job gave %s, job result %d", start_job_status(r), ret);
    *out = t1 - t0;
    ASYNC_WAIT_CTX_free(w);
    ASYNC_cleanup_thread();
    return NULL;
}

static uint64_t one_cold_sample(void)
{
    pthread_t th;
    uint64_t ns = 0;
    int e = pthread_create(&th, NULL, cold_thread, &ns);

    if (e != 0)
        fail("pthread_create: %s", strerror(e));
    e = pthread_join(th, NULL);
    if (e != 0)
        fail("pthread_join: %s", strerror(e));
    return ns;
}

static int bench_cold_start(void)
{
    uint64_t *ns = xcalloc((size_t)sz->cold_samples, sizeof(*ns));

    /* Untimed: process-wide initialisation (OPENSSL_init_crypto etc.). */
    for (int i = 0; i < 3; i++)
        one_cold_sample();
    for (long i = 0; i < sz->cold_samples; i++)
        ns[i] = one_cold_sample();
    result("cold_start", per_op_median("cold_start", ns, sz->cold_samples, 1), "ns/job");
    free(ns);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Many paused jobs                                                         */

struct paused_set {
    long n;
    ASYNC_JOB **jobs;
    ASYNC_WAIT_CTX **waits;
};

static void paused_set_alloc(struct paused_set *s, long n)
{
    s->n = n;
    s->jobs = xcalloc((size_t)n, sizeof(*s->jobs));
    s->waits = xcalloc((size_t)n, sizeof(*s->waits));
    for (long i = 0; i < n; i++)
        s->waits[i] = new_wait_ctx();
}

/* Resume job i once; it must pause again. */
static void resume_expect_pause(struct paused_set *s, long i, const char *what)
{
    int ret = 0, r = ASYNC_start_job(&s->jobs[i], s->waits[i], &ret,
                                     job_until_stopped, NULL, 0);

    if (r != ASYNC_PAUSE)
        fail("%s: job %ld of %ld: ASYNC_start_job gave %s", what, i, s->n,
             start_job_status(r));
}

/* Let every job finish, then free everything. */
static void paused_set_finish(struct paused_set *s)
{
    stop_jobs = 1;
    for (long i = 0; i < s->n; i++) {
        int ret = 0, r = ASYNC_start_job(&s->jobs[i], s->waits[i], &ret,
                                         job_until_stopped, NULL, 0);

        if (r != ASYNC_FINISH || ret != 7)
            fail("finishing job %ld: ASYNC_start_job gave %s, job result %d", i,
                 start_job_status(r), ret);
        ASYNC_WAIT_CTX_free(s->waits[i]);
    }
    stop_jobs = 0;
    free(s->jobs);
    free(s->waits);
}

/* xorshift64*: a fixed-seed generator so every run shuffles the same way. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void shuffle(long *v, long n)
{
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_next() % (uint64_t)(i + 1)), t = v[i];

        v[i] = v[j];
        v[j] = t;
    }
}

/* 4. shuffled resumes of many paused jobs */
static int bench_shuffled_resume(void)
{
    struct paused_set s;
    long n = sz->shuffle_jobs, rounds = sz->shuffle_rounds;
    long *order = xcalloc((size_t)n, sizeof(*order));
    uint64_t *ns = xcalloc((size_t)rounds, sizeof(*ns));

    init_thread(0, 0);
    paused_set_alloc(&s, n);
    for (long i = 0; i < n; i++) {
        order[i] = i;
        resume_expect_pause(&s, i, "shuffled_resume (start)");
    }
    /* One untimed round, then the timed ones; a new order every round. */
    for (long r = -1; r < rounds; r++) {
        uint64_t t0;

        shuffle(order, n);
        t0 = now_ns();
        for (long k = 0; k < n; k++)
            resume_expect_pause(&s, order[k], "shuffled_resume");
        if (r >= 0)
            ns[r] = now_ns() - t0;
    }
    paused_set_finish(&s);
    ASYNC_cleanup_thread();
    result("shuffled_resume", per_op_median("shuffled_resume", ns, rounds, n),
           "ns/resume");
    free(order);
    free(ns);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 5. memory of many paused jobs                                            */

/* Pages of address space and resident pages, from /proc/self/statm. */
static void statm(long *size_pages, long *resident_pages)
{
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        fail("/proc/self/statm: %s", strerror(errno));
    if (fscanf(f, "%ld %ld", size_pages, resident_pages) != 2)
        fail("/proc/self/statm: unexpected contents");
    fclose(f);
}

/* Lines of /proc/self/maps, read through a fixed buffer (no big malloc). */
static long count_maps(void)
{
    static char buf[65536];
    long lines = 0;
    ssize_t got;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        fail("/proc/self/maps: %s", strerror(errno));
    while ((got = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
    if (got < 0)
        fail("/proc/self/maps: %s", strerror(errno));
    close(fd);
    return lines;
}

static int bench_paused_memory(void)
{
    struct paused_set s;
    long n = sz->paused_jobs, size0, rss0, size1, rss1, maps0, maps1;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t t0, t1;

    init_thread(0, 0);
    /* Everything the caller owns exists before the baseline: job handles
     * and one wait context per job. Only the jobs themselves are counted. */
    paused_set_alloc(&s, n);
    maps0 = count_maps();
    statm(&size0, &rss0);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        resume_expect_pause(&s, i, "paused_memory");
    t1 = now_ns();
    statm(&size1, &rss1);
    maps1 = count_maps();
    paused_set_finish(&s);
    ASYNC_cleanup_thread();

    printf("# paused_memory: %ld jobs paused; resident %+ld KiB, address space %+ld KiB, "
           "maps %ld -> %ld\n", n, (rss1 - rss0) * page / 1024,
           (size1 - size0) * page / 1024, maps0, maps1);
    result("paused_rss_per_job", (double)(rss1 - rss0) * (double)page / 1024.0 / (double)n,
           "KiB/job");
    result("paused_vsz_per_job", (double)(size1 - size0) * (double)page / 1024.0 / (double)n,
           "KiB/job");
    result("paused_maps_added", (double)(maps1 - maps0), "maps");
    result("paused_create", (double)(t1 - t0) / (double)n, "ns/job");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 5b. memory after a burst                                                 */

/* A job that uses a handshake's worth of stack, pauses once, and finishes. */
static int job_deep_pause(void *arg)
{
    volatile char frame[8192];

    (void)arg;
    memset((char *)frame, 1, sizeof(frame));
    if (ASYNC_pause_job() != 1)
        return -1;
    return frame[100] + 6;
}

/* Starts k jobs that pause, then resumes each to its end: 2k start calls.
 * With all k paused, the resident pages go to *paused_rss if not NULL. */
static void burst_round(ASYNC_JOB **jobs, ASYNC_WAIT_CTX **waits, long k, const char *what,
                        long *paused_rss)
{
    int ret = 0, r;
    long size;

    for (long i = 0; i < k; i++) {
        jobs[i] = NULL;
        if ((r = ASYNC_start_job(&jobs[i], waits[i], &ret, job_deep_pause, NULL, 0)) != ASYNC_PAUSE)
            fail("%s: job %ld of %ld: ASYNC_start_job gave %s", what, i, k, start_job_status(r));
    }
    if (paused_rss != NULL)
        statm(&size, paused_rss);
    for (long i = 0; i < k; i++)
        if ((r = ASYNC_start_job(&jobs[i], waits[i], &ret, job_deep_pause, NULL, 0)) != ASYNC_FINISH
            || ret != 7)
            fail("%s: finishing job %ld: %s, result %d", what, i, start_job_status(r), ret);
}

/*
 * A server's pool after a traffic burst: 16 jobs at a time, then
 * burst_jobs paused at once, all finished, then 16 at a time again for
 * burst_calls start calls. Resident memory against the figure before the
 * burst: with all burst_jobs paused, at the end, and how many calls after it
 * took to come back within 1 MiB (-1: not within burst_calls). libssl's
 * pool has no limit (ASYNC_init_thread(0, 0)), as here.
 */
static int bench_burst_memory(void)
{
    long n = sz->burst_jobs, page = sysconf(_SC_PAGESIZE), size, rss0, rss, peak;
    long calls = 0, back = -1;
    ASYNC_JOB **jobs = xcalloc((size_t)n, sizeof(*jobs));
    ASYNC_WAIT_CTX **waits = xcalloc((size_t)n, sizeof(*waits));

    init_thread(0, 0);
    for (long i = 0; i < n; i++)
        waits[i] = new_wait_ctx();
    for (long i = 0; i < 1000; i++)
        burst_round(jobs, waits, 16, "burst_memory warm-up", NULL);
    statm(&size, &rss0);
    burst_round(jobs, waits, n, "burst_memory burst", &peak);
    while (calls < sz->burst_calls) {
        burst_round(jobs, waits, 16, "burst_memory after", NULL);
        calls += 32;
        if (back < 0 && calls % 1024 == 0) {
            statm(&size, &rss);
            if ((rss - rss0) * page <= 1024 * 1024)
                back = calls;
        }
    }
    statm(&size, &rss);
    for (long i = 0; i < n; i++)
        ASYNC_WAIT_CTX_free(waits[i]);
    free(jobs);
    free(waits);
    ASYNC_cleanup_thread();

    printf("# burst_memory: %ld jobs paused at once; resident before %ld KiB, peak %+ld KiB, "
           "after %ld calls %+ld KiB\n", n, rss0 * page / 1024, (peak - rss0) * page / 1024,
           calls, (rss - rss0) * page / 1024);
    result("burst_rss_peak", (double)(peak - rss0) * (double)page / 1024.0, "KiB");
    result("burst_rss_after", (double)(rss - rss0) * (double)page / 1024.0, "KiB");
    result("burst_calls_to_1mib", (double)back, "calls");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* 6. two threads, each doing 1 then 2, at the same time                    */

static pthread_barrier_t mt_barrier;

struct mt_out {
    uint64_t start_finish_med; /* median batch ns */
    uint64_t pause_resume_med;
};

static void mt_wait(void)
{
    int e = pthread_barrier_wait(&mt_barrier);

    if (e != 0 && e != PTHREAD_BARRIER_SERIAL_THREAD)
        fail("pthread_barrier_wait: %s", strerror(e));
}

static void *mt_thread(void *arg)
{
    struct mt_out *out = arg;
    long b, nb = sz->batches, per = sz->mt_per_batch;
    uint64_t *ns = xcalloc((size_t)nb, sizeof(*ns));
    ASYNC_WAIT_CTX *w;

    init_thread(1, 1);
    w = new_wait_ctx();
    loop_start_finish(w, sz->warmup);
    loop_pause_resume(w, sz->warmup, job_pauser);

    mt_wait();
    for (b = 0; b < nb; b++)
        ns[b] = loop_start_finish(w, per);
    out->start_finish_med = median_u64(ns, (size_t)nb);

    mt_wait();
    for (b = 0; b < nb; b++)
        ns[b] = loop_pause_resume(w, per, job_pauser);
    out->pause_resume_med = median_u64(ns, (size_t)nb);

    ASYNC_WAIT_CTX_free(w);
    ASYNC_cleanup_thread();
    free(ns);
    return NULL;
}

static int bench_two_threads(void)
{
    pthread_t th[2];
    struct mt_out out[2];
    double per = (double)sz->mt_per_batch;
    int e;

    memset(out, 0, sizeof(out));
    e = pthread_barrier_init(&mt_barrier, NULL, 2);
    if (e != 0)
        fail("pthread_barrier_init: %s", strerror(e));
    for (int i = 0; i < 2; i++) {
        e = pthread_create(&th[i], NULL, mt_thread, &out[i]);
        if (e != 0)
            fail("pthread_create: %s", strerror(e));
    }
    for (int i = 0; i < 2; i++) {
        e = pthread_join(th[i], NULL);
        if (e != 0)
            fail("pthread_join: %s", strerror(e));
    }
    pthread_barrier_destroy(&mt_barrier);
    printf("# two_threads: per-thread start_finish %.2f / %.2f ns, "
           "pause_resume %.2f / %.2f ns\n",
           (double)out[0].start_finish_med / per, (double)out[1].start_finish_med / per,
           (double)out[0].pause_resume_med / per, (double)out[1].pause_resume_med / per);
    /* Mean of the two threads' medians: per-thread cost while both run. */
    result("two_threads_start_finish",
           ((double)out[0].start_finish_med + (double)out[1].start_finish_med) / 2.0 / per,
           "ns/job");
    result("two_threads_pause_resume",
           ((double)out[0].pause_resume_med + (double)out[1].pause_resume_med) / 2.0 / per,
           "ns/roundtrip");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                   */

static int show_provider(void)
{
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "ASYNC_start_job");

    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL)
        fail("cannot tell which object provides ASYNC_start_job");
    printf("PROVIDER %s\n", info.dli_fname);
    return 0;
}

struct bench {
    const char *name;
    int (*run)(void);
    const char *metrics; /* the RESULT names it prints, space-separated */
    const char *what;
};

static const struct bench BENCHES[] = {
    {"start_finish", bench_start_finish, "start_finish",
     "start->finish of a trivial job, warm pool"},
    {"pause_resume", bench_pause_resume, "pause_resume",
     "pause->resume round trip inside one job"},
    {"pause_resume_fpflags", bench_pause_resume_fpflags, "pause_resume_fpflags",
     "same, with the job's FP status flags differing from the caller's"},
    {"pause_resume_libctx", bench_pause_resume_libctx, "pause_resume_libctx",
     "same, the job with its own default library context (swapped at every switch)"},
    {"cold_start", bench_cold_start, "cold_start",
     "first job on a fresh thread, stack creation included"},
    {"shuffled_resume", bench_shuffled_resume, "shuffled_resume",
     "many paused jobs resumed in shuffled order (ns per resume)"},
    {"paused_memory", bench_paused_memory,
     "paused_rss_per_job paused_vsz_per_job paused_maps_added paused_create",
     "100,000 paused jobs: resident KiB/job, mappings added, creation time"},
    {"burst_memory", bench_burst_memory, "burst_rss_peak burst_rss_after burst_calls_to_1mib",
     "10,000 jobs paused at once, then 16 at a time: resident KiB kept, calls to give it back"},
    {"two_threads", bench_two_threads, "two_threads_start_finish two_threads_pause_resume",
     "two threads doing start_finish then pause_resume"},
};

#define NBENCHES (sizeof(BENCHES) / sizeof(BENCHES[0]))

static void usage(FILE *to)
{
    fputs("usage: async_bench [-q] [-n OPS] NAME | list | which | metrics NAME\n"
          "  -q      tiny counts (smoke test)\n"
          "  -n OPS  one batch of OPS operations (start_finish, pause_resume*, two_threads)\n"
          "benchmarks:\n", to);
    for (size_t i = 0; i < NBENCHES; i++)
        fprintf(to, "  %-22s %s\n", BENCHES[i].name, BENCHES[i].what);
}

int main(int argc, char **argv)
{
    int argi = 1;

    if (argi < argc && strcmp(argv[argi], "-q") == 0) {
        sz = &QUICK;
        argi++;
    }
    if (argi + 1 < argc && strcmp(argv[argi], "-n") == 0) {
        /* One batch of exactly N operations after a fixed warm-up: two runs
         * with different N under callgrind give instructions per operation. */
        char *end;
        long n = strtol(argv[argi + 1], &end, 10);

        if (*end != '\0' || n < 1 || n > 100000000) {
            usage(stderr);
            return 2;
        }
        custom = *sz;
        custom.batches = 1;
        custom.warmup = 100;
        custom.per_batch = n;
        custom.mt_per_batch = n;
        sz = &custom;
        argi += 2;
    }
    if (argi + 2 == argc && strcmp(argv[argi], "metrics") == 0) {
        for (size_t i = 0; i < NBENCHES; i++)
            if (strcmp(argv[argi + 1], BENCHES[i].name) == 0)
                return puts(BENCHES[i].metrics) < 0;
        usage(stderr);
        return 2;
    }
    if (argi + 1 != argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[argi], "list") == 0) {
        for (size_t i = 0; i < NBENCHES; i++)
            puts(BENCHES[i].name);
        return 0;
    }
    if (strcmp(argv[argi], "which") == 0)
        return show_provider();
    for (size_t i = 0; i < NBENCHES; i++) {
        if (strcmp(argv[argi], BENCHES[i].name) == 0) {
            /* Known FP state on the caller's side: no status flag set. */
            feclearexcept(FE_ALL_EXCEPT);
            return BENCHES[i].run();
        }
    }
    usage(stderr);
    return 2;
}
