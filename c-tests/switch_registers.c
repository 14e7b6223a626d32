/*
 * The callee-saved registers (rbx, rbp, r12-r15) are the same after
 * ASYNC_start_job and ASYNC_pause_job as before, for the program and for
 * the job, on every way a call can go: a new job's first entry, a pooled
 * job's, resumes, pauses, finishes, a pause while pausing is blocked and
 * outside any job, refused and failing starts, ASYNC_NO_JOBS, and jobs that
 * start and resume other jobs while paused (the outer job relays). On
 * x86-64 rustasync's two functions are stubs that switch by jumping and
 * return by an indirect jump; OpenSSL's are ordinary C functions. Each call
 * below goes through an assembly wrapper that loads a distinct pattern into
 * the six registers (from a counter, so that the program's and the job's
 * values differ), calls the function and records which registers came back
 * changed. The output (counts of calls and of changed registers) must be
 * the same against both libraries.
 */
#include <stdint.h>
#include <string.h>
#include <openssl/async.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/crypto.h>
#endif
#include "common.h"

#if !defined(__x86_64__)
#error "switch_registers.c checks x86-64 registers"
#endif

/* The next pattern: each wrapped call takes this, the wrapper adds 0..5 per
 * register. */
uint64_t reg_pattern = 0x5a5a000000000000ull;
/* One bit per register (rbx, rbp, r12..r15) that came back changed. */
unsigned reg_changed;
unsigned long reg_calls;
/* Every job gets one: OpenSSL 3.0 crashes resuming a job started without. */
static ASYNC_WAIT_CTX *wctx;

int checked_start(ASYNC_JOB **job, ASYNC_WAIT_CTX *ctx, int *ret, int (*func)(void *), void *args,
                  size_t size);
int checked_pause(void);

/* Both wrappers: save the six registers, load the pattern, call, compare
 * with the pattern kept on this frame (the job may have moved reg_pattern
 * on meanwhile), record, restore. */
#define CHECKED_CALL(name, target)                                                               \
    __asm__(".text\n"                                                                            \
            ".p2align 4\n"                                                                       \
            ".globl " #name "\n"                                                                 \
            ".type " #name ", @function\n" #name ":\n"                                           \
            "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"     \
            "  mov reg_pattern(%rip), %rax\n"                                                    \
            "  lea 0x100(%rax), %r10\n"                                                          \
            "  mov %r10, reg_pattern(%rip)\n"                                                    \
            "  push %rax\n"                                                                      \
            "  mov %rax, %rbx\n  lea 1(%rax), %rbp\n  lea 2(%rax), %r12\n"                       \
            "  lea 3(%rax), %r13\n  lea 4(%rax), %r14\n  lea 5(%rax), %r15\n"                    \
            "  call " #target "@PLT\n"                                                           \
            "  mov (%rsp), %rcx\n"                                                               \
            "  xor %esi, %esi\n"                                                                 \
            "  cmp %rcx, %rbx\n  je 1f\n  or $1, %esi\n1:\n"                                     \
            "  lea 1(%rcx), %rdx\n  cmp %rdx, %rbp\n  je 1f\n  or $2, %esi\n1:\n"                \
            "  lea 2(%rcx), %rdx\n  cmp %rdx, %r12\n  je 1f\n  or $4, %esi\n1:\n"                \
            "  lea 3(%rcx), %rdx\n  cmp %rdx, %r13\n  je 1f\n  or $8, %esi\n1:\n"                \
            "  lea 4(%rcx), %rdx\n  cmp %rdx, %r14\n  je 1f\n  or $16, %esi\n1:\n"               \
            "  lea 5(%rcx), %rdx\n  cmp %rdx, %r15\n  je 1f\n  or $32, %esi\n1:\n"               \
            "  or %esi, reg_changed(%rip)\n"                                                     \
            "  addq $1, reg_calls(%rip)\n"                                                       \
            "  add $8, %rsp\n"                                                                   \
            "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"           \
            "  ret\n"                                                                            \
            ".size " #name ", .-" #name "\n")

CHECKED_CALL(checked_start, ASYNC_start_job);
CHECKED_CALL(checked_pause, ASYNC_pause_job);

static int pauses_n(void *arg)
{
    int i, n = *(int *)arg, sum = 0;

    for (i = 0; i < n; i++)
        sum += checked_pause();
    return sum;
}

static int blocked_pauses(void *arg)
{
    int r;

    (void)arg;
    ASYNC_block_pause();
    r = checked_pause() + checked_pause();
    ASYNC_unblock_pause();
    return r + checked_pause();
}

/* Runs an inner job to its end, pausing itself whenever the inner job
 * pauses; the inner job is started afresh and resumed from here. Only
 * where jobs nest (rustasync): OpenSSL refuses a start inside a job. */
static int relay(void *arg)
{
    ASYNC_JOB *in = NULL;
    int three = 3, ret = 0, rc;

    (void)arg;
    while ((rc = checked_start(&in, wctx, &ret, pauses_n, &three, sizeof(three))) == ASYNC_PAUSE)
        checked_pause();
    return rc == ASYNC_FINISH ? ret : -1;
}

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
/* Pauses with its own default library context, which each side's switch
 * swaps. */
static int own_libctx(void *arg)
{
    OSSL_LIB_CTX *mine = OSSL_LIB_CTX_new(), *before;
    int sum;

    (void)arg;
    before = OSSL_LIB_CTX_set0_default(mine);
    sum = checked_pause() + checked_pause();
    OSSL_LIB_CTX_set0_default(before);
    OSSL_LIB_CTX_free(mine);
    return sum + checked_pause();
}
#endif

/* Starts and resumes one job to its end through the wrapper. */
static int run_to_end(int (*fn)(void *), void *args, size_t size, int *pauses)
{
    ASYNC_JOB *job = NULL;
    int ret = -1;

    *pauses = 0;
    while (checked_start(&job, wctx, &ret, fn, args, size) == ASYNC_PAUSE)
        (*pauses)++;
    return ret;
}

static void report(const char *what)
{
    printf("%s: registers changed: %s\n", what, reg_changed == 0 ? "none" : "SOME");
    if (reg_changed != 0)
        printf("  mask 0x%x (bit 0 rbx, 1 rbp, 2-5 r12-r15)\n", reg_changed);
    CHECK(reg_changed == 0);
    reg_changed = 0;
}

int main(void)
{
    int zero = 0, one = 1, five = 5, pauses, ret, i, all_ok = 1;
    ASYNC_JOB *a = NULL, *b = NULL, *c = NULL;

    wctx = ASYNC_WAIT_CTX_new();

    CHECK(checked_pause() == 1);
    report("pause outside a job");

    CHECK(run_to_end(pauses_n, &zero, sizeof(zero), &pauses) == 0 && pauses == 0);
    report("a new job, no pause");
    CHECK(run_to_end(pauses_n, &five, sizeof(five), &pauses) == 5 && pauses == 5);
    report("a pooled job, five pauses");
    for (i = 0; i < 100; i++)
        all_ok &= run_to_end(pauses_n, &one, sizeof(one), &pauses) == 1 && pauses == 1;
    CHECK(all_ok);
    report("a hundred jobs, one pause each");
    CHECK(run_to_end(blocked_pauses, NULL, 0, &pauses) == 3 && pauses == 1);
    report("pauses while blocked");

    /* Three paused at once, resumed out of order; a full pool. */
    CHECK(ASYNC_init_thread(3, 0) == 1);
    CHECK(checked_start(&a, wctx, &ret, pauses_n, &five, sizeof(five)) == ASYNC_PAUSE);
    CHECK(checked_start(&b, wctx, &ret, pauses_n, &one, sizeof(one)) == ASYNC_PAUSE);
    CHECK(checked_start(&c, wctx, &ret, pauses_n, &one, sizeof(one)) == ASYNC_PAUSE);
    {
        ASYNC_JOB *none = NULL;

        CHECK(checked_start(&none, wctx, &ret, pauses_n, &one, sizeof(one)) == ASYNC_NO_JOBS);
    }
    CHECK(checked_start(&c, wctx, &ret, pauses_n, NULL, 0) == ASYNC_FINISH && ret == 1);
    CHECK(checked_start(&a, wctx, &ret, pauses_n, NULL, 0) == ASYNC_PAUSE);
    CHECK(checked_start(&b, wctx, &ret, pauses_n, NULL, 0) == ASYNC_FINISH && ret == 1);
    while (checked_start(&a, wctx, &ret, pauses_n, NULL, 0) == ASYNC_PAUSE)
        ;
    CHECK(ret == 5);
    report("three jobs at once, ASYNC_NO_JOBS");
    ASYNC_cleanup_thread();

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    CHECK(run_to_end(own_libctx, NULL, 0, &pauses) == 3 && pauses == 3);
    report("a job with its own default library context");
#endif
    printf("calls through the wrappers: %lu\n", reg_calls);

    if (strcmp(TEST_EXPECT_IMPL, "librustasync.so") == 0) {
        ret = run_to_end(relay, NULL, 0, &pauses);
        if (ret != 3 || pauses != 3 || reg_changed != 0) {
            printf("FAILED: nested jobs: ret %d, %d pauses, registers changed 0x%x\n", ret, pauses,
                   reg_changed);
            test_failures++;
        }
    }
    ASYNC_cleanup_thread();
    ASYNC_WAIT_CTX_free(wctx);
    return TEST_DONE();
}
