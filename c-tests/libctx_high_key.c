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
#include <stdint.h>
#include "common.h"

#define EARLY_KEYS 40
#define THREADS 3
#define ROUNDS 200
#define CHURN 8

#include "libctx_switching.h"

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

static int by_call, direct;

static void seen(const char *line)
{
    static const char by_key[] = "default library context is read with pthread_getspecific (key ";
    const char *how = strstr(line, by_key);

    if (how != NULL && atoi(how + strlen(by_key)) >= EARLY_KEYS)
        by_call = 1;
    if (strstr(line, "from the thread descriptor") != NULL)
        direct = 1;
}

/* Against rustasync: what the debug lines say of the read. */
static void check_read(struct debug_log *log)
{
    unsigned long version = OpenSSL_version_num();

    debug_log_finish(log, seen);
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
    pthread_key_t early[EARLY_KEYS];
    ASYNC_WAIT_CTX *ctx;
    ASYNC_JOB *job = NULL;
    int rustasync = strcmp(TEST_EXPECT_IMPL, "librustasync.so") == 0;
    struct debug_log log;
    int i, made = 0;

    /* Before the library's first use. */
    if (rustasync && !debug_log_start(&log)) {
        printf("FAILED: cannot capture stderr\n");
        return EXIT_FAILURE;
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
    step(&job, ctx, passive_job);
    OSSL_LIB_CTX_set0_default(callers_own);
    printf("main: set its own ctx, now %s\n", current());
    step(&job, ctx, passive_job);
    OSSL_LIB_CTX_set0_default(base);
    printf("main: set the original default back, now %s\n", current());
    step(&job, ctx, passive_job);
    ASYNC_WAIT_CTX_free(ctx);

    /* 2. Threads churning keys between resumes. */
    run_workers(THREADS, churn_keys);
    printf("main: default is %s\n", current());
    for (i = 0; i < made && pthread_getspecific(early[i]) == &early[i]; i++)
        ;
    CHECK(i == EARLY_KEYS);

    if (rustasync)
        check_read(&log);
    OSSL_LIB_CTX_free(jobs_own);
    OSSL_LIB_CTX_free(callers_own);
    return TEST_DONE();
}
