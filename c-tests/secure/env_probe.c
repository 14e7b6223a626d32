/*
 * What the environment made of the library in this process, as seen from
 * inside a job: c-tests/secure-test.sh runs a setuid-root copy of this
 * program as nobody and as root, with RUSTASYNC_* variables set.
 *
 * Prints (stdout, one per line):
 *   ids=UID/EUID/GID/EGID   who runs it (the setuid or setgid bit took)
 *   at_secure=0|1  whether the kernel marked the process privileged (also
 *                  for a file capability, which changes no id)
 *   stack_size=N   usable bytes per job stack (rustasync_stats)
 *   measured=0|1   whether RUSTASYNC_STATS switched stack measurement on
 *   guard=yes|no   whether the page below the running job's stack faults
 *   result=N       what the job returned (it pauses once on the way)
 *   live_file=none|file|symlink|other   what is at the live-figures file's
 *                  path for this process in RUSTASYNC_STATS_DIR (or /dev/shm)
 *   shm_live_file=...   the same in /dev/shm, the default directory
 * A misuse (ASYNC_start_job with a NULL job) gives RUSTASYNC_LOG a warning
 * to print, the job's start and finish give it trace lines, and the
 * pool left at exit gives RUSTASYNC_STATS a report.
 *
 * `env_probe overflow` instead runs a job that recurses until it runs off
 * its stack: the library's one fatal line, then death by SIGSEGV.
 */
/* rustasync-only */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/async.h>
#include <rustasync.h>

static size_t stack_size;
static int guard_found = -1;
static int pipe_fds[2];

/* Whether the kernel can read one byte at `p`: write(2) fails with EFAULT
 * on a guard page (PROT_NONE or MADV_GUARD_INSTALL) or a hole, without a
 * signal. */
static int readable(const char *p)
{
    char byte;

    if (write(pipe_fds[1], p, 1) == 1)
        return read(pipe_fds[0], &byte, 1) == 1;
    return errno != EFAULT ? -1 : 0;
}

/* Walks down from this frame's page while pages are readable: a guarded
 * stack stops within its own size, an unguarded one runs on into its
 * neighbour (the slot below, or whatever lies below the region). */
static int probe(void *arg)
{
    volatile char here = 1;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t top = (uintptr_t)&here;
    uintptr_t p = top & ~(uintptr_t)(page - 1);
    int state;

    (void)arg;
    for (;;) {
        state = readable((const char *)(p - page));
        if (state < 0)
            return 0;
        if (state == 0 || top - p >= stack_size + 16 * page)
            break;
        p -= page;
    }
    guard_found = state == 0 && top - p <= stack_size;
    ASYNC_pause_job();
    return 42 + here - 1;
}

/* Recurses past any stack this test uses (1 KiB a frame, 1 GiB in all),
 * the frame used after the call so that the compiler cannot make it a
 * loop. */
static int deeper(int depth)
{
    volatile char frame[1024];

    if (depth > (1 << 20))
        return 0;
    frame[0] = (char)depth;
    frame[sizeof(frame) - 1] = (char)(depth + deeper(depth + 1));
    return frame[0] + frame[sizeof(frame) - 1];
}

static int overflow(void *arg)
{
    (void)arg;
    return deeper(0);
}

/* What sits at DIR/rustasync.PID, without following a symlink. */
static const char *live_file(const char *dir)
{
    char path[4096];
    struct stat st;

    if (dir == NULL || *dir == '\0')
        dir = "/dev/shm";
    snprintf(path, sizeof(path), "%s/rustasync.%d", dir, (int)getpid());
    if (lstat(path, &st) != 0)
        return "none";
    return S_ISLNK(st.st_mode) ? "symlink" : S_ISREG(st.st_mode) ? "file" : "other";
}

int main(int argc, char **argv)
{
    struct rustasync_stats stats;
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, status;

    if (ctx == NULL || pipe(pipe_fds) != 0 || !rustasync_stats(&stats)) {
        perror("setup");
        return 1;
    }
    stack_size = (size_t)stats.stack_size;
    if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
        status = ASYNC_start_job(&job, ctx, &ret, overflow, NULL, 0);
        fprintf(stderr, "the overflowing job came back with status %d\n", status);
        return 1;
    }
    status = ASYNC_start_job(NULL, ctx, &ret, probe, NULL, 0);
    if (status != ASYNC_ERR) {
        fprintf(stderr, "ASYNC_start_job(NULL job) returned %d\n", status);
        return 1;
    }
    if (!ASYNC_init_thread(2, 1)) {
        fprintf(stderr, "ASYNC_init_thread failed\n");
        return 1;
    }
    status = ASYNC_start_job(&job, ctx, &ret, probe, NULL, 0);
    if (status == ASYNC_PAUSE)
        status = ASYNC_start_job(&job, ctx, &ret, probe, NULL, 0);
    if (status != ASYNC_FINISH || guard_found < 0) {
        fprintf(stderr, "job status %d, probe %d\n", status, guard_found);
        return 1;
    }
    if (!rustasync_stats(&stats))
        return 1;
    printf("ids=%d/%d/%d/%d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
    printf("at_secure=%lu\n", getauxval(AT_SECURE));
    printf("stack_size=%llu\n", (unsigned long long)stats.stack_size);
    printf("measured=%d\n", stats.stack_measured);
    printf("guard=%s\n", guard_found ? "yes" : "no");
    printf("result=%d\n", ret);
    printf("live_file=%s\n", live_file(getenv("RUSTASYNC_STATS_DIR")));
    printf("shm_live_file=%s\n", live_file("/dev/shm"));
    ASYNC_WAIT_CTX_free(ctx);
    return 0;
}
