/*
 * dlopen -> use on two threads -> dlclose, then everything a process may
 * still do: the threads that used jobs exit, the process forks, a fault is
 * handled by the program, the library is opened and used a second time, and
 * a SIGBUS sent with kill() gets the default action. The program links
 * neither libcrypto nor rustasync: it opens the library named on its command
 * line (libcrypto.so.3, or librustasync) and finds the ASYNC_* functions in
 * it. Prints one line per step; the same lines are expected from both.
 *
 *   unload LIBRARY
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASYNC_FINISH 3
#define ASYNC_PAUSE 2

struct api {
    void *handle;
    int (*init_thread)(size_t, size_t);
    void (*cleanup_thread)(void);
    int (*start_job)(void **, void *, int *, int (*)(void *), void *, size_t);
    int (*pause_job)(void);
    void *(*wait_ctx_new)(void);
    void (*wait_ctx_free)(void *);
};

static struct api api;
static const char *library;

static void *find(const char *name)
{
    void *f = dlsym(api.handle, name);

    if (f == NULL) {
        printf("no %s in the library\n", name);
        exit(2);
    }
    return f;
}

static void open_library(void)
{
    api.handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (api.handle == NULL) {
        printf("dlopen failed: %s\n", dlerror());
        exit(2);
    }
    *(void **)&api.init_thread = find("ASYNC_init_thread");
    *(void **)&api.cleanup_thread = find("ASYNC_cleanup_thread");
    *(void **)&api.start_job = find("ASYNC_start_job");
    *(void **)&api.pause_job = find("ASYNC_pause_job");
    *(void **)&api.wait_ctx_new = find("ASYNC_WAIT_CTX_new");
    *(void **)&api.wait_ctx_free = find("ASYNC_WAIT_CTX_free");
    fprintf(stderr, "implementation: %s\n", dlsym(api.handle, "rustasync_version") != NULL ? "rustasync" : "openssl");
}

static int pausing_job(void *arg)
{
    (void)arg;
    api.pause_job();
    return 7;
}

/* Runs `n` jobs that pause once each; returns how many finished with 7. */
static int run_jobs(int n)
{
    void *ctx = api.wait_ctx_new();
    int good = 0;

    for (int i = 0; i < n; i++) {
        void *job = NULL;
        int ret = 0;

        if (api.start_job(&job, ctx, &ret, pausing_job, NULL, 0) == ASYNC_PAUSE
            && api.start_job(&job, ctx, &ret, pausing_job, NULL, 0) == ASYNC_FINISH && ret == 7)
            good++;
    }
    api.wait_ctx_free(ctx);
    return good;
}

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int closed;

/* Uses jobs (its pool stays alive), then waits until the library was
 * closed before it exits: its thread-exit cleanup runs after dlclose. */
static void *worker(void *arg)
{
    int *good = arg;

    api.init_thread(4, 2);
    *good = run_jobs(100);
    pthread_mutex_lock(&mutex);
    while (!closed)
        pthread_cond_wait(&cond, &mutex);
    pthread_mutex_unlock(&mutex);
    return NULL;
}

static sigjmp_buf recover;

static void recovering_handler(int sig)
{
    (void)sig;
    siglongjmp(recover, 1);
}

int main(int argc, char **argv)
{
    pthread_t threads[2];
    int good[2] = { 0, 0 };
    int status = 0;
    pid_t pid;
    struct rlimit no_core = { 0, 0 };

    if (argc != 2) {
        fprintf(stderr, "usage: unload LIBRARY\n");
        return 2;
    }
    library = argv[1];
    setrlimit(RLIMIT_CORE, &no_core);
    setvbuf(stdout, NULL, _IONBF, 0);

    open_library();
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, worker, &good[i]);
    printf("main thread: %d of 100 jobs ran\n", run_jobs(100));
    /* Let both threads use the library before it is closed. */
    for (int spins = 0; spins < 1000 && (good[0] == 0 || good[1] == 0); spins++)
        usleep(10000);
    printf("threads: %d and %d of 100 jobs ran\n", good[0], good[1]);
    printf("dlclose: %d\n", dlclose(api.handle));

    pthread_mutex_lock(&mutex);
    closed = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mutex);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    printf("threads exited after dlclose\n");

    pid = fork();
    if (pid == 0)
        _exit(42);
    waitpid(pid, &status, 0);
    printf("fork after dlclose: child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* A fault the program handles, with a handler it installs now. */
    signal(SIGSEGV, recovering_handler);
    if (sigsetjmp(recover, 1) == 0)
        *(volatile int *)(uintptr_t)16 = 1;
    printf("fault handled by the program\n");
    signal(SIGSEGV, SIG_DFL);

    open_library();
    api.init_thread(2, 1);
    printf("second dlopen: %d of 10 jobs ran\n", run_jobs(10));
    api.cleanup_thread();
    printf("dlclose: %d\n", dlclose(api.handle));

    /* A signal sent with kill() after the library was closed gets the
     * default action, in a child (it dies of it). */
    pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGBUS);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    printf("kill(SIGBUS) after dlclose: %s\n",
           WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS ? "killed by SIGBUS" : "something else");
    return 0;
}
