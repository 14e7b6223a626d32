/* no-libcrypto */
/*
 * Without any libcrypto in the process rustasync behaves as OpenSSL 3.x
 * where 1.1.1 and 3.x differ: a non-NULL args with size 0 runs the job with
 * NULL (1.1.1 refuses it; c-tests/openssl111/error_queue.c checks that side).
 */
#include <link.h>
#include <string.h>
#include <openssl/async.h>
#include "common.h"

static int crypto_objects;

static int scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "libcrypto") != NULL)
        crypto_objects++;
    return 0;
}

static int sees_null(void *arg)
{
    return arg == NULL ? 1 : 2;
}

int main(void)
{
    ASYNC_JOB *job = NULL;
    int ret = 0;
    char block[4] = "abc";

    dl_iterate_phdr(scan_object, NULL);
    CHECK(crypto_objects == 0);
    CHECK(ASYNC_start_job(&job, NULL, &ret, sees_null, block, 0) == ASYNC_FINISH);
    CHECK(ret == 1);
    CHECK(ASYNC_start_job(&job, NULL, &ret, sees_null, block, sizeof(block)) == ASYNC_FINISH);
    CHECK(ret == 2);
    return TEST_DONE();
}
