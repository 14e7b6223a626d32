/* rustasync-only */
/*
 * Misuse that crashes OpenSSL 1.1.1 itself (NULL pointers, stale handles),
 * in a 1.1.1 process with librustasync preloaded: each gets rustasync's
 * failure value and one entry on 1.1.1's error queue, packed as 1.1.1 packs
 * (library 51, 1.1.1's function code where 1.1.1 has one for that function,
 * else 0, and 1.1.1's number for the reason). Run only preloaded by
 * c-tests/openssl111/run.sh.
 */
#include <openssl/async.h>
#include <openssl/err.h>
#include "common.h"

static int finish(void *arg)
{
    (void)arg;
    return 1;
}

static unsigned long only_entry(void)
{
    unsigned long code = ERR_get_error();
    if (ERR_get_error() != 0)
        return 0;
    printf("queue: 0x%08lx\n", code);
    return code;
}

int main(void)
{
    ASYNC_JOB *job = NULL, *stale;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, fd = 0;
    size_t n = 0;
    void *data = NULL;

    CHECK(ASYNC_start_job(NULL, ctx, &ret, finish, NULL, 0) == ASYNC_ERR);
    CHECK(only_entry() == 0x33069043UL); /* ASYNC_F_ASYNC_START_JOB, ERR_R_PASSED_NULL_PARAMETER */
    CHECK(ASYNC_start_job(&job, ctx, &ret, NULL, NULL, 0) == ASYNC_ERR);
    CHECK(only_entry() == 0x33069043UL);

    CHECK(ASYNC_start_job(&job, ctx, &ret, finish, NULL, 0) == ASYNC_FINISH);
    /* A handle that is no job of the library. */
    stale = (ASYNC_JOB *)&ret;
    CHECK(ASYNC_start_job(&stale, ctx, &ret, finish, NULL, 0) == ASYNC_ERR);
    CHECK(only_entry() == 0x33069007UL); /* ERR_R_PASSED_INVALID_ARGUMENT, not fatal */

    CHECK(ASYNC_get_wait_ctx(NULL) == NULL);
    CHECK(only_entry() == 0x33000043UL); /* no function code in 1.1.1 */
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(NULL, &n, 3, NULL, NULL) == 0);
    CHECK(only_entry() == 0x3306a043UL); /* ASYNC_F_ASYNC_WAIT_CTX_SET_WAIT_FD */
    CHECK(ASYNC_WAIT_CTX_get_fd(NULL, &n, &fd, &data) == 0);
    CHECK(only_entry() == 0x33000043UL);
    CHECK(ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, NULL) == 0);
    CHECK(only_entry() == 0x33000043UL);
    CHECK(ASYNC_WAIT_CTX_get_changed_fds(NULL, NULL, &n, NULL, &n) == 0);
    CHECK(only_entry() == 0x33000043UL);
    CHECK(ASYNC_WAIT_CTX_clear_fd(NULL, &n) == 0);
    CHECK(only_entry() == 0x33000043UL);
    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
