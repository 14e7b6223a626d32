/*
 * fork() from a thread that is exiting: a program's own thread-specific
 * destructor (pthread_key_create) forks after the thread used the library
 * and forked once before. Thread-specific destructors run after the
 * thread's C++/Rust thread_local destructors, so the library's fork
 * handlers must not rely on thread-local storage that has been torn down.
 * Both forks must work, the child must be able to run a job, and nothing
 * may be written on stderr (OpenSSL's fork handlers write nothing).
 * stderr is sent to a temporary file for the run and checked afterwards.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

static pthread_key_t key;
static int thread_job_finished; /* checked by main after the join */

static int job_fn(void *arg)
{
    (void)arg;
    return 3;
}

/* Forks; the child runs one job and says by its exit status whether it finished. */
static void fork_and_wait(const char *when)
{
    pid_t pid;
    int status = -1;

    /* Nothing buffered may reach the child: under valgrind its _exit still
       flushes stdio (valgrind runs __libc_freeres), which would print the
       parent's pending lines twice. */
    fflush(stdout);
    pid = fork();

    if (pid == 0) {
        ASYNC_JOB *job = NULL;
        int ret = 0;
        int r = ASYNC_start_job(&job, NULL, &ret, job_fn, NULL, 0);

        _exit(r == ASYNC_FINISH && ret == 3 ? 0 : 1);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    printf("%s: fork %s, child %s\n", when, pid > 0 ? "made" : "failed",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ran a job" : "failed");
    fflush(stdout);
}

static void at_key_destruction(void *value)
{
    (void)value;
    fork_and_wait("in a thread-specific destructor");
}

static void *thread_main(void *arg)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    (void)arg;
    thread_job_finished = ASYNC_start_job(&job, NULL, &ret, job_fn, NULL, 0) == ASYNC_FINISH;
    fork_and_wait("in the thread");
    pthread_setspecific(key, (void *)1);
    return NULL;
}

int main(void)
{
    FILE *err = tmpfile();
    pthread_t thread;
    struct stat st;
    int created;

    CHECK(err != NULL);
    if (err == NULL)
        return TEST_DONE();
    fflush(stderr);
    CHECK(dup2(fileno(err), 2) == 2);
    CHECK(pthread_key_create(&key, at_key_destruction) == 0);
    /* Nothing printed while the thread runs: it prints its own lines. */
    created = pthread_create(&thread, NULL, thread_main, NULL) == 0;
    CHECK(created && pthread_join(thread, NULL) == 0);
    CHECK(thread_job_finished);
    fflush(stderr);
    CHECK(fstat(fileno(err), &st) == 0 && st.st_size == 0);
    /* The main thread forks too, after the thread's exit. */
    fork_and_wait("in main");
    fflush(stderr);
    CHECK(fstat(fileno(err), &st) == 0 && st.st_size == 0);
    return TEST_DONE();
}
