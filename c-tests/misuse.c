/* rustasync-only */
/*
 * Misuse of every export: NULL and invalid arguments, handles that are not
 * resumable (a finished job's, another thread's, a random pointer, the
 * running job itself). Each returns OpenSSL's failure value, puts exactly
 * one ERR_LIB_ASYNC entry on the error queue (except set_callback and
 * set_status with a NULL context, where OpenSSL defines a plain 0), writes
 * exactly one line on stderr under RUSTASYNC_LOG=warn, and leaves the
 * library working.
 * (OpenSSL 3.0 crashes on most of these, hence rustasync only.)
 */
#include <pthread.h>
#include <semaphore.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <string.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include "common.h"

static int captured_fd = -1; /* reads what stderr (fd 2) appends */
static off_t captured_seen;

/* What was written to stderr since the last call. */
static const char *new_stderr(void)
{
    static char text[4096];
    ssize_t n = pread(captured_fd, text, sizeof(text) - 1, captured_seen);

    if (n < 0)
        n = 0;
    text[n] = '\0';
    captured_seen += n;
    return text;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* One reported failure: one ERR_LIB_ASYNC entry, one line naming fname. */
static void check_reported(const char *fname, const char *what)
{
    unsigned long e = ERR_get_error();
    const char *diag = new_stderr();
    int ok = ERR_GET_LIB(e) == ERR_LIB_ASYNC && ERR_get_error() == 0 && count_lines(diag) == 1
             && strstr(diag, fname) != NULL && strncmp(diag, "rustasync: warn: ", 17) == 0;

    if (ok) {
        printf("ok: %s reported\n", what);
    } else {
        printf("FAILED: %s not reported as expected (lib %d, stderr \"%s\")\n", what, ERR_GET_LIB(e), diag);
        test_failures++;
    }
    ERR_clear_error();
}

/* Not a failure: nothing on the queue, nothing on stderr. */
static void check_silent(const char *what)
{
    const char *diag = new_stderr();

    if (ERR_peek_error() == 0 && diag[0] == '\0') {
        printf("ok: %s is silent\n", what);
    } else {
        printf("FAILED: %s reported something: \"%s\"\n", what, diag);
        test_failures++;
    }
    ERR_clear_error();
}

#define REPORTED(fname, cond) \
    do {                      \
        CHECK(cond);          \
        check_reported(fname, #cond); \
    } while (0)

/* Defined by OpenSSL as a plain 0 without an error: nothing on the queue,
 * but one diagnostic line. */
static void check_logged_only(const char *fname, const char *what)
{
    const char *diag = new_stderr();

    if (ERR_peek_error() == 0 && count_lines(diag) == 1 && strstr(diag, fname) != NULL) {
        printf("ok: %s logged, no error entry (as OpenSSL)\n", what);
    } else {
        printf("FAILED: %s: queue %lu, stderr \"%s\"\n", what, ERR_peek_error(), diag);
        test_failures++;
    }
    ERR_clear_error();
}

#define LOGGED_ONLY(fname, cond)          \
    do {                                  \
        CHECK(cond);                      \
        check_logged_only(fname, #cond);  \
    } while (0)

#define SILENT(cond)          \
    do {                      \
        CHECK(cond);          \
        check_silent(#cond);  \
    } while (0)

static int pauses_then(void *arg)
{
    int v = arg != NULL ? *(int *)arg : 0;
    ASYNC_pause_job();
    ASYNC_pause_job();
    return v + 1;
}

static int quick(void *arg)
{
    (void)arg;
    return 42;
}

/* Tries to resume itself, and to start a job with a NULL handle pointer,
 * from inside a running job: both are refused and the job carries on. */
static int resumes_itself(void *arg)
{
    ASYNC_JOB *self = ASYNC_get_current_job();
    int ret = -1;

    (void)arg;
    if (ASYNC_start_job(&self, NULL, &ret, quick, NULL, 0) != ASYNC_ERR)
        return -1;
    ERR_clear_error();
    ASYNC_pause_job();
    return self == ASYNC_get_current_job() ? 99 : -2;
}

/* Another thread's paused job. */
static ASYNC_JOB *foreign_job;
static sem_t foreign_paused, foreign_may_finish;
static int foreign_result;

static void *foreign_thread(void *arg)
{
    int ret = 0, v = 10;

    (void)arg;
    if (ASYNC_start_job(&foreign_job, NULL, &ret, pauses_then, &v, sizeof(v)) != ASYNC_PAUSE)
        return NULL;
    sem_post(&foreign_paused);
    sem_wait(&foreign_may_finish);
    while (ASYNC_start_job(&foreign_job, NULL, &ret, NULL, NULL, 0) == ASYNC_PAUSE)
        ;
    foreign_result = ret;
    return NULL;
}

static int on_callback(void *arg)
{
    (void)arg;
    return 1;
}

static void *stack_alloc(size_t *num)
{
    return malloc(*num);
}

int main(void)
{
    ASYNC_JOB *job = NULL, *stale;
    ASYNC_WAIT_CTX *ctx;
    ASYNC_callback_fn cb = NULL;
    ASYNC_stack_alloc_fn alloc_fn = NULL;
    ASYNC_stack_free_fn free_fn = NULL;
    void *data = NULL, *cbarg = NULL;
    int ret = -1, fd = -1, v = 5, key, heap_word;
    int *heap = &heap_word;
    size_t n = 0, m = 0;
    pthread_t thread;

    /* Diagnostics on, stderr into a file we can read back. */
    setenv("RUSTASYNC_LOG", "warn", 1);
    {
        char path[] = "/tmp/rustasync-misuse-XXXXXX";
        int w = mkstemp(path);
        if (w < 0 || (captured_fd = open(path, O_RDONLY)) < 0 || dup2(w, 2) < 0)
            return 2;
        unlink(path);
        close(w);
        setvbuf(stderr, NULL, _IONBF, 0);
    }

    ctx = ASYNC_WAIT_CTX_new();
    CHECK(ctx != NULL);

    /* Arguments OpenSSL refuses. */
    REPORTED("ASYNC_init_thread", ASYNC_init_thread(1, 2) == 0);
    REPORTED("ASYNC_init_thread", ASYNC_init_thread(0, 5) == 0);
    REPORTED("ASYNC_start_job", ASYNC_start_job(NULL, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    REPORTED("ASYNC_start_job", ASYNC_start_job(&job, ctx, &ret, NULL, NULL, 0) == ASYNC_ERR);
    CHECK(job == NULL);
    REPORTED("ASYNC_get_wait_ctx", ASYNC_get_wait_ctx(NULL) == NULL);
    REPORTED("ASYNC_WAIT_CTX_set_wait_fd", ASYNC_WAIT_CTX_set_wait_fd(NULL, &key, 3, NULL, NULL) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_fd", ASYNC_WAIT_CTX_get_fd(NULL, &key, &fd, &data) == 0);
    CHECK(ASYNC_WAIT_CTX_set_wait_fd(ctx, &key, 3, NULL, NULL) == 1);
    REPORTED("ASYNC_WAIT_CTX_get_fd", ASYNC_WAIT_CTX_get_fd(ctx, &key, NULL, &data) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_fd", ASYNC_WAIT_CTX_get_fd(ctx, &key, &fd, NULL) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_all_fds", ASYNC_WAIT_CTX_get_all_fds(NULL, NULL, &n) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_all_fds", ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, NULL) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_changed_fds", ASYNC_WAIT_CTX_get_changed_fds(NULL, NULL, &n, NULL, &m) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_changed_fds", ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, NULL, NULL, &m) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_changed_fds", ASYNC_WAIT_CTX_get_changed_fds(ctx, NULL, &n, NULL, NULL) == 0);
    REPORTED("ASYNC_WAIT_CTX_clear_fd", ASYNC_WAIT_CTX_clear_fd(NULL, &key) == 0);
    LOGGED_ONLY("ASYNC_WAIT_CTX_set_callback", ASYNC_WAIT_CTX_set_callback(NULL, on_callback, NULL) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_callback", ASYNC_WAIT_CTX_get_callback(NULL, &cb, &cbarg) == 0);
    CHECK(ASYNC_WAIT_CTX_set_callback(ctx, on_callback, &key) == 1);
    REPORTED("ASYNC_WAIT_CTX_get_callback", ASYNC_WAIT_CTX_get_callback(ctx, NULL, &cbarg) == 0);
    LOGGED_ONLY("ASYNC_WAIT_CTX_set_status", ASYNC_WAIT_CTX_set_status(NULL, ASYNC_STATUS_OK) == 0);
    REPORTED("ASYNC_WAIT_CTX_get_status", ASYNC_WAIT_CTX_get_status(NULL) == ASYNC_STATUS_ERR);

    /* Calls that are not failures stay silent, as in OpenSSL. */
    ASYNC_WAIT_CTX_free(NULL);
    check_silent("ASYNC_WAIT_CTX_free(NULL)");
    ASYNC_get_mem_functions(NULL, NULL);
    check_silent("ASYNC_get_mem_functions(NULL, NULL)");
    SILENT(ASYNC_pause_job() == 1);
    ASYNC_block_pause();
    ASYNC_unblock_pause();
    ASYNC_unblock_pause();
    check_silent("block/unblock outside a job");
    SILENT(ASYNC_get_current_job() == NULL);
    SILENT(ASYNC_WAIT_CTX_clear_fd(ctx, &v) == 0);
    SILENT(ASYNC_WAIT_CTX_get_fd(ctx, &v, &fd, &data) == 0);
    ASYNC_cleanup_thread();
    ASYNC_cleanup_thread();
    check_silent("ASYNC_cleanup_thread twice");

    /* Handles that are not resumable. */
    job = (ASYNC_JOB *)(uintptr_t)0x1;
    REPORTED("ASYNC_start_job", ASYNC_start_job(&job, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    job = (ASYNC_JOB *)&key;
    REPORTED("ASYNC_start_job", ASYNC_start_job(&job, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    job = (ASYNC_JOB *)heap;
    REPORTED("ASYNC_start_job", ASYNC_start_job(&job, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    REPORTED("ASYNC_get_wait_ctx", ASYNC_get_wait_ctx((ASYNC_JOB *)&key) == NULL);

    job = NULL;
    CHECK(ASYNC_start_job(&job, ctx, &ret, pauses_then, &v, sizeof(v)) == ASYNC_PAUSE);
    stale = job;
    CHECK(ASYNC_get_wait_ctx(stale) == ctx);
    while (ASYNC_start_job(&job, ctx, &ret, NULL, NULL, 0) == ASYNC_PAUSE)
        ;
    CHECK(ret == 6 && job == NULL);
    check_silent("a normal job");
    /* The finished job is back in the pool: its old handle is not paused. */
    REPORTED("ASYNC_start_job", ASYNC_start_job(&stale, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    REPORTED("ASYNC_get_wait_ctx", ASYNC_get_wait_ctx(stale) == NULL);
    /* ... and after the pool is gone, the slot is free. */
    ASYNC_cleanup_thread();
    REPORTED("ASYNC_start_job", ASYNC_start_job(&stale, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    check_silent("(nothing more)");

    /* The running job resuming itself is refused; the job is intact. */
    job = NULL;
    CHECK(ASYNC_start_job(&job, ctx, &ret, resumes_itself, NULL, 0) == ASYNC_PAUSE);
    {
        const char *diag = new_stderr();
        CHECK(count_lines(diag) == 1 && strstr(diag, "is running, not paused") != NULL);
    }
    CHECK(ASYNC_start_job(&job, ctx, &ret, NULL, NULL, 0) == ASYNC_FINISH);
    CHECK(ret == 99);

    /* Another thread's paused job: refused here, finished by its owner. */
    sem_init(&foreign_paused, 0, 0);
    sem_init(&foreign_may_finish, 0, 0);
    CHECK(pthread_create(&thread, NULL, foreign_thread, NULL) == 0);
    sem_wait(&foreign_paused);
    job = foreign_job;
    REPORTED("ASYNC_start_job", ASYNC_start_job(&job, ctx, &ret, quick, NULL, 0) == ASYNC_ERR);
    CHECK(job == foreign_job);
    sem_post(&foreign_may_finish);
    pthread_join(thread, NULL);
    CHECK(foreign_result == 11);
    {
        const char *diag = new_stderr();
        CHECK(diag[0] == '\0');
    }

    /* Stacks exist now: replacing the allocator is refused. */
    REPORTED("ASYNC_set_mem_functions", ASYNC_set_mem_functions(stack_alloc, free) == 0);
    ASYNC_get_mem_functions(&alloc_fn, &free_fn);
    CHECK(alloc_fn != stack_alloc && alloc_fn != NULL && free_fn != NULL);

    /* Still working: a few jobs with pauses, then a clean pool. */
    for (v = 0; v < 5; v++) {
        job = NULL;
        CHECK(ASYNC_start_job(&job, ctx, &ret, pauses_then, &v, sizeof(v)) == ASYNC_PAUSE);
        while (ASYNC_start_job(&job, ctx, &ret, NULL, NULL, 0) == ASYNC_PAUSE)
            ;
        CHECK(ret == v + 1);
    }
    check_silent("jobs after misuse");
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
