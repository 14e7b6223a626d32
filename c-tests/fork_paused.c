/* rustasync-only */
/*
 * fork() with jobs paused: the child gets copies of the forking thread's
 * jobs and can finish them; the parent's jobs are unaffected. fork() while
 * another thread is busy creating and freeing jobs never leaves the child
 * with a library lock held by a thread that does not exist there (the
 * library holds its locks across fork with pthread_atfork).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <openssl/async.h>
#include "child.h"

static int counter_job(void *arg)
{
    int v = *(int *)arg, i;

    for (i = 0; i < 3; i++) {
        v += 10;
        ASYNC_pause_job();
    }
    return v;
}

static ASYNC_JOB *jobs[6];
static ASYNC_WAIT_CTX *ctxs[6];
static int fd_key;

static void finish_copies(void *arg)
{
    int i, ret, rc;
    size_t n;

    (void)arg;
    for (i = 5; i >= 0; i--) {
        while ((rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, NULL, NULL, 0)) == ASYNC_PAUSE)
            ;
        CHECK(rc == ASYNC_FINISH && ret == i + 30);
        CHECK(ASYNC_WAIT_CTX_get_all_fds(ctxs[i], NULL, &n) == 1 && n == 1);
    }
    /* And new jobs, too. */
    i = 100;
    CHECK(ASYNC_start_job(&jobs[0], NULL, &ret, counter_job, &i, sizeof(i)) == ASYNC_PAUSE);
}

static atomic_int stop_churn;

static int quick(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 1;
}

/* Keeps creating and freeing jobs (and so stacks and control blocks). */
static void *churn(void *arg)
{
    ASYNC_JOB *js[64];
    int i, ret;

    (void)arg;
    while (!atomic_load(&stop_churn)) {
        ASYNC_init_thread(0, 0);
        for (i = 0; i < 64; i++) {
            js[i] = NULL;
            ASYNC_start_job(&js[i], NULL, &ret, quick, NULL, 0);
        }
        ASYNC_cleanup_thread(); /* frees the idle ones; the paused ones follow */
        for (i = 0; i < 64; i++)
            while (js[i] != NULL && ASYNC_start_job(&js[i], NULL, &ret, NULL, NULL, 0) == ASYNC_PAUSE)
                ;
    }
    return NULL;
}

static void one_job(void *arg)
{
    ASYNC_JOB *job = NULL, *many[40];
    int ret = 0, i;

    (void)arg;
    CHECK(ASYNC_start_job(&job, NULL, &ret, quick, NULL, 0) == ASYNC_PAUSE);
    CHECK(ASYNC_start_job(&job, NULL, &ret, NULL, NULL, 0) == ASYNC_FINISH && ret == 1);
    /* Enough new jobs to need new stacks and control blocks. */
    ASYNC_cleanup_thread();
    for (i = 0; i < 40; i++) {
        many[i] = NULL;
        CHECK(ASYNC_start_job(&many[i], NULL, &ret, quick, NULL, 0) == ASYNC_PAUSE);
    }
}

int main(void)
{
    struct child c;
    pthread_t churner;
    int i, ret, rc, forks, ok;

    for (i = 0; i < 6; i++) {
        ctxs[i] = ASYNC_WAIT_CTX_new();
        ASYNC_WAIT_CTX_set_wait_fd(ctxs[i], &fd_key, 100 + i, NULL, NULL);
        CHECK(ASYNC_start_job(&jobs[i], ctxs[i], &ret, counter_job, &i, sizeof(i)) == ASYNC_PAUSE);
    }
    run_forked(finish_copies, NULL, &c);
    CHECK(exited_ok(&c));
    if (!exited_ok(&c))
        show_child("finish_copies", &c);
    /* The parent's jobs are where they were: three more resumes each. */
    for (i = 0; i < 6; i++) {
        int resumes = 0;
        while ((rc = ASYNC_start_job(&jobs[i], ctxs[i], &ret, NULL, NULL, 0)) == ASYNC_PAUSE)
            resumes++;
        CHECK(rc == ASYNC_FINISH && ret == i + 30 && resumes == 2);
        ASYNC_WAIT_CTX_free(ctxs[i]);
    }

    /* fork while another thread creates and frees jobs. Not under ASan:
     * GCC 12's libasan has no fork interceptor, so a child forked while
     * another thread holds ASan's allocator lock can hang in its first
     * malloc, whatever this library does. */
    if (under_sanitizer()) {
        printf("fork during churn: skipped under AddressSanitizer\n");
        ASYNC_cleanup_thread();
        return TEST_DONE();
    }
    forks = (int)scaled(100);
    ok = 1;
    CHECK(pthread_create(&churner, NULL, churn, NULL) == 0);
    for (i = 0; i < forks; i++) {
        run_forked(one_job, NULL, &c);
        if (!exited_ok(&c)) {
            ok = 0;
            show_child("fork during churn", &c);
            break;
        }
    }
    atomic_store(&stop_churn, 1);
    pthread_join(churner, NULL);
    printf("%d forks during job churn\n", forks);
    CHECK(ok);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
