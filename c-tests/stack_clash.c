/* rustasync-only */
/*
 * Stack clash: a job frame larger than a page that touches only its low end
 * (here a 70 KiB alloca, written at its lowest byte) must not jump over the
 * guard below its stack into the neighbouring job's stack: it lands in the
 * guard zone (64 KiB and a page), and the process dies of SIGSEGV with the
 * library's one-line diagnostic — with MADV_GUARD_INSTALL guards and with
 * the mprotect fallback. A neighbouring job is paused right below the
 * clashing one, so without a large enough zone the write corrupts it
 * silently and the child exits normally. Each case runs in a child.
 * (With OpenSSL's unguarded malloc'd stacks this is plain heap corruption,
 * hence rustasync only.)
 */
#include <alloca.h>
#include <string.h>
#include <openssl/async.h>
#include "child.h"

static int neighbour_job(void *arg)
{
    volatile char mark[256];

    (void)arg;
    memset((char *)mark, 0x42, sizeof(mark));
    ASYNC_pause_job();
    for (size_t i = 0; i < sizeof(mark); i++)
        if (mark[i] != 0x42)
            return 2;
    return 1;
}

static int clashing_job(void *arg)
{
    volatile char *frame = __builtin_alloca(70 * 1024);

    (void)arg;
    frame[0] = 0x13; /* the lowest byte only: nothing probes the pages between */
    ASYNC_pause_job();
    return frame[0];
}

static int clash(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *neighbour = NULL, *clasher = NULL;
    int ret = 0;

    /* Two fresh jobs: the first made takes the lower stack. */
    ASYNC_init_thread(2, 0);
    if (ASYNC_start_job(&neighbour, ctx, &ret, neighbour_job, NULL, 0) != ASYNC_PAUSE)
        return 10;
    if (ASYNC_start_job(&clasher, ctx, &ret, clashing_job, NULL, 0) != ASYNC_PAUSE)
        return 11;
    while (ASYNC_start_job(&clasher, ctx, &ret, clashing_job, NULL, 0) == ASYNC_PAUSE)
        ;
    while (ASYNC_start_job(&neighbour, ctx, &ret, neighbour_job, NULL, 0) == ASYNC_PAUSE)
        ;
    return ret == 1 ? 0 : 12; /* not reached with a big enough guard */
}

int main(int argc, char **argv)
{
    static const char *const mprotect_guards[] = { "RUSTASYNC_GUARD=mprotect", NULL };
    const char *const *envs[] = { NULL, mprotect_guards };
    struct child c;

    self_path = argv[0];
    if (argc > 1)
        return clash();
    for (int i = 0; i < 2; i++) {
        run_self("clash", envs[i], &c);
        printf("%s guards:\n", i == 0 ? "default" : "mprotect");
        CHECK(killed_by(&c, SIGSEGV));
        CHECK(strstr(c.err, "rustasync: fatal: job stack overflow") != NULL);
        if (test_failures)
            show_child("clash", &c);
    }
    return TEST_DONE();
}
