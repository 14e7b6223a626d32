/* rustasync-only */
/*
 * The hot path — starting and finishing a pooled job, pausing and resuming
 * it — makes no system call and no heap allocation for argument blocks of
 * ordinary size. After a warm-up, the loop runs under seccomp's strict mode,
 * where any system call but read/write/exit kills the process, and with
 * malloc counting: one system call or allocation and the test fails.
 * (OpenSSL allocates a copy of the arguments on every start.) Under
 * valgrind (RUSTASYNC_TEST_VALGRIND) only the allocations are counted:
 * seccomp's strict mode would kill valgrind's own system calls.
 */
#include <dlfcn.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

static volatile long allocations;

/* Counts every malloc in the process, the library's included. */
void *malloc(size_t size)
{
    static void *(*real_malloc)(size_t);

    if (real_malloc == NULL)
        *(void **)&real_malloc = dlsym(RTLD_NEXT, "malloc");
    allocations++;
    return real_malloc(size);
}

struct request {
    int value;
    char payload[36];
};

static int echo_twice_paused(void *arg)
{
    struct request *r = arg;

    ASYNC_pause_job();
    ASYNC_pause_job();
    return r->value + (int)strlen(r->payload);
}

static void say(const char *text)
{
    ssize_t ignored = write(1, text, strlen(text));
    (void)ignored;
}

static ASYNC_WAIT_CTX *ctx;

/* Runs `count` jobs that pause twice each; returns the sum of their results. */
static long run_jobs(int count)
{
    struct request r = { 1, "forty bytes of arguments" };
    int i, ret = 0, rc;
    long sum = 0;

    for (i = 0; i < count; i++) {
        ASYNC_JOB *job = NULL;

        r.value = i & 7;
        while ((rc = ASYNC_start_job(&job, ctx, &ret, echo_twice_paused, &r, sizeof(r))) == ASYNC_PAUSE)
            ;
        if (rc != ASYNC_FINISH)
            return -1;
        sum += ret;
    }
    return sum;
}

int main(void)
{
    pid_t child;
    int status;
    long before;

    CHECK(ASYNC_init_thread(4, 4) == 1);
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(run_jobs(1000) > 0);
    fflush(stdout);

    child = fork();
    if (child == 0) {
        int strict = getenv("RUSTASYNC_TEST_VALGRIND") == NULL;

        before = allocations;
        if (strict && prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
            syscall(SYS_exit, 3);
        /* Each job returns (i & 7) + 24, the payload being 24 characters. */
        if (run_jobs(100000) != 100000L / 8 * 28 + 100000L * 24)
            syscall(SYS_exit, 4);
        if (allocations != before) {
            say("allocations in the hot loop\n");
            syscall(SYS_exit, 5);
        }
        say(strict ? "100000 jobs, 200000 pauses: no system call, no allocation\n"
                   : "100000 jobs, 200000 pauses: no allocation (system calls not checked under valgrind)\n");
        syscall(SYS_exit, 0);
    }
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status))
        printf("child killed by signal %d (a system call in the hot path?)\n", WTERMSIG(status));
    else
        printf("child exit status %d\n", WEXITSTATUS(status));
    return TEST_DONE();
}
