/* rustasync-only */
/*
 * setjmp/longjmp within a job's own stack, across a pause. Ordinary C, and
 * the case that breaks AddressSanitizer when stack switches are not
 * announced to it (longjmp makes ASan unpoison "the current stack", which
 * it must know is the job's): the sanitizer build of this test fails
 * without the fibre annotations in src/fibre.rs. (Against OpenSSL 3.0.x's
 * libcrypto this program crashed in ASYNC_pause_job after the first
 * longjmp when we tried it, hence rustasync only.)
 */
#include <setjmp.h>
#include <openssl/async.h>
#include "common.h"

static jmp_buf env;
static volatile int jump_at = 0;

static __attribute__((noinline)) void unwind_from(int depth)
{
    volatile char frame[256];

    frame[0] = (char)depth;
    if (depth == jump_at)
        longjmp(env, 1);
    if (depth > jump_at)
        unwind_from(depth - 1);
    (void)frame[0];
}

static int jumping_job(void *arg)
{
    volatile int jumps = 0;

    (void)arg;
    if (setjmp(env) == 0)
        unwind_from(10);
    jumps++;
    ASYNC_pause_job();
    if (setjmp(env) == 0)
        unwind_from(5);
    jumps++;
    return jumps;
}

int main(void)
{
    ASYNC_JOB *job = NULL;
    int ret = 0, pauses = 0, rc;

    while ((rc = ASYNC_start_job(&job, NULL, &ret, jumping_job, NULL, 0)) == ASYNC_PAUSE)
        pauses++;
    CHECK(rc == ASYNC_FINISH);
    CHECK(pauses == 1);
    CHECK(ret == 2);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
