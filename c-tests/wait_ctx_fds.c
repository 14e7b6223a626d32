/*
 * ASYNC_WAIT_CTX fds outside any job: set_wait_fd stores an fd and custom
 * data under an opaque key; get_fd finds them by key (0 and outputs left
 * alone for an unknown key); get_all_fds lists live fds newest first and
 * with a NULL array only counts; a key may be set twice (the newest entry
 * wins and is cleared first); clear_fd of an unknown key returns 0.
 */
#include <stdint.h>
#include <openssl/async.h>
#include "common.h"

static const char key_a = 'a', key_b = 'b', key_c = 'c', key_d = 'd', key_unknown = 'u';
static char data_a[] = "data A", data_a2[] = "data A (second)", data_b[] = "data B";
static int cleanups;

static void cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *data)
{
    (void)ctx;
    (void)key;
    (void)fd;
    (void)data;
    cleanups++;
}

static void show_all(const char *label, ASYNC_WAIT_CTX *ctx)
{
    OSSL_ASYNC_FD fds[16];
    size_t n = 999, n2 = 999, i;
    int r1, r2;

    r1 = ASYNC_WAIT_CTX_get_all_fds(ctx, NULL, &n);
    for (i = 0; i < 16; i++)
        fds[i] = -2;
    r2 = ASYNC_WAIT_CTX_get_all_fds(ctx, fds, &n2);
    printf("%s: get_all_fds -> %d/%d, count %zu, listed %zu:", label, r1, r2, n, n2);
    for (i = 0; i < n2 && i < 16; i++)
        printf(" %d", fds[i]);
    printf(" (next slot %d)\n", n2 < 16 ? fds[n2] : 0);
}

static void show_fd(ASYNC_WAIT_CTX *ctx, const char *name, const void *key)
{
    OSSL_ASYNC_FD fd = -7;
    void *data = (void *)&key_unknown;
    int r = ASYNC_WAIT_CTX_get_fd(ctx, key, &fd, &data);

    if (r == 1)
        printf("get_fd(%s) -> 1, fd %d, data %s\n", name, fd,
               data == NULL ? "NULL" : data == (void *)&key_unknown ? "untouched" : (char *)data);
    else
        printf("get_fd(%s) -> %d, fd %s, data %s\n", name, r, fd == -7 ? "untouched" : "written",
               data == (void *)&key_unknown ? "untouched" : "written");
}

int main(void)
{
    ASYNC_WAIT_CTX *ctx = ASYNC_WAIT_CTX_new();
    const void *int_key = (const void *)(uintptr_t)0x1234;

    CHECK(ctx != NULL);
    show_all("new ctx", ctx);
    show_fd(ctx, "a", &key_a);

    printf("set a -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_a, 10, data_a, cleanup));
    printf("set b -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_b, 11, data_b, NULL));
    printf("set c -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_c, 12, NULL, cleanup));
    printf("set int key -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, int_key, 13, data_b, cleanup));
    show_all("four keys", ctx);
    show_fd(ctx, "a", &key_a);
    show_fd(ctx, "b", &key_b);
    show_fd(ctx, "c", &key_c);
    show_fd(ctx, "int key", int_key);
    show_fd(ctx, "unknown", &key_unknown);

    /* Keys are compared as pointers, never dereferenced: the same fd may sit under two keys. */
    printf("set d with a's fd -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_d, 10, NULL, NULL));
    show_all("d shares fd 10", ctx);

    printf("set a again -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_a, 20, data_a2, cleanup));
    show_all("a set twice", ctx);
    show_fd(ctx, "a", &key_a);
    printf("clear a -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_a));
    show_fd(ctx, "a", &key_a);
    show_all("after one clear of a", ctx);
    printf("clear a -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_a));
    show_fd(ctx, "a", &key_a);
    printf("clear a -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_a));
    printf("clear unknown -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, &key_unknown));
    printf("clear int key -> %d\n", ASYNC_WAIT_CTX_clear_fd(ctx, int_key));
    show_all("after clears", ctx);
    printf("cleanups called by clear_fd: %d\n", cleanups);

    /* A cleared key can be set again. */
    printf("set a -> %d\n", ASYNC_WAIT_CTX_set_wait_fd(ctx, &key_a, 30, data_a, cleanup));
    show_fd(ctx, "a", &key_a);
    show_all("a back", ctx);
    ASYNC_WAIT_CTX_free(ctx);
    printf("cleanups called by free: %d\n", cleanups);

    ASYNC_WAIT_CTX_free(NULL);
    printf("free(NULL): fine\n");
    return TEST_DONE();
}
