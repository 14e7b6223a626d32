/*
 * ASYNC_WAIT_CTX_get_changed_fds reports the fds added and deleted since
 * the job last paused: an fd added and cleared within one window appears
 * in neither list; with NULL arrays only the counts are returned; the
 * counts reset when the paused job is resumed (seen from inside the job
 * right after the resume, and from outside at the next pause). Changes
 * made by the caller while the job is paused count too. Until a job has
 * paused with the context nothing is ever reset.
 */
#include <openssl/async.h>
#include "common.h"

static const char key_a = 'a', key_b = 'b', key_c = 'c', key_d = 'd', key_e = 'e',
    key_f = 'f', key_g = 'g', key_h = 'h';

static void print_list(const OSSL_ASYNC_FD *fds, size_t n)
{
    size_t i;

    printf("[");
    for (i = 0; i < n && i < 16; i++)
        printf(i ? " %d" : "%d", fds[i]);
    printf("]");
}

static void show(const char *who, ASYNC_WAIT_CTX *ctx)
{
    OSSL_ASYNC_FD add[16], del[16], all[16];
    size_t nadd = 99, ndel = 99, nadd2 = 99, ndel2 = 99, nall = 99, i;
    int r;

    r = ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &nadd, NULL, &ndel);
    printf("%s: counts only -> %d: %zu added, %zu deleted\n", who, r, nadd, ndel);
    for (i = 0; i < 16; i++)
        add[i] = del[i] = -2;
    r = ASYNC_WAIT_CTX_get_changed_fds(ctx, add, &nadd2, del, &ndel2);
    printf("%s: lists -> %d: added %zu ", who, r, nadd2);
    print_list(add, nadd2);
    printf(" deleted %zu ", ndel2);
    print_list(del, ndel2);
    printf("\n");
    CHECK(nadd == nadd2 && ndel == ndel2);
    /* One array only: the other list is not written. */
    for (i = 0; i < 16; i++)
        add[i] = del[i] = -2;
    ASYNC_WAIT_CTX_get_changed_fds(ctx, add, &nadd2, NULL, &ndel2);
    printf("%s: added only ", who);
    print_list(add, nadd2);
    for (i = 0; i < 16; i++)
        add[i] = -2;
    ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &nadd2, del, &ndel2);
    printf(", deleted only ");
    print_list(del, ndel2);
    printf(", add array untouched %s\n", add[0] == -2 ? "yes" : "no");
    ASYNC_WAIT_CTX_get_all_fds(ctx, all, &nall);
    printf("%s: all fds ", who);
    print_list(all, nall);
    printf("\n");
}

static int job(void *arg)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(ASYNC_get_current_job());

    (void)arg;
    printf("-- job starts\n");
    show("job at start", ctx);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_c, 20, NULL, NULL);
    printf("-- job set c=20 and pauses\n");
    ASYNC_pause_job();

    printf("-- job resumed\n");
    show("job after resume", ctx);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_d, 30, NULL, NULL);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_e, 31, NULL, NULL);
    printf("clear e (added in this window) -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_e));
    printf("clear b (added before) -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_b));
    printf("clear b again -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_b));
    printf("-- job set d=30 e=31, cleared e and b; pauses\n");
    ASYNC_pause_job();

    printf("-- job resumed\n");
    show("job after second resume", ctx);
    /* Re-adding a key deleted in an earlier window, then deleting an old one. */
    printf("clear d -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_d));
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_d, 32, NULL, NULL);
    printf("-- job cleared d, set d=32; pauses\n");
    ASYNC_pause_job();

    printf("-- job resumed\n");
    show("job after third resume", ctx);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_h, 50, NULL, NULL);
    printf("clear f -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_f));
    printf("-- job set h=50, cleared f; finishes\n");
    return 0;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *j = NULL;
    int ret, rc;

    show("new ctx", ctx);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_a, 10, NULL, NULL);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_b, 11, NULL, NULL);
    show("outside, set a=10 b=11", ctx);
    printf("clear a -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_a));
    show("outside, cleared a", ctx);

    rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_PAUSE);
    show("caller at first pause", ctx);
    printf("-- caller resumes\n");
    rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_PAUSE);
    show("caller at second pause", ctx);
    /* The caller changes fds while the job is paused. */
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_f, 40, NULL, NULL);
    printf("caller: clear c -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_c));
    show("caller after set f=40, clear c", ctx);
    printf("-- caller resumes\n");
    rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_PAUSE);
    show("caller at third pause", ctx);
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_g, 41, NULL, NULL);
    printf("caller: clear g (just added) -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_g));
    show("caller after set and clear g", ctx);
    printf("-- caller resumes\n");
    rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_FINISH);
    show("caller after finish", ctx);

    /* A second job on the same context: the first window starts from the finish state. */
    rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_PAUSE);
    show("caller at second job's first pause", ctx);
    while (rc == ASYNC_PAUSE)
        rc = ASYNC_start_job(&j, ctx, &ret, job, NULL, 0);
    CHECK(rc == ASYNC_FINISH);
    show("caller after second job", ctx);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
