/*
 * What libctx_direct_read.c and libctx_high_key.c share: three named
 * default contexts, a job whose caller prints the default after each
 * start, worker threads whose jobs keep a default of their own across
 * ROUNDS pauses while the thread changes its own between resumes, and the
 * capture of rustasync's RUSTASYNC_LOG=debug lines, which say how the
 * default is read. Include after common.h, with ROUNDS defined.
 */
#ifndef LIBCTX_SWITCHING_H
#define LIBCTX_SWITCHING_H

#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/async.h>

static OSSL_LIB_CTX *base, *jobs_own, *callers_own;

static const char *current(void)
{
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_set0_default(NULL);

    if (c == base)
        return "the original default";
    if (c == jobs_own && jobs_own != NULL)
        return "the job's own ctx";
    if (c == callers_own && callers_own != NULL)
        return "the caller's own ctx";
    return "some other ctx";
}

/* Starts or resumes `job` running `fn`, then prints what came back and the
 * caller's default. */
static void step(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int (*fn)(void *))
{
    int ret = 0, rc = ASYNC_start_job(job, ctx, &ret, fn, NULL, 0);

    printf("caller: %s, default is %s\n",
           rc == ASYNC_PAUSE ? "ASYNC_PAUSE" : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", current());
}

struct worker {
    OSSL_LIB_CTX *own, *mine;
    /* Run by the thread between resumes (may be NULL), with the resume's number. */
    void (*between)(struct worker *w, int resume);
    int wrong_in_job, wrong_in_caller, wrong_keys;
};

static int pausing_job(void *arg)
{
    struct worker *w = *(struct worker **)arg;
    int i;

    OSSL_LIB_CTX_set0_default(w->own);
    for (i = 0; i < ROUNDS; i++) {
        ASYNC_pause_job();
        if (OSSL_LIB_CTX_set0_default(NULL) != w->own)
            w->wrong_in_job++;
    }
    return 1;
}

static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    ASYNC_JOB *job = NULL;
    /* OpenSSL 3.0 resumes a paused job only with a wait context. */
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, rc, resumes = 0;

    if (w->between != NULL)
        w->between(w, 0);
    do {
        rc = ASYNC_start_job(&job, ctx, &ret, pausing_job, &w, sizeof(w));
        if (OSSL_LIB_CTX_set0_default(NULL) != base)
            w->wrong_in_caller++;
        if (w->between != NULL)
            w->between(w, resumes + 1);
        /* The caller's own changes between resumes, as libssl's callers make them. */
        if (++resumes % 2 == 0) {
            OSSL_LIB_CTX_set0_default(w->mine);
            if (OSSL_LIB_CTX_set0_default(NULL) != w->mine)
                w->wrong_in_caller++;
            OSSL_LIB_CTX_set0_default(base);
        }
    } while (rc == ASYNC_PAUSE);
    if (rc != ASYNC_FINISH || ret != 1)
        w->wrong_in_caller++;
    ASYNC_WAIT_CTX_free(ctx);
    return NULL;
}

#define MAX_WORKERS 8

/* Runs `count` workers to the end, each with `between`, and checks them. */
static void run_workers(int count, void (*between)(struct worker *w, int resume))
{
    pthread_t threads[MAX_WORKERS];
    struct worker work[MAX_WORKERS];
    int i;

    CHECK(count <= MAX_WORKERS);
    for (i = 0; i < count && i < MAX_WORKERS; i++) {
        memset(&work[i], 0, sizeof(work[i]));
        work[i].own = OSSL_LIB_CTX_new();
        work[i].mine = OSSL_LIB_CTX_new();
        work[i].between = between;
        pthread_create(&threads[i], NULL, worker_thread, &work[i]);
    }
    for (i = 0; i < count && i < MAX_WORKERS; i++) {
        pthread_join(threads[i], NULL);
        printf("worker %d: %d switches; wrong default in the job %d times, in the caller %d times; "
               "wrong key values %d\n", i, 2 * ROUNDS, work[i].wrong_in_job, work[i].wrong_in_caller,
               work[i].wrong_keys);
        CHECK(work[i].wrong_in_job == 0 && work[i].wrong_in_caller == 0 && work[i].wrong_keys == 0);
        OSSL_LIB_CTX_free(work[i].own);
        OSSL_LIB_CTX_free(work[i].mine);
    }
}

/* rustasync's stderr, held while the test runs (only against rustasync). */
struct debug_log {
    FILE *file;
    int saved_stderr;
};

/* Before the library's first use, which reads RUSTASYNC_LOG: sends stderr
 * to a temporary file. False when that cannot be done. */
static int debug_log_start(struct debug_log *log)
{
    setenv("RUSTASYNC_LOG", "debug", 1);
    log->file = tmpfile();
    log->saved_stderr = dup(2);
    return log->file != NULL && log->saved_stderr >= 0 && dup2(fileno(log->file), 2) >= 0;
}

/* Gives stderr back and calls `seen` with each line the run wrote there;
 * lines that are not rustasync's debug or info lines go on to stderr. */
static void debug_log_finish(struct debug_log *log, void (*seen)(const char *line))
{
    char line[512];

    fflush(stderr);
    dup2(log->saved_stderr, 2);
    rewind(log->file);
    while (fgets(line, sizeof(line), log->file) != NULL) {
        seen(line);
        if (strncmp(line, "rustasync: debug: ", 18) != 0 && strncmp(line, "rustasync: info: ", 17) != 0)
            fputs(line, stderr);
    }
}

#endif
