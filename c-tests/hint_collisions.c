/*
 * More paused jobs than rustasync's stopped-at hint table has entries
 * (65,536, by arena slot), so jobs share entries: 70,000 jobs paused at
 * once on one thread, each pausing three times at a depth of its own (0 to
 * 12 nested frames, each holding a pattern of the job's id), resumed in a
 * pseudo-random order (fixed-seed xorshift). Every frame's pattern, the
 * job's identity and its result must survive every pause. Then the same
 * on four threads at once with fewer jobs each, then again on the main
 * thread after ASYNC_cleanup_thread. Counts scale with
 * RUSTASYNC_TEST_SCALE (child.h) under checkers.
 */
#include <pthread.h>
#include <string.h>
#include <openssl/async.h>
#include "child.h"

#define NJOBS 70000
#define ROUNDS 3

struct job_args {
    int id;
};

static int frame(int depth, int id)
{
    volatile unsigned char pattern[48];
    int bad = 0;
    size_t i;

    memset((unsigned char *)pattern, id & 0xff, sizeof(pattern));
    if (depth > 0)
        bad = frame(depth - 1, id);
    else if (ASYNC_pause_job() != 1)
        bad = 1;
    for (i = 0; i < sizeof(pattern); i++)
        bad |= pattern[i] != (unsigned char)(id & 0xff);
    return bad;
}

static int worker(void *arg)
{
    struct job_args keep = *(struct job_args *)arg;
    ASYNC_JOB *me = ASYNC_get_current_job();
    int bad = 0, round;

    for (round = 0; round < ROUNDS; round++) {
        bad |= frame((keep.id + round) % 13, keep.id);
        bad |= ASYNC_get_current_job() != me;
    }
    return bad ? -1 : keep.id;
}

struct run {
    long n;
    long finished, wrong;
};

static void *run_jobs(void *arg)
{
    struct run *r = arg;
    long n = r->n, alive = 0, i;
    ASYNC_JOB **jobs = calloc((size_t)n, sizeof(*jobs));
    ASYNC_WAIT_CTX **ctxs = calloc((size_t)n, sizeof(*ctxs));
    long *order = calloc((size_t)n, sizeof(*order));
    unsigned long long x = 88172645463325252ULL;

    if (jobs == NULL || ctxs == NULL || order == NULL) {
        r->wrong = -1;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        struct job_args a = { (int)i };
        int ret = 0;

        ctxs[i] = ASYNC_WAIT_CTX_new();
        if (ctxs[i] == NULL || ASYNC_start_job(&jobs[i], ctxs[i], &ret, worker, &a, sizeof(a)) != ASYNC_PAUSE)
            r->wrong++;
        else
            order[alive++] = i;
    }
    while (alive > 0) {
        long k, j;
        int ret = -2, got;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        k = (long)(x % (unsigned long long)alive);
        j = order[k];
        got = ASYNC_start_job(&jobs[j], ctxs[j], &ret, worker, NULL, 0);
        if (got == ASYNC_PAUSE)
            continue;
        if (got != ASYNC_FINISH || ret != (int)j)
            r->wrong++;
        else
            r->finished++;
        order[k] = order[--alive];
    }
    for (i = 0; i < n; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    free(order);
    free(ctxs);
    free(jobs);
    return NULL;
}

static void report(const char *what, const struct run *r)
{
    printf("%s: %s\n", what, r->finished == r->n && r->wrong == 0 ? "every job finished right" : "FAILED");
    if (!(r->finished == r->n && r->wrong == 0)) {
        printf("FAILED: %ld of %ld finished, %ld wrong\n", r->finished, r->n, r->wrong);
        test_failures++;
    }
}

int main(void)
{
    struct run one = { scaled(NJOBS), 0, 0 };
    struct run each[4];
    pthread_t threads[4];
    int t;

    run_jobs(&one);
    report("one thread", &one);
    for (t = 0; t < 4; t++) {
        each[t] = (struct run){ scaled(NJOBS / 8) + t, 0, 0 };
        CHECK(pthread_create(&threads[t], NULL, run_jobs, &each[t]) == 0);
    }
    for (t = 0; t < 4; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0);
        report("a thread of four", &each[t]);
    }
    ASYNC_cleanup_thread();
    one = (struct run){ scaled(NJOBS / 10), 0, 0 };
    run_jobs(&one);
    report("after ASYNC_cleanup_thread", &one);
    return TEST_DONE();
}
