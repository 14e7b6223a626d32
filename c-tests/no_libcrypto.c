/* no-libcrypto */
/*
 * librustasync in a process without libcrypto: this program is linked with
 * -lrustasync only (see run-diff.sh), proves that no libcrypto is loaded,
 * and exercises jobs, pauses, the pool, wait fds and threads. Errors that
 * would go on OpenSSL's error queue are simply not reported there.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <openssl/async.h>
#include "common.h"

static int crypto_objects, rustasync_objects;

static int scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "libcrypto") != NULL)
        crypto_objects++;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "librustasync") != NULL)
        rustasync_objects++;
    return 0;
}

static void scan(const char *when)
{
    crypto_objects = rustasync_objects = 0;
    dl_iterate_phdr(scan_object, NULL);
    printf("%s: libcrypto objects loaded %d, librustasync loaded %d\n", when, crypto_objects,
           rustasync_objects);
    CHECK(crypto_objects == 0);
    CHECK(rustasync_objects == 1);
    /* librustasync may export helpers of its own; these only libcrypto has. */
    CHECK(dlsym(RTLD_DEFAULT, "OPENSSL_init_crypto") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "ERR_new") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "OSSL_LIB_CTX_new") == NULL);
}

static const char key_a = 'a', key_b = 'b';
static int cleanups;

static void cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)ctx;
    (void)data;
    printf("cleanup key %c fd %d\n", *(const char *)key, fd);
    cleanups++;
}

struct args {
    int id;
    char text[12];
};

static int fd_job(void *arg)
{
    struct args *a = arg;
    ASYNC_JOB *me = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(me);
    size_t nadd, ndel;

    if (me == NULL || ctx == NULL)
        return -1;
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_a, 7, NULL, cleanup);
    ASYNC_pause_job();
    ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &nadd, NULL, &ndel);
    if (nadd != 0 || ndel != 0 || ASYNC_get_current_job() != me)
        return -2;
    ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_b, 8, NULL, cleanup);
    ASYNC_WAIT_CTX_clear_fd(ctx, &key_a);
    ASYNC_block_pause();
    ASYNC_pause_job(); /* blocked: does not pause */
    ASYNC_unblock_pause();
    ASYNC_pause_job();
    return a->id + (int)strlen(a->text);
}

static int pause_n(void *arg)
{
    int n = *(const int *)arg, i;

    for (i = 0; i < n; i++)
        ASYNC_pause_job();
    return n;
}

static long run_many(int njobs, int pauses)
{
    ASYNC_JOB **jobs = calloc((size_t)njobs, sizeof(*jobs));
    ASYNC_WAIT_CTX **ctxs = calloc((size_t)njobs, sizeof(*ctxs));
    int i, ret, live = 1;
    long sum = 0;

    for (i = 0; i < njobs; i++) {
        ctxs[i] = ASYNC_WAIT_CTX_new();
        if (ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_n, &pauses, sizeof(pauses))
            != ASYNC_PAUSE)
            sum = -1000000;
    }
    while (live) {
        live = 0;
        for (i = njobs - 1; i >= 0; i--) {
            int rc;

            if (jobs[i] == NULL)
                continue;
            rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, pause_n, NULL, 0);
            if (rc == ASYNC_FINISH)
                sum += ret;
            else if (rc == ASYNC_PAUSE)
                live = 1;
            else
                sum = -1000000;
        }
    }
    for (i = 0; i < njobs; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    free(jobs);
    free(ctxs);
    return sum;
}

static void *thread_main(void *arg)
{
    long *sum = arg;

    *sum = run_many(100, 3);
    return NULL;
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx;
    ASYNC_JOB *job = NULL, *first, *other = NULL;
    struct args a = { 40, "hello" };
    OSSL_ASYNC_FD fds[4];
    size_t n;
    int ret = 0, rc, one = 1;
    pthread_t threads[2];
    long sums[2];

    scan("at start");
    printf("ASYNC_is_capable: %d\n", ASYNC_is_capable());
    printf("pause outside a job: %d\n", ASYNC_pause_job());
    printf("current job outside: %s\n", ASYNC_get_current_job() == NULL ? "NULL" : "set");
    printf("init(1, 2) -> %d, init(0, 5) -> %d\n", ASYNC_init_thread(1, 2),
           ASYNC_init_thread(0, 5));
    printf("init(1, 1) -> %d\n", ASYNC_init_thread(1, 1));

    ctx = ASYNC_WAIT_CTX_new();
    rc = ASYNC_start_job(&job, ctx, &ret, fd_job, &a, sizeof(a));
    first = job;
    strcpy(a.text, "changed!");
    printf("start -> %d\n", rc);
    printf("second job with pool (1, 1) -> %d\n",
           ASYNC_start_job(&other, ctx, &ret, pause_n, &one, sizeof(one)));
    ASYNC_WAIT_CTX_get_all_fds(ctx, fds, &n);
    printf("fds at first pause: %zu, first %d\n", n, fds[0]);
    rc = ASYNC_start_job(&job, ctx, &ret, fd_job, NULL, 0);
    printf("resume -> %d, same handle %s\n", rc, job == first ? "yes" : "no");
    {
        OSSL_ASYNC_FD add[4], del[4];
        size_t nadd, ndel;

        ASYNC_WAIT_CTX_get_changed_fds(ctx, add, &nadd, del, &ndel);
        printf("changed at second pause: added %zu (%d), deleted %zu (%d)\n", nadd, add[0], ndel,
               del[0]);
    }
    rc = ASYNC_start_job(&job, ctx, &ret, fd_job, NULL, 0);
    printf("resume -> %d, ret %d, job %s\n", rc, ret, job == NULL ? "NULL" : "set");
    CHECK(rc == ASYNC_FINISH && ret == 45 && job == NULL);
    ASYNC_WAIT_CTX_set_status(ctx, ASYNC_STATUS_OK);
    printf("status %d\n", ASYNC_WAIT_CTX_get_status(ctx));
    ASYNC_WAIT_CTX_free(ctx);
    printf("cleanups on free: %d\n", cleanups);
    CHECK(cleanups == 1);
    ASYNC_cleanup_thread();

    printf("1000 jobs x 2 pauses: sum %ld\n", run_many(1000, 2));
    pthread_create(&threads[0], NULL, thread_main, &sums[0]);
    pthread_create(&threads[1], NULL, thread_main, &sums[1]);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    printf("two threads, 100 jobs x 3 pauses each: sums %ld %ld\n", sums[0], sums[1]);
    CHECK(sums[0] == 300 && sums[1] == 300);
    ASYNC_cleanup_thread();
    scan("at end");
    return TEST_DONE();
}
