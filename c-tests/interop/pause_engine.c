/*
 * pause_engine.c - an OpenSSL dynamic ENGINE that behaves like an offload
 * card, written for rustasync's interop tests.
 *
 * Every offloaded operation (SHA-256 update/final, ECDSA sign/verify,
 * ECDH compute, EC key generation) is handed to a worker thread.  Inside
 * an async job the calling job then pauses until the worker is done:
 *
 *   - fd mode (default): the job's ASYNC_WAIT_CTX carries an eventfd under
 *     this engine's key (registered with ASYNC_WAIT_CTX_set_wait_fd, closed
 *     by its cleanup callback).  The worker writes to it when the work is
 *     finished, so an application polling the wait fds resumes the job.
 *     RUSTASYNC_PAUSE_FD_MODE=reuse (default) keeps one fd per wait ctx for
 *     its whole life, as Intel's QAT engine does; =fresh makes a new fd for
 *     every operation and clears it afterwards (ASYNC_WAIT_CTX_clear_fd),
 *     which exercises the "deleted fds" half of get_changed_fds.
 *   - callback mode: when the application registered a callback on the
 *     wait ctx (ASYNC_WAIT_CTX_get_callback returns 1) no fd is created;
 *     the engine sets ASYNC_STATUS_OK with ASYNC_WAIT_CTX_set_status and
 *     the worker calls the callback when the work is finished.  Every Nth
 *     submission (RUSTASYNC_PAUSE_EAGAIN_EVERY, default 5, 0 = never) is
 *     refused as if the device queue were full: the status becomes
 *     ASYNC_STATUS_EAGAIN, the callback is called at once, and the job
 *     pauses before submitting again.
 *
 * Outside a job the work runs synchronously on the calling thread.
 *
 * Counters are reported at exit: to the file named by
 * RUSTASYNC_PAUSE_COUNT_FILE if set (also refreshed while running, so a
 * process that is killed still leaves figures), else to stderr.  The
 * control command PAUSE_COUNT (ENGINE_ctrl_cmd(e, "PAUSE_COUNT", 0,
 * &unsigned_long, NULL, 0)) returns the pause count to a program.
 *
 * The worker threads, wait fds and callbacks live in offload.h, shared with
 * the pausing provider (pause_provider.c).
 *
 * Build: cc -shared -fPIC -Wall -Wextra -Werror -DOPENSSL_API_COMPAT=0x10100000L
 *        pause_engine.c -o pause_engine.so -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>

#define OFFLOAD_NAME "rustasync-pause"
static const char engine_id[] = OFFLOAD_NAME;
static const char engine_name[] = "rustasync pausing offload engine (test)";

#include "offload.h"

/* ---------------------------------------------------------------------- */
/* SHA-256                                                                 */

static EVP_MD *sha256_md;

static int sha256_init(EVP_MD_CTX *ctx)
{
    return SHA256_Init(EVP_MD_CTX_md_data(ctx));
}

static int sha256_update(EVP_MD_CTX *ctx, const void *data, size_t count)
{
    struct sha_update_args a = { EVP_MD_CTX_md_data(ctx), data, count, 0 };

    offload(sha_update_work, &a);
    return a.ok;
}

static int sha256_final(EVP_MD_CTX *ctx, unsigned char *md)
{
    struct sha_final_args a = { EVP_MD_CTX_md_data(ctx), md, 0 };

    offload(sha_final_work, &a);
    return a.ok;
}

static int digest_nids[] = { NID_sha256 };

static int engine_digests(ENGINE *e, const EVP_MD **digest, const int **nids,
                          int nid)
{
    (void)e;
    if (digest == NULL) {
        *nids = digest_nids;
        return (int)(sizeof(digest_nids) / sizeof(digest_nids[0]));
    }
    if (nid == NID_sha256 && sha256_md != NULL) {
        *digest = sha256_md;
        return 1;
    }
    *digest = NULL;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* EC: ECDSA sign/verify, ECDH, key generation                             */

static EC_KEY_METHOD *ec_method;

typedef int (*ec_sign_fn)(int, const unsigned char *, int, unsigned char *,
                          unsigned int *, const BIGNUM *, const BIGNUM *,
                          EC_KEY *);
typedef int (*ec_sign_setup_fn)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **);
typedef ECDSA_SIG *(*ec_sign_sig_fn)(const unsigned char *, int,
                                     const BIGNUM *, const BIGNUM *, EC_KEY *);
typedef int (*ec_verify_fn)(int, const unsigned char *, int,
                            const unsigned char *, int, EC_KEY *);
typedef int (*ec_verify_sig_fn)(const unsigned char *, int, const ECDSA_SIG *,
                                EC_KEY *);
typedef int (*ec_ckey_fn)(unsigned char **, size_t *, const EC_POINT *,
                          const EC_KEY *);
typedef int (*ec_keygen_fn)(EC_KEY *);

static ec_sign_fn default_sign;
static ec_verify_fn default_verify;
static ec_ckey_fn default_ckey;
static ec_keygen_fn default_keygen;

struct sign_args {
    int type;
    const unsigned char *dgst;
    int dlen;
    unsigned char *sig;
    unsigned int *siglen;
    const BIGNUM *kinv, *r;
    EC_KEY *key;
    int ret;
};

static void sign_work(void *p)
{
    struct sign_args *a = p;

    a->ret = default_sign(a->type, a->dgst, a->dlen, a->sig, a->siglen,
                          a->kinv, a->r, a->key);
}

static int ec_sign(int type, const unsigned char *dgst, int dlen,
                   unsigned char *sig, unsigned int *siglen,
                   const BIGNUM *kinv, const BIGNUM *r, EC_KEY *key)
{
    struct sign_args a = { type, dgst, dlen, sig, siglen, kinv, r, key, 0 };

    offload(sign_work, &a);
    return a.ret;
}

struct verify_args {
    int type;
    const unsigned char *dgst;
    int dlen;
    const unsigned char *sig;
    int siglen;
    EC_KEY *key;
    int ret;
};

static void verify_work(void *p)
{
    struct verify_args *a = p;

    a->ret = default_verify(a->type, a->dgst, a->dlen, a->sig, a->siglen,
                            a->key);
}

static int ec_verify(int type, const unsigned char *dgst, int dlen,
                     const unsigned char *sig, int siglen, EC_KEY *key)
{
    struct verify_args a = { type, dgst, dlen, sig, siglen, key, -1 };

    offload(verify_work, &a);
    return a.ret;
}

struct ckey_args {
    unsigned char **psec;
    size_t *pseclen;
    const EC_POINT *pub;
    const EC_KEY *key;
    int ret;
};

static void ckey_work(void *p)
{
    struct ckey_args *a = p;

    a->ret = default_ckey(a->psec, a->pseclen, a->pub, a->key);
}

static int ec_ckey(unsigned char **psec, size_t *pseclen,
                   const EC_POINT *pub, const EC_KEY *key)
{
    struct ckey_args a = { psec, pseclen, pub, key, 0 };

    offload(ckey_work, &a);
    return a.ret;
}

struct keygen_args {
    EC_KEY *key;
    int ret;
};

static void keygen_work(void *p)
{
    struct keygen_args *a = p;

    a->ret = default_keygen(a->key);
}

static int ec_keygen(EC_KEY *key)
{
    struct keygen_args a = { key, 0 };

    offload(keygen_work, &a);
    return a.ret;
}

/* ---------------------------------------------------------------------- */
/* Engine plumbing                                                         */

#define CMD_PAUSE_COUNT ENGINE_CMD_BASE

static const ENGINE_CMD_DEFN engine_cmds[] = {
    { CMD_PAUSE_COUNT, "PAUSE_COUNT",
      "Store the number of job pauses in the unsigned long *p",
      ENGINE_CMD_FLAG_INTERNAL },
    { 0, NULL, NULL, 0 }
};

static int engine_ctrl(ENGINE *e, int cmd, long i, void *p, void (*f)(void))
{
    (void)e;
    (void)i;
    (void)f;
    switch (cmd) {
    case CMD_PAUSE_COUNT:
        if (p == NULL)
            return 0;
        *(unsigned long *)p = atomic_load(&n_pauses);
        return 1;
    default:
        return 0;
    }
}

static void free_methods(void)
{
    EVP_MD_meth_free(sha256_md);
    sha256_md = NULL;
    EC_KEY_METHOD_free(ec_method);
    ec_method = NULL;
}

static int engine_destroy(ENGINE *e)
{
    (void)e;
    stop_workers();
    free_methods();
    final_report();
    return 1;
}

static int make_methods(void)
{
    const EC_KEY_METHOD *base = EC_KEY_OpenSSL();
    ec_sign_setup_fn sign_setup = NULL;
    ec_sign_sig_fn sign_sig = NULL;
    ec_verify_sig_fn verify_sig = NULL;

    sha256_md = EVP_MD_meth_new(NID_sha256, NID_sha256WithRSAEncryption);
    if (sha256_md == NULL
            || !EVP_MD_meth_set_result_size(sha256_md, SHA256_DIGEST_LENGTH)
            || !EVP_MD_meth_set_input_blocksize(sha256_md, SHA256_CBLOCK)
            || !EVP_MD_meth_set_app_datasize(sha256_md, sizeof(SHA256_CTX))
            || !EVP_MD_meth_set_init(sha256_md, sha256_init)
            || !EVP_MD_meth_set_update(sha256_md, sha256_update)
            || !EVP_MD_meth_set_final(sha256_md, sha256_final))
        return 0;

    ec_method = EC_KEY_METHOD_new(base);
    if (ec_method == NULL)
        return 0;
    EC_KEY_METHOD_get_sign(base, &default_sign, &sign_setup, &sign_sig);
    EC_KEY_METHOD_get_verify(base, &default_verify, &verify_sig);
    EC_KEY_METHOD_get_compute_key(base, &default_ckey);
    EC_KEY_METHOD_get_keygen(base, &default_keygen);
    if (default_sign == NULL || default_verify == NULL
            || default_ckey == NULL || default_keygen == NULL)
        return 0;
    EC_KEY_METHOD_set_sign(ec_method, ec_sign, sign_setup, sign_sig);
    EC_KEY_METHOD_set_verify(ec_method, ec_verify, verify_sig);
    EC_KEY_METHOD_set_compute_key(ec_method, ec_ckey);
    EC_KEY_METHOD_set_keygen(ec_method, ec_keygen);
    return 1;
}

static int bind_pause_engine(ENGINE *e, const char *id)
{
    static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

    if (id != NULL && strcmp(id, engine_id) != 0)
        return 0;
    read_settings();
    pthread_once(&fork_handler_once, register_fork_handler);
    if (!make_methods()) {
        free_methods();
        return 0;
    }
    if (!ENGINE_set_id(e, engine_id)
            || !ENGINE_set_name(e, engine_name)
            || !ENGINE_set_digests(e, engine_digests)
            || !ENGINE_set_EC(e, ec_method)
            || !ENGINE_set_destroy_function(e, engine_destroy)
            || !ENGINE_set_ctrl_function(e, engine_ctrl)
            || !ENGINE_set_cmd_defns(e, engine_cmds)) {
        free_methods();
        return 0;
    }
    return 1;
}

IMPLEMENT_DYNAMIC_CHECK_FN()
IMPLEMENT_DYNAMIC_BIND_FN(bind_pause_engine)
