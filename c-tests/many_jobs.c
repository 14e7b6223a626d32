/*
 * 1000 jobs paused at once on one thread, each pausing 1 to 4 times,
 * resumed in a pseudo-random order (fixed-seed LCG). Every job keeps its
 * handle, its current-job identity and its argument copy across pauses.
 */
#include <openssl/async.h>
#include "common.h"

#define NJOBS 1000

struct job_args {
    int id;
    int pauses;
    unsigned seed;
};

static unsigned lcg_state = 20261122u;

static unsigned lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return (lcg_state >> 16) & 0x7fff;
}

static int worker(void *arg)
{
    struct job_args *a = arg;
    struct job_args keep = *a;
    ASYNC_JOB *me = ASYNC_get_current_job();
    volatile unsigned local = a->seed; /* lives on the job's own stack */
    int i;

    for (i = 0; i < keep.pauses; i++) {
        if (ASYNC_pause_job() != 1)
            return -1;
        if (ASYNC_get_current_job() != me || a->id != keep.id || a->seed != keep.seed
            || local != keep.seed)
            return -2;
        local = local + 0; /* keep it live */
    }
    return keep.id * 7 + keep.pauses;
}

int main(void)
{
    static ASYNC_JOB *jobs[NJOBS], *handles[NJOBS];
    static ASYNC_WAIT_CTX *ctxs[NJOBS];
    static int live[NJOBS];
    int i, ret, nlive = 0, resumes = 0, finished = 0, bad = 0, same_handle = 1;
    long sum = 0, expected = 0;
    char order[200];
    int order_len = 0;

    for (i = 0; i < NJOBS; i++) {
        struct job_args a = { i, 1 + (int)(lcg() % 4), lcg() };

        ctxs[i] = ASYNC_WAIT_CTX_new();
        expected += i * 7 + a.pauses;
        if (ASYNC_start_job(&jobs[i], ctxs[i], &ret, worker, &a, sizeof(a)) != ASYNC_PAUSE) {
            bad++;
            continue;
        }
        handles[i] = jobs[i];
        live[nlive++] = i;
    }
    printf("%d jobs paused at once\n", nlive);
    CHECK(nlive == NJOBS);

    while (nlive > 0) {
        int slot = (int)(lcg() % (unsigned)nlive), k = live[slot], rc;

        rc = ASYNC_start_job(&jobs[k], ctxs[k], &ret, worker, NULL, 0);
        resumes++;
        if (rc == ASYNC_PAUSE) {
            same_handle &= jobs[k] == handles[k];
            continue;
        }
        if (rc != ASYNC_FINISH || ret < 0 || jobs[k] != NULL) {
            bad++;
        } else {
            finished++;
            sum += ret;
            if (finished <= 20)
                order_len += snprintf(order + order_len, sizeof(order) - (size_t)order_len,
                                      " %d", k);
        }
        live[slot] = live[--nlive];
    }
    printf("resumes: %d, finished: %d, bad: %d\n", resumes, finished, bad);
    printf("first 20 to finish:%s\n", order);
    printf("sum of results %ld (expected %ld)\n", sum, expected);
    printf("same handle at every pause: %s\n", same_handle ? "yes" : "no");
    CHECK(finished == NJOBS && bad == 0 && sum == expected && same_handle);

    for (i = 0; i < NJOBS; i++)
        ASYNC_WAIT_CTX_free(ctxs[i]);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
