/*
 * The default OSSL_LIB_CTX as every switch reads it, on threads whose
 * thread-specific data is not fresh. rustasync reads libcrypto's key
 * straight from the thread descriptor where it can (glibc on x86_64,
 * OpenSSL 3.0 and 3.1), and that read must give what pthread_getspecific
 * gives:
 *  1. a thread that left values in 31 keys and deleted them before
 *     libcrypto made its own (glibc keeps such values in the descriptor,
 *     hidden only by a sequence number, so libcrypto's new key may find
 *     one in its slot): its jobs and its own code see the original
 *     default, and a job's own default follows the job;
 *  2. four threads started afterwards, each with a job that makes its own
 *     context the default and pauses 1,000 times, while the thread's code
 *     sets and restores a context of its own between resumes.
 * Against rustasync the test also requires, silently on success, the
 * RUSTASYNC_LOG=debug line saying the read is direct (with OpenSSL 3.0 and
 * 3.1, where libcrypto keeps the default in a key of its own), and no line
 * saying a thread found it wrong and went back to the call.
 */
#include <stdint.h>
#include "common.h"

#define LEFT_KEYS 31
#define THREADS 4
#define ROUNDS 1000

#include "libctx_switching.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int stage;

static void wait_for(int wanted)
{
    pthread_mutex_lock(&lock);
    while (stage < wanted)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void advance_to(int next)
{
    pthread_mutex_lock(&lock);
    stage = next;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static int passive_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: resumed with %s; sets its own ctx, pausing\n", current());
    OSSL_LIB_CTX_set0_default(jobs_own);
    ASYNC_pause_job();
    printf("  job: resumed with %s; finishing\n", current());
    return 1;
}

/* Scenario 1's thread: leaves values behind in deleted keys, then (once
 * libcrypto made its keys) runs a job. */
static void *stale_thread(void *arg)
{
    static char values[LEFT_KEYS];
    pthread_key_t keys[LEFT_KEYS];
    ASYNC_WAIT_CTX *ctx;
    ASYNC_JOB *job = NULL;
    int i, made = 0;

    (void)arg;
    for (i = 0; i < LEFT_KEYS; i++) {
        if (pthread_key_create(&keys[i], NULL) != 0)
            break;
        pthread_setspecific(keys[i], &values[i]);
        made++;
    }
    for (i = 0; i < made; i++)
        pthread_key_delete(keys[i]);
    if (made != LEFT_KEYS)
        printf("FAILED: only %d keys could be made\n", made);
    advance_to(1);
    wait_for(2);

    ctx = ASYNC_WAIT_CTX_new();
    printf("stale thread: starts a job\n");
    step(&job, ctx, passive_job);
    step(&job, ctx, passive_job);
    OSSL_LIB_CTX_set0_default(callers_own);
    printf("stale thread: set its own ctx, now %s\n", current());
    step(&job, ctx, passive_job);
    OSSL_LIB_CTX_set0_default(base);
    printf("stale thread: set the original default back, now %s\n", current());
    ASYNC_WAIT_CTX_free(ctx);
    return NULL;
}

static int direct, gave_up;

static void seen(const char *line)
{
    if (strstr(line, "default library context is read from the thread descriptor") != NULL)
        direct = 1;
    if (strstr(line, "did not check out") != NULL)
        gave_up = 1;
}

/* Against rustasync: what the debug lines say of the read. */
static void check_direct_read(struct debug_log *log)
{
    unsigned long version = OpenSSL_version_num();

    debug_log_finish(log, seen);
    if (gave_up) {
        printf("FAILED: a thread found the direct read of the default library context wrong\n");
        test_failures++;
    }
#if defined(__x86_64__) && defined(__GLIBC__)
    if (version >= 0x30000000UL && version < 0x30200000UL && !direct) {
        printf("FAILED: OpenSSL %lx on glibc x86_64, yet the default library context is not read "
               "from the thread descriptor\n", version);
        test_failures++;
    }
#endif
    (void)version;
}

int main(void)
{
    pthread_t stale;
    int rustasync = strcmp(TEST_EXPECT_IMPL, "librustasync.so") == 0;
    struct debug_log log;

    /* Before the library's first use. */
    if (rustasync && !debug_log_start(&log)) {
        printf("FAILED: cannot capture stderr\n");
        return EXIT_FAILURE;
    }

    /* 1. The thread leaves its values behind before libcrypto makes any key. */
    pthread_create(&stale, NULL, stale_thread, NULL);
    wait_for(1);
    base = OSSL_LIB_CTX_set0_default(NULL);
    jobs_own = OSSL_LIB_CTX_new();
    callers_own = OSSL_LIB_CTX_new();
    CHECK(ASYNC_init_thread(4, 1) == 1);
    printf("main: default is %s\n", current());
    advance_to(2);
    pthread_join(stale, NULL);

    /* 2. Threads started afterwards. */
    run_workers(THREADS, NULL);
    printf("main: default is %s\n", current());

    if (rustasync)
        check_direct_read(&log);
    OSSL_LIB_CTX_free(jobs_own);
    OSSL_LIB_CTX_free(callers_own);
    return TEST_DONE();
}
