/*
 * ASYNC_WAIT_CTX_free calls the cleanup function of every fd that was not
 * cleared (newest first, as OpenSSL walks its list), passing the context,
 * key, fd and custom data; entries without a cleanup are skipped.
 * ASYNC_WAIT_CTX_clear_fd never calls a cleanup, whether the fd was added
 * in the current window or before, and a cleared fd is not cleaned up by
 * free either, even when the clear has not been "committed" by a pause.
 */
#include <openssl/async.h>
#include "common.h"

struct key {
    const char *name;
};

static const struct key ka = { "a" }, kb = { "b" }, kc = { "c" }, kd = { "d" }, ke = { "e" },
    kf = { "f" }, kg = { "g" }, kh = { "h" }, ki = { "i" };
static ASYNC_WAIT_CTX *being_freed;
static int calls;

static void cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    calls++;
    printf("  cleanup: key %s, fd %d, data %s, ctx is the one being freed: %s\n",
           ((const struct key *)key)->name, fd, data == NULL ? "NULL" : (const char *)data,
           ctx == being_freed ? "yes" : "no");
}

static void free_ctx(const char *label, ASYNC_WAIT_CTX *ctx)
{
    printf("%s: freeing\n", label);
    being_freed = ctx;
    ASYNC_WAIT_CTX_free(ctx);
    printf("%s: freed (%d cleanups so far)\n", label, calls);
}

static int job(void *arg)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(ASYNC_get_current_job());
    int mode = *(const int *)arg;

    ASYNC_WAIT_CTX_set_wait_fd(ctx, &ke, 20, "E data", cleanup);
    ASYNC_pause_job();
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &kf, 21, "F data", cleanup);
    printf("  job: clear e (added in an earlier window) -> %d, cleanups %d\n",
           ASYNC_WAIT_CTX_clear_fd(ctx, &ke), calls);
    if (mode == 1) {
        /* Finish without another pause: e's deletion is never "committed". */
        return 1;
    }
    ASYNC_pause_job();
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &kh, 23, "H data", cleanup);
    return 2;
}

static void run_job(ASYNC_WAIT_CTX *ctx, int mode)
{
    ASYNC_JOB *j = NULL;
    int ret, rc, pauses = 0;

    do {
        rc = ASYNC_start_job(&j, ctx, &ret, job, &mode, sizeof(mode));
        if (rc == ASYNC_PAUSE && mode == 2 && ++pauses == 2) {
            /* f was set by the job in the window that just ended. */
            ASYNC_WAIT_CTX_set_wait_fd(ctx, &kg, 22, "G data", cleanup);
            printf("  caller: clear f -> %d, cleanups %d\n",
                   ASYNC_WAIT_CTX_clear_fd(ctx, &kf), calls);
        }
    } while (rc == ASYNC_PAUSE);
    CHECK(rc == ASYNC_FINISH);
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx;

    ctx = ASYNC_WAIT_CTX_new();
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &ka, 10, "A data", cleanup);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &kb, 11, "B data", cleanup);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &kc, 12, "C data", NULL);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &kd, 13, NULL, cleanup);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &ki, 14, "I data", cleanup);
    printf("outside: clear b -> %d, cleanups %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &kb), calls);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &ka, 15, "A data, second", cleanup);
    free_ctx("ctx 1 (a, b cleared, c without cleanup, d, i, a again)", ctx);

    ctx = ASYNC_WAIT_CTX_new();
    run_job(ctx, 1);
    free_ctx("ctx 2 (job set e, f, cleared e, finished)", ctx);

    ctx = ASYNC_WAIT_CTX_new();
    run_job(ctx, 2);
    free_ctx("ctx 3 (job set e, f, h, cleared e; caller set g, cleared f)", ctx);

    ctx = ASYNC_WAIT_CTX_new();
    free_ctx("ctx 4 (empty)", ctx);

    printf("total cleanups: %d\n", calls);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
