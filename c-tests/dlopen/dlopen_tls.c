/*
 * librustasync opened with dlopen by a program that is not linked with it
 * (nor with libcrypto): its per-thread state lives in initial-exec TLS on
 * x86_64, which a dlopen'ed library only gets from glibc's static TLS
 * surplus, and which glibc must also set up in threads that existed before
 * the dlopen. The test opens the library while one thread is already
 * running, then runs pausing jobs in that thread, in the main thread and in
 * a thread made afterwards, all interleaved, and checks that each thread
 * sees its own current job and cannot resume another thread's.
 *
 * Usage: dlopen_tls PATH_TO_LIBRUSTASYNC
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* common.h proves which library a linked test runs on; this program links
 * neither, so it has its own two lines of checking. */
static int test_failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            printf("ok: %s\n", #cond);                                               \
        } else {                                                                     \
            printf("FAILED: %s (%s:%d)\n", #cond, __FILE__, __LINE__);               \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)
#define TEST_DONE() (test_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE)

/* The async API, typed as <openssl/async.h> declares it. */
typedef struct job JOB;
typedef struct wait_ctx WAIT_CTX;
static int (*start_job)(JOB **, WAIT_CTX *, int *, int (*)(void *), void *, size_t);
static int (*pause_job)(void);
static JOB *(*current_job)(void);
static int (*init_thread)(size_t, size_t);
static void (*cleanup_thread)(void);
static WAIT_CTX *(*wait_ctx_new)(void);
static void (*wait_ctx_free)(WAIT_CTX *);

enum { ASYNC_ERR = 0, ASYNC_PAUSE = 2, ASYNC_FINISH = 3 };
enum { JOBS = 4, PAUSES = 50 };

static int loaded_objects;

static int count_rustasync(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "librustasync") != NULL)
        loaded_objects++;
    return 0;
}

static int rustasync_loaded(void)
{
    loaded_objects = 0;
    dl_iterate_phdr(count_rustasync, NULL);
    return loaded_objects;
}

/* A job that pauses PAUSES times and checks, at every step, that its thread
 * names it as the current job. Its result counts the mismatches. */
static int pausing_job(void *arg)
{
    JOB *self = current_job();
    int wrong = 0;

    (void)arg;
    for (int i = 0; i < PAUSES; i++) {
        if (current_job() != self || self == NULL)
            wrong++;
        if (pause_job() != 1)
            wrong++;
    }
    return wrong;
}

/* Runs JOBS jobs interleaved (each resumed in turn until all finish) and
 * tries to resume `foreign`, a job paused on another thread, which must
 * fail. Returns the number of problems. */
static int run_jobs(JOB *foreign, JOB **paused_out)
{
    WAIT_CTX *ctx = wait_ctx_new();
    JOB *jobs[JOBS] = { 0 };
    int finished[JOBS] = { 0 }, left = JOBS, problems = 0, ret;

    if (ctx == NULL || init_thread(JOBS + 1, 0) != 1)
        return 1;
    while (left > 0) {
        for (int j = 0; j < JOBS; j++) {
            if (finished[j])
                continue;
            ret = -1;
            switch (start_job(&jobs[j], ctx, &ret, pausing_job, NULL, 0)) {
            case ASYNC_PAUSE:
                break;
            case ASYNC_FINISH:
                problems += ret != 0;
                finished[j] = 1;
                left--;
                break;
            default:
                problems++;
                finished[j] = 1;
                left--;
            }
            /* Back on the thread's own stack: no job is current. */
            problems += current_job() != NULL;
        }
    }
    /* Only the thread that paused a job may resume it. */
    if (foreign != NULL && start_job(&foreign, ctx, &ret, pausing_job, NULL, 0) != ASYNC_ERR)
        problems++;
    if (paused_out != NULL) {
        *paused_out = NULL;
        if (start_job(paused_out, NULL, &ret, pausing_job, NULL, 0) != ASYNC_PAUSE)
            problems++;
    }
    wait_ctx_free(ctx);
    return problems;
}

struct thread_arg {
    pthread_barrier_t *opened; /* the library is open */
    JOB *foreign;              /* a job paused on the main thread */
    int problems;
};

static void *worker(void *p)
{
    struct thread_arg *a = p;

    if (a->opened != NULL)
        pthread_barrier_wait(a->opened);
    a->problems = run_jobs(a->foreign, NULL);
    cleanup_thread();
    return NULL;
}

#define RESOLVE(var, name) (*(void **)&(var) = dlsym(lib, name))

int main(int argc, char **argv)
{
    pthread_barrier_t opened;
    pthread_t early, late;
    struct thread_arg early_arg = { &opened, NULL, -1 }, late_arg = { NULL, NULL, -1 };
    JOB *main_paused = NULL;
    void *lib;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH_TO_LIBRUSTASYNC\n", argv[0]);
        return 2;
    }
    CHECK(rustasync_loaded() == 0);
    CHECK(pthread_barrier_init(&opened, NULL, 2) == 0);
    CHECK(pthread_create(&early, NULL, worker, &early_arg) == 0);

    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        printf("dlopen: %s\n", dlerror());
    CHECK(lib != NULL);
    if (lib == NULL)
        return TEST_DONE();
    CHECK(rustasync_loaded() == 1);
    CHECK(RESOLVE(start_job, "ASYNC_start_job") != NULL);
    CHECK(RESOLVE(pause_job, "ASYNC_pause_job") != NULL);
    CHECK(RESOLVE(current_job, "ASYNC_get_current_job") != NULL);
    CHECK(RESOLVE(init_thread, "ASYNC_init_thread") != NULL);
    CHECK(RESOLVE(cleanup_thread, "ASYNC_cleanup_thread") != NULL);
    CHECK(RESOLVE(wait_ctx_new, "ASYNC_WAIT_CTX_new") != NULL);
    CHECK(RESOLVE(wait_ctx_free, "ASYNC_WAIT_CTX_free") != NULL);
    if (test_failures != 0)
        return TEST_DONE();

    /* The main thread's jobs first, leaving one paused for the others to try. */
    CHECK(run_jobs(NULL, &main_paused) == 0);
    CHECK(main_paused != NULL);
    early_arg.foreign = late_arg.foreign = main_paused;

    /* The thread that existed before dlopen, and one made after, at once. */
    pthread_barrier_wait(&opened);
    CHECK(pthread_create(&late, NULL, worker, &late_arg) == 0);
    CHECK(pthread_join(early, NULL) == 0);
    CHECK(pthread_join(late, NULL) == 0);
    CHECK(early_arg.problems == 0);
    CHECK(late_arg.problems == 0);

    /* The main thread still owns its paused job and can finish it. */
    {
        int ret = -1, rc;
        while ((rc = start_job(&main_paused, NULL, &ret, pausing_job, NULL, 0)) == ASYNC_PAUSE)
            ;
        CHECK(rc == ASYNC_FINISH && ret == 0);
        CHECK(current_job() == NULL);
    }
    cleanup_thread();
    return TEST_DONE();
}
