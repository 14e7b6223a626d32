/* rustasync-only */
/*
 * A job that overflows its stack hits the guard zone below it and the
 * process dies of SIGSEGV with a one-line diagnostic naming the cause, the
 * stack size and RUSTASYNC_STACK_SIZE — when SIGSEGV and SIGBUS were still
 * at their default action when the library was first used. A program that
 * handles SIGSEGV keeps it: the library installs nothing, the overflow
 * meets the program's own handling (with no signal stack: death by SIGSEGV,
 * no line; with its own signal stack: its handler). RUSTASYNC_FAULT_HANDLER=0
 * keeps the handler and its signal stacks out. Faults that are not job
 * stack overflows reach the program's handler untouched. Each case runs in
 * a child process.
 */
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <openssl/async.h>
#include "child.h"

/* Recurses `limit` levels of 512-byte frames: far more than any stack. */
static volatile int limit = 1 << 30;

static int recurse(volatile char *previous, int depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    frame[1] = previous != NULL ? previous[0] : 0;
    if (depth >= limit)
        return frame[1];
    return recurse(frame, depth + 1) + frame[1];
}

static int overflowing_job(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return recurse(NULL, 0);
}

static int deep_but_fitting_job(void *arg)
{
    volatile char big[24 * 1024];

    (void)arg;
    memset((char *)big, 1, sizeof(big));
    ASYNC_pause_job();
    return big[100] + big[sizeof(big) - 1];
}

/* Handlers the program installs; each says it ran, then lets the fault
 * kill the process (default action, return, re-fault). */
static void siginfo_handler(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    say("program SA_SIGINFO handler called\n");
    signal(sig, SIG_DFL);
}

static void plain_handler(int sig)
{
    say("program plain handler called\n");
    signal(sig, SIG_DFL);
}

static void install_program_handler(int siginfo)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    if (siginfo == 2) {
        static char own[64 * 1024];
        stack_t mine = { .ss_sp = own, .ss_size = sizeof(own), .ss_flags = 0 };

        if (sigaltstack(&mine, NULL) != 0)
            _exit(6);
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sa.sa_sigaction = siginfo_handler;
    } else if (siginfo) {
        sa.sa_flags = SA_SIGINFO;
        sa.sa_sigaction = siginfo_handler;
    } else {
        sa.sa_handler = plain_handler;
    }
    sigaction(SIGSEGV, &sa, NULL);
}

static void run_overflow(void)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    /* A deep job that fits first: stacks are usable, not just guarded. */
    while (ASYNC_start_job(&job, NULL, &ret, deep_but_fitting_job, NULL, 0) == ASYNC_PAUSE)
        ;
    if (ret != 2)
        _exit(3);
    while (ASYNC_start_job(&job, NULL, &ret, overflowing_job, NULL, 0) == ASYNC_PAUSE)
        ;
    _exit(4); /* not reached */
}

static void *overflow_thread(void *arg)
{
    (void)arg;
    run_overflow();
    return NULL;
}

static int child_mode(const char *mode)
{
    if (strcmp(mode, "overflow") == 0) {
        run_overflow();
    } else if (strcmp(mode, "overflow-siginfo") == 0) {
        install_program_handler(1);
        run_overflow();
    } else if (strcmp(mode, "overflow-plain") == 0) {
        install_program_handler(0);
        run_overflow();
    } else if (strcmp(mode, "overflow-own-altstack") == 0) {
        install_program_handler(2);
        run_overflow();
    } else if (strcmp(mode, "handler-state") == 0) {
        /* Prints whether the library installed its handler and gave this
         * thread a signal stack. */
        struct sigaction now;
        stack_t before, alt;
        ASYNC_JOB *job = NULL;
        int ret = 0;

        /* (A sanitizer may have given the thread a signal stack already.) */
        sigaltstack(NULL, &before);
        while (ASYNC_start_job(&job, NULL, &ret, deep_but_fitting_job, NULL, 0) == ASYNC_PAUSE)
            ;
        sigaction(SIGSEGV, NULL, &now);
        sigaltstack(NULL, &alt);
        say(now.sa_handler == SIG_DFL ? "SIGSEGV: default\n" : "SIGSEGV: handled\n");
        say(alt.ss_sp == before.ss_sp && alt.ss_flags == before.ss_flags ? "altstack: unchanged\n"
                                                                       : "altstack: added\n");
        return 0;
    } else if (strcmp(mode, "overflow-thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, overflow_thread, NULL);
        pthread_join(t, NULL);
    } else if (strcmp(mode, "fault-elsewhere") == 0) {
        ASYNC_JOB *job = NULL;
        int ret = 0;
        install_program_handler(1);
        /* The library is in use (its handler installed) ... */
        while (ASYNC_start_job(&job, NULL, &ret, deep_but_fitting_job, NULL, 0) == ASYNC_PAUSE)
            ;
        /* ... and an ordinary crash outside any job stack. */
        *(volatile int *)(uintptr_t)16 = 1;
    }
    return 5;
}

static void expect_overflow(const char *mode, const char *const *env, const char *size_text,
                            const char *handler_line)
{
    struct child c;

    run_self(mode, env, &c);
    printf("%s:\n", mode);
    CHECK(killed_by(&c, SIGSEGV));
    CHECK(strstr(c.err, "rustasync: fatal: job stack overflow") != NULL);
    CHECK(strstr(c.err, size_text) != NULL);
    CHECK(strstr(c.err, "RUSTASYNC_STACK_SIZE") != NULL);
    if (handler_line != NULL)
        CHECK(strstr(c.err, handler_line) != NULL);
    if (!killed_by(&c, SIGSEGV) || strstr(c.err, "job stack overflow") == NULL)
        show_child(mode, &c);
}

int main(int argc, char **argv)
{
    static const char *const size_128k[] = { "RUSTASYNC_STACK_SIZE=128K", NULL };
    static const char *const mprotect_guards[] = { "RUSTASYNC_GUARD=mprotect", NULL };
    static const char *const fault_handler_off[] = { "RUSTASYNC_FAULT_HANDLER=0", NULL };
    struct child c;

    self_path = argv[0];
    if (argc > 1)
        return child_mode(argv[1]);

    expect_overflow("overflow", NULL, "below a 65536-byte job stack", NULL);
    expect_overflow("overflow", size_128k, "below a 131072-byte job stack", NULL);
    expect_overflow("overflow", mprotect_guards, "below a 65536-byte job stack", NULL);
    expect_overflow("overflow-thread", NULL, "below a 65536-byte job stack", NULL);

    /* The program handles SIGSEGV itself: nothing of ours, its handling. */
    {
        static const char *const handled[] = { "overflow-siginfo", "overflow-plain" };
        for (size_t i = 0; i < 2; i++) {
            run_self(handled[i], NULL, &c);
            printf("%s:\n", handled[i]);
            CHECK(killed_by(&c, SIGSEGV));
            CHECK(strstr(c.err, "rustasync") == NULL);
            CHECK(strstr(c.err, "handler called") == NULL); /* no stack to run it on */
            if (test_failures)
                show_child(handled[i], &c);
        }
    }
    run_self("overflow-own-altstack", NULL, &c);
    printf("overflow-own-altstack:\n");
    CHECK(killed_by(&c, SIGSEGV));
    CHECK(strstr(c.err, "program SA_SIGINFO handler called") != NULL);
    CHECK(strstr(c.err, "rustasync") == NULL);

    /* RUSTASYNC_FAULT_HANDLER=0: no handler, no signal stack, no line. */
    run_self("overflow", fault_handler_off, &c);
    printf("overflow with RUSTASYNC_FAULT_HANDLER=0:\n");
    CHECK(killed_by(&c, SIGSEGV));
    CHECK(strstr(c.err, "rustasync") == NULL);
    run_self("handler-state", fault_handler_off, &c);
    CHECK(exited_ok(&c) && strstr(c.err, "SIGSEGV: default") != NULL && strstr(c.err, "altstack: unchanged") != NULL);
    run_self("handler-state", NULL, &c);
    CHECK(exited_ok(&c) && strstr(c.err, "SIGSEGV: handled") != NULL
          && (strstr(c.err, "altstack: added") != NULL || getenv("ASAN_OPTIONS") != NULL));
    if (test_failures)
        show_child("handler-state", &c);

    /* Any other fault: the program's handler, no diagnostic, still SIGSEGV. */
    run_self("fault-elsewhere", NULL, &c);
    printf("fault-elsewhere:\n");
    CHECK(killed_by(&c, SIGSEGV));
    CHECK(strstr(c.err, "program SA_SIGINFO handler called") != NULL);
    CHECK(strstr(c.err, "job stack overflow") == NULL);
    if (test_failures)
        show_child("fault-elsewhere", &c);
    return TEST_DONE();
}
