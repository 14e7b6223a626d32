/*
 * One wait context shared by two jobs paused at the same time, and reused
 * by a job after another finished: every resume resets the add/delete
 * counts exactly as OpenSSL's does, whichever job made the change.
 */
#include <openssl/async.h>
#include "common.h"

static int keys[4];

struct step {
    int add;   /* key index to add, or -1 */
    int clear; /* key index to clear, or -1 */
};

struct plan {
    int fd_base;
    struct step steps[3];
};

static int follow_plan(void *arg)
{
    struct plan *p = arg;
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(ASYNC_get_current_job());
    int i;

    for (i = 0; i < 3; i++) {
        if (p->steps[i].add >= 0)
            ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[p->steps[i].add], p->fd_base + p->steps[i].add, NULL, NULL);
        if (p->steps[i].clear >= 0)
            ASYNC_WAIT_CTX_clear_fd(ctx, &keys[p->steps[i].clear]);
        ASYNC_pause_job();
    }
    return p->fd_base;
}

static void show(const char *when, ASYNC_WAIT_CTX *ctx)
{
    OSSL_ASYNC_FD add[8], del[8];
    size_t nadd = 0, ndel = 0, all = 0, i;

    ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &nadd, NULL, &ndel);
    CHECK(nadd <= 8 && ndel <= 8);
    ASYNC_WAIT_CTX_get_changed_fds(ctx, add, &nadd, del, &ndel);
    ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, &all);
    printf("%-28s all=%zu added:", when, all);
    for (i = 0; i < nadd; i++)
        printf(" %d", add[i]);
    printf(" deleted:");
    for (i = 0; i < ndel; i++)
        printf(" %d", del[i]);
    printf("\n");
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *a = NULL, *b = NULL, *c = NULL;
    struct plan pa = { 10, { { 0, -1 }, { -1, 0 }, { 2, -1 } } };
    struct plan pb = { 20, { { 1, -1 }, { -1, -1 }, { -1, 1 } } };
    struct plan pc = { 30, { { 3, -1 }, { -1, 3 }, { -1, -1 } } };
    int ret, rc;

    CHECK(ASYNC_start_job(&a, ctx, &ret, follow_plan, &pa, sizeof(pa)) == ASYNC_PAUSE);
    show("A paused (added k0)", ctx);
    CHECK(ASYNC_start_job(&b, ctx, &ret, follow_plan, &pb, sizeof(pb)) == ASYNC_PAUSE);
    show("B paused (added k1)", ctx);
    CHECK(ASYNC_start_job(&a, ctx, &ret, follow_plan, NULL, 0) == ASYNC_PAUSE);
    show("A resumed, cleared k0", ctx);
    CHECK(ASYNC_start_job(&b, ctx, &ret, follow_plan, NULL, 0) == ASYNC_PAUSE);
    show("B resumed, no change", ctx);
    CHECK(ASYNC_start_job(&a, ctx, &ret, follow_plan, NULL, 0) == ASYNC_PAUSE);
    show("A resumed, added k2", ctx);
    ASYNC_WAIT_CTX_clear_fd(ctx, &keys[2]);
    show("caller cleared k2", ctx);
    CHECK(ASYNC_start_job(&b, ctx, &ret, follow_plan, NULL, 0) == ASYNC_PAUSE);
    show("B resumed, cleared k1", ctx);
    rc = ASYNC_start_job(&a, ctx, &ret, follow_plan, NULL, 0);
    printf("A: %s %d\n", rc == ASYNC_FINISH ? "finished" : "not finished", ret);
    show("A finished", ctx);
    rc = ASYNC_start_job(&b, ctx, &ret, follow_plan, NULL, 0);
    printf("B: %s %d\n", rc == ASYNC_FINISH ? "finished" : "not finished", ret);
    show("B finished", ctx);

    /* Reused alone by a third job after both finished. */
    while ((rc = ASYNC_start_job(&c, ctx, &ret, follow_plan, &pc, sizeof(pc))) == ASYNC_PAUSE)
        show("C paused", ctx);
    printf("C: %s %d\n", rc == ASYNC_FINISH ? "finished" : "not finished", ret);
    show("C finished", ctx);
    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
