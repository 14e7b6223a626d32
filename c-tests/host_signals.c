/*
 * The program's signal handling stays its own once the async layer is in
 * use: handlers, their flags (SA_RESETHAND, SA_NODEFER, no SA_ONSTACK),
 * SIG_IGN, the default action and the program's signal stacks behave
 * exactly as with OpenSSL's libcrypto (which installs no handler). Each
 * case runs in a child process that first uses the library on its main
 * thread (a job that pauses and finishes, so any handler or signal stack
 * the library adds on first use is in place), then does what the case
 * says; the parent prints what became of it: how it ended and the lines
 * it wrote itself (a checker's own lines are left out). Under
 * AddressSanitizer, which gives threads signal stacks of its own, the
 * signal-stack lines are left out of both runs; under valgrind the cases
 * that survive a deliberate fault are (valgrind counts the fault as an
 * error).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <openssl/async.h>
#include "child.h"

/* Uses the library on the calling thread; exits the child if it fails. */
static void use_library(void)
{
    int failed = run_pause_once();

    if (failed != 0)
        _exit(19 + failed);
}

static void *library_thread(void *arg)
{
    stack_t current;

    (void)arg;
    use_library();
    memset(&current, 0, sizeof(current));
    sigaltstack(NULL, &current);
    if (!under_sanitizer())
        say((current.ss_flags & SS_DISABLE) ? "thread altstack: none\n" : "thread altstack: some\n");
    return NULL;
}

static void fault(void)
{
    *(volatile int *)(uintptr_t)16 = 1;
}

static void counting_handler(int sig)
{
    (void)sig;
    say("handler called\n");
}

static sigjmp_buf recover;
static volatile sig_atomic_t depth;

static void nodefer_handler(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    (void)context;
    depth++;
    if (depth == 1)
        fault(); /* SA_NODEFER: this second fault enters the handler again */
    siglongjmp(recover, (int)depth);
}

static void big_handler(int sig)
{
    volatile char big[256 * 1024];

    (void)sig;
    memset((char *)big, 0x5a, sizeof(big));
    say(big[0] == 0x5a && big[sizeof(big) - 1] == 0x5a ? "big handler ran\n" : "big handler broken\n");
    _exit(0);
}

static void onstack_handler(int sig)
{
    (void)sig;
    say("handler called\n");
    _exit(0);
}

static void install(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    if (sigaction(sig, &sa, NULL) != 0)
        _exit(23);
}

static int child_mode(const char *mode)
{
    struct rlimit no_core = { 0, 0 };

    setrlimit(RLIMIT_CORE, &no_core);
    if (strcmp(mode, "resethand") == 0) {
        install(SIGSEGV, counting_handler, SA_RESETHAND);
        use_library();
        fault();
        say("survived\n");
    } else if (strcmp(mode, "nodefer") == 0) {
        struct sigaction sa;
        int at;

        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        sa.sa_sigaction = nodefer_handler;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigaction(SIGSEGV, &sa, NULL);
        use_library();
        at = sigsetjmp(recover, 1);
        if (at == 0)
            fault();
        dprintf(2, "recovered at depth %d\n", at);
        use_library();
        return 0;
    } else if (strcmp(mode, "ignore-segv") == 0 || strcmp(mode, "ignore-bus") == 0) {
        int sig = strcmp(mode, "ignore-segv") == 0 ? SIGSEGV : SIGBUS;

        signal(sig, SIG_IGN);
        use_library();
        kill(getpid(), sig);
        say("survived\n");
        return 0;
    } else if (strcmp(mode, "default-kill-segv") == 0 || strcmp(mode, "default-kill-bus") == 0) {
        use_library();
        kill(getpid(), strcmp(mode, "default-kill-segv") == 0 ? SIGSEGV : SIGBUS);
        say("survived\n");
    } else if (strcmp(mode, "default-fault") == 0) {
        use_library();
        fault();
        say("survived\n");
    } else if (strcmp(mode, "big-handler") == 0) {
        install(SIGSEGV, big_handler, 0);
        use_library();
        fault();
        say("survived\n");
    } else if (strcmp(mode, "own-altstack") == 0 || strcmp(mode, "no-altstack") == 0) {
        static char own[128 * 1024];
        stack_t mine = { .ss_sp = own, .ss_size = sizeof(own), .ss_flags = 0 };
        stack_t current;
        pthread_t t;

        if (strcmp(mode, "own-altstack") == 0 && sigaltstack(&mine, NULL) != 0)
            _exit(24);
        install(SIGSEGV, onstack_handler, SA_ONSTACK);
        use_library();
        memset(&current, 0, sizeof(current));
        sigaltstack(NULL, &current);
        if (under_sanitizer() && strcmp(mode, "no-altstack") == 0)
            ; /* AddressSanitizer's own stack */
        else if (current.ss_flags & SS_DISABLE)
            say("main altstack: none\n");
        else
            say(current.ss_sp == own && current.ss_size == sizeof(own) ? "main altstack: own\n"
                                                                         : "main altstack: foreign\n");
        if (pthread_create(&t, NULL, library_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
            _exit(25);
        /* The program's handler still runs on its own signal stack. */
        fault();
        say("survived\n");
    }
    return 5;
}

/* How many lines of `text` begin with `what`. */
static int count(const char *text, const char *what)
{
    int n = 0;

    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');

        n += strncmp(line, what, strlen(what)) == 0;
        if (end == NULL)
            break;
        line = end + 1;
    }
    return n;
}

/* Lines a checker writes (valgrind's "==pid==", sanitizer reports) are
 * not the child's own. */
static int checker_line(const char *line)
{
    return strncmp(line, "==", 2) == 0 || strncmp(line, "SUMMARY:", 8) == 0;
}

/* Prints how the child ended and what it said, with the library's fault
 * diagnostics (there should be none) counted apart and its other lines (a
 * RUSTASYNC_STATS report) left out. */
static void report(const char *mode)
{
    struct child c;

    run_self(mode, NULL, &c);
    printf("%s: ", mode);
    if (WIFSIGNALED(c.status))
        printf("killed by %s", WTERMSIG(c.status) == SIGSEGV ? "SIGSEGV"
                               : WTERMSIG(c.status) == SIGBUS ? "SIGBUS"
                               : WTERMSIG(c.status) == SIGALRM ? "SIGALRM (hung)"
                                                               : "another signal");
    else
        printf("exit %d", WEXITSTATUS(c.status));
    printf(", handler calls %d", count(c.err, "handler called"));
    printf(", library diagnostics %d\n", count(c.err, "rustasync: fatal"));
    for (const char *line = c.err; *line != '\0';) {
        const char *end = strchr(line, '\n');
        int len = end != NULL ? (int)(end - line) : (int)strlen(line);

        if (strncmp(line, "handler called", 14) != 0 && strncmp(line, "rustasync:", 10) != 0
            && !checker_line(line))
            printf("  says: %.*s\n", len, line);
        line += len + (end != NULL);
    }
}

int main(int argc, char **argv)
{
    static const char *const modes[] = {
        "resethand", "nodefer", "ignore-segv", "ignore-bus", "default-kill-segv", "default-kill-bus",
        "default-fault", "big-handler", "own-altstack", "no-altstack",
    };

    self_path = argv[0];
    if (argc > 1)
        return child_mode(argv[1]);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        int survives_a_fault = strcmp(modes[i], "nodefer") == 0 || strcmp(modes[i], "big-handler") == 0
                               || strstr(modes[i], "altstack") != NULL;

        if (survives_a_fault && under_valgrind())
            printf("%s: left out under valgrind\n", modes[i]);
        else
            report(modes[i]);
    }
    return 0;
}
