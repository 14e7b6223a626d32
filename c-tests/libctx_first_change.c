/*
 * Default OSSL_LIB_CTX switching when the process's very first change of
 * a default happens at an awkward moment. Each scenario runs in a fresh
 * child process so that "first" really is first:
 *  1. inside a job that never pauses;
 *  2. inside a job after it has paused and been resumed;
 *  3. by the caller while a job that never touched the default is paused;
 *  4. by another thread while this thread's job is paused.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/async.h>
#include "common.h"

static OSSL_LIB_CTX *base, *mine;

static const char *current(void)
{
    OSSL_LIB_CTX *c = OSSL_LIB_CTX_set0_default(NULL);

    return c == base ? "original" : c == mine && mine != NULL ? "new ctx" : "other";
}

static int set_and_finish(void *arg)
{
    (void)arg;
    printf("  job: starts with %s, sets new ctx, finishes\n", current());
    OSSL_LIB_CTX_set0_default(mine);
    return 0;
}

static int pause_then_set(void *arg)
{
    (void)arg;
    printf("  job: starts with %s, pauses\n", current());
    ASYNC_pause_job();
    printf("  job: resumed with %s, sets new ctx, pauses\n", current());
    OSSL_LIB_CTX_set0_default(mine);
    ASYNC_pause_job();
    printf("  job: resumed with %s, finishes\n", current());
    return 0;
}

static int passive(void *arg)
{
    (void)arg;
    printf("  job: starts with %s, pauses\n", current());
    ASYNC_pause_job();
    printf("  job: resumed with %s, pauses\n", current());
    ASYNC_pause_job();
    printf("  job: resumed with %s, finishes\n", current());
    return 0;
}

static void *other_thread(void *arg)
{
    (void)arg;
    OSSL_LIB_CTX_set0_default(mine);
    return NULL;
}

static void drive(int (*fn)(void *), int scenario)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    int ret, rc, pauses = 0;

    do {
        rc = ASYNC_start_job(&job, ctx, &ret, fn, NULL, 0);
        printf("caller: %s, default %s\n", rc == ASYNC_PAUSE ? "ASYNC_PAUSE" :
               rc == ASYNC_FINISH ? "ASYNC_FINISH" : "other", current());
        if (rc == ASYNC_PAUSE && ++pauses == 1) {
            if (scenario == 3) {
                OSSL_LIB_CTX_set0_default(mine);
                printf("caller: set new ctx while paused\n");
            } else if (scenario == 4) {
                pthread_t t;

                pthread_create(&t, NULL, other_thread, NULL);
                pthread_join(t, NULL);
                printf("caller: another thread set its default while paused; ours %s\n",
                       current());
            }
        }
    } while (rc == ASYNC_PAUSE);
    /* A second job starts with whatever the caller has now. */
    job = NULL;
    rc = ASYNC_start_job(&job, ctx, &ret, set_and_finish, NULL, 0);
    printf("caller: second job %s, default %s\n", rc == ASYNC_FINISH ? "finished" : "other",
           current());
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
}

int main(void)
{
    int scenario;
    int (*fns[5])(void *) = { NULL, set_and_finish, pause_then_set, passive, passive };

    for (scenario = 1; scenario <= 4; scenario++) {
        pid_t pid;
        int status = -1;

        printf("scenario %d\n", scenario);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            base = OSSL_LIB_CTX_set0_default(NULL);
            mine = OSSL_LIB_CTX_new();
            drive(fns[scenario], scenario);
            OSSL_LIB_CTX_set0_default(base);
            OSSL_LIB_CTX_free(mine);
            fflush(stdout);
            _exit(test_failures == 0 ? 0 : 1);
        }
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return TEST_DONE();
}
