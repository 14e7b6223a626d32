/*
 * The floating-point environment is the thread's (as with OpenSSL, whose
 * switch leaves MXCSR and the x87 control word alone), with a signal
 * arriving at every instruction of every switch. The program single-steps
 * (the trap flag) through starts, pauses, resumes and finishes; the SIGTRAP
 * handler loads another MXCSR and x87 control word at each step, which the
 * kernel puts back on return, so nothing may change. Each side records the
 * environment it sees: rounding (SSE and x87), x87 precision, the MXCSR
 * exception flags, DAZ, FTZ and the denormal mask, all differing between
 * caller and job: a job made ahead by ASYNC_init_thread starts with the
 * environment of its creation, a pooled job with its caller's; a job that
 * pauses with flags set is resumed by a caller with other flags, and each
 * sees the other's. The same scenario runs again in processes whose
 * switches rustasync follows (RUSTASYNC_STATS=1, RUSTASYNC_LOG=trace: the
 * switches are then calls, not jumps) and must record the same. The
 * handler also counts the steps inside the library that implements
 * ASYNC_start_job, so the signals demonstrably reached the switch. Under
 * valgrind, which does not single-step, the scenario runs without the
 * trap flag (in both runs).
 */
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <xmmintrin.h>
#include <openssl/async.h>
#include <openssl/crypto.h>
#include "common.h"
#include "fp_env.h"
#include "child.h"

#define MX_DAZ 0x40
#define MX_DENORMAL_MASK 0x100
#define MX_FTZ 0x8000
#define TRAP_FLAG 0x100
#define MAX_SNAPS 32

static volatile sig_atomic_t stepping;
static volatile long steps, steps_inside;
static uintptr_t impl_lo, impl_hi;

struct snap {
    const char *who;
    unsigned mx;
    uint16_t cw;
};
static struct snap snaps[MAX_SNAPS];
static int snap_count;

static void record(const char *who)
{
    if (snap_count < MAX_SNAPS) {
        snaps[snap_count].who = who;
        snaps[snap_count].mx = _mm_getcsr();
        snaps[snap_count].cw = x87_cw();
        snap_count++;
    }
}

/* Sets rounding (0-3 in both units), x87 precision, and MXCSR's DAZ, FTZ
 * and denormal-mask bits; the exception flags are left as they are. */
static void set_env(unsigned rounding, unsigned precision, unsigned extra)
{
    unsigned mx = _mm_getcsr() & ~((3u << MX_RC_SHIFT) | MX_DAZ | MX_FTZ | MX_DENORMAL_MASK);

    _mm_setcsr(mx | (rounding << MX_RC_SHIFT) | extra);
    set_x87_cw((uint16_t)((x87_cw() & ~((3u << X87_RC_SHIFT) | (3u << X87_PC_SHIFT))) | (rounding << X87_RC_SHIFT)
                          | (precision << X87_PC_SHIFT)));
}

static void on_trap(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    uintptr_t at = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

    (void)sig;
    (void)info;
    if (!stepping) {
        uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
        return;
    }
    steps++;
    if (at >= impl_lo && at < impl_hi)
        steps_inside++;
    /* Another environment, for the handler only: the kernel restores the
     * interrupted one when the handler returns. */
    _mm_setcsr(0x1f80 | (1u << MX_RC_SHIFT) | MX_FLAGS);
    set_x87_cw(0x037f | (3u << X87_RC_SHIFT));
}

static int under_valgrind_checker(void)
{
    return under_checker("valgrind");
}

static void step_on(void)
{
    if (under_valgrind_checker())
        return;
    stepping = 1;
    __asm__ volatile("pushfq\n\torq %0, (%%rsp)\n\tpopfq" : : "i"(TRAP_FLAG) : "memory", "cc");
}

static void step_off(void)
{
    stepping = 0;
    /* The next trap clears the flag. */
    __asm__ volatile("nop" ::: "memory");
}

/* The executable segment of the object ASYNC_start_job comes from. */
static int find_impl(struct dl_phdr_info *info, size_t size, void *data)
{
    uintptr_t want = (uintptr_t)data;
    int i;

    (void)size;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && want >= lo && want < lo + ph->p_memsz) {
            impl_lo = lo;
            impl_hi = lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static volatile double one = 1.0, three = 3.0, zero = 0.0, sink;

static int job_a(void *arg)
{
    (void)arg;
    record("A (made by ASYNC_init_thread) at start");
    set_env(1, 0, MX_FTZ);
    set_flags(0);
    sink = one / three;
    ASYNC_pause_job();
    record("A resumed");
    set_env(3, 2, MX_DAZ | MX_DENORMAL_MASK);
    sink = one / zero;
    return 1;
}

static int job_b(void *arg)
{
    (void)arg;
    record("B (pooled) at start");
    set_env(2, 3, MX_DAZ);
    set_flags(0);
    sink = one / three;
    ASYNC_pause_job();
    record("B resumed");
    set_flags(MX_INEXACT | MX_DIVZERO);
    ASYNC_pause_job();
    record("B resumed again");
    return 2;
}

static int job_c(void *arg)
{
    (void)arg;
    record("C (made by ASYNC_init_thread) at start");
    set_env(0, 2, 0);
    return 3;
}

/* The scenario; the records are printed afterwards. */
static void scenario(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *a = NULL, *b = NULL, *c = NULL;
    int ret = 0, ok = 1;
    unsigned saved_mx = _mm_getcsr();
    uint16_t saved_cw = x87_cw();

    /* Two jobs made now, with this environment. */
    set_env(0, 3, 0);
    set_flags(0);
    ok &= ASYNC_init_thread(2, 2) == 1;
    set_env(2, 2, MX_DAZ | MX_FTZ | MX_DENORMAL_MASK);
    set_flags(MX_DIVZERO);
    step_on();
    ok &= ASYNC_start_job(&a, ctx, &ret, job_a, NULL, 0) == ASYNC_PAUSE;
    record("caller after A paused");
    set_env(3, 0, MX_DENORMAL_MASK);
    set_flags(MX_DIVZERO);
    ok &= ASYNC_start_job(&a, ctx, &ret, job_a, NULL, 0) == ASYNC_FINISH && ret == 1;
    record("caller after A finished");
    set_env(1, 2, MX_FTZ);
    set_flags(0);
    ok &= ASYNC_start_job(&b, ctx, &ret, job_b, NULL, 0) == ASYNC_PAUSE;
    record("caller after B paused");
    set_env(0, 3, 0);
    set_flags(MX_DIVZERO);
    ok &= ASYNC_start_job(&b, ctx, &ret, job_b, NULL, 0) == ASYNC_PAUSE;
    record("caller after B paused again");
    set_flags(0);
    /* While B is paused, the other job made ahead. */
    ok &= ASYNC_start_job(&c, ctx, &ret, job_c, NULL, 0) == ASYNC_FINISH && ret == 3;
    record("caller after C finished");
    set_env(3, 3, MX_DAZ);
    ok &= ASYNC_start_job(&b, ctx, &ret, job_b, NULL, 0) == ASYNC_FINISH && ret == 2;
    record("caller after B finished");
    step_off();
    _mm_setcsr(saved_mx);
    set_x87_cw(saved_cw);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    printf("jobs ran as expected: %s\n", ok ? "yes" : "no");
}

static void print_records(void)
{
    static const char *const modes[] = { "nearest", "down", "up", "toward-zero" };
    int i;

    for (i = 0; i < snap_count; i++) {
        unsigned mx = snaps[i].mx;
        uint16_t cw = snaps[i].cw;

        printf("%s: sse %s, x87 %s", snaps[i].who, modes[(mx >> MX_RC_SHIFT) & 3], modes[(cw >> X87_RC_SHIFT) & 3]);
        /* valgrind emulates neither precision control nor MXCSR's flags. */
        if (!under_valgrind_checker())
            printf(", precision %u, flags %#x, daz %d, ftz %d, denormal masked %d", (cw >> X87_PC_SHIFT) & 3,
                   mx & MX_FLAGS, !!(mx & MX_DAZ), !!(mx & MX_FTZ), !!(mx & MX_DENORMAL_MASK));
        printf("\n");
    }
}

/* Runs the scenario in a new process with `var` set; its records go to out. */
static int records_with(const char *var, char *out, size_t cap)
{
    const char *const env[] = { var, "FP_ENV_STEPPED_CHILD=1", NULL };

    return run_self_output(NULL, env, out, cap);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    static char direct[8192], watched[8192];
    static const char *const watchers[] = { "RUSTASYNC_STATS=1", "RUSTASYNC_LOG=trace" };
    void *start_job;
    size_t i;
    int set_up;
    FILE *mem;

    (void)argc;
    self_path = argv[0];
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    set_up = sigaction(SIGTRAP, &sa, NULL) == 0;
    start_job = (void *)ASYNC_start_job;
    dl_iterate_phdr(find_impl, start_job);
    set_up &= impl_hi > impl_lo;
    /* libcrypto 3 in the process, as in quick_start_parity.c. */
    set_up &= OpenSSL_version_num() >= 0x10101000L;

    if (getenv("FP_ENV_STEPPED_CHILD") != NULL) {
        if (!set_up)
            return 1;
        scenario();
        print_records();
        return 0;
    }
    CHECK(set_up);

    /* The scenario here, its records kept to compare with the children's. */
    scenario();
    mem = fmemopen(direct, sizeof(direct), "w");
    if (mem != NULL) {
        FILE *out = stdout;

        stdout = mem;
        printf("jobs ran as expected: yes\n");
        print_records();
        fclose(mem);
        stdout = out;
    }
    print_records();
    if (under_valgrind_checker())
        printf("under valgrind: not single-stepped\n");
    else {
        printf("single-stepped: %s\n", steps > 1000 ? "yes" : "no");
        printf("steps inside the library that switches: %s\n", steps_inside > 100 ? "yes" : "no");
        CHECK(steps > 1000 && steps_inside > 100);
    }
    for (i = 0; i < sizeof(watchers) / sizeof(watchers[0]); i++) {
        int ok = records_with(watchers[i], watched, sizeof(watched));

        printf("with %s: %s\n", watchers[i], ok && strcmp(watched, direct) == 0 ? "the same" : "different");
        CHECK(ok && strcmp(watched, direct) == 0);
        if (strcmp(watched, direct) != 0)
            printf("%s", watched);
    }
    return TEST_DONE();
}
