/*
 * ASYNC_get_wait_ctx called from a thread that does not run the job, as
 * Intel's QAT engine calls it from its polling thread. The main thread
 * starts jobs, each with its own wait context; each job registers an
 * eventfd and pauses. A worker thread is handed the job handles and, for
 * each, finds the context (ASYNC_get_wait_ctx), the fd and its data
 * (ASYNC_WAIT_CTX_get_fd) and writes to the fd. The main thread polls the
 * fds it listed from the contexts and resumes each job whose fd is
 * readable; the job reads what the worker wrote. Three rounds of that,
 * then the jobs finish.
 *
 * The worker also asks for the context of each job while it runs (the job
 * waits inside, on the main thread, until the worker has answered), and of
 * a running job started without a context (not paused: OpenSSL 3.0 crashes
 * in ASYNC_pause_job when the job has no wait context).
 *
 * Every wait is bounded by one deadline, and once the worker has done a
 * round's writes a job whose fd is not readable is resumed anyway (its read
 * finds nothing): a lost wake-up fails the test at once, never hangs it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <openssl/async.h>
#include "common.h"

#define JOBS 4
#define ROUNDS 3
#define DEADLINE_SECONDS 20

/* One key in every context, as QAT's engine registers its fd under its own id. */
static const char wake_key = 'q';

struct slot {
    ASYNC_WAIT_CTX *ctx;
    ASYNC_JOB *job;
    /* Written by the job (read by the main thread once the job has paused or finished). */
    int efd;
    uint64_t got[ROUNDS];
    /* Written by the worker under `lock`. */
    int running_seen[ROUNDS + 1]; /* its context while it ran: at the start and after each resume */
    int paused_seen[ROUNDS];      /* its context while paused */
    int fd_found[ROUNDS];         /* get_fd gave the job's fd and data */
    int written[ROUNDS];          /* the worker's write to that fd went through */
    /* Written by the main thread. */
    int result;
};

static struct slot slots[JOBS];
static struct slot no_ctx_slot;

enum request { REQ_RUNNING, REQ_WAKE, REQ_QUIT };

/* The worker's mailbox, one request at a time. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static struct timespec deadline;
static int timed_out;
static unsigned posted, served;
static enum request req_kind;
static int req_round;
static struct slot *req_slot;
static ASYNC_JOB *req_job;
static ASYNC_JOB *req_wake_jobs[JOBS];

static int mailbox_idle(unsigned unused)
{
    (void)unused;
    return served == posted;
}

static int request_waiting(unsigned unused)
{
    (void)unused;
    return served != posted;
}

static int served_up_to(unsigned seq)
{
    return served - seq < 0x80000000u;
}

/* With `lock` held: waits until ready(arg), or fails once the deadline passed. */
static int wait_locked(int (*ready)(unsigned), unsigned arg)
{
    while (!ready(arg)) {
        if (timed_out || pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT) {
            timed_out = 1;
            return 0;
        }
    }
    return 1;
}

/* Posts a request once the mailbox is free; its sequence number, 0 on timeout. */
static unsigned post(enum request kind, struct slot *s, ASYNC_JOB *job, int round)
{
    unsigned seq = 0;
    int i;

    pthread_mutex_lock(&lock);
    if (wait_locked(mailbox_idle, 0)) {
        req_kind = kind;
        req_slot = s;
        req_job = job;
        req_round = round;
        /* A copy: the main thread rewrites slots[i].job as it resumes jobs. */
        for (i = 0; i < JOBS; i++)
            req_wake_jobs[i] = slots[i].job;
        seq = ++posted;
        pthread_cond_broadcast(&changed);
    }
    pthread_mutex_unlock(&lock);
    return seq;
}

static int wait_served(unsigned seq)
{
    int ok;

    if (seq == 0)
        return 0;
    pthread_mutex_lock(&lock);
    ok = wait_locked(served_up_to, seq);
    pthread_mutex_unlock(&lock);
    return ok;
}

static int is_served(unsigned seq)
{
    int done;

    pthread_mutex_lock(&lock);
    done = seq != 0 && served_up_to(seq);
    pthread_mutex_unlock(&lock);
    return done;
}

/* What QAT's poller does for each job whose request completed. */
static void wake(struct slot *s, ASYNC_JOB *job, int round)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_get_wait_ctx(job);
    OSSL_ASYNC_FD fd = -1;
    void *data = NULL;
    int found = ctx != NULL && ASYNC_WAIT_CTX_get_fd(ctx, &wake_key, &fd, &data) == 1;
    uint64_t value = (uint64_t)(round + 1) * 100 + (uint64_t)(s - slots) + 1;
    int written;

    pthread_mutex_lock(&lock);
    s->paused_seen[round] = ctx == s->ctx;
    s->fd_found[round] = found && data == s && fd == s->efd;
    pthread_mutex_unlock(&lock);
    /* The context is not touched after this write: the job may run again at once. */
    written = found && write(fd, &value, sizeof(value)) == (ssize_t)sizeof(value);
    pthread_mutex_lock(&lock);
    s->written[round] = written;
    pthread_mutex_unlock(&lock);
}

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        enum request kind;
        struct slot *s;
        ASYNC_JOB *job, *jobs[JOBS];
        int round, i;

        if (!wait_locked(request_waiting, 0))
            break;
        kind = req_kind;
        s = req_slot;
        job = req_job;
        round = req_round;
        memcpy(jobs, req_wake_jobs, sizeof(jobs));
        if (kind == REQ_QUIT) {
            served = posted;
            pthread_cond_broadcast(&changed);
            break;
        }
        pthread_mutex_unlock(&lock);
        if (kind == REQ_WAKE) {
            /* Last to first: the order is the poller's, not the starter's. */
            for (i = JOBS - 1; i >= 0; i--)
                wake(&slots[i], jobs[i], round);
            pthread_mutex_lock(&lock);
        } else {
            int seen = ASYNC_get_wait_ctx(job) == s->ctx;

            pthread_mutex_lock(&lock);
            s->running_seen[round] = seen;
        }
        served = posted;
        pthread_cond_broadcast(&changed);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Blocks the running job until the worker has looked at its context. */
static void check_running(struct slot *s, int round)
{
    wait_served(post(REQ_RUNNING, s, ASYNC_get_current_job(), round));
}

static int qat_like_job(void *arg)
{
    struct slot *s = &slots[*(const int *)arg];
    uint64_t sum = 0;
    int r;

    check_running(s, 0);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0 || ASYNC_WAIT_CTX_set_wait_fd(s->ctx, &wake_key, s->efd, s, NULL) != 1)
        return -1;
    for (r = 0; r < ROUNDS; r++) {
        uint64_t value = 0;

        if (ASYNC_pause_job() != 1)
            return -1;
        if (read(s->efd, &value, sizeof(value)) != (ssize_t)sizeof(value))
            value = 0;
        s->got[r] = value;
        sum += value;
        check_running(s, r + 1);
    }
    ASYNC_WAIT_CTX_clear_fd(s->ctx, &wake_key);
    close(s->efd);
    return (int)sum;
}

static int no_ctx_job(void *arg)
{
    (void)arg;
    check_running(&no_ctx_slot, 0);
    return 7;
}

static int remaining_ms(void)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms > 50 ? 50 : (int)ms;
}

/*
 * One round: the worker wakes every job; each is resumed when its fd is
 * readable (or, once the worker is done, anyway). Returns how many were
 * resumed because their fd was readable.
 */
static int run_round(int round, OSSL_ASYNC_FD *fds, int *resumed_as_expected)
{
    int pending[JOBS], left = JOBS, woken = 0, i, ret, expect;
    unsigned seq = post(REQ_WAKE, NULL, NULL, round);

    expect = round == ROUNDS - 1 ? ASYNC_FINISH : ASYNC_PAUSE;
    *resumed_as_expected = 0;
    for (i = 0; i < JOBS; i++)
        pending[i] = 1;
    while (left > 0) {
        struct pollfd p[JOBS];
        int which[JOBS], n = 0, ready, k;
        int give_up = is_served(seq) || timed_out || remaining_ms() == 0;

        for (i = 0; i < JOBS; i++) {
            if (pending[i]) {
                p[n].fd = fds[i];
                p[n].events = POLLIN;
                p[n].revents = 0;
                which[n++] = i;
            }
        }
        /* Once the worker is done every write has landed: one last look, without waiting. */
        ready = poll(p, (nfds_t)n, give_up ? 0 : remaining_ms());
        for (k = 0; k < n; k++) {
            i = which[k];
            if (!(ready > 0 && (p[k].revents & POLLIN)) && !give_up)
                continue;
            if (ready > 0 && (p[k].revents & POLLIN))
                woken++;
            pending[i] = 0;
            left--;
            if (ASYNC_start_job(&slots[i].job, slots[i].ctx, &ret, qat_like_job, NULL, 0) == expect)
                (*resumed_as_expected)++;
            if (expect == ASYNC_FINISH)
                slots[i].result = ret;
        }
    }
    wait_served(seq);
    return woken;
}

static int count(const int *flags, int n)
{
    int i, c = 0;

    for (i = 0; i < n; i++)
        c += flags[i] != 0;
    return c;
}

int main(void)
{
    pthread_condattr_t attr;
    pthread_t thread;
    OSSL_ASYNC_FD fds[JOBS];
    int i, r, ret, paused = 0;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&changed, &attr);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += DEADLINE_SECONDS;
    CHECK(pthread_create(&thread, NULL, worker, NULL) == 0);

    for (i = 0; i < JOBS; i++) {
        slots[i].ctx = ASYNC_WAIT_CTX_new();
        CHECK(slots[i].ctx != NULL);
        if (ASYNC_start_job(&slots[i].job, slots[i].ctx, &ret, qat_like_job, &i, sizeof(i)) == ASYNC_PAUSE)
            paused++;
    }
    printf("%d of %d jobs paused with an eventfd in their wait context\n", paused, JOBS);

    for (r = 0; r < ROUNDS; r++) {
        int listed = 0, woken, as_expected, seen = 0, found = 0, written = 0;

        for (i = 0; i < JOBS; i++) {
            size_t n = 0;

            fds[i] = -1;
            if (ASYNC_WAIT_CTX_get_all_fds(slots[i].ctx, NULL, &n) == 1 && n == 1 &&
                ASYNC_WAIT_CTX_get_all_fds(slots[i].ctx, &fds[i], &n) == 1 && fds[i] == slots[i].efd)
                listed++;
        }
        woken = run_round(r, fds, &as_expected);
        pthread_mutex_lock(&lock);
        for (i = 0; i < JOBS; i++) {
            seen += slots[i].paused_seen[r];
            found += slots[i].fd_found[r];
            written += slots[i].written[r];
        }
        pthread_mutex_unlock(&lock);
        printf("round %d: main thread listed %d of %d fds; the worker found %d contexts and %d fds"
               " and wrote %d; %d jobs woken by their fd, %d resumed to %s\n",
               r, listed, JOBS, seen, found, written, woken, as_expected,
               r == ROUNDS - 1 ? "ASYNC_FINISH" : "ASYNC_PAUSE");
        CHECK(listed == JOBS && seen == JOBS && found == JOBS && written == JOBS);
        CHECK(woken == JOBS && as_expected == JOBS);
    }

    for (i = 0; i < JOBS; i++) {
        int running;

        pthread_mutex_lock(&lock);
        running = count(slots[i].running_seen, ROUNDS + 1);
        pthread_mutex_unlock(&lock);
        printf("job %d: read %llu %llu %llu, result %d; worker saw its context while it ran %d of %d"
               " times; handle cleared %s\n", i,
               (unsigned long long)slots[i].got[0], (unsigned long long)slots[i].got[1],
               (unsigned long long)slots[i].got[2], slots[i].result, running, ROUNDS + 1,
               slots[i].job == NULL ? "yes" : "no");
        CHECK(running == ROUNDS + 1);
        CHECK(slots[i].got[0] == 100u + (unsigned)i + 1 && slots[i].got[2] == 300u + (unsigned)i + 1);
        CHECK(slots[i].result == 600 + 3 * (i + 1));
    }

    /* A running job started without a context: NULL for the worker too. */
    no_ctx_slot.ctx = NULL;
    CHECK(ASYNC_start_job(&no_ctx_slot.job, NULL, &ret, no_ctx_job, NULL, 0) == ASYNC_FINISH);
    pthread_mutex_lock(&lock);
    printf("job without a context: the worker got NULL while it ran: %s; result %d\n",
           no_ctx_slot.running_seen[0] ? "yes" : "no", ret);
    CHECK(no_ctx_slot.running_seen[0] && ret == 7);
    pthread_mutex_unlock(&lock);

    wait_served(post(REQ_QUIT, NULL, NULL, 0));
    CHECK(pthread_join(thread, NULL) == 0);
    printf("timed out: %s\n", timed_out ? "yes" : "no");
    for (i = 0; i < JOBS; i++)
        ASYNC_WAIT_CTX_free(slots[i].ctx);
    pthread_cond_destroy(&changed);
    pthread_condattr_destroy(&attr);
    return TEST_DONE();
}
