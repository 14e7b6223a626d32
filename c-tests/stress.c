/* rustasync-only */
/*
 * Stress: worker threads start and exit in waves for STRESS_SECONDS
 * (default 10; any positive number of seconds is honoured); each runs thousands of jobs, up to 64 in
 * flight, resumed in random order, with random pauses, blocked pauses and
 * pool limits. Every job owns real wait fds (eventfds) that it adds and
 * clears as it goes; after every pause the caller checks the context's fd
 * list and the added/deleted counts against what the job did, and every
 * job's result and private stack contents are checked. Some workers exit
 * with jobs still paused. At the end no fd is left open.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <openssl/async.h>
#include "child.h"

#define IN_FLIGHT 64
#define MAX_FDS 8

struct shared {         /* what a job tells its caller at each pause */
    int live;           /* fds registered now */
    int added, deleted; /* changes since the last pause, as OpenSSL counts them */
};

struct job_args {
    uint32_t seed;
    int pauses;
    struct shared *sh;
};

static atomic_int stop;
static atomic_long finished_jobs, total_pauses, no_jobs, failures, workers_run;
static char keys[MAX_FDS];

static uint32_t next_random(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void close_fd(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)ctx;
    (void)key;
    (void)data;
    close(fd);
}

static void fail(const char *what)
{
    if (atomic_fetch_add(&failures, 1) < 10)
        fprintf(stderr, "stress failure: %s\n", what);
}

/* The value a job with this seed and pause count must return. */
static int expected_result(uint32_t seed, int pauses)
{
    uint32_t s = seed | 1, acc = 0;
    int i;

    for (i = 0; i <= pauses; i++)
        acc = acc * 31 + next_random(&s) % 1000;
    return (int)(acc & 0x7fffffff);
}

static int stress_job(void *arg)
{
    struct job_args *a = arg;
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(ASYNC_get_current_job());
    uint32_t s = a->seed | 1, r = a->seed ^ 0x9e3779b9u, acc = 0;
    unsigned char canary[256];
    int fds[MAX_FDS], i, k;
    void *data;
    OSSL_ASYNC_FD fd;

    memset(canary, (int)(a->seed & 0xff), sizeof(canary));
    for (k = 0; k < MAX_FDS; k++)
        fds[k] = -1;
    for (i = 0; i <= a->pauses; i++) {
        acc = acc * 31 + next_random(&s) % 1000;
        if (i == a->pauses)
            break;
        /* Add one fd, clear one, or neither. */
        k = (int)(next_random(&r) % MAX_FDS);
        if (fds[k] < 0 && next_random(&r) % 2 == 0) {
            fds[k] = eventfd(0, EFD_CLOEXEC);
            if (fds[k] < 0 || !ASYNC_WAIT_CTX_set_wait_fd(ctx, &keys[k], fds[k], NULL, close_fd))
                return -1;
            a->sh->added++;
            a->sh->live++;
        } else if (fds[k] >= 0) {
            if (!ASYNC_WAIT_CTX_get_fd(ctx, &keys[k], &fd, &data) || fd != fds[k])
                return -2;
            if (!ASYNC_WAIT_CTX_clear_fd(ctx, &keys[k]))
                return -3;
            close(fds[k]);
            fds[k] = -1;
            a->sh->deleted++;
            a->sh->live--;
        }
        if (next_random(&r) % 8 == 0) {
            /* A blocked pause does not pause. */
            ASYNC_block_pause();
            ASYNC_pause_job();
            ASYNC_unblock_pause();
        }
        ASYNC_pause_job();
        /* Resumed: the context's change counts start again. */
        a->sh->added = a->sh->deleted = 0;
        if (ASYNC_get_wait_ctx(ASYNC_get_current_job()) != ctx)
            return -4;
    }
    for (k = 0; k < MAX_FDS; k++) {
        if (fds[k] >= 0) {
            ASYNC_WAIT_CTX_clear_fd(ctx, &keys[k]);
            close(fds[k]);
            a->sh->live--;
            a->sh->deleted++; /* seen at the next job's first pause */
        }
    }
    for (k = 0; k < (int)sizeof(canary); k++)
        if (canary[k] != (unsigned char)(a->seed & 0xff))
            return -5;
    return (int)(acc & 0x7fffffff);
}

struct slot {
    ASYNC_JOB *job;
    ASYNC_WAIT_CTX *ctx;
    struct shared sh;
    uint32_t seed;
    int pauses, paused;
};

static void check_pause(struct slot *sl)
{
    size_t n = 0, added = 0, deleted = 0;
    OSSL_ASYNC_FD all[MAX_FDS], add[MAX_FDS], del[MAX_FDS];

    if (!ASYNC_WAIT_CTX_get_all_fds(sl->ctx, NULL, &n) || n != (size_t)sl->sh.live)
        fail("fd count");
    if (n <= MAX_FDS && (!ASYNC_WAIT_CTX_get_all_fds(sl->ctx, all, &n)))
        fail("fd list");
    if (!ASYNC_WAIT_CTX_get_changed_fds(sl->ctx, NULL, &added, NULL, &deleted)
        || added != (size_t)sl->sh.added || deleted != (size_t)sl->sh.deleted)
        fail("changed fd counts");
    if (added <= MAX_FDS && deleted <= MAX_FDS && !ASYNC_WAIT_CTX_get_changed_fds(sl->ctx, add, &added, del, &deleted))
        fail("changed fd lists");
}

static void *worker(void *arg)
{
    struct slot slots[IN_FLIGHT];
    uint32_t r = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    long left = 1000 + next_random(&r) % 4000;
    int i, rc, ret, active = 0, leave_paused = next_random(&r) % 4 == 0;

    atomic_fetch_add(&workers_run, 1);
    ASYNC_init_thread(next_random(&r) % 2 ? 0 : IN_FLIGHT / 2, 0);
    memset(slots, 0, sizeof(slots));
    for (i = 0; i < IN_FLIGHT; i++)
        slots[i].ctx = ASYNC_WAIT_CTX_new();
    while ((left > 0 || active > 0) && !(leave_paused && left == 0)) {
        struct slot *sl = &slots[next_random(&r) % IN_FLIGHT];
        if (atomic_load(&stop))
            left = 0;
        if (sl->job == NULL) {
            struct job_args a;
            if (left == 0)
                continue;
            sl->seed = next_random(&r);
            sl->pauses = (int)(next_random(&r) % 12);
            /* sl->sh carries over: a context's changes since the last pause
             * include what the previous job did after its last pause. */
            a.seed = sl->seed;
            a.pauses = sl->pauses;
            a.sh = &sl->sh;
            rc = ASYNC_start_job(&sl->job, sl->ctx, &ret, stress_job, &a, sizeof(a));
            if (rc == ASYNC_NO_JOBS) {
                atomic_fetch_add(&no_jobs, 1);
                continue;
            }
            left--;
            active++;
            sl->paused = 0;
        } else {
            rc = ASYNC_start_job(&sl->job, sl->ctx, &ret, NULL, NULL, 0);
        }
        if (rc == ASYNC_PAUSE) {
            sl->paused++;
            atomic_fetch_add(&total_pauses, 1);
            check_pause(sl);
        } else if (rc == ASYNC_FINISH) {
            active--;
            if (ret != expected_result(sl->seed, sl->pauses) || sl->paused != sl->pauses || sl->job != NULL)
                fail("job result");
            atomic_fetch_add(&finished_jobs, 1);
        } else {
            fail("ASYNC_start_job returned ASYNC_ERR");
            sl->job = NULL;
            active--;
        }
    }
    /* Paused jobs may be left behind: the thread's exit frees them. Their
     * contexts are freed here, closing the fds still registered. */
    for (i = 0; i < IN_FLIGHT; i++)
        ASYNC_WAIT_CTX_free(slots[i].ctx);
    if (next_random(&r) % 2)
        ASYNC_cleanup_thread();
    return NULL;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

int main(void)
{
    const char *env = getenv("STRESS_SECONDS");
    char *end = NULL;
    double seconds = env != NULL ? strtod(env, &end) : 10;
    pthread_t threads[4];
    struct timespec start, now;
    uintptr_t next_id = 1;
    int i, fds_before = open_fds();

    if (env != NULL && (end == env || *end != '\0' || !(seconds > 0))) {
        fprintf(stderr, "stress: STRESS_SECONDS=%s is not a positive number of seconds\n", env);
        return EXIT_FAILURE;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, worker, (void *)next_id++);
    for (;;) {
        /* Replace workers as they finish, until the time is up. */
        for (i = 0; i < 4; i++) {
            pthread_join(threads[i], NULL);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
                atomic_store(&stop, 1);
            pthread_create(&threads[i], NULL, worker, (void *)next_id++);
        }
        if (atomic_load(&stop))
            break;
    }
    for (i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    fprintf(stderr, "stress: %ld workers, %ld jobs finished, %ld pauses, %ld ASYNC_NO_JOBS, %ld failures\n",
            atomic_load(&workers_run), atomic_load(&finished_jobs), atomic_load(&total_pauses),
            atomic_load(&no_jobs), atomic_load(&failures));
    CHECK(atomic_load(&failures) == 0);
    CHECK(atomic_load(&finished_jobs) > 1000);
    CHECK(open_fds() == fds_before);
    return TEST_DONE();
}
