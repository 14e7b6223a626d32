/*
 * async_tls.c - a TLS client and server of our own, both using
 * SSL_MODE_ASYNC, driven from one epoll loop in one thread.
 *
 *   async_tls --mode epoll|callback --tls 1.2|1.3 --cert CERT --key KEY
 *             [--engine /abs/path/pause_engine.so | --provider /abs/path/pause_provider.so]
 *             [--conns N] [--bytes N]
 *
 * Each client connects over 127.0.0.1, completes a handshake with one of
 * the server endpoints, sends --bytes of pseudo-random data in chunks, and
 * checks that the server echoes every byte back; then both sides exchange
 * close_notify.
 *
 * --mode epoll: on SSL_ERROR_WANT_ASYNC the endpoint asks
 *   SSL_get_changed_async_fds for the fds added and deleted since the last
 *   pause, removes the deleted ones from epoll and adds the new ones, then
 *   waits for one of them to become readable.  After every update the set
 *   the program holds is compared with SSL_get_all_async_fds.
 * --mode callback: the server's SSL_CTX gets SSL_CTX_set_async_callback and
 *   every client SSL gets SSL_set_async_callback + SSL_set_async_callback_arg
 *   (steps 1-9 of SSL_CTX_set_async_callback(3)).  The callback, which may
 *   run on the engine's worker thread, reads SSL_get_async_status, queues
 *   the endpoint and wakes the loop through an eventfd; the loop then calls
 *   the interrupted SSL function again.
 *
 * --provider loads pause_provider.so beside the default provider and makes
 * "?provider=rustasync-pause" the default property query, so that libssl
 * fetches its SHA-256 from it; --engine loads pause_engine.so as the default
 * for everything it implements. Either one is the "offload device" whose
 * pauses the checks below require.
 *
 * stdout is deterministic (no addresses, timings or counts that depend on
 * scheduling), so a run against the system libcrypto and a run with
 * LD_PRELOAD=librustasync.so can be compared byte for byte.  Counts that
 * vary between runs go to stderr.  Exit status 0 means every check held.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CHUNK 16384
#define MAX_CONNS 64
#define MAX_FD 65536
#define SOCK_TAG 0xffffffffu
#define NOTIFY_TAG UINT64_MAX

enum mode { MODE_EPOLL, MODE_CALLBACK };

enum state {
    ST_HANDSHAKE,
    ST_WRITE,       /* client: sending a chunk; server: echoing one */
    ST_READ,        /* client: reading the echo; server: reading a chunk */
    ST_SHUTDOWN,
    ST_DONE,
    ST_FAILED
};

enum wait_for { W_NONE, W_SOCK, W_ASYNC, W_RETRY };

struct endpoint {
    int idx;
    int is_server;
    int sock;
    SSL *ssl;
    enum state state;
    enum wait_for waiting;
    uint32_t sock_events;           /* currently registered on epoll */
    int shutdown_calls;

    /* client */
    unsigned char *payload;
    unsigned char *received;
    size_t total, off, chunk_len, echo_got;
    /* server */
    unsigned char buf[CHUNK];
    size_t pending;
    size_t echoed;

    /* results */
    char protocol[32];
    char cipher[64];
    long verify_result;
    int read_zero;                  /* peer's close_notify seen */

    /* async bookkeeping (varying counts: stderr only) */
    unsigned long want_async, want_async_job, fds_added, fds_deleted;
    unsigned long callbacks_handled, unexpected_notifications;
};

static enum mode mode = MODE_EPOLL;
static int epfd = -1;
static int notify_fd = -1;
static struct endpoint eps[2 * MAX_CONNS];
static int n_eps;
static int fd_owner[MAX_FD];        /* epoll mode: endpoint idx + 1, 0 = none */
static unsigned long bookkeeping_violations;
static unsigned long async_fds_in_callback_mode;

/* Callback mode: written by the callback (any thread), read by the loop. */
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static int notify_queue[4 * 2 * MAX_CONNS];
static int notify_len;
static unsigned long cb_calls, cb_status_ok, cb_status_eagain, cb_status_other;
static unsigned long notify_overflow;

static void die(const char *what)
{
    fprintf(stdout, "error: %s\n", what);
    fprintf(stderr, "async_tls: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (n-- > 0) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void fill_payload(unsigned char *p, size_t n, unsigned seed)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (seed + 1);
    size_t i;

    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl O_NONBLOCK");
}

/* ---------------------------------------------------------------------- */
/* epoll registration                                                      */

static void set_sock_events(struct endpoint *ep, uint32_t events)
{
    struct epoll_event ev;

    if (ep->sock_events == events)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = ((uint64_t)ep->idx << 32) | SOCK_TAG;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, ep->sock, &ev) < 0)
        die("epoll_ctl MOD socket");
    ep->sock_events = events;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* The registered set of ep must equal SSL_get_all_async_fds. */
static void check_bookkeeping(struct endpoint *ep)
{
    OSSL_ASYNC_FD all[64];
    int mine[64];
    size_t n_all = 0, n_mine = 0, i;
    int fd;

    if (!SSL_get_all_async_fds(ep->ssl, NULL, &n_all) || n_all > 64) {
        bookkeeping_violations++;
        return;
    }
    SSL_get_all_async_fds(ep->ssl, all, &n_all);
    for (fd = 0; fd < MAX_FD && n_mine < 64; fd++)
        if (fd_owner[fd] == ep->idx + 1)
            mine[n_mine++] = fd;
    qsort(all, n_all, sizeof(all[0]), cmp_int);
    if (n_all != n_mine) {
        bookkeeping_violations++;
        return;
    }
    for (i = 0; i < n_all; i++)
        if (all[i] != mine[i]) {
            bookkeeping_violations++;
            return;
        }
}

static void update_async_fds(struct endpoint *ep)
{
    OSSL_ASYNC_FD add[64], del[64];
    size_t n_add = 0, n_del = 0, i;

    if (!SSL_get_changed_async_fds(ep->ssl, NULL, &n_add, NULL, &n_del))
        die("SSL_get_changed_async_fds (counts)");
    if (n_add > 64 || n_del > 64)
        die("too many changed async fds");
    if (!SSL_get_changed_async_fds(ep->ssl, add, &n_add, del, &n_del))
        die("SSL_get_changed_async_fds");
    ep->fds_added += n_add;
    ep->fds_deleted += n_del;

    /* Deleted ones first: a new fd may reuse the number of a deleted one. */
    for (i = 0; i < n_del; i++) {
        int fd = del[i];

        if (fd < 0 || fd >= MAX_FD)
            die("deleted async fd out of range");
        if (fd_owner[fd] != ep->idx + 1)
            continue;   /* closed and already reused by another endpoint */
        if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0
                && errno != ENOENT && errno != EBADF)
            die("epoll_ctl DEL async fd");
        fd_owner[fd] = 0;
    }
    for (i = 0; i < n_add; i++) {
        int fd = add[i];
        struct epoll_event ev;

        if (fd < 0 || fd >= MAX_FD)
            die("added async fd out of range");
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.u64 = ((uint64_t)ep->idx << 32) | (uint32_t)fd;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            if (errno != EEXIST || epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
                die("epoll_ctl ADD async fd");
        }
        fd_owner[fd] = ep->idx + 1;
    }
    check_bookkeeping(ep);
}

/* ---------------------------------------------------------------------- */
/* Callback mode                                                           */

static int async_done_callback(SSL *s, void *arg)
{
    struct endpoint *ep = arg;
    int status = -1;
    uint64_t one = 1;
    ssize_t w;

    /* Step 9: the status tells a retry from a submitted request. */
    if (!SSL_get_async_status(s, &status))
        status = -1;
    pthread_mutex_lock(&notify_lock);
    cb_calls++;
    if (status == ASYNC_STATUS_OK)
        cb_status_ok++;
    else if (status == ASYNC_STATUS_EAGAIN)
        cb_status_eagain++;
    else
        cb_status_other++;
    if (notify_len < (int)(sizeof(notify_queue) / sizeof(notify_queue[0])))
        notify_queue[notify_len++] = ep->idx;
    else
        notify_overflow++;
    pthread_mutex_unlock(&notify_lock);
    /* Step 8: schedule the call again; the loop does it. */
    do {
        w = write(notify_fd, &one, sizeof(one));
    } while (w < 0 && errno == EINTR);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* The state machine                                                       */

static void finish_handshake(struct endpoint *ep)
{
    snprintf(ep->protocol, sizeof(ep->protocol), "%s", SSL_get_version(ep->ssl));
    snprintf(ep->cipher, sizeof(ep->cipher), "%s",
             SSL_CIPHER_get_name(SSL_get_current_cipher(ep->ssl)));
    ep->verify_result = SSL_get_verify_result(ep->ssl);
}

static int call_ssl(struct endpoint *ep)
{
    size_t done = 0;
    int r;

    switch (ep->state) {
    case ST_HANDSHAKE:
        return SSL_do_handshake(ep->ssl);
    case ST_WRITE:
        if (ep->is_server)
            r = SSL_write_ex(ep->ssl, ep->buf, ep->pending, &done);
        else
            r = SSL_write_ex(ep->ssl, ep->payload + ep->off, ep->chunk_len, &done);
        return r == 1 ? (int)done : -1;
    case ST_READ:
        if (ep->is_server)
            r = SSL_read_ex(ep->ssl, ep->buf, sizeof(ep->buf), &done);
        else
            r = SSL_read_ex(ep->ssl, ep->received + ep->off + ep->echo_got,
                            ep->chunk_len - ep->echo_got, &done);
        return r == 1 ? (int)done : 0;
    case ST_SHUTDOWN:
        ep->shutdown_calls++;
        return SSL_shutdown(ep->ssl);
    default:
        return -1;
    }
}

/* Moves the state machine on after a successful call returning r > 0. */
static void advance(struct endpoint *ep, int r)
{
    switch (ep->state) {
    case ST_HANDSHAKE:
        finish_handshake(ep);
        if (ep->is_server) {
            ep->state = ST_READ;
        } else {
            ep->chunk_len = ep->total - ep->off < CHUNK ? ep->total - ep->off : CHUNK;
            ep->state = ep->chunk_len > 0 ? ST_WRITE : ST_SHUTDOWN;
        }
        break;
    case ST_WRITE:
        if (ep->is_server) {
            ep->echoed += (size_t)r;
            ep->state = ST_READ;
        } else {
            ep->echo_got = 0;
            ep->state = ST_READ;
        }
        break;
    case ST_READ:
        if (ep->is_server) {
            ep->pending = (size_t)r;
            ep->state = ST_WRITE;
        } else {
            ep->echo_got += (size_t)r;
            if (ep->echo_got == ep->chunk_len) {
                ep->off += ep->chunk_len;
                ep->chunk_len = ep->total - ep->off < CHUNK ? ep->total - ep->off : CHUNK;
                ep->state = ep->chunk_len > 0 ? ST_WRITE : ST_SHUTDOWN;
            }
        }
        break;
    case ST_SHUTDOWN:
        ep->state = ST_DONE;
        break;
    default:
        break;
    }
}

static void fail(struct endpoint *ep, const char *why, int err)
{
    fprintf(stderr, "async_tls: %s %d: %s (SSL error %d, state %d)\n",
            ep->is_server ? "server" : "client", ep->idx, why, err, ep->state);
    ERR_print_errors_fp(stderr);
    ep->state = ST_FAILED;
    ep->waiting = W_NONE;
    set_sock_events(ep, 0);
}

static void drive(struct endpoint *ep)
{
    int guard = 0;

    ep->waiting = W_NONE;
    while (ep->state != ST_DONE && ep->state != ST_FAILED) {
        int r, err;

        if (++guard > 100000) {
            fail(ep, "no progress", 0);
            return;
        }
        ERR_clear_error();
        r = call_ssl(ep);
        if (r > 0) {
            advance(ep, r);
            continue;
        }
        if (ep->state == ST_SHUTDOWN && r == 0) {
            /* Our close_notify is out; call again to read the peer's. */
            if (ep->shutdown_calls > 50) {
                fail(ep, "SSL_shutdown keeps returning 0", 0);
                return;
            }
            continue;
        }
        err = SSL_get_error(ep->ssl, r);
        switch (err) {
        case SSL_ERROR_WANT_READ:
            ep->waiting = W_SOCK;
            set_sock_events(ep, EPOLLIN);
            return;
        case SSL_ERROR_WANT_WRITE:
            ep->waiting = W_SOCK;
            set_sock_events(ep, EPOLLOUT);
            return;
        case SSL_ERROR_WANT_ASYNC:
            ep->want_async++;
            ep->waiting = W_ASYNC;
            set_sock_events(ep, 0);
            if (mode == MODE_EPOLL) {
                update_async_fds(ep);
            } else {
                size_t n_add = 0, n_del = 0;

                SSL_get_changed_async_fds(ep->ssl, NULL, &n_add, NULL, &n_del);
                async_fds_in_callback_mode += n_add;
            }
            return;
        case SSL_ERROR_WANT_ASYNC_JOB:
            ep->want_async_job++;
            ep->waiting = W_RETRY;
            set_sock_events(ep, 0);
            return;
        case SSL_ERROR_ZERO_RETURN:
            ep->read_zero = 1;
            if (ep->is_server && ep->state == ST_READ) {
                ep->state = ST_SHUTDOWN;
                continue;
            }
            if (ep->state == ST_SHUTDOWN) {
                ep->state = ST_DONE;
                continue;
            }
            fail(ep, "peer closed early", err);
            return;
        default:
            fail(ep, "SSL call failed", err);
            return;
        }
    }
    set_sock_events(ep, 0);
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */

static ENGINE *load_engine(const char *path)
{
    ENGINE *e = ENGINE_by_id("dynamic");

    if (e == NULL
            || !ENGINE_ctrl_cmd_string(e, "SO_PATH", path, 0)
            || !ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0))
        die("cannot load engine");
    if (!ENGINE_init(e))
        die("ENGINE_init");
    if (!ENGINE_set_default(e, ENGINE_METHOD_ALL))
        die("ENGINE_set_default");
    return e;
}

static unsigned long engine_pauses(ENGINE *e)
{
    unsigned long n = 0;

    if (e == NULL || !ENGINE_ctrl_cmd(e, "PAUSE_COUNT", 0, &n, NULL, 0))
        return 0;
    return n;
}

static OSSL_PROVIDER *load_provider(const char *path)
{
    OSSL_PROVIDER *p;

    if (OSSL_PROVIDER_load(NULL, "default") == NULL)
        die("cannot load the default provider");
    p = OSSL_PROVIDER_load(NULL, path);
    if (p == NULL)
        die("cannot load provider");
    if (!EVP_set_default_properties(NULL, "?provider=rustasync-pause"))
        die("EVP_set_default_properties");
    return p;
}

/* The provider reports its pause count as a gettable parameter. */
static unsigned long provider_pauses(OSSL_PROVIDER *p)
{
    unsigned long n = 0;
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_ulong("rustasync-pause-pauses", &n);
    params[1] = OSSL_PARAM_construct_end();
    if (p == NULL || !OSSL_PROVIDER_get_params(p, params))
        return 0;
    return n;
}

static SSL_CTX *make_ctx(int server, int tls13, const char *cert,
                         const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    int v = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;

    if (ctx == NULL)
        die("SSL_CTX_new");
    if (!SSL_CTX_set_min_proto_version(ctx, v)
            || !SSL_CTX_set_max_proto_version(ctx, v))
        die("set proto version");
    /* P-256 so that the key exchange goes through the engine too. */
    if (!SSL_CTX_set1_groups_list(ctx, "P-256"))
        die("set groups");
    /* SHA-256 suites, so that the transcript hash goes through the engine. */
    if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256")
            || !SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256"))
        die("set cipher suites");
    SSL_CTX_set_mode(ctx, SSL_MODE_ASYNC);
    if (server) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
                || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
                || SSL_CTX_check_private_key(ctx) != 1)
            die("load server certificate/key");
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        if (mode == MODE_CALLBACK
                && !SSL_CTX_set_async_callback(ctx, async_done_callback))
            die("SSL_CTX_set_async_callback");
    } else {
        if (SSL_CTX_load_verify_locations(ctx, cert, NULL) != 1)
            die("load CA");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: async_tls --mode epoll|callback --tls 1.2|1.3 --cert F --key F\n"
            "                 [--engine PATH | --provider PATH] [--conns N] [--bytes N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *engine_path = NULL, *tls = "1.3";
    const char *provider_path = NULL;
    OSSL_PROVIDER *provider = NULL;
    int offloading;
    int conns = 4, tls13, i, lsock, all_ok = 1;
    size_t bytes = 1 << 20;
    ENGINE *engine = NULL;
    SSL_CTX *sctx, *cctx;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    struct epoll_event ev;
    time_t deadline;
    unsigned long pauses_before = 0, total_want_async_client = 0;
    unsigned long total_want_async_server = 0;
    size_t server_echoed = 0;
    int servers_done = 0, server_saw_close = 1;

    for (i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--mode") == 0) {
            i++;
            if (strcmp(argv[i], "epoll") == 0)
                mode = MODE_EPOLL;
            else if (strcmp(argv[i], "callback") == 0)
                mode = MODE_CALLBACK;
            else
                usage();
        } else if (strcmp(argv[i], "--tls") == 0) {
            tls = argv[++i];
        } else if (strcmp(argv[i], "--cert") == 0) {
            cert = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--engine") == 0) {
            engine_path = argv[++i];
        } else if (strcmp(argv[i], "--provider") == 0) {
            provider_path = argv[++i];
        } else if (strcmp(argv[i], "--conns") == 0) {
            conns = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--bytes") == 0) {
            bytes = (size_t)strtoull(argv[++i], NULL, 10);
        } else {
            usage();
        }
    }
    if (cert == NULL || key == NULL || conns < 1 || conns > MAX_CONNS
            || (engine_path != NULL && provider_path != NULL)
            || (strcmp(tls, "1.2") != 0 && strcmp(tls, "1.3") != 0))
        usage();
    tls13 = strcmp(tls, "1.3") == 0;

    if (engine_path != NULL) {
        engine = load_engine(engine_path);
        pauses_before = engine_pauses(engine);
    }
    if (provider_path != NULL) {
        provider = load_provider(provider_path);
        pauses_before = provider_pauses(provider);
    }
    offloading = engine != NULL || provider != NULL;
    sctx = make_ctx(1, tls13, cert, key);
    cctx = make_ctx(0, tls13, cert, key);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || notify_fd < 0)
        die("epoll_create1/eventfd");
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = NOTIFY_TAG;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, notify_fd, &ev) < 0)
        die("epoll_ctl notify fd");

    /* Listening socket on an ephemeral loopback port. */
    lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0
            || listen(lsock, MAX_CONNS) < 0
            || getsockname(lsock, (struct sockaddr *)&addr, &alen) < 0)
        die("listen on 127.0.0.1");

    /* Connections are set up blocking (loopback: immediate), then every
     * socket goes non-blocking for the TLS part. */
    for (i = 0; i < conns; i++) {
        struct endpoint *c = &eps[n_eps], *s = &eps[n_eps + 1];
        int one = 1;

        memset(c, 0, sizeof(*c));
        memset(s, 0, sizeof(*s));
        c->idx = n_eps;
        s->idx = n_eps + 1;
        s->is_server = 1;
        n_eps += 2;
        c->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->sock < 0 || connect(c->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
            die("connect");
        s->sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
        if (s->sock < 0)
            die("accept");
        setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(s->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set_nonblocking(c->sock);
        set_nonblocking(s->sock);

        c->total = bytes;
        c->payload = malloc(bytes > 0 ? bytes : 1);
        c->received = malloc(bytes > 0 ? bytes : 1);
        if (c->payload == NULL || c->received == NULL)
            die("malloc");
        fill_payload(c->payload, bytes, (unsigned)i);
        memset(c->received, 0, bytes);

        c->ssl = SSL_new(cctx);
        s->ssl = SSL_new(sctx);
        if (c->ssl == NULL || s->ssl == NULL)
            die("SSL_new");
        if (!SSL_set_fd(c->ssl, c->sock) || !SSL_set_fd(s->ssl, s->sock))
            die("SSL_set_fd");
        SSL_set_connect_state(c->ssl);
        SSL_set_accept_state(s->ssl);
        if (!SSL_set1_host(c->ssl, "localhost"))
            die("SSL_set1_host");
        if (mode == MODE_CALLBACK) {
            /* Step 1: callback and its argument on the connection. */
            if (!SSL_set_async_callback(c->ssl, async_done_callback)
                    || !SSL_set_async_callback_arg(c->ssl, c))
                die("SSL_set_async_callback");
            /* The server's callback comes from its SSL_CTX. */
            if (!SSL_set_async_callback_arg(s->ssl, s))
                die("SSL_set_async_callback_arg");
        }
        if (SSL_get_mode(c->ssl) & SSL_MODE_ASYNC) {
            /* set on the contexts; checked here for the record */
        } else {
            die("SSL_MODE_ASYNC not set");
        }
        memset(&ev, 0, sizeof(ev));
        ev.events = 0;
        ev.data.u64 = ((uint64_t)c->idx << 32) | SOCK_TAG;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->sock, &ev) < 0)
            die("epoll_ctl ADD socket");
        ev.data.u64 = ((uint64_t)s->idx << 32) | SOCK_TAG;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->sock, &ev) < 0)
            die("epoll_ctl ADD socket");
    }
    close(lsock);

    /* Step 2: make the first asynchronous calls. */
    for (i = 0; i < n_eps; i++)
        drive(&eps[i]);

    deadline = time(NULL) + 60;
    for (;;) {
        struct epoll_event events[64];
        int n, k, active = 0, want_retry = 0;

        for (i = 0; i < n_eps; i++) {
            if (eps[i].state != ST_DONE && eps[i].state != ST_FAILED)
                active++;
            if (eps[i].waiting == W_RETRY)
                want_retry = 1;
        }
        if (active == 0)
            break;
        if (time(NULL) > deadline) {
            printf("error: timed out with %d endpoints unfinished\n", active);
            for (i = 0; i < n_eps; i++)
                if (eps[i].state != ST_DONE && eps[i].state != ST_FAILED)
                    fprintf(stderr, "async_tls: stuck %s %d state %d waiting %d\n",
                            eps[i].is_server ? "server" : "client", i,
                            eps[i].state, eps[i].waiting);
            return 1;
        }
        n = epoll_wait(epfd, events, 64, want_retry ? 1 : 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (k = 0; k < n; k++) {
            uint64_t tag = events[k].data.u64;

            if (tag == NOTIFY_TAG) {
                int queue[sizeof(notify_queue) / sizeof(notify_queue[0])];
                int len, j;
                uint64_t v;

                if (read(notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    die("read notify fd");
                pthread_mutex_lock(&notify_lock);
                len = notify_len;
                memcpy(queue, notify_queue, (size_t)len * sizeof(int));
                notify_len = 0;
                pthread_mutex_unlock(&notify_lock);
                for (j = 0; j < len; j++) {
                    struct endpoint *ep = &eps[queue[j]];

                    if (ep->waiting == W_ASYNC) {
                        ep->callbacks_handled++;
                        drive(ep);
                    } else {
                        ep->unexpected_notifications++;
                    }
                }
            } else {
                struct endpoint *ep = &eps[tag >> 32];
                uint32_t low = (uint32_t)tag;

                if (low == SOCK_TAG) {
                    if (ep->waiting == W_SOCK)
                        drive(ep);
                } else if (ep->waiting == W_ASYNC && mode == MODE_EPOLL
                           && fd_owner[low] == ep->idx + 1) {
                    drive(ep);
                }
            }
        }
        for (i = 0; i < n_eps; i++)
            if (eps[i].waiting == W_RETRY)
                drive(&eps[i]);
    }

    /* ------------------------------------------------------------------ */
    /* Report                                                             */
    printf("async_tls mode=%s tls=%s connections=%d bytes_per_connection=%zu%s\n",
           mode == MODE_EPOLL ? "epoll" : "callback", tls13 ? "1.3" : "1.2",
           conns, bytes, engine != NULL ? " engine=rustasync-pause"
                         : provider != NULL ? " provider=rustasync-pause" : "");
    for (i = 0; i < n_eps; i++) {
        struct endpoint *ep = &eps[i];

        if (ep->is_server) {
            total_want_async_server += ep->want_async;
            server_echoed += ep->echoed;
            if (ep->state == ST_DONE)
                servers_done++;
            else
                all_ok = 0;
            if (!ep->read_zero)
                server_saw_close = 0;
            continue;
        }
        total_want_async_client += ep->want_async;
        {
            int match = ep->state == ST_DONE && ep->off == ep->total
                        && memcmp(ep->payload, ep->received, ep->total) == 0;

            printf("client %d: %s, protocol %s, cipher %s, verify %s, "
                   "sent %zu, echoed back %zu, bytes match %s, fnv1a %016llx\n",
                   ep->idx / 2, ep->state == ST_DONE ? "done" : "FAILED",
                   ep->protocol, ep->cipher,
                   ep->verify_result == X509_V_OK ? "ok" : "FAILED",
                   ep->off, ep->off, match ? "yes" : "NO",
                   (unsigned long long)fnv1a(ep->received, ep->total));
            if (!match || ep->verify_result != X509_V_OK
                    || strcmp(ep->protocol, tls13 ? "TLSv1.3" : "TLSv1.2") != 0)
                all_ok = 0;
        }
    }
    printf("server: %d of %d connections done, echoed %zu bytes, "
           "close_notify from every client %s\n",
           servers_done, conns, server_echoed, server_saw_close ? "yes" : "NO");
    if (!server_saw_close || server_echoed != (size_t)conns * bytes)
        all_ok = 0;

    if (offloading) {
        unsigned long paused = (engine != NULL ? engine_pauses(engine)
                                : provider_pauses(provider)) - pauses_before;

        printf("async: SSL_ERROR_WANT_ASYNC seen by clients %s, by servers %s\n",
               total_want_async_client > 0 ? "yes" : "NO",
               total_want_async_server > 0 ? "yes" : "NO");
        printf("%s: jobs paused %s\n", engine != NULL ? "engine" : "provider",
               paused > 0 ? "yes" : "NO");
        if (total_want_async_client == 0 || total_want_async_server == 0
                || paused == 0)
            all_ok = 0;
        fprintf(stderr, "async_tls: offload pauses %lu\n", paused);
    }
    if (mode == MODE_EPOLL) {
        unsigned long added = 0, deleted = 0;

        for (i = 0; i < n_eps; i++) {
            added += eps[i].fds_added;
            deleted += eps[i].fds_deleted;
        }
        printf("epoll: registered set equals SSL_get_all_async_fds after every "
               "update: %s\n", bookkeeping_violations == 0 ? "yes" : "NO");
        if (offloading) {
            /* Each offloaded operation pauses exactly once and is resumed
             * only when its fd is readable, so these counts repeat from
             * run to run and must not depend on the async implementation. */
            printf("epoll: SSL_ERROR_WANT_ASYNC clients %lu, servers %lu; "
                   "SSL_get_changed_async_fds added %lu, deleted %lu\n",
                   total_want_async_client, total_want_async_server,
                   added, deleted);
        }
        if (bookkeeping_violations != 0 || (offloading && added == 0))
            all_ok = 0;
        fprintf(stderr, "async_tls: async fds added %lu deleted %lu, "
                "bookkeeping violations %lu\n", added, deleted,
                bookkeeping_violations);
    } else {
        unsigned long handled = 0, unexpected = 0;

        for (i = 0; i < n_eps; i++) {
            handled += eps[i].callbacks_handled;
            unexpected += eps[i].unexpected_notifications;
        }
        printf("callback: resumed from callbacks %s, ASYNC_STATUS_OK seen %s, "
               "ASYNC_STATUS_EAGAIN seen %s, other status seen %s, "
               "async fds reported %lu\n",
               handled > 0 ? "yes" : "NO", cb_status_ok > 0 ? "yes" : "NO",
               cb_status_eagain > 0 ? "yes" : "NO",
               cb_status_other > 0 ? "YES" : "no",
               async_fds_in_callback_mode);
        if (offloading)
            printf("callback: calls %lu (status OK %lu, EAGAIN %lu), "
                   "unexpected %lu\n", cb_calls, cb_status_ok,
                   cb_status_eagain, unexpected);
        if (offloading && (handled == 0 || cb_status_ok == 0
                               || cb_status_eagain == 0))
            all_ok = 0;
        if (cb_status_other != 0 || async_fds_in_callback_mode != 0
                || notify_overflow != 0)
            all_ok = 0;
        fprintf(stderr, "async_tls: callbacks %lu (ok %lu, eagain %lu, other %lu), "
                "handled %lu, unexpected %lu, overflow %lu\n", cb_calls,
                cb_status_ok, cb_status_eagain, cb_status_other, handled,
                unexpected, notify_overflow);
    }
    fprintf(stderr, "async_tls: WANT_ASYNC clients %lu servers %lu\n",
            total_want_async_client, total_want_async_server);

    for (i = 0; i < n_eps; i++) {
        SSL_free(eps[i].ssl);
        close(eps[i].sock);
        free(eps[i].payload);
        free(eps[i].received);
    }
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    if (engine != NULL) {
        ENGINE_finish(engine);
        ENGINE_free(engine);
    }
    close(epfd);
    close(notify_fd);
    printf("result: %s\n", all_ok ? "OK" : "FAILED");
    return all_ok ? 0 : 1;
}
