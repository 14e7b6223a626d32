/*
 * ASYNC_WAIT_CTX_free runs the cleanups newest first with the context
 * intact around the first of them, as OpenSSL does: a cleanup that clears
 * another fd of the same context gets 1 and that fd's cleanup is not run
 * (whether the fd was added since the last pause, or before it), queries
 * from the cleanup see every fd still registered, and an fd a cleanup adds
 * is never cleaned up. Only the first cleanup queries the context: in
 * OpenSSL later ones would read freed list entries.
 */
#include <openssl/async.h>
#include "common.h"

static ASYNC_WAIT_CTX *ctx;
static int keys[4];

static void show_context(const char *when)
{
    size_t n = 0, added = 0, deleted = 0;
    OSSL_ASYNC_FD fds[8], add[8], del[8];
    OSSL_ASYNC_FD fd = -1;
    void *data = NULL;

    printf("  %s:", when);
    if (ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, &n) && n <= 8 && ASYNC_WAIT_CTX_get_all_fds(ctx, fds, &n)) {
        printf(" fds");
        for (size_t i = 0; i < n; i++)
            printf(" %d", fds[i]);
    }
    if (ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &added, NULL, &deleted) && added <= 8 && deleted <= 8
        && ASYNC_WAIT_CTX_get_changed_fds(ctx, add, &added, del, &deleted)) {
        printf("; added");
        for (size_t i = 0; i < added; i++)
            printf(" %d", add[i]);
        printf("; deleted");
        for (size_t i = 0; i < deleted; i++)
            printf(" %d", del[i]);
    }
    printf("; get_fd(key 1) %d", ASYNC_WAIT_CTX_get_fd(ctx, &keys[1], &fd, &data));
    printf(" -> %d\n", fd);
}

/* The newest fd's cleanup: looks at the context, clears fd 100 (key 0),
 * looks again, and adds fd 500, whose cleanup must never run. */
static void first_cleanup(ASYNC_WAIT_CTX *c, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)data;
    printf("cleanup of fd %d (key %d), same context %d\n", fd, (int)((const int *)key - keys), c == ctx);
    show_context("before clearing fd 100");
    printf("  clear_fd(key 0) = %d\n", ASYNC_WAIT_CTX_clear_fd(c, &keys[0]));
    show_context("after");
    printf("  set_wait_fd(fd 500) = %d\n", ASYNC_WAIT_CTX_set_wait_fd(c, &keys[3], 500, NULL, first_cleanup));
}

static void other_cleanup(ASYNC_WAIT_CTX *c, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)c;
    (void)data;
    printf("cleanup of fd %d (key %d)\n", fd, (int)((const int *)key - keys));
}

static int registering_job(void *arg)
{
    (void)arg;
    ASYNC_WAIT_CTX *c = ASYNC_get_wait_ctx(ASYNC_get_current_job());

    ASYNC_WAIT_CTX_set_wait_fd(c, &keys[0], 100, NULL, other_cleanup);
    ASYNC_WAIT_CTX_set_wait_fd(c, &keys[1], 200, NULL, other_cleanup);
    ASYNC_WAIT_CTX_set_wait_fd(c, &keys[2], 300, NULL, first_cleanup);
    ASYNC_pause_job();
    return 1;
}

int main(void)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;

    printf("fds added, never used by a job:\n");
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[0], 100, NULL, other_cleanup));
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[1], 200, NULL, other_cleanup));
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[2], 300, NULL, first_cleanup));
    ASYNC_WAIT_CTX_free(ctx);

    printf("fds added by a job that paused and was resumed (counts reset):\n");
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_start_job(&job, ctx, &ret, registering_job, NULL, 0) == ASYNC_PAUSE);
    CHECK(ASYNC_start_job(&job, ctx, &ret, registering_job, NULL, 0) == ASYNC_FINISH && ret == 1);
    ASYNC_WAIT_CTX_free(ctx);

    printf("an fd cleared before the free is not cleaned up:\n");
    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[0], 100, NULL, other_cleanup));
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[1], 200, NULL, other_cleanup));
    CHECK(ASYNC_WAIT_CTX_clear_fd(ctx, &keys[1]));
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
