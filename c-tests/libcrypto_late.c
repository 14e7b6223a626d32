/* no-libcrypto */
/*
 * libcrypto opened after the library's first use: rustasync looks for it
 * once, and again only when objects were loaded since (not at every
 * error), so an error raised after dlopen("libcrypto.so.3") still reaches
 * that libcrypto's queue, and errors before it go nowhere.
 */
#include <dlfcn.h>
#include <openssl/async.h>
#include "common.h"

int main(void)
{
    void *crypto;
    unsigned long (*peek)(void), (*get)(void);

    CHECK(dlsym(RTLD_DEFAULT, "ERR_peek_error") == NULL);
    CHECK(ASYNC_init_thread(1, 5) == 0); /* no libcrypto: nowhere to report */
    CHECK(ASYNC_init_thread(1, 5) == 0);

    crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_GLOBAL);
    CHECK(crypto != NULL);
    if (crypto == NULL)
        return TEST_DONE();
    peek = (unsigned long (*)(void))dlsym(crypto, "ERR_peek_error");
    get = (unsigned long (*)(void))dlsym(crypto, "ERR_get_error");
    CHECK(peek != NULL && get != NULL);
    if (peek == NULL || get == NULL)
        return TEST_DONE();
    CHECK(peek() == 0);
    CHECK(ASYNC_init_thread(1, 5) == 0);
    /* ERR_LIB_ASYNC (51) and ASYNC_R_INVALID_POOL_SIZE (103), 3.0-packed. */
    CHECK(peek() == ((51UL << 23) | 103));
    CHECK(get() != 0 && get() == 0);
    return TEST_DONE();
}
