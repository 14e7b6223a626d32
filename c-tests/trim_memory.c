/* rustasync-only */
/*
 * Memory back after a burst (src/trim.rs): 10,000 jobs with 8 KiB of stack
 * in use each are paused at once and finished, then the program goes on
 * with at most 16 jobs at a time for 100,000 start calls. With trimming on
 * (the default) resident memory must come back within 1 MiB of what it was
 * before the burst; with RUSTASYNC_TRIM=0 it stays up, as with OpenSSL.
 * Each case runs in a fresh process (the setting is read once). Under a
 * checker (RUSTASYNC_TEST_CHECKER) resident memory is the checker's: the
 * scenario runs smaller, for the checker to watch, and is not measured.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

#define BURST 10000
#define AFTER_CALLS 100000
#define CHECKED_BURST 1000
#define CHECKED_AFTER_CALLS 20000

static long resident_kib(void)
{
    long size = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL || fscanf(f, "%ld %ld", &size, &pages) != 2)
        exit(90);
    fclose(f);
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static int deep_pause(void *arg)
{
    volatile char frame[8192];

    (void)arg;
    memset((char *)frame, 1, sizeof(frame));
    ASYNC_pause_job();
    return frame[10];
}

static ASYNC_JOB *jobs[BURST];
static ASYNC_WAIT_CTX *waits[BURST];

static void round_of(int k)
{
    int ret, i;

    for (i = 0; i < k; i++) {
        jobs[i] = NULL;
        if (ASYNC_start_job(&jobs[i], waits[i], &ret, deep_pause, NULL, 0) != ASYNC_PAUSE)
            exit(91);
    }
    for (i = 0; i < k; i++)
        if (ASYNC_start_job(&jobs[i], waits[i], &ret, deep_pause, NULL, 0) != ASYNC_FINISH || ret != 1)
            exit(92);
}

/* The scenario, in a child: prints the KiB kept above the pre-burst figure. */
static int scenario(void)
{
    long before, calls, i;
    int checked = getenv("RUSTASYNC_TEST_CHECKER") != NULL;
    long burst = checked ? CHECKED_BURST : BURST;
    long after = checked ? CHECKED_AFTER_CALLS : AFTER_CALLS;

    if (ASYNC_init_thread(0, 0) != 1)
        return 93;
    for (i = 0; i < burst; i++)
        if ((waits[i] = ASYNC_WAIT_CTX_new()) == NULL)
            return 94;
    for (i = 0; i < 1000; i++)
        round_of(16);
    before = resident_kib();
    round_of(burst);
    for (calls = 0; calls < after; calls += 32)
        round_of(16);
    printf("%ld\n", resident_kib() - before);
    for (i = 0; i < burst; i++)
        ASYNC_WAIT_CTX_free(waits[i]);
    ASYNC_cleanup_thread();
    return 0;
}

/* Runs the scenario in a new process with RUSTASYNC_TRIM as given (NULL:
 * unset); returns the KiB it kept, or -1. */
static long kept_with(const char *self, const char *trim)
{
    int fds[2], status;
    char text[64] = {0};
    pid_t child;

    if (pipe(fds) != 0)
        return -1;
    child = fork();
    if (child == 0) {
        dup2(fds[1], 1);
        if (trim == NULL)
            unsetenv("RUSTASYNC_TRIM");
        else
            setenv("RUSTASYNC_TRIM", trim, 1);
        setenv("TRIM_MEMORY_SCENARIO", "1", 1);
        /* argv[0], not /proc/self/exe, which under valgrind is valgrind. */
        execl(self, self, (char *)NULL);
        _exit(95);
    }
    close(fds[1]);
    if (read(fds[0], text, sizeof(text) - 1) <= 0)
        text[0] = '\0';
    close(fds[0]);
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return strtol(text, NULL, 10);
}

int main(int argc, char **argv)
{
    long on, off;

    (void)argc;
    if (getenv("TRIM_MEMORY_SCENARIO") != NULL)
        return scenario();
    on = kept_with(argv[0], NULL);
    off = kept_with(argv[0], "0");
    if (getenv("RUSTASYNC_TEST_CHECKER") != NULL) {
        printf("under a checker: the burst ran with trimming on and off; resident memory not judged\n");
        CHECK(on != -1 && off != -1);
        return TEST_DONE();
    }
    printf("resident KiB kept after the burst and %d calls: %ld (trimming on), %ld (RUSTASYNC_TRIM=0)\n",
           AFTER_CALLS, on, off);
    CHECK(on >= -1024 && on <= 1024);
    CHECK(off > 40 * 1024);
    return TEST_DONE();
}
