/*
 * Helpers for the rustasync-only tests that must run code in a child
 * process: because it may crash (stack overflow), because it needs a fresh
 * library configuration (environment read once), or because it changes
 * process-wide limits. A child's stderr is captured for the parent to
 * check; its stdout (CHECK lines) passes through. Every child has an alarm,
 * so a hang ends as a failure instead of a stuck test.
 */
#ifndef RUSTASYNC_TEST_CHILD_H
#define RUSTASYNC_TEST_CHILD_H

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

#define CHILD_ALARM_SECONDS 90
/* Under valgrind a child runs tens of times slower; the checker's own
 * timeout (600 s per test) still bounds it. */
#define CHILD_ALARM_SECONDS_VALGRIND 400

struct child {
    int status;        /* as from waitpid */
    char err[16384];   /* the start of its stderr */
};

/* This program's path, for run_self; set from argv[0] first thing in main. */
static const char *self_path __attribute__((unused));

/* A scaling factor for counts, in percent: RUSTASYNC_TEST_SCALE (valgrind
 * runs use a small one). Never below one item. */
static inline long scaled(long n)
{
    const char *s = getenv("RUSTASYNC_TEST_SCALE");
    long pct = s != NULL ? atol(s) : 100;
    long v = pct > 0 ? n * pct / 100 : n;
    return v > 0 ? v : 1;
}

static inline int under_valgrind(void)
{
    return getenv("RUSTASYNC_TEST_VALGRIND") != NULL;
}

static inline void collect(int fd, pid_t pid, struct child *c)
{
    size_t used = 0;
    ssize_t n;
    char sink[4096];

    while ((n = read(fd, used < sizeof(c->err) - 1 ? c->err + used : sink,
                     used < sizeof(c->err) - 1 ? sizeof(c->err) - 1 - used : sizeof(sink))) > 0) {
        if (used < sizeof(c->err) - 1)
            used += (size_t)n;
    }
    c->err[used] = '\0';
    close(fd);
    while (waitpid(pid, &c->status, 0) < 0)
        ;
}

/* Forks a child whose stderr goes to *err_read; in the child (return 0) an
 * alarm bounds its life. */
static inline pid_t fork_child(int *err_read)
{
    int pipefd[2];
    pid_t pid;

    fflush(stdout);
    if (pipe(pipefd) != 0)
        abort();
    pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 2);
        alarm(under_valgrind() ? CHILD_ALARM_SECONDS_VALGRIND : CHILD_ALARM_SECONDS);
        return 0;
    }
    close(pipefd[1]);
    *err_read = pipefd[0];
    return pid;
}

/* Runs fn(arg) in a forked child; the child exits 0 when fn's CHECKs held. */
static inline void run_forked(void (*fn)(void *), void *arg, struct child *c)
{
    int err_read = -1;
    pid_t pid = fork_child(&err_read);

    if (pid == 0) {
        fn(arg);
        fflush(stdout);
        _exit(test_failures == 0 ? 0 : 1);
    }
    collect(err_read, pid, c);
}

/* Runs this program again as `self_path mode`, with `env` ("NAME=VALUE",
 * NULL-terminated, may be NULL) added to its environment. */
static inline void run_self(const char *mode, const char *const *env, struct child *c)
{
    int err_read = -1;
    pid_t pid = fork_child(&err_read);

    if (pid == 0) {
        for (; env != NULL && *env != NULL; env++)
            putenv((char *)*env);
        execl(self_path, self_path, mode, (char *)NULL);
        _exit(127);
    }
    collect(err_read, pid, c);
}

/* Runs this program again as `self_path mode` (mode may be NULL) with `env`
 * as in run_self, its stdout read into `out` (at most cap - 1 bytes, then
 * a NUL) and its stderr dropped; returns whether it exited with status 0. */
static inline int run_self_output(const char *mode, const char *const *env, char *out, size_t cap)
{
    int fds[2], status;
    size_t used = 0;
    ssize_t n;
    pid_t pid;

    fflush(stdout);
    if (pipe(fds) != 0)
        return 0;
    pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(96);
        for (; env != NULL && *env != NULL; env++)
            putenv((char *)*env);
        alarm(under_valgrind() ? CHILD_ALARM_SECONDS_VALGRIND : CHILD_ALARM_SECONDS);
        execl(self_path, self_path, mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (used < cap - 1 && (n = read(fds[0], out + used, cap - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    close(fds[0]);
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline int exited_ok(const struct child *c)
{
    return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

static inline int killed_by(const struct child *c, int sig)
{
    return WIFSIGNALED(c->status) && WTERMSIG(c->status) == sig;
}

/* Prints a child's stderr when a check about it failed. */
static inline void show_child(const char *what, const struct child *c)
{
    printf("--- %s: status 0x%x, stderr:\n%s---\n", what, c->status, c->err);
}

/* Resident memory of this process in bytes (from /proc/self/statm). */
static inline long resident_bytes(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* The number of memory mappings of this process. */
static inline long mapping_count(void)
{
    long lines = 0;
    int ch;
    FILE *f = fopen("/proc/self/maps", "r");

    if (f == NULL)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        if (ch == '\n')
            lines++;
    fclose(f);
    return lines;
}

/* One line on stderr with write(2) alone: safe in signal handlers, atfork
 * handlers and children of a multithreaded fork. */
static inline void say(const char *text)
{
    ssize_t ignored = write(2, text, strlen(text));
    (void)ignored;
}

static inline int pause_once_job(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 7;
}

/* Runs one job that pauses once and finishes with 7, on the calling thread.
 * 0 when it did; else the step that went wrong: 1 no wait context, 2 the
 * start did not pause, 3 the resume did not finish with 7. */
static inline int run_pause_once(void)
{
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, failed = 0;

    if (ctx == NULL)
        return 1;
    if (ASYNC_start_job(&job, ctx, &ret, pause_once_job, NULL, 0) != ASYNC_PAUSE)
        failed = 2;
    else if (ASYNC_start_job(&job, ctx, &ret, pause_once_job, NULL, 0) != ASYNC_FINISH || ret != 7)
        failed = 3;
    ASYNC_WAIT_CTX_free(ctx);
    return failed;
}

#endif
