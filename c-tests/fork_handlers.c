/*
 * A program's own pthread_atfork handlers may call the API: here each of
 * prepare, parent and child calls ASYNC_cleanup_thread (dropping the pool
 * around fork, a known pattern), with the handlers registered before the
 * library's first use and after it, while another thread keeps starting
 * jobs. Nothing may deadlock, and parent and child both use the library
 * afterwards. Each case runs in its own process with an alarm, so a
 * deadlock shows as "killed by SIGALRM". Under valgrind (both runs) there
 * is no busy thread: what a thread that does not exist in the child had
 * allocated would count as a leak there.
 */
#include <pthread.h>
#include <string.h>
#include <openssl/async.h>
#include "child.h"

static const char *cleanup_in;
static volatile int stop_busy;

static void handler(const char *which)
{
    if (strcmp(cleanup_in, which) == 0) {
        char line[64];

        ASYNC_cleanup_thread();
        snprintf(line, sizeof(line), "%s handler: pool cleaned up\n", which);
        say(line);
    }
}

static void on_prepare(void) { handler("prepare"); }
static void on_parent(void) { handler("parent"); }
static void on_child(void) { handler("child"); }

static void *busy(void *arg)
{
    (void)arg;
    ASYNC_init_thread(8, 2);
    while (!stop_busy)
        if (!(run_pause_once() == 0))
            say("busy thread: job failed\n");
    ASYNC_cleanup_thread();
    return NULL;
}

static int child_mode(const char *when, const char *where)
{
    pthread_t t;
    pid_t pid;
    int status = 0;

    cleanup_in = where;
    alarm(under_valgrind() ? CHILD_ALARM_SECONDS_VALGRIND : 30);
    if (strcmp(when, "before") == 0 && pthread_atfork(on_prepare, on_parent, on_child) != 0)
        return 10;
    if (!ASYNC_init_thread(4, 2) || !(run_pause_once() == 0))
        return 11;
    if (!under_valgrind() && pthread_create(&t, NULL, busy, NULL) != 0)
        return 12;
    if (strcmp(when, "after") == 0 && pthread_atfork(on_prepare, on_parent, on_child) != 0)
        return 13;
    for (int round = 0; round < 3; round++) {
        pid = fork();
        if (pid < 0)
            return 14;
        if (pid == 0) {
            /* The child: a fresh pool and a job that pauses. */
            int ok = ASYNC_init_thread(2, 1) && (run_pause_once() == 0) && (run_pause_once() == 0);
            ASYNC_cleanup_thread();
            _exit(ok ? 0 : 1);
        }
        while (waitpid(pid, &status, 0) < 0)
            ;
        /* The child's handler may have written; its exit status says
         * whether it could use the library. */
        say(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "parent: child used the library, exited 0\n"
            : WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "parent: child deadlocked\n"
                                                                 : "parent: child FAILED\n");
        if (!ASYNC_init_thread(4, 2) || !(run_pause_once() == 0))
            say("parent: jobs FAILED\n");
    }
    stop_busy = 1;
    if (!under_valgrind())
        pthread_join(t, NULL);
    ASYNC_cleanup_thread();
    say("done\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const whens[] = { "before", "after" };
    static const char *const wheres[] = { "prepare", "parent", "child" };

    self_path = argv[0];
    if (argc > 2)
        return child_mode(argv[1], argv[2]);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
            char mode[64];
            struct child c;
            int err_read = -1;
            pid_t pid;

            snprintf(mode, sizeof(mode), "%s %s", whens[i], wheres[j]);
            pid = fork_child(&err_read);
            if (pid == 0) {
                execl(self_path, self_path, whens[i], wheres[j], (char *)NULL);
                _exit(127);
            }
            collect(err_read, pid, &c);
            printf("handlers registered %s first use, cleanup in %s: ", whens[i], wheres[j]);
            if (WIFSIGNALED(c.status))
                printf("killed by signal %s\n", WTERMSIG(c.status) == SIGALRM ? "SIGALRM (deadlock)" : "other");
            else
                printf("exit %d\n", WEXITSTATUS(c.status));
            /* The lines the processes wrote themselves, not a checker's
             * nor a RUSTASYNC_STATS report. */
            for (char *line = strtok(c.err, "\n"); line != NULL; line = strtok(NULL, "\n"))
                if (strncmp(line, "==", 2) != 0 && strncmp(line, "rustasync:", 10) != 0)
                    printf("%s\n", line);
        }
    }
    return 0;
}
