/*
 * The default OSSL_LIB_CTX follows the job exactly as with OpenSSL even
 * when the program reaches OSSL_LIB_CTX_set0_default through dlsym on
 * libcrypto's own handle (as ctypes, JNI or plugin loaders do), so that no
 * symbol interposed in front of libcrypto sees the calls. The job makes its
 * own context the default and pauses: the caller has its default back; the
 * job gets its own again on resume; after the job finishes the caller
 * still has its own. Only "which context" facts are printed.
 */
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/async.h>
#include "common.h"

typedef OSSL_LIB_CTX *(*set0_default_fn)(OSSL_LIB_CTX *);

static set0_default_fn set0_default;
static OSSL_LIB_CTX *base, *own;

static const char *current(void)
{
    OSSL_LIB_CTX *c = set0_default(NULL);

    return c == base ? "the original default" : c == own ? "the job's own ctx" : "some other ctx";
}

static int switching_job(void *arg)
{
    (void)arg;
    printf("  job: starts with %s\n", current());
    set0_default(own);
    printf("  job: set its own, now %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: after resume %s; pausing\n", current());
    ASYNC_pause_job();
    printf("  job: after second resume %s; finishing with it set\n", current());
    return 1;
}

int main(void)
{
    void *libcrypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    ASYNC_JOB *job = NULL;
    int ret = 0;

    CHECK(libcrypto != NULL);
    if (libcrypto == NULL)
        return TEST_DONE();
    *(void **)&set0_default = dlsym(libcrypto, "OSSL_LIB_CTX_set0_default");
    CHECK(set0_default != NULL);
    if (set0_default == NULL)
        return TEST_DONE();
    base = set0_default(NULL);
    own = OSSL_LIB_CTX_new();
    CHECK(ASYNC_start_job(&job, ctx, &ret, switching_job, NULL, 0) == ASYNC_PAUSE);
    printf("caller after first pause: %s\n", current());
    CHECK(ASYNC_start_job(&job, ctx, &ret, switching_job, NULL, 0) == ASYNC_PAUSE);
    printf("caller after second pause: %s\n", current());
    CHECK(ASYNC_start_job(&job, ctx, &ret, switching_job, NULL, 0) == ASYNC_FINISH && ret == 1);
    printf("caller after finish: %s\n", current());
    set0_default(base);
    OSSL_LIB_CTX_free(own);
    ASYNC_WAIT_CTX_free(ctx);
    ASYNC_cleanup_thread();
    dlclose(libcrypto);
    return TEST_DONE();
}
