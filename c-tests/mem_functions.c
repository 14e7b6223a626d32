/* rustasync-only */
/*
 * ASYNC_set_mem_functions / ASYNC_get_mem_functions (OpenSSL 3.1's API):
 * a program's stack allocator is used as given, with the size it writes
 * back; the library's own functions are reported until then; replacing
 * them is refused once a stack exists; stacks go back to the program's
 * free function.
 */
#include <stdint.h>
#include <openssl/async.h>
#include "common.h"

#define GIVEN_SIZE (96 * 1024)

static int allocated, freed;
static size_t last_request;
static char *blocks[16];

static void *my_alloc(size_t *num)
{
    last_request = *num;
    *num = GIVEN_SIZE;
    blocks[allocated] = malloc(GIVEN_SIZE);
    return blocks[allocated++];
}

static void my_free(void *addr)
{
    int i;

    for (i = 0; i < allocated; i++)
        if (blocks[i] == addr)
            freed++;
    free(addr);
}

/* Returns 1 when the job's own stack lies in one of the program's blocks,
 * using all of the size the allocator wrote back. */
static int on_my_stack(void *arg)
{
    char big[80 * 1024];
    uintptr_t here = (uintptr_t)&big[sizeof(big) / 2];
    int i;

    (void)arg;
    big[0] = big[sizeof(big) - 1] = 1;
    ASYNC_pause_job();
    for (i = 0; i < allocated; i++)
        if (here >= (uintptr_t)blocks[i] && here < (uintptr_t)blocks[i] + GIVEN_SIZE)
            return big[0] + big[sizeof(big) - 1] - 1;
    return 0;
}

int main(void)
{
    ASYNC_stack_alloc_fn alloc_fn = NULL;
    ASYNC_stack_free_fn free_fn = NULL;
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    int ret = 0;

    ASYNC_get_mem_functions(&alloc_fn, &free_fn);
    CHECK(alloc_fn != NULL && free_fn != NULL);
    CHECK(alloc_fn != my_alloc);
    ASYNC_get_mem_functions(NULL, NULL);

    CHECK(ASYNC_set_mem_functions(my_alloc, NULL) == 1);
    CHECK(ASYNC_set_mem_functions(NULL, my_free) == 1);
    ASYNC_get_mem_functions(&alloc_fn, &free_fn);
    CHECK(alloc_fn == my_alloc && free_fn == my_free);

    CHECK(ASYNC_start_job(&job, ctx, &ret, on_my_stack, NULL, 0) == ASYNC_PAUSE);
    CHECK(allocated == 1);
    CHECK(last_request >= 32 * 1024);
    CHECK(ASYNC_start_job(&job, ctx, &ret, on_my_stack, NULL, 0) == ASYNC_FINISH);
    CHECK(ret == 1);

    CHECK(ASYNC_set_mem_functions(NULL, NULL) == 0);
    ASYNC_get_mem_functions(&alloc_fn, &free_fn);
    CHECK(alloc_fn == my_alloc && free_fn == my_free);

    ASYNC_cleanup_thread();
    CHECK(freed == 1);
    ASYNC_WAIT_CTX_free(ctx);
    return TEST_DONE();
}
