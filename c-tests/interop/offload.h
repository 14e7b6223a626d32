/*
 * offload.h - the "offload device" shared by the pausing engine
 * (pause_engine.c) and the pausing provider (pause_provider.c) of
 * rustasync's interop tests: worker threads that run operations while the
 * calling async job pauses, waking it through a wait fd or through the
 * application's callback (see pause_engine.c for the modes and the
 * RUSTASYNC_PAUSE_* settings). Included by exactly one file per module;
 * OFFLOAD_NAME must be defined first (the name in reports and fd keys).
 */
#ifndef RUSTASYNC_INTEROP_OFFLOAD_H
#define RUSTASYNC_INTEROP_OFFLOAD_H

#ifndef OFFLOAD_NAME
#error define OFFLOAD_NAME before including offload.h
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/sha.h>

/* The key under which our wait fd lives in an ASYNC_WAIT_CTX. */
static const char wait_fd_key[] = OFFLOAD_NAME " wait fd";

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
                OFFLOAD_NAME, atomic_load(&n_pauses), atomic_load(&n_ops_in_job),
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

/* Reads the RUSTASYNC_PAUSE_* settings from the environment. */
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

/* In a forked child, start the workers afresh on first use. */
static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* SHA-256 steps as work items, the same for the engine and the provider. */
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

#endif
