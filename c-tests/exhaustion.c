/* rustasync-only */
/*
 * Running out: a stack allocator (ASYNC_set_mem_functions) that returns
 * NULL gives ASYNC_NO_JOBS; an address-space limit (RLIMIT_AS) gives
 * ASYNC_NO_JOBS/ASYNC_ERR while the program can still malloc, mmap and
 * start threads; 300,000 paused jobs never use up the kernel's mapping
 * limit (vm.max_map_count), with MADV_GUARD_INSTALL guards and with the
 * mprotect fallback (RUSTASYNC_GUARD=mprotect). Each case runs in a fresh
 * child process.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <openssl/async.h>
#include "child.h"

static int pausing(void *arg)
{
    int v = *(int *)arg;
    ASYNC_pause_job();
    return v + 1;
}

/* MADV_GUARD_INSTALL, from Linux 6.13's uapi headers. */
#define TEST_MADV_GUARD_INSTALL 102

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long n = 65530;

    if (f != NULL) {
        if (fscanf(f, "%ld", &n) != 1)
            n = 65530;
        fclose(f);
    }
    return n;
}

/* Whether this process's stacks get MADV_GUARD_INSTALL guards: the kernel
 * (or valgrind) accepts the advice, and RUSTASYNC_GUARD does not ask for
 * mprotect. */
static int expect_guard_install(void)
{
    const char *mode = getenv("RUSTASYNC_GUARD");
    long page = sysconf(_SC_PAGESIZE);
    void *p;
    int ok;

    if (mode != NULL && strcmp(mode, "mprotect") == 0)
        return 0;
    p = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    ok = madvise(p, (size_t)page, TEST_MADV_GUARD_INSTALL) == 0;
    munmap(p, 2 * (size_t)page);
    return ok;
}

static int allocations, frees;
static void *failing_alloc(size_t *num)
{
    allocations++;
    (void)num;
    return NULL;
}

/* Fails every third request. */
static void *flaky_alloc(size_t *num)
{
    if (++allocations % 3 == 0)
        return NULL;
    return malloc(*num);
}

static void counting_free(void *p)
{
    frees++;
    free(p);
}

static void *thread_body(void *arg)
{
    return arg;
}

/* The host program still works: malloc, mmap, a thread. */
static void check_host_works(void)
{
    char *big = malloc(16 << 20);
    void *map = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_t t;
    void *res = NULL;

    CHECK(big != NULL);
    if (big != NULL)
        memset(big, 1, 16 << 20);
    free(big);
    CHECK(map != MAP_FAILED);
    if (map != MAP_FAILED)
        munmap(map, 16 << 20);
    CHECK(pthread_create(&t, NULL, thread_body, &allocations) == 0 && pthread_join(t, &res) == 0
          && res == &allocations);
}

/* Starts up to max jobs that stay paused; returns how many, and the code
 * that stopped it in *stop. */
static long pause_many(ASYNC_JOB **jobs, long max, int *stop)
{
    long n;
    int ret, i;

    *stop = ASYNC_PAUSE;
    for (n = 0; n < max; n++) {
        i = (int)n;
        jobs[n] = NULL;
        *stop = ASYNC_start_job(&jobs[n], NULL, &ret, pausing, &i, sizeof(i));
        if (*stop != ASYNC_PAUSE)
            break;
    }
    return n;
}

static int finish_all(ASYNC_JOB **jobs, long n)
{
    long i;
    int ret, ok = 1;

    for (i = n - 1; i >= 0; i--)
        ok &= ASYNC_start_job(&jobs[i], NULL, &ret, NULL, NULL, 0) == ASYNC_FINISH && ret == (int)i + 1;
    return ok;
}

static int child_mode(const char *mode)
{
    ASYNC_JOB *job = NULL;
    int ret = -1, rc, v = 1;

    if (strcmp(mode, "alloc-null") == 0) {
        CHECK(ASYNC_set_mem_functions(failing_alloc, counting_free) == 1);
        CHECK(ASYNC_start_job(&job, NULL, &ret, pausing, &v, sizeof(v)) == ASYNC_NO_JOBS);
        CHECK(ASYNC_start_job(&job, NULL, &ret, pausing, &v, sizeof(v)) == ASYNC_NO_JOBS);
        CHECK(job == NULL && allocations == 2 && frees == 0);
        check_host_works();
    } else if (strcmp(mode, "alloc-flaky") == 0) {
        ASYNC_JOB *jobs[30];
        long n, started = 0, i;
        CHECK(ASYNC_set_mem_functions(flaky_alloc, counting_free) == 1);
        for (n = 0; n < 30; n++) {
            int k = (int)n;
            jobs[n] = NULL;
            rc = ASYNC_start_job(&jobs[n], NULL, &ret, pausing, &k, sizeof(k));
            CHECK(rc == ASYNC_PAUSE || rc == ASYNC_NO_JOBS);
            started += rc == ASYNC_PAUSE;
        }
        CHECK(started == 20);
        for (i = 0; i < 30; i++) {
            if (jobs[i] != NULL) {
                rc = ASYNC_start_job(&jobs[i], NULL, &ret, NULL, NULL, 0);
                CHECK(rc == ASYNC_FINISH && ret == (int)i + 1);
            }
        }
        ASYNC_cleanup_thread();
        CHECK(frees == 20);
    } else if (strcmp(mode, "rlimit") == 0) {
        static ASYNC_JOB *jobs[200000];
        struct rlimit lim;
        long vm = 0, resident, n;
        int stop;
        FILE *f = fopen("/proc/self/statm", "r");
        CHECK(f != NULL && fscanf(f, "%ld %ld", &vm, &resident) == 2);
        if (f != NULL)
            fclose(f);
        lim.rlim_cur = lim.rlim_max = (rlim_t)vm * (rlim_t)sysconf(_SC_PAGESIZE) + (512UL << 20);
        CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
        n = pause_many(jobs, 200000, &stop);
        printf("under RLIMIT_AS: stopped with %s\n", stop == ASYNC_NO_JOBS ? "ASYNC_NO_JOBS" : stop == ASYNC_ERR ? "ASYNC_ERR" : "?");
        fprintf(stderr, "paused %ld jobs before running out\n", n);
        CHECK(stop == ASYNC_NO_JOBS || stop == ASYNC_ERR);
        CHECK(n > 1000);
        check_host_works();
        CHECK(finish_all(jobs, n));
        /* With the jobs back in the pool, new ones start again. */
        CHECK(pause_many(jobs, 100, &stop) == 100);
        CHECK(finish_all(jobs, 100));
        check_host_works();
    } else if (strcmp(mode, "many") == 0) {
        long count = scaled(300000), n, maps_before, maps_after;
        ASYNC_JOB **jobs = malloc(sizeof(*jobs) * (size_t)count);
        int stop;
        maps_before = mapping_count();
        n = pause_many(jobs, count, &stop);
        maps_after = mapping_count();
        CHECK(n == count);
        fprintf(stderr, "%ld paused jobs: %ld -> %ld mappings, %ld MiB resident\n", n, maps_before, maps_after,
                resident_bytes() >> 20);
        /* Each guard kind shows its own figure: MADV_GUARD_INSTALL guards
         * add no mapping (only the few regions the stacks are carved
         * from); mprotect guards cost two mappings per stack until the
         * library's budget (a quarter of vm.max_map_count) is spent, after
         * which stacks go unguarded, so the host keeps the rest. */
        if (expect_guard_install()) {
            fprintf(stderr, "guards by MADV_GUARD_INSTALL: %ld mappings added\n", maps_after - maps_before);
            CHECK(maps_after - maps_before <= 64);
        } else {
            long want = 2 * n < max_map_count() / 4 ? 2 * n : max_map_count() / 4;
            fprintf(stderr, "guards by mprotect: %ld mappings added, %ld expected (budget %ld)\n",
                    maps_after - maps_before, want, max_map_count() / 4);
            CHECK(labs(maps_after - maps_before - want) <= 64);
        }
        check_host_works();
        CHECK(finish_all(jobs, n));
        free(jobs);
    }
    return TEST_DONE();
}

static void run_case(const char *mode, const char *const *env)
{
    struct child c;

    printf("%s%s%s:\n", mode, env != NULL ? " with " : "", env != NULL ? env[0] : "");
    run_self(mode, env, &c);
    CHECK(exited_ok(&c));
    if (!exited_ok(&c))
        show_child(mode, &c);
    else if (c.err[0] != '\0')
        fprintf(stderr, "%s: %s", mode, c.err);
}

int main(int argc, char **argv)
{
    static const char *const mprotect_guards[] = { "RUSTASYNC_GUARD=mprotect", NULL };

    self_path = argv[0];
    if (argc > 1)
        return child_mode(argv[1]);
    run_case("alloc-null", NULL);
    run_case("alloc-flaky", NULL);
    if (under_sanitizer())
        printf("rlimit: skipped (AddressSanitizer reserves terabytes of shadow memory)\n");
    else if (under_valgrind())
        printf("rlimit: skipped under valgrind (it manages the address space itself)\n");
    else
        run_case("rlimit", NULL);
    run_case("many", NULL);
    run_case("many", mprotect_guards);
    return TEST_DONE();
}
