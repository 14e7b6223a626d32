/* rustasync-only */
/*
 * The live figures file (RUSTASYNC_STATS_DIR) is created safely: a symlink
 * planted at its name is not followed (its target is left alone and live
 * figures stay off); a stale regular file of ours (a dead process with the
 * same pid) is replaced by a fresh one of mode 0600; the file is removed
 * when the process exits. Each case runs in a child, where the setting is
 * read at the first job.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

static char dir[] = "/tmp/rustasync-live-XXXXXX";

static int trivial(void *arg)
{
    (void)arg;
    return 1;
}

static void run_one_job(void)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    if (ASYNC_start_job(&job, NULL, &ret, trivial, NULL, 0) != ASYNC_FINISH)
        _exit(80);
}

static void path_of(char *out, size_t size, pid_t pid)
{
    snprintf(out, size, "%s/rustasync.%ld", dir, (long)pid);
}

/* A symlink at the file's name, to a file that must stay as it is. */
static int symlink_case(void)
{
    char path[256], victim[256];
    struct stat st;
    int fd;

    snprintf(victim, sizeof(victim), "%s/victim", dir);
    fd = open(victim, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "precious\n", 9) != 9)
        return 81;
    close(fd);
    path_of(path, sizeof(path), getpid());
    if (symlink(victim, path) != 0)
        return 82;
    setenv("RUSTASYNC_STATS_DIR", dir, 1);
    run_one_job();
    if (stat(victim, &st) != 0 || st.st_size != 9 || (st.st_mode & 0777) != 0644)
        return 83;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return 84;
    unlink(path);
    return 0;
}

/* A stale regular file of ours: replaced by a fresh, private one. */
static int stale_case(void)
{
    char path[256];
    struct stat st;
    int fd;

    path_of(path, sizeof(path), getpid());
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "stale\n", 6) != 6)
        return 85;
    close(fd);
    setenv("RUSTASYNC_STATS_DIR", dir, 1);
    run_one_job();
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 86;
    if ((st.st_mode & 0777) != 0600 || st.st_uid != geteuid() || st.st_size < 4096)
        return 87;
    return 0;
}

static int in_child(int (*scenario)(void), pid_t *pid)
{
    int status;

    fflush(stdout);
    *pid = fork();
    if (*pid == 0)
        exit(scenario()); /* exit, not _exit: the file goes at exit */
    if (waitpid(*pid, &status, 0) != *pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int main(void)
{
    char path[256];
    pid_t pid;

    CHECK(mkdtemp(dir) != NULL);
    CHECK(in_child(symlink_case, &pid) == 0);
    CHECK(in_child(stale_case, &pid) == 0);
    path_of(path, sizeof(path), pid);
    CHECK(access(path, F_OK) != 0); /* removed at the child's exit */
    snprintf(path, sizeof(path), "%s/victim", dir);
    unlink(path);
    CHECK(rmdir(dir) == 0);
    return TEST_DONE();
}
