/*
 * The default OSSL_LIB_CTX across job switches when libcrypto's key is not
 * one glibc keeps in the thread descriptor: the program makes 40 keys
 * before libcrypto's first use and keeps them (so every key libcrypto
 * makes is numbered 40 or more), and threads churn keys of their own
 * (made, set, deleted, made again) between jobs. rustasync then reads the
 * default with pthread_getspecific, the path libctx_direct_read.c never
 * takes; the answers must be OpenSSL's:
 *  1. the main thread: a job that makes its own context the default and
 *     pauses, the caller changing its default between resumes;
 *  2. three threads, each running 200 pause/resume rounds of such a job,
 *     re-making 8 keys of their own between resumes.
 * Against rustasync the test also requires, silently on success, the
 * RUSTASYNC_LOG=debug line saying the read is "with pthread_getspecific"
 * with a key number of 40 or more (OpenSSL 3.0 and 3.1, which keep the
 * default in a key of their own), and never "from the thread descriptor".
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/async.h>
#include "common.h"

#define EARLY_KEYS 40
#define THREADS 3
#define ROUNDS 200
#define CHURN 8

static OSSL_LIB_CTX *base, *jobs_own, *callers_own;

static const char *current(void)
{
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_set0_default(NULL);

    if (c == base)
        return "the original default";
    if (c == jobs_own)
        return "the job's own ctx";
    if (c == callers_own)
        return "the caller's own ctx";
    return "some other ctx";
}

static int passive_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s; sets its own, pausing\n", current());
    OSSL_LIB_CTX_set0_default(jobs_own);
    ASYNC_pause_job();
    printf("  job: resumed with %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: resumed with %s; finishing\n", current());
    return 1;
}

static void step(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx)
{
    int ret = 0, rc = ASYNC_start_job(job, ctx, &ret, passive_job, NULL, 0);

    printf("caller: %s, default is %s\n",
           rc == ASYNC_PAUSE ? "ASYNC_PAUSE" : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", current());
}

struct worker {
    OSSL_LIB_CTX *own, *mine;
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

/* Makes CHURN keys, gives each a value, checks and deletes them. */
static void churn_keys(struct worker *w, int round)
{
    pthread_key_t keys[CHURN];
    int i;

    for (i = 0; i < CHURN; i++) {
        if (pthread_key_create(&keys[i], NULL) != 0) {
            w->wrong_keys++;
            return;
        }
        pthread_setspecific(keys[i], (void *)(uintptr_t)(round * CHURN + i + 1));
    }
    for (i = 0; i < CHURN; i++) {
        if (pthread_getspecific(keys[i]) != (void *)(uintptr_t)(round * CHURN + i + 1))
            w->wrong_keys++;
        pthread_key_delete(keys[i]);
    }
}

static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, rc, resumes = 0;

    churn_keys(w, 0);
    do {
        rc = ASYNC_start_job(&job, ctx, &ret, pausing_job, &w, sizeof(w));
        if (OSSL_LIB_CTX_set0_default(NULL) != base)
            w->wrong_in_caller++;
        churn_keys(w, ++resumes);
        if (resumes % 2 == 0) {
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

/* Against rustasync: the debug lines the run wrote, which `log` captured. */
static void check_read(FILE *log, int saved_stderr)
{
    char line[512];
    const char *how;
    int by_call = 0, direct = 0;
    unsigned long version = OpenSSL_version_num();

    fflush(stderr);
    dup2(saved_stderr, 2);
    rewind(log);
    while (fgets(line, sizeof(line), log) != NULL) {
        if ((how = strstr(line, "default library context is read with pthread_getspecific (key ")) != NULL
            && atoi(how + strlen("default library context is read with pthread_getspecific (key "))
                   >= EARLY_KEYS)
            by_call = 1;
        if (strstr(line, "from the thread descriptor") != NULL)
            direct = 1;
        if (strncmp(line, "rustasync: debug: ", 18) != 0 && strncmp(line, "rustasync: info: ", 17) != 0)
            fputs(line, stderr); /* anything else belongs on the real stderr */
    }
    if (direct) {
        printf("FAILED: the default library context is read from the thread descriptor, "
               "though libcrypto's key is not kept there\n");
        test_failures++;
    }
    if (version >= 0x30000000UL && version < 0x30200000UL && !by_call) {
        printf("FAILED: OpenSSL %lx, yet the default library context is not read with "
               "pthread_getspecific on a key numbered %d or more\n", version, EARLY_KEYS);
        test_failures++;
    }
}

int main(void)
{
    pthread_t workers[THREADS];
    struct worker work[THREADS];
    pthread_key_t early[EARLY_KEYS];
    ASYNC_WAIT_CTX *ctx;
    ASYNC_JOB *job = NULL;
    int rustasync = strcmp(TEST_EXPECT_IMPL, "librustasync.so") == 0;
    FILE *log = NULL;
    int saved_stderr = -1, i, made = 0;

    if (rustasync) {
        /* Before the library's first use, which reads the setting. */
        setenv("RUSTASYNC_LOG", "debug", 1);
        log = tmpfile();
        saved_stderr = dup(2);
        if (log == NULL || saved_stderr < 0 || dup2(fileno(log), 2) < 0) {
            printf("FAILED: cannot capture stderr\n");
            return EXIT_FAILURE;
        }
    }

    /* Before any call into libcrypto or the async layer. */
    for (i = 0; i < EARLY_KEYS; i++) {
        if (pthread_key_create(&early[i], NULL) != 0)
            break;
        pthread_setspecific(early[i], &early[i]);
        made++;
    }
    CHECK(made == EARLY_KEYS);

    base = OSSL_LIB_CTX_set0_default(NULL);
    jobs_own = OSSL_LIB_CTX_new();
    callers_own = OSSL_LIB_CTX_new();
    CHECK(ASYNC_init_thread(4, 1) == 1);
    printf("main: default is %s\n", current());

    /* 1. The main thread. */
    ctx = ASYNC_WAIT_CTX_new();
    step(&job, ctx);
    OSSL_LIB_CTX_set0_default(callers_own);
    printf("main: set its own ctx, now %s\n", current());
    step(&job, ctx);
    OSSL_LIB_CTX_set0_default(base);
    printf("main: set the original default back, now %s\n", current());
    step(&job, ctx);
    ASYNC_WAIT_CTX_free(ctx);

    /* 2. Threads churning keys between resumes. */
    for (i = 0; i < THREADS; i++) {
        work[i].own = OSSL_LIB_CTX_new();
        work[i].mine = OSSL_LIB_CTX_new();
        work[i].wrong_in_job = work[i].wrong_in_caller = work[i].wrong_keys = 0;
        pthread_create(&workers[i], NULL, worker_thread, &work[i]);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(workers[i], NULL);
        printf("worker %d: %d switches; wrong default in the job %d times, in the caller %d times; "
               "wrong key values %d\n", i, 2 * ROUNDS, work[i].wrong_in_job, work[i].wrong_in_caller,
               work[i].wrong_keys);
        CHECK(work[i].wrong_in_job == 0 && work[i].wrong_in_caller == 0 && work[i].wrong_keys == 0);
        OSSL_LIB_CTX_free(work[i].own);
        OSSL_LIB_CTX_free(work[i].mine);
    }
    printf("main: default is %s\n", current());
    for (i = 0; i < made && pthread_getspecific(early[i]) == &early[i]; i++)
        ;
    CHECK(i == EARLY_KEYS);

    if (rustasync)
        check_read(log, saved_stderr);
    OSSL_LIB_CTX_free(jobs_own);
    OSSL_LIB_CTX_free(callers_own);
    return TEST_DONE();
}
