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
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/async.h>
#include "common.h"

#define LEFT_KEYS 31
#define THREADS 4
#define ROUNDS 1000

static OSSL_LIB_CTX *base, *jobs_own, *callers_own;
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

static void step(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx)
{
    int ret = 0, rc = ASYNC_start_job(job, ctx, &ret, passive_job, NULL, 0);

    printf("caller: %s, default is %s\n",
           rc == ASYNC_PAUSE ? "ASYNC_PAUSE" : rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", current());
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
    step(&job, ctx);
    step(&job, ctx);
    OSSL_LIB_CTX_set0_default(callers_own);
    printf("stale thread: set its own ctx, now %s\n", current());
    step(&job, ctx);
    OSSL_LIB_CTX_set0_default(base);
    printf("stale thread: set the original default back, now %s\n", current());
    ASYNC_WAIT_CTX_free(ctx);
    return NULL;
}

struct worker {
    OSSL_LIB_CTX *own, *mine;
    int wrong_in_job, wrong_in_caller;
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

    do {
        rc = ASYNC_start_job(&job, ctx, &ret, pausing_job, &w, sizeof(w));
        if (OSSL_LIB_CTX_set0_default(NULL) != base)
            w->wrong_in_caller++;
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

/* Against rustasync: the debug lines the run wrote, which `log` captured. */
static void check_direct_read(FILE *log, int saved_stderr)
{
    char line[512];
    int direct = 0, gave_up = 0;
    unsigned long version = OpenSSL_version_num();

    fflush(stderr);
    dup2(saved_stderr, 2);
    rewind(log);
    while (fgets(line, sizeof(line), log) != NULL) {
        if (strstr(line, "default library context is read from the thread descriptor") != NULL)
            direct = 1;
        if (strstr(line, "did not check out") != NULL)
            gave_up = 1;
        if (strncmp(line, "rustasync: debug: ", 18) != 0 && strncmp(line, "rustasync: info: ", 17) != 0)
            fputs(line, stderr); /* anything else belongs on the real stderr */
    }
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
    (void)direct;
}

int main(void)
{
    pthread_t stale, workers[THREADS];
    struct worker work[THREADS];
    int rustasync = strcmp(TEST_EXPECT_IMPL, "librustasync.so") == 0;
    FILE *log = NULL;
    int saved_stderr = -1, i;

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
    for (i = 0; i < THREADS; i++) {
        work[i].own = OSSL_LIB_CTX_new();
        work[i].mine = OSSL_LIB_CTX_new();
        work[i].wrong_in_job = work[i].wrong_in_caller = 0;
        pthread_create(&workers[i], NULL, worker_thread, &work[i]);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(workers[i], NULL);
        printf("worker %d: %d switches; wrong default in the job %d times, in the caller %d times\n", i,
               2 * ROUNDS, work[i].wrong_in_job, work[i].wrong_in_caller);
        CHECK(work[i].wrong_in_job == 0 && work[i].wrong_in_caller == 0);
        OSSL_LIB_CTX_free(work[i].own);
        OSSL_LIB_CTX_free(work[i].mine);
    }
    printf("main: default is %s\n", current());

    if (rustasync)
        check_direct_read(log, saved_stderr);
    OSSL_LIB_CTX_free(jobs_own);
    OSSL_LIB_CTX_free(callers_own);
    return TEST_DONE();
}
