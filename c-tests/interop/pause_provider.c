/*
 * pause_provider.c - an OpenSSL 3 provider that behaves like an offload
 * card, the provider counterpart of pause_engine.c, written for rustasync's
 * interop tests.
 *
 * It implements SHA-256 (names SHA2-256, SHA-256, SHA256) with the property
 * "provider=rustasync-pause". Every update and final is handed to a worker
 * thread of offload.h; inside an async job the calling job pauses until the
 * worker is done, woken through a wait fd (default) or, when the
 * application set a callback on the job's ASYNC_WAIT_CTX, through that
 * callback and ASYNC_WAIT_CTX_set_status (with a refused submission every
 * RUSTASYNC_PAUSE_EAGAIN_EVERY-th time). Outside a job the work runs on the
 * calling thread. The RUSTASYNC_PAUSE_* settings and the count file are
 * those of pause_engine.c; the provider parameter "rustasync-pause-pauses"
 * (OSSL_PROVIDER_get_params) gives the pause count to a program.
 *
 * Loaded by OPENSSL_CONF (a [provider_sect] entry with module = path,
 * activate = 1) or by -provider-path DIR -provider pause_provider; it is
 * chosen over the default provider's SHA-256 by the property query
 * "?provider=rustasync-pause" (default_properties in an [algorithm_sect],
 * or -propquery), so libssl's handshakes hash their transcripts with it.
 *
 * Build: cc -shared -fPIC -Wall -Wextra -Werror -DOPENSSL_API_COMPAT=0x10100000L
 *        pause_provider.c -o pause_provider.so -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#define OFFLOAD_NAME "rustasync-pause"
#include "offload.h"

#define PROPERTIES "provider=" OFFLOAD_NAME

/* ---------------------------------------------------------------------- */
/* SHA-256                                                                 */

static void *sha256_newctx(void *provctx)
{
    (void)provctx;
    return calloc(1, sizeof(SHA256_CTX));
}

static void sha256_freectx(void *dctx)
{
    if (dctx != NULL)
        OPENSSL_cleanse(dctx, sizeof(SHA256_CTX));
    free(dctx);
}

/* libssl copies transcript hashes (EVP_MD_CTX_copy_ex): a plain copy. */
static void *sha256_dupctx(void *dctx)
{
    SHA256_CTX *copy = malloc(sizeof(SHA256_CTX));

    if (copy != NULL)
        memcpy(copy, dctx, sizeof(SHA256_CTX));
    return copy;
}

static int sha256_init(void *dctx, const OSSL_PARAM params[])
{
    (void)params;
    return SHA256_Init(dctx);
}

static int sha256_update(void *dctx, const unsigned char *in, size_t inl)
{
    struct sha_update_args a = { dctx, in, inl, 0 };

    offload(sha_update_work, &a);
    return a.ok;
}

static int sha256_final(void *dctx, unsigned char *out, size_t *outl, size_t outsz)
{
    struct sha_final_args a = { dctx, out, 0 };

    if (outsz < SHA256_DIGEST_LENGTH)
        return 0;
    offload(sha_final_work, &a);
    if (a.ok)
        *outl = SHA256_DIGEST_LENGTH;
    return a.ok;
}

static int sha256_get_params(OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_BLOCK_SIZE)) != NULL
            && !OSSL_PARAM_set_size_t(p, SHA256_CBLOCK))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_SIZE)) != NULL
            && !OSSL_PARAM_set_size_t(p, SHA256_DIGEST_LENGTH))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_XOF)) != NULL
            && !OSSL_PARAM_set_int(p, 0))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_ALGID_ABSENT)) != NULL
            && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_PARAM sha256_params[] = {
    OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, NULL),
    OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_SIZE, NULL),
    OSSL_PARAM_int(OSSL_DIGEST_PARAM_XOF, NULL),
    OSSL_PARAM_int(OSSL_DIGEST_PARAM_ALGID_ABSENT, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *sha256_gettable_params(void *provctx)
{
    (void)provctx;
    return sha256_params;
}

static const OSSL_DISPATCH sha256_functions[] = {
    { OSSL_FUNC_DIGEST_NEWCTX, (void (*)(void))sha256_newctx },
    { OSSL_FUNC_DIGEST_FREECTX, (void (*)(void))sha256_freectx },
    { OSSL_FUNC_DIGEST_DUPCTX, (void (*)(void))sha256_dupctx },
    { OSSL_FUNC_DIGEST_INIT, (void (*)(void))sha256_init },
    { OSSL_FUNC_DIGEST_UPDATE, (void (*)(void))sha256_update },
    { OSSL_FUNC_DIGEST_FINAL, (void (*)(void))sha256_final },
    { OSSL_FUNC_DIGEST_GET_PARAMS, (void (*)(void))sha256_get_params },
    { OSSL_FUNC_DIGEST_GETTABLE_PARAMS, (void (*)(void))sha256_gettable_params },
    { 0, NULL }
};

static const OSSL_ALGORITHM digests[] = {
    { "SHA2-256:SHA-256:SHA256:2.16.840.1.101.3.4.2.1", PROPERTIES, sha256_functions,
      "SHA-256 run on a worker thread while the job pauses" },
    { NULL, NULL, NULL, NULL }
};

/* ---------------------------------------------------------------------- */
/* Provider                                                                */

static const OSSL_ALGORITHM *pause_query(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    return operation_id == OSSL_OP_DIGEST ? digests : NULL;
}

/* The pause count, for programs (OSSL_PROVIDER_get_params). */
#define PARAM_PAUSES "rustasync-pause-pauses"

static const OSSL_PARAM provider_params[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
    OSSL_PARAM_ulong(PARAM_PAUSES, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *pause_gettable_params(void *provctx)
{
    (void)provctx;
    return provider_params;
}

static int pause_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL
            && !OSSL_PARAM_set_utf8_ptr(p, "rustasync pausing offload provider (test)"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL
            && !OSSL_PARAM_set_int(p, 1))
        return 0;
    if ((p = OSSL_PARAM_locate(params, PARAM_PAUSES)) != NULL
            && !OSSL_PARAM_set_ulong(p, atomic_load(&n_pauses)))
        return 0;
    return 1;
}

static void pause_teardown(void *provctx)
{
    (void)provctx;
    stop_workers();
    final_report();
}

static const OSSL_DISPATCH provider_functions[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))pause_teardown },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))pause_gettable_params },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))pause_get_params },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))pause_query },
    { 0, NULL }
};

/* The provider context is not used: everything is process-wide. */
static int provctx_token;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

    (void)handle;
    (void)in;
    read_settings();
    pthread_once(&fork_handler_once, register_fork_handler);
    *out = provider_functions;
    *provctx = &provctx_token;
    return 1;
}
