/* rustasync-only */
/*
 * Handles near real ones: with three jobs paused, ASYNC_start_job is given
 * every address from 64 KiB below the middle job's handle to 64 KiB above
 * it except the three handles themselves (misaligned by 1..255 bytes and
 * more, the neighbouring slots, the arena's first slot and what lies below
 * it), and a few far ones (1, 16, the top of the address space, the
 * handle's complement). The handle check is one rotate-and-compare against
 * the arena, then the job's state and owner; each of these must be refused
 * with ASYNC_ERR, without a crash (OpenSSL 3.0 would follow the pointer,
 * hence rustasync only), and leave the three jobs paused, each then
 * finishing with its own result. (An arena check without the rotate, so
 * accepting misaligned addresses, is not caught here: the state and owner
 * checks refuse those too.)
 */
#include <stdint.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include "common.h"

#define SPAN (64 * 1024)

static int job(void *arg)
{
    int v = *(int *)arg;

    ASYNC_pause_job();
    return v;
}

static int refused(uintptr_t address)
{
    ASYNC_JOB *h = (ASYNC_JOB *)address;
    int r = -1, arg = 99, rc = ASYNC_start_job(&h, NULL, &r, job, &arg, sizeof(arg));

    ERR_clear_error();
    return rc == ASYNC_ERR && r == -1 && h == (ASYNC_JOB *)address;
}

int main(void)
{
    ASYNC_JOB *jobs[3] = { NULL, NULL, NULL };
    uintptr_t mid, a;
    long accepted = 0, tried = 0, skipped = 0;
    int i, r, rc, arg;
    const uintptr_t far[] = { 1, 16, UINTPTR_MAX, UINTPTR_MAX - 7, UINTPTR_MAX - 4095 };

    for (i = 0; i < 3; i++) {
        arg = 100 + i;
        rc = ASYNC_start_job(&jobs[i], NULL, &r, job, &arg, sizeof(arg));
        CHECK(rc == ASYNC_PAUSE);
    }
    mid = (uintptr_t)jobs[1];
    for (a = mid - SPAN; a <= mid + SPAN; a++) {
        if (a == (uintptr_t)jobs[0] || a == (uintptr_t)jobs[1] || a == (uintptr_t)jobs[2]) {
            skipped++;
            continue;
        }
        tried++;
        if (!refused(a) && accepted++ < 5)
            printf("FAILED: handle at offset %ld from a paused job's was accepted\n", (long)(a - mid));
    }
    CHECK(skipped >= 1 && tried + skipped == 2 * SPAN + 1);
    CHECK(accepted == 0);
    for (i = 0; i < (int)(sizeof(far) / sizeof(far[0])); i++)
        CHECK(refused(far[i]));
    CHECK(refused(~mid));
    for (i = 0; i < 3; i++) {
        r = 0;
        rc = ASYNC_start_job(&jobs[i], NULL, &r, job, NULL, 0);
        CHECK(rc == ASYNC_FINISH && r == 100 + i && jobs[i] == NULL);
    }
    return TEST_DONE();
}
