/*
 * No memory is ever writable and executable, and job stacks are not
 * executable: with jobs paused (each remembering an address in its own
 * stack), /proc/self/maps must show no mapping with both `w`
 * and `x`, no executable mapping holding a job's stack, and a
 * non-executable process stack (a library whose PT_GNU_STACK asks for an
 * executable stack makes ld.so turn it executable). The checker is shown
 * to catch a writable and executable mapping the test makes itself first.
 * OpenSSL's stacks (malloc'd) pass the same checks, so the output is
 * compared with OpenSSL's. Under valgrind, whose own translation cache is
 * writable and executable, only the job stacks are checked.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <openssl/async.h>
#include "common.h"

#define JOBS 64

static uintptr_t stack_of[JOBS];
static int recorded;

struct maps_report {
    int writable_and_executable;
    int process_stack_executable;
    int job_stacks_executable;
    int job_stacks_unmapped;
};

/* Whether the mapping "lo-hi perms ..." on `line` holds `address`. */
static int holds(const char *line, uintptr_t address)
{
    unsigned long lo, hi;

    return sscanf(line, "%lx-%lx", &lo, &hi) == 2 && address >= lo && address < hi;
}

static struct maps_report check_maps(void)
{
    struct maps_report report = { 0, 0, 0, 0 };
    char line[4096], perms[8];
    int found[JOBS] = { 0 };
    int i;
    FILE *maps = fopen("/proc/self/maps", "r");

    if (maps == NULL) {
        report.writable_and_executable = -1;
        return report;
    }
    while (fgets(line, sizeof(line), maps) != NULL) {
        int executable;

        if (sscanf(line, "%*x-%*x %7s", perms) != 1)
            continue;
        executable = perms[2] == 'x';
        if (perms[1] == 'w' && executable) {
            fprintf(stderr, "writable and executable: %s", line);
            report.writable_and_executable++;
        }
        if (executable && strstr(line, "[stack]") != NULL)
            report.process_stack_executable++;
        for (i = 0; i < recorded; i++) {
            if (holds(line, stack_of[i])) {
                found[i] = 1;
                if (executable)
                    report.job_stacks_executable++;
            }
        }
    }
    fclose(maps);
    for (i = 0; i < recorded; i++)
        report.job_stacks_unmapped += !found[i];
    return report;
}

static int pausing(void *arg)
{
    volatile int here = 0;

    (void)arg;
    stack_of[recorded++] = (uintptr_t)&here;
    ASYNC_pause_job();
    ASYNC_pause_job();
    return 1 + here;
}

int main(void)
{
    ASYNC_JOB *jobs[JOBS] = { 0 };
    ASYNC_WAIT_CTX *ctx[JOBS];
    struct maps_report report;
    void *rwx;
    int i, ret, paused = 0, finished = 0, whole = !under_checker("valgrind");

    if (!whole)
        printf("under valgrind: job stacks only (its translation cache is writable and executable)\n");
    /* The checker catches what it is meant to catch. */
    rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(rwx != MAP_FAILED);
    if (rwx != MAP_FAILED) {
        recorded = 1;
        stack_of[0] = (uintptr_t)rwx;
        report = check_maps();
        CHECK(!whole || report.writable_and_executable == 1);
        CHECK(report.job_stacks_executable == 1);
        munmap(rwx, 4096);
        recorded = 0;
    }

    CHECK(ASYNC_init_thread(JOBS, JOBS));
    for (i = 0; i < JOBS; i++) {
        ctx[i] = ASYNC_WAIT_CTX_new();
        if (ASYNC_start_job(&jobs[i], ctx[i], &ret, pausing, NULL, 0) == ASYNC_PAUSE)
            paused++;
    }
    CHECK(paused == JOBS);
    CHECK(recorded == JOBS);

    report = check_maps();
    CHECK(!whole || report.writable_and_executable == 0);
    CHECK(!whole || report.process_stack_executable == 0);
    CHECK(report.job_stacks_unmapped == 0);
    CHECK(report.job_stacks_executable == 0);

    for (i = 0; i < JOBS; i++) {
        int status;

        while ((status = ASYNC_start_job(&jobs[i], ctx[i], &ret, pausing, NULL, 0)) == ASYNC_PAUSE)
            ;
        finished += status == ASYNC_FINISH && ret == 1;
        ASYNC_WAIT_CTX_free(ctx[i]);
    }
    CHECK(finished == JOBS);
    ASYNC_cleanup_thread();
    report = check_maps();
    CHECK(!whole || report.writable_and_executable == 0);
    return TEST_DONE();
}
