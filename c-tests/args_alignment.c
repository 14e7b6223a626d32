/*
 * The job's copy of the arguments is suitably aligned for any type, as
 * OpenSSL's malloc'd copy is: callers pass structs holding long double,
 * 128-bit integers or SIMD-sized members.
 */
#include <stddef.h>
#include <stdint.h>
#include <openssl/async.h>
#include "common.h"

struct wide {
    long double ld;
    char tail[3];
};

static int alignment_of(void *arg)
{
    uintptr_t p = (uintptr_t)arg;

    if (arg == NULL)
        return -1;
    if (p % _Alignof(max_align_t) != 0)
        return 0;
    return 1;
}

static int sum_wide(void *arg)
{
    struct wide *w = arg;

    ASYNC_pause_job();
    return (int)(w->ld * 4) + w->tail[0];
}

int main(void)
{
    static const size_t sizes[] = { 1, 2, 3, 5, 7, 8, 12, 16, 24, 33, 100, 4096, 10000 };
    static char buf[10000 + 8]; /* room for the odd offsets below */
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    struct wide w = { 2.25L, { 3, 0, 0 } };
    ASYNC_JOB *job = NULL;
    int ret, all = 1;
    size_t k;

    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        /* Odd source addresses must not matter either. */
        ret = -1;
        CHECK(ASYNC_start_job(&job, NULL, &ret, alignment_of, buf + (k % 7), sizes[k])
              == ASYNC_FINISH);
        printf("size %zu: args aligned to max_align_t: %s\n", sizes[k], ret == 1 ? "yes" : "no");
        all &= ret == 1;
    }
    CHECK(all);
    CHECK(ASYNC_start_job(&job, ctx, &ret, sum_wide, &w, sizeof(w)) == ASYNC_PAUSE);
    w.ld = 100;
    CHECK(ASYNC_start_job(&job, ctx, &ret, sum_wide, NULL, 0) == ASYNC_FINISH);
    printf("struct with long double: ret %d\n", ret);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
