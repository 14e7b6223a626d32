/*
 * OpenSSL 1.1.1's error queue after every misuse of the README's failure
 * table that 1.1.1 defines (the others crash 1.1.1, or use API it lacks),
 * and 1.1.1's refusal of a non-NULL empty argument block. Built against
 * 1.1.1's headers and libcrypto, run plain and with librustasync preloaded
 * (c-tests/openssl111/run.sh): the two outputs must be identical, code for
 * code, and the codes must be the ones 1.1.1 itself defines.
 */
#include <string.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include "common.h"

static int runs;

static int count_runs(void *arg)
{
    runs++;
    return arg == NULL ? 1 : 2;
}

static int pause_once(void *arg)
{
    (void)arg;
    ASYNC_pause_job();
    return 3;
}

/* Prints and empties the queue; returns the first code (0 if empty). */
static unsigned long drain(const char *what)
{
    unsigned long first = ERR_peek_error(), code;
    int entries = 0;
    char text[256];

    while ((code = ERR_get_error()) != 0) {
        ERR_error_string_n(code, text, sizeof(text));
        printf("%s: 0x%08lx lib %d func %d reason %d \"%s\"\n", what, code,
               ERR_GET_LIB(code), ERR_GET_FUNC(code), ERR_GET_REASON(code), text);
        entries++;
    }
    printf("%s: %d entr%s\n", what, entries, entries == 1 ? "y" : "ies");
    return first;
}

int main(void)
{
    ASYNC_JOB *job = NULL, *paused = NULL;
    /* 1.1.1 resumes a job only with a wait context (NULL crashes it). */
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    int ret = 0, rc;
    char block[8] = "payload";

    ERR_clear_error();
    CHECK(ASYNC_init_thread(1, 5) == 0);
    CHECK(drain("ASYNC_init_thread(1, 5)") == 0x33065067UL);
    CHECK(ASYNC_init_thread(0, 1) == 0);
    CHECK(drain("ASYNC_init_thread(0, 1)") == 0x33065067UL);
    CHECK(ASYNC_init_thread(4, 4) == 1);
    CHECK(drain("ASYNC_init_thread(4, 4)") == 0);

    /* A non-NULL block of size 0: ASYNC_ERR, malloc failure, job not run. */
    runs = 0;
    rc = ASYNC_start_job(&job, NULL, &ret, count_runs, block, 0);
    printf("args non-NULL, size 0: rc %d, job ran %d times, *job %s\n", rc, runs,
           job == NULL ? "NULL" : "set");
    CHECK(rc == ASYNC_ERR);
    CHECK(runs == 0);
    CHECK(drain("start_job(args, size 0)") == 0x33069041UL);

    /* The job it took goes back to the pool: the same start works now. */
    rc = ASYNC_start_job(&job, NULL, &ret, count_runs, block, sizeof(block));
    printf("args non-NULL, size %zu: rc %d, ret %d\n", sizeof(block), rc, ret);
    CHECK(rc == ASYNC_FINISH && ret == 2 && runs == 1);
    rc = ASYNC_start_job(&job, NULL, &ret, count_runs, NULL, 0);
    printf("args NULL, size 0: rc %d, ret %d\n", rc, ret);
    CHECK(rc == ASYNC_FINISH && ret == 1 && runs == 2);
    CHECK(drain("successful starts") == 0);
    ASYNC_cleanup_thread();

    /* With the pool exhausted, ASYNC_NO_JOBS comes first, queue empty. */
    CHECK(ASYNC_init_thread(1, 1) == 1);
    CHECK(ASYNC_start_job(&paused, ctx, &ret, pause_once, NULL, 0) == ASYNC_PAUSE);
    job = NULL;
    rc = ASYNC_start_job(&job, NULL, &ret, count_runs, block, 0);
    printf("args non-NULL, size 0, pool exhausted: rc %d\n", rc);
    CHECK(rc == ASYNC_NO_JOBS);
    CHECK(drain("start_job(args, size 0) on a full pool") == 0);
    CHECK(ASYNC_start_job(&paused, ctx, &ret, pause_once, NULL, 0) == ASYNC_FINISH && ret == 3);
    /* The refusal with a free job in a pool of one loses no job. */
    rc = ASYNC_start_job(&job, NULL, &ret, count_runs, block, 0);
    CHECK(rc == ASYNC_ERR);
    CHECK(drain("start_job(args, size 0), pool of one") == 0x33069041UL);
    CHECK(ASYNC_start_job(&job, NULL, &ret, count_runs, NULL, 0) == ASYNC_FINISH && ret == 1);
    ASYNC_cleanup_thread();

    /* Pausing and queries outside a job are not failures. */
    CHECK(ASYNC_pause_job() == 1);
    CHECK(ASYNC_get_current_job() == NULL);
    ASYNC_block_pause();
    ASYNC_unblock_pause();
    ASYNC_WAIT_CTX_free(NULL);
    ASYNC_WAIT_CTX_free(ctx);
    CHECK(drain("pause, queries and NULL free outside a job") == 0);
    return TEST_DONE();
}
