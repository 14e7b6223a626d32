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

static const char engine_id[] = "rustasync-pause";
static const char engine_name[] = "rustasync pausing offload engine (test)";

/* The key under which our wait fd lives in an ASYNC_WAIT_CTX. */
static const char wait_fd_key[] = "rustasync-pause wait fd";

/* ---------------------------------------------------------------------- */
/* Counters                                                                */

static atomic_ulong n_pauses;       /* ASYNC_pause_job calls from our jobs */
static atomic_ulong n_ops_in_job;   /* operations offloaded inside a job */
static atomic_ulong n_ops_sync;     /* operations run outside any job */
static atomic_ulong n_callbacks;    /* application callbacks invoked */
static atomic_ulong n_eagain;       /* refused submissions (callback mode) */
static atomic_ulong n_fds_created;  /* wait fds created */
static atomic_ulong n_pause_errors; /* ASYNC_pause_job returned 0 */
static atomic_ulong n_early_resumes; /* resumed before the work was done */
static atomic_ulong n_submissions;  /* callback-mode submissions, for EAGAIN */
static atomic_int report_done;

static const char *count_file;
static int fd_mode_fresh;
static unsigned long eagain_every = 5;

static void write_report(int final)
{
    char buf[512];
    int len = snprintf(buf, sizeof(buf),
                       "pauses %lu\nops_in_job %lu\nops_sync %lu\n"
                       "callbacks %lu\neagain %lu\nfds_created %lu\n"
                       "pause_errors %lu\nearly_resumes %lu\n",
                       atomic_load(&n_pauses), atomic_load(&n_ops_in_job),
                       atomic_load(&n_ops_sync), atomic_load(&n_callbacks),
                       atomic_load(&n_eagain), atomic_load(&n_fds_created),
                       atomic_load(&n_pause_errors),
                       atomic_load(&n_early_resumes));

    if (len < 0 || (size_t)len >= sizeof(buf))
        return;
    if (count_file != NULL && count_file[0] != '\0') {
        char tmp[4096];
        FILE *f;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", count_file,
                     (long)getpid()) >= (int)sizeof(tmp))
            return;
        f = fopen(tmp, "w");
        if (f == NULL)
            return;
        fwrite(buf, 1, (size_t)len, f);
        if (fclose(f) != 0 || rename(tmp, count_file) != 0)
            unlink(tmp);
    } else if (final) {
        fprintf(stderr, "%s: pauses %lu, ops in jobs %lu, ops outside jobs %lu\n",
                engine_id, atomic_load(&n_pauses), atomic_load(&n_ops_in_job),
                atomic_load(&n_ops_sync));
    }
}

static void final_report(void)
{
    if (atomic_exchange(&report_done, 1) == 0)
        write_report(1);
}

/* Runs at exit or when the object is unloaded, whichever comes first. */
__attribute__((destructor)) static void pause_engine_unload(void)
{
    final_report();
}

/* ---------------------------------------------------------------------- */
/* Worker threads                                                          */

struct request {
    void (*fn)(void *arg);
    void *arg;
    int wake_fd;                   /* fd mode: eventfd to write, else -1 */
    ASYNC_callback_fn callback;    /* callback mode: called when done */
    void *callback_arg;
    atomic_int done;               /* last field the worker touches */
    struct request *next;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct request *queue_head, *queue_tail;
static int workers_running;        /* guarded by queue_lock */
static int workers_stop;           /* guarded by queue_lock */
static int n_workers_wanted = 2;
static pthread_t worker_threads[16];
static int n_workers;

static void *worker_main(void *unused)
{
    struct timespec last_write = { 0, 0 };
    unsigned long last_pauses = 0;

    (void)unused;
    pthread_mutex_lock(&queue_lock);
    for (;;) {
        struct request *req;

        while (queue_head == NULL && !workers_stop) {
            struct timespec until;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&queue_cond, &queue_lock, &until)
                    == ETIMEDOUT && count_file != NULL
                    && atomic_load(&n_pauses) != last_pauses) {
                /* Keep the count file fresh for processes that get killed. */
                struct timespec now;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec != last_write.tv_sec) {
                    last_pauses = atomic_load(&n_pauses);
                    last_write = now;
                    pthread_mutex_unlock(&queue_lock);
                    write_report(0);
                    pthread_mutex_lock(&queue_lock);
                }
            }
        }
        if (queue_head == NULL && workers_stop)
            break;
        req = queue_head;
        queue_head = req->next;
        if (queue_head == NULL)
            queue_tail = NULL;
        pthread_mutex_unlock(&queue_lock);

        req->fn(req->arg);
        if (req->wake_fd >= 0) {
            uint64_t one = 1;
            ssize_t w;

            /* Signal first, then publish done: the job drains the fd once
             * it sees done, so no stale wake-up is left behind. */
            do {
                w = write(req->wake_fd, &one, sizeof(one));
            } while (w < 0 && errno == EINTR);
            atomic_store_explicit(&req->done, 1, memory_order_release);
        } else {
            ASYNC_callback_fn cb = req->callback;
            void *cb_arg = req->callback_arg;

            /* Publish done before calling back: the application may
             * resume the job from the callback's notification, and once
             * done is seen the request (on the job's stack) is gone. */
            atomic_store_explicit(&req->done, 1, memory_order_release);
            if (cb != NULL) {
                atomic_fetch_add(&n_callbacks, 1);
                cb(cb_arg);
            }
        }
        pthread_mutex_lock(&queue_lock);
    }
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

/* Called with queue_lock held. */
static int start_workers_locked(void)
{
    int i;

    if (workers_running)
        return 1;
    workers_stop = 0;
    n_workers = 0;
    for (i = 0; i < n_workers_wanted; i++) {
        if (pthread_create(&worker_threads[i], NULL, worker_main, NULL) != 0)
            break;
        n_workers++;
    }
    workers_running = n_workers > 0;
    return workers_running;
}

static void stop_workers(void)
{
    int i, n;

    pthread_mutex_lock(&queue_lock);
    if (!workers_running) {
        pthread_mutex_unlock(&queue_lock);
        return;
    }
    workers_stop = 1;
    n = n_workers;
    pthread_cond_broadcast(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
    for (i = 0; i < n; i++)
        pthread_join(worker_threads[i], NULL);
    pthread_mutex_lock(&queue_lock);
    workers_running = 0;
    n_workers = 0;
    pthread_mutex_unlock(&queue_lock);
}

/* In a forked child the workers do not exist: start afresh on first use. */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&queue_lock, NULL);
    pthread_cond_init(&queue_cond, NULL);
    queue_head = queue_tail = NULL;
    workers_running = 0;
    workers_stop = 0;
    n_workers = 0;
}

static int submit(struct request *req)
{
    pthread_mutex_lock(&queue_lock);
    if (!start_workers_locked()) {
        pthread_mutex_unlock(&queue_lock);
        return 0;
    }
    req->next = NULL;
    if (queue_tail != NULL)
        queue_tail->next = req;
    else
        queue_head = req;
    queue_tail = req;
    pthread_cond_signal(&queue_cond);
    pthread_mutex_unlock(&queue_lock);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* Wait fds                                                                */

static void wait_fd_cleanup(ASYNC_WAIT_CTX *ctx, const void *key,
                            OSSL_ASYNC_FD fd, void *custom)
{
    (void)ctx;
    (void)key;
    (void)custom;
    close(fd);
}

/* The eventfd for this wait ctx, created and registered if needed. */
static int get_wait_fd(ASYNC_WAIT_CTX *wctx)
{
    OSSL_ASYNC_FD fd;
    void *custom = NULL;

    if (!fd_mode_fresh && ASYNC_WAIT_CTX_get_fd(wctx, wait_fd_key, &fd, &custom))
        return fd;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!ASYNC_WAIT_CTX_set_wait_fd(wctx, wait_fd_key, fd, NULL,
                                    wait_fd_cleanup)) {
        close(fd);
        return -1;
    }
    atomic_fetch_add(&n_fds_created, 1);
    return fd;
}

/* Reads the eventfd's counter; returns 1 if it had been signalled. */
static int drain_fd(int fd)
{
    uint64_t value;
    ssize_t r;

    do {
        r = read(fd, &value, sizeof(value));
    } while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof(value);
}

static void wait_until_done(struct request *req)
{
    while (!atomic_load_explicit(&req->done, memory_order_acquire))
        sched_yield();
}

static int pause_once(void)
{
    atomic_fetch_add(&n_pauses, 1);
    if (!ASYNC_pause_job()) {
        atomic_fetch_add(&n_pause_errors, 1);
        return 0;
    }
    return 1;
}

/* Runs fn(arg) on a worker; inside a job, pauses until it is finished. */
static void offload(void (*fn)(void *), void *arg)
{
    ASYNC_JOB *job = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *wctx;
    struct request req;
    ASYNC_callback_fn cb = NULL;
    void *cb_arg = NULL;
    int callback_mode;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL) {
        atomic_fetch_add(&n_ops_sync, 1);
        fn(arg);
        return;
    }

    memset(&req, 0, sizeof(req));
    req.fn = fn;
    req.arg = arg;
    req.wake_fd = -1;
    atomic_init(&req.done, 0);

    callback_mode = ASYNC_WAIT_CTX_get_callback(wctx, &cb, &cb_arg) == 1
                    && cb != NULL;
    if (callback_mode) {
        /* Pretend the device queue is full now and then. */
        while (eagain_every != 0
               && atomic_fetch_add(&n_submissions, 1) % eagain_every
                  == eagain_every - 1) {
            atomic_fetch_add(&n_eagain, 1);
            ASYNC_WAIT_CTX_set_status(wctx, ASYNC_STATUS_EAGAIN);
            atomic_fetch_add(&n_callbacks, 1);
            cb(cb_arg);
            if (!pause_once())
                break;
        }
        ASYNC_WAIT_CTX_set_status(wctx, ASYNC_STATUS_OK);
        req.callback = cb;
        req.callback_arg = cb_arg;
    } else {
        req.wake_fd = get_wait_fd(wctx);
        if (req.wake_fd < 0) {
            atomic_fetch_add(&n_ops_sync, 1);
            fn(arg);
            return;
        }
    }

    if (!submit(&req)) {
        atomic_fetch_add(&n_ops_sync, 1);
        fn(arg);
        if (req.wake_fd >= 0 && fd_mode_fresh) {
            ASYNC_WAIT_CTX_clear_fd(wctx, wait_fd_key);
            close(req.wake_fd);
        }
        return;
    }
    atomic_fetch_add(&n_ops_in_job, 1);

    /* Like a real device: always give the job back at least once. */
    for (;;) {
        if (!pause_once()) {
            /* Cannot pause: wait here, the request lives on this stack. */
            wait_until_done(&req);
            break;
        }
        if (atomic_load_explicit(&req.done, memory_order_acquire))
            break;
        /* Resumed early.  In fd mode, if the worker has already signalled
         * the fd it is about to publish done: wait for that instead of
         * pausing again with the fd still readable. */
        if (req.wake_fd >= 0 && drain_fd(req.wake_fd)) {
            wait_until_done(&req);
            break;
        }
        atomic_fetch_add(&n_early_resumes, 1);
    }

    if (req.wake_fd >= 0) {
        drain_fd(req.wake_fd);
        if (fd_mode_fresh) {
            /* clear_fd does not run the cleanup callback: close it here. */
            ASYNC_WAIT_CTX_clear_fd(wctx, wait_fd_key);
            close(req.wake_fd);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* SHA-256                                                                 */

static EVP_MD *sha256_md;

struct sha_update_args {
    SHA256_CTX *ctx;
    const void *data;
    size_t len;
    int ok;
};

struct sha_final_args {
    SHA256_CTX *ctx;
    unsigned char *md;
    int ok;
};

static void sha_update_work(void *p)
{
    struct sha_update_args *a = p;

    a->ok = SHA256_Update(a->ctx, a->data, a->len);
}

static void sha_final_work(void *p)
{
    struct sha_final_args *a = p;

    a->ok = SHA256_Final(a->md, a->ctx);
}

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

static void read_settings(void)
{
    const char *v;

    count_file = getenv("RUSTASYNC_PAUSE_COUNT_FILE");
    v = getenv("RUSTASYNC_PAUSE_FD_MODE");
    fd_mode_fresh = v != NULL && strcmp(v, "fresh") == 0;
    v = getenv("RUSTASYNC_PAUSE_EAGAIN_EVERY");
    if (v != NULL && *v != '\0')
        eagain_every = strtoul(v, NULL, 10);
    v = getenv("RUSTASYNC_PAUSE_WORKERS");
    if (v != NULL && *v != '\0') {
        long n = strtol(v, NULL, 10);

        if (n >= 1 && n <= (long)(sizeof(worker_threads) / sizeof(worker_threads[0])))
            n_workers_wanted = (int)n;
    }
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

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
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
