/*
 * ASYNC_start_job copies `size` bytes of `args` before the job runs: the
 * job sees its own copy (never the caller's buffer), so the caller may
 * change or reuse its buffer as soon as ASYNC_start_job returns, and the
 * job's writes never reach the caller. args NULL passes NULL, and a
 * non-NULL pointer with size 0 passes NULL too. Blocks of any size
 * (1 byte to 64 KiB here) arrive intact. Every size from 1 to 160 bytes
 * is also passed from a block that ends where an inaccessible page begins,
 * so a copy that reads one byte too far (small blocks are copied in moves
 * of 16, 8, 4 or 1 bytes) faults instead of passing.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

struct small {
    int id;
    char text[20];
};

static const void *caller_buffer;

static int small_job(void *arg)
{
    struct small *s = arg;
    int own_copy = arg != caller_buffer;

    printf("job: before pause sees id %d text \"%s\", own copy: %s\n", s->id, s->text,
           own_copy ? "yes" : "no");
    strcpy(s->text, "job wrote");
    ASYNC_pause_job();
    printf("job: after pause sees id %d text \"%s\"\n", s->id, s->text);
    return s->id;
}

static int null_probe(void *arg)
{
    return arg == NULL ? 1 : 0;
}

static unsigned char pattern(size_t size, size_t i)
{
    return (unsigned char)((i * 131 + size * 7 + (i >> 8)) & 0xff);
}

static size_t current_size;

/* Verifies the copy before and after a pause, scribbles on it, returns the count of good bytes. */
static int block_job(void *arg)
{
    unsigned char *p = arg;
    size_t i, good = 0, size = current_size;

    if (arg == caller_buffer)
        return -1;
    for (i = 0; i < size; i++)
        if (p[i] == pattern(size, i))
            good++;
    memset(p, 0xEE, size);
    ASYNC_pause_job();
    for (i = 0; i < size; i++)
        if (p[i] != 0xEE)
            return -2;
    return (int)good;
}

/* Counts the bytes of its block that match the pattern; no pause. */
static int count_job(void *arg)
{
    const unsigned char *p = arg;
    size_t i, good = 0, size = current_size;

    for (i = 0; i < size; i++)
        if (p[i] == pattern(size, i))
            good++;
    return (int)good;
}

/* Sizes 1..160 from blocks ending at a PROT_NONE page; prints the first
 * size that went wrong, or that none did. */
static void sizes_at_page_end(ASYNC_WAIT_CTX *ctx)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size, i, bad = 0;
    unsigned char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    CHECK(map != MAP_FAILED && mprotect(map + page, page, PROT_NONE) == 0);
    if (map == MAP_FAILED)
        return;
    for (size = 1; size <= 160 && bad == 0; size++) {
        unsigned char *block = map + page - size;
        ASYNC_JOB *job = NULL;
        int ret = -1;

        for (i = 0; i < size; i++)
            block[i] = pattern(size, i);
        current_size = size;
        if (ASYNC_start_job(&job, ctx, &ret, count_job, block, size) != ASYNC_FINISH
            || ret != (int)size)
            bad = size;
    }
    if (bad)
        printf("sizes 1 to 160 at a page's end: size %zu arrived wrong\n", bad);
    else
        printf("sizes 1 to 160 at a page's end: every block arrived intact\n");
    CHECK(bad == 0);
    munmap(map, 2 * page);
}

int main(void)
{
    static unsigned char big[65536];
    static const size_t sizes[] = { 1, 3, 8, 17, 256, 1000, 4096, 4097, 16384, 65536 };
    struct small s = { 42, "original" };
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    int ret = -1, rc;
    size_t k, i;

    caller_buffer = &s;
    rc = ASYNC_start_job(&job, ctx, &ret, small_job, &s, sizeof(s));
    CHECK(rc == ASYNC_PAUSE);
    printf("caller: after start its buffer still says \"%s\"\n", s.text);
    s.id = 99;
    strcpy(s.text, "caller changed");
    rc = ASYNC_start_job(&job, ctx, &ret, small_job, &s, sizeof(s));
    CHECK(rc == ASYNC_FINISH);
    printf("caller: ret %d, buffer \"%s\"\n", ret, s.text);

    /* Args for a resumed job are ignored. */
    s.id = 5;
    strcpy(s.text, "five");
    CHECK(ASYNC_start_job(&job, ctx, &ret, small_job, &s, sizeof(s)) == ASYNC_PAUSE);
    {
        struct small other = { 6, "six" };

        CHECK(ASYNC_start_job(&job, ctx, &ret, small_job, &other, sizeof(other)) == ASYNC_FINISH);
    }
    printf("caller: resumed with other args, ret %d\n", ret);

    printf("args NULL, size 0: job sees %s\n",
           ASYNC_start_job(&job, NULL, &ret, null_probe, NULL, 0) == ASYNC_FINISH && ret
           ? "NULL" : "non-NULL");
    printf("args NULL, size 16: job sees %s\n",
           ASYNC_start_job(&job, NULL, &ret, null_probe, NULL, 16) == ASYNC_FINISH && ret
           ? "NULL" : "non-NULL");
    printf("args non-NULL, size 0: job sees %s\n",
           ASYNC_start_job(&job, NULL, &ret, null_probe, &s, 0) == ASYNC_FINISH && ret
           ? "NULL" : "non-NULL");
    printf("args non-NULL, size 1: job sees %s\n",
           ASYNC_start_job(&job, NULL, &ret, null_probe, &s, 1) == ASYNC_FINISH && ret
           ? "NULL" : "non-NULL");

    caller_buffer = big;
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t size = sizes[k], intact = 1;

        for (i = 0; i < size; i++)
            big[i] = pattern(size, i);
        current_size = size;
        ret = 0;
        job = NULL;
        rc = ASYNC_start_job(&job, ctx, &ret, block_job, big, size);
        /* The caller reuses its buffer while the job is paused. */
        memset(big, 0x11, size);
        if (rc == ASYNC_PAUSE)
            rc = ASYNC_start_job(&job, ctx, &ret, block_job, NULL, 0);
        for (i = 0; i < size; i++)
            if (big[i] != 0x11)
                intact = 0;
        printf("size %zu: %s, job saw %d of %zu bytes right, caller's buffer untouched: %s\n",
               size, rc == ASYNC_FINISH ? "finished" : "not finished", ret, size,
               intact ? "yes" : "no");
        CHECK(rc == ASYNC_FINISH && ret == (int)size && intact);
    }

    sizes_at_page_end(ctx);

    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    return TEST_DONE();
}
