//! The C boundary: every function of `<openssl/async.h>`, exported under
//! OpenSSL's names with OpenSSL's signatures.
//!
//! Each function only checks its pointers, maps C onto the safe Rust behind
//! it, and turns failures into OpenSSL's failure values (with an entry on
//! OpenSSL's error queue when libcrypto is in the process, and a line on
//! stderr under `RUSTASYNC_LOG`). No panic crosses this boundary: each body
//! runs inside `boundary`, which turns a panic into the failure value.
//!
//! cbindgen reads this file alone to write `include/openssl/async.h`.

#![allow(non_camel_case_types)]

use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::job::Job;
use crate::log::{self, Level};
use crate::openssl;
use crate::pool::{Failure, Started, ThreadState};
use crate::stack;
use crate::wait_ctx::{self, WaitCtx};

/// A job: an opaque handle owned by the library.
pub struct async_job_st {
    _opaque: [u8; 0],
}

/// A wait context: the fds, callback and status a job waits with.
pub struct async_wait_ctx_st {
    _opaque: [u8; 0],
}

pub type ASYNC_JOB = async_job_st;
pub type ASYNC_WAIT_CTX = async_wait_ctx_st;
/// Emitted as `#define OSSL_ASYNC_FD int`, as OpenSSL does on POSIX.
pub type OSSL_ASYNC_FD = c_int;
pub type ASYNC_callback_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>;
/// Allocates a job stack of at least `*num` bytes; writes back the size given.
pub type ASYNC_stack_alloc_fn = Option<unsafe extern "C" fn(num: *mut usize) -> *mut c_void>;
/// Frees a stack from the matching `ASYNC_stack_alloc_fn`.
pub type ASYNC_stack_free_fn = Option<unsafe extern "C" fn(addr: *mut c_void)>;

/// The fd value that is never valid.
pub const OSSL_BAD_ASYNC_FD: c_int = -1;

/// `ASYNC_start_job`: failure.
pub const ASYNC_ERR: c_int = 0;
/// `ASYNC_start_job`: the pool is at its limit and no job is free.
pub const ASYNC_NO_JOBS: c_int = 1;
/// `ASYNC_start_job`: the job paused; resume it with the same handle.
pub const ASYNC_PAUSE: c_int = 2;
/// `ASYNC_start_job`: the job finished; its return value is in `*ret`.
pub const ASYNC_FINISH: c_int = 3;

/// Wait-context status: the engine did not use the callback mechanism.
pub const ASYNC_STATUS_UNSUPPORTED: c_int = 0;
/// Wait-context status: the operation failed.
pub const ASYNC_STATUS_ERR: c_int = 1;
/// Wait-context status: the operation is ready to be resumed.
pub const ASYNC_STATUS_OK: c_int = 2;
/// Wait-context status: the engine is busy; try again later.
pub const ASYNC_STATUS_EAGAIN: c_int = 3;

/// Error reason (library `ERR_LIB_ASYNC`): the pool could not be stored.
pub const ASYNC_R_FAILED_TO_SET_POOL: c_int = 101;
/// Error reason: switching into or out of a job failed.
pub const ASYNC_R_FAILED_TO_SWAP_CONTEXT: c_int = 102;
/// Error reason: `ASYNC_init_thread` was given `init_size > max_size`.
pub const ASYNC_R_INVALID_POOL_SIZE: c_int = 103;
/// Error reason: the async layer could not be initialised.
pub const ASYNC_R_INIT_FAILED: c_int = 105;

/// Runs an export's body with panics stopped at the boundary.
pub(crate) fn boundary<R>(function: &CStr, failure: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        report(
            function,
            openssl::ERR_R_INTERNAL_ERROR,
            "internal panic caught at the C boundary",
        );
        failure
    })
}

/// Reports a failure the OpenSSL way: error queue, plus a diagnostic line.
#[cold]
fn report(function: &CStr, reason: c_int, message: &str) {
    openssl::raise(function, reason);
    log::emit(Level::Warn, format_args!("{}: {message}", function.to_string_lossy()));
}

fn wait_ctx<'a>(ctx: *mut ASYNC_WAIT_CTX) -> Option<&'a mut WaitCtx> {
    // SAFETY: a non-null ASYNC_WAIT_CTX pointer is, by the API contract, one
    // returned by ASYNC_WAIT_CTX_new and not yet freed; calls on one context
    // are not made concurrently.
    unsafe { ctx.cast::<WaitCtx>().as_mut() }
}

/// Sets up the calling thread's job pool: at most `max_size` jobs (0: no
/// limit), `init_size` of them created now. Returns 1, or 0 when
/// `init_size > max_size` (`ASYNC_R_INVALID_POOL_SIZE`).
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_init_thread(max_size: usize, init_size: usize) -> c_int {
    boundary(c"ASYNC_init_thread", 0, || {
        if init_size > max_size {
            report(
                c"ASYNC_init_thread",
                ASYNC_R_INVALID_POOL_SIZE,
                "init_size is larger than max_size",
            );
            return 0;
        }
        let Some(thread) = ThreadState::get_or_create() else {
            report(
                c"ASYNC_init_thread",
                openssl::ERR_R_MALLOC_FAILURE,
                "cannot allocate thread state",
            );
            return 0;
        };
        c_int::from(thread.init_pool(max_size, init_size))
    })
}

/// Frees the calling thread's pool. Jobs still paused stay resumable and are
/// freed when they finish.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_cleanup_thread() {
    boundary(c"ASYNC_cleanup_thread", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.cleanup();
        }
    })
}

/// Starts a new job running `func` on a copy of `size` bytes of `args` when
/// `*job` is NULL, or resumes the paused job `*job`. Returns `ASYNC_PAUSE`
/// (`*job` set), `ASYNC_FINISH` (`*ret` set, `*job` set to NULL),
/// `ASYNC_NO_JOBS` or `ASYNC_ERR`.
///
/// # Safety
/// `job` and `ret` must be NULL or valid for writes; `args` must be NULL or
/// point to `size` readable bytes; `ctx` must be NULL or a live wait context
/// that outlives the job.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_start_job(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> c_int {
    const NAME: &CStr = c"ASYNC_start_job";
    boundary(NAME, ASYNC_ERR, || {
        if job.is_null() {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "job is NULL");
            return ASYNC_ERR;
        }
        let Some(thread) = ThreadState::get_or_create() else {
            report(NAME, openssl::ERR_R_MALLOC_FAILURE, "cannot allocate thread state");
            return ASYNC_ERR;
        };
        // SAFETY: `job` is non-null and, per the contract, valid for reads.
        let handle = unsafe { *job }.cast::<Job>();
        match thread.start_job(handle, ctx.cast(), func, args, size) {
            Started::Paused(paused) => {
                // SAFETY: valid for writes per the contract.
                unsafe { *job = paused.cast() };
                ASYNC_PAUSE
            }
            Started::Finished(value) => {
                // SAFETY: both are valid for writes per the contract; `ret`
                // may be NULL when the caller ignores the result.
                unsafe {
                    if !ret.is_null() {
                        *ret = value;
                    }
                    *job = ptr::null_mut();
                }
                ASYNC_FINISH
            }
            Started::NoJobs => ASYNC_NO_JOBS,
            Started::Failed(Failure::NotResumable) => {
                openssl::raise(NAME, openssl::ERR_R_PASSED_INVALID_ARGUMENT);
                ASYNC_ERR
            }
            Started::Failed(Failure::NoFunction) => {
                report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "func is NULL");
                ASYNC_ERR
            }
            Started::Failed(Failure::OutOfMemory) => {
                report(NAME, openssl::ERR_R_MALLOC_FAILURE, "cannot copy the argument block");
                ASYNC_ERR
            }
            Started::Failed(Failure::EmptyArgs) => {
                report(
                    NAME,
                    openssl::ERR_R_MALLOC_FAILURE,
                    "args is not NULL but size is 0, which OpenSSL 1.1 refuses (its copy is a malloc(0))",
                );
                ASYNC_ERR
            }
        }
    })
}

/// Inside a job, hands control back to the caller of `ASYNC_start_job`;
/// returns 1 when the job is resumed. Outside a job, or while pausing is
/// blocked, returns 1 at once.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_pause_job() -> c_int {
    const NAME: &CStr = c"ASYNC_pause_job";
    boundary(NAME, 0, || {
        if let Some(thread) = ThreadState::current_thread()
            && !thread.pause_current()
        {
            report(
                NAME,
                openssl::ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
                "called off the current job's stack (was the job left with longjmp?); the job is abandoned",
            );
            return 0;
        }
        1
    })
}

/// The job running on this thread, or NULL outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_get_current_job() -> *mut ASYNC_JOB {
    boundary(c"ASYNC_get_current_job", ptr::null_mut(), || {
        ThreadState::current_thread().map_or(ptr::null_mut(), |t| t.current().cast())
    })
}

/// The wait context `job` was started with (NULL if it was started without,
/// or when `job` is not a running or paused job).
///
/// # Safety
/// `job` must be NULL or a handle this library returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_get_wait_ctx(job: *mut ASYNC_JOB) -> *mut ASYNC_WAIT_CTX {
    const NAME: &CStr = c"ASYNC_get_wait_ctx";
    boundary(NAME, ptr::null_mut(), || match Job::from_handle(job.cast()) {
        Some(job) if matches!(job.state(), crate::job::State::Running | crate::job::State::Paused) => {
            job.wait_ctx().cast()
        }
        _ if job.is_null() => {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "job is NULL");
            ptr::null_mut()
        }
        _ => {
            report(
                NAME,
                openssl::ERR_R_PASSED_INVALID_ARGUMENT,
                "not the handle of a running or paused job",
            );
            ptr::null_mut()
        }
    })
}

/// Inside a job, stops `ASYNC_pause_job` from pausing until the matching
/// `ASYNC_unblock_pause`; calls nest. The count belongs to the thread, as in
/// OpenSSL. Ignored outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_block_pause() {
    boundary(c"ASYNC_block_pause", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.block_pause();
        }
    })
}

/// Undoes one `ASYNC_block_pause`. Ignored outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_unblock_pause() {
    boundary(c"ASYNC_unblock_pause", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.unblock_pause();
        }
    })
}

/// Returns 1: jobs are supported on this platform.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_is_capable() -> c_int {
    1
}

/// A new, empty wait context, or NULL when memory is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_WAIT_CTX_new() -> *mut ASYNC_WAIT_CTX {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_new";
    boundary(NAME, ptr::null_mut(), || {
        let layout = std::alloc::Layout::new::<WaitCtx>();
        // SAFETY: the layout has non-zero size.
        let memory = unsafe { std::alloc::alloc(layout) }.cast::<WaitCtx>();
        if memory.is_null() {
            report(NAME, openssl::ERR_R_MALLOC_FAILURE, "out of memory");
            return ptr::null_mut();
        }
        // SAFETY: fresh memory of WaitCtx's layout; ASYNC_WAIT_CTX_free
        // reclaims it as a Box.
        unsafe { memory.write(WaitCtx::default()) };
        memory.cast()
    })
}

/// Frees `ctx`, first calling the cleanup function of every fd still
/// registered, newest first, with the context intact around each call (as
/// OpenSSL does). NULL is ignored. A job still using the context (paused)
/// goes on without one.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_free(ctx: *mut ASYNC_WAIT_CTX) {
    boundary(c"ASYNC_WAIT_CTX_free", (), || {
        let Some(state) = wait_ctx(ctx) else {
            return;
        };
        state.begin_teardown();
        // Each turn takes the context afresh: a cleanup may call back into
        // the API with it.
        while let Some((cleanup, key, fd, data)) = wait_ctx(ctx).and_then(WaitCtx::next_cleanup) {
            // SAFETY: the program registered `cleanup` for this fd; the
            // context stays allocated until every cleanup has run.
            unsafe { cleanup(ctx.cast(), key, fd, data) };
            if let Some(state) = wait_ctx(ctx) {
                state.cleanup_done();
            }
        }
        // SAFETY: allocated by ASYNC_WAIT_CTX_new with WaitCtx's layout.
        drop(unsafe { Box::from_raw(ctx.cast::<WaitCtx>()) });
    })
}

/// Registers `fd` under `key`, with data and an optional cleanup called when
/// the context is freed. Returns 1, or 0 on failure.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_set_wait_fd(
    ctx: *mut ASYNC_WAIT_CTX,
    key: *const c_void,
    fd: OSSL_ASYNC_FD,
    custom_data: *mut c_void,
    cleanup: Option<
        unsafe extern "C" fn(ctx: *mut ASYNC_WAIT_CTX, key: *const c_void, fd: OSSL_ASYNC_FD, custom_data: *mut c_void),
    >,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_set_wait_fd";
    boundary(NAME, 0, || match wait_ctx(ctx) {
        None => {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            0
        }
        Some(state) => {
            // SAFETY: the same function type up to the name of the context
            // pointer's pointee (WaitCtx is what an ASYNC_WAIT_CTX points to).
            let cleanup = cleanup.map(|f| unsafe { std::mem::transmute::<_, wait_ctx::CleanupFn>(f) });
            if state.set_wait_fd(key, fd, custom_data, cleanup) {
                1
            } else {
                report(NAME, openssl::ERR_R_MALLOC_FAILURE, "out of memory");
                0
            }
        }
    })
}

/// Looks up the fd registered under `key`. Returns 1 and fills `*fd` and
/// `*custom_data`, or 0 when there is none.
///
/// # Safety
/// `ctx` must be NULL or a live wait context; `fd` and `custom_data` must be
/// NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_fd(
    ctx: *mut ASYNC_WAIT_CTX,
    key: *const c_void,
    fd: *mut OSSL_ASYNC_FD,
    custom_data: *mut *mut c_void,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_get_fd";
    boundary(NAME, 0, || {
        let Some(state) = wait_ctx(ctx) else {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            return 0;
        };
        if fd.is_null() || custom_data.is_null() {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "fd or custom_data is NULL");
            return 0;
        }
        match state.fd(key) {
            Some((found, data)) => {
                // SAFETY: both checked non-null; valid for writes per contract.
                unsafe {
                    *fd = found;
                    *custom_data = data;
                }
                1
            }
            None => 0,
        }
    })
}

/// Writes up to every live fd, newest first, into `fd` (if not NULL) and
/// their number into `*numfds`. Returns 1, or 0 on bad arguments.
///
/// # Safety
/// `ctx` must be NULL or a live wait context; `fd` must be NULL or have room
/// for as many fds as the context holds (ask first with `fd` NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_all_fds(
    ctx: *mut ASYNC_WAIT_CTX,
    fd: *mut OSSL_ASYNC_FD,
    numfds: *mut usize,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_get_all_fds";
    boundary(NAME, 0, || {
        let Some(state) = wait_ctx(ctx) else {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            return 0;
        };
        if numfds.is_null() {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "numfds is NULL");
            return 0;
        }
        let mut count = 0;
        for found in state.all_fds() {
            if !fd.is_null() {
                // SAFETY: the caller sized the array from an earlier count.
                unsafe { fd.add(count).write(found) };
            }
            count += 1;
        }
        // SAFETY: checked non-null; valid for writes per contract.
        unsafe { *numfds = count };
        1
    })
}

/// Reports the fds added and deleted since the job last paused: counts
/// always, the fds themselves into whichever arrays are not NULL.
///
/// # Safety
/// `ctx` must be NULL or a live wait context; the arrays must be NULL or
/// large enough for the counts (ask first with both NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_changed_fds(
    ctx: *mut ASYNC_WAIT_CTX,
    addfd: *mut OSSL_ASYNC_FD,
    numaddfds: *mut usize,
    delfd: *mut OSSL_ASYNC_FD,
    numdelfds: *mut usize,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_get_changed_fds";
    boundary(NAME, 0, || {
        let Some(state) = wait_ctx(ctx) else {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            return 0;
        };
        if numaddfds.is_null() || numdelfds.is_null() {
            report(
                NAME,
                openssl::ERR_R_PASSED_NULL_PARAMETER,
                "numaddfds or numdelfds is NULL",
            );
            return 0;
        }
        let (added, deleted) = state.changed_counts();
        // SAFETY: checked non-null; valid for writes per contract.
        unsafe {
            *numaddfds = added;
            *numdelfds = deleted;
        }
        if addfd.is_null() && delfd.is_null() {
            return 1;
        }
        let changed = state.changed_fds();
        for (array, fds) in [(addfd, &changed.added), (delfd, &changed.deleted)] {
            if !array.is_null() {
                // SAFETY: the caller sized each array from the counts above,
                // which equal the lengths of these lists.
                unsafe { ptr::copy_nonoverlapping(fds.as_ptr(), array, fds.len()) };
            }
        }
        1
    })
}

/// Removes the fd registered under `key` without calling its cleanup.
/// Returns 1, or 0 when no fd has that key.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_clear_fd(ctx: *mut ASYNC_WAIT_CTX, key: *const c_void) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_clear_fd";
    boundary(NAME, 0, || match wait_ctx(ctx) {
        Some(state) => c_int::from(state.clear_fd(key)),
        None => {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            0
        }
    })
}

/// Sets the callback an engine calls when a paused job is ready, and its
/// argument. Returns 1, or 0 when `ctx` is NULL.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_set_callback(
    ctx: *mut ASYNC_WAIT_CTX,
    callback: ASYNC_callback_fn,
    callback_arg: *mut c_void,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_set_callback";
    boundary(NAME, 0, || match wait_ctx(ctx) {
        Some(state) => {
            state.set_callback(callback, callback_arg);
            1
        }
        None => {
            // OpenSSL returns 0 here without an error on its queue.
            log::emit(Level::Warn, format_args!("{}: ctx is NULL", NAME.to_string_lossy()));
            0
        }
    })
}

/// Returns 1 and the callback and its argument, or 0 when none is set.
///
/// # Safety
/// `ctx` must be NULL or a live wait context; `callback` and `callback_arg`
/// must be NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_callback(
    ctx: *mut ASYNC_WAIT_CTX,
    callback: *mut ASYNC_callback_fn,
    callback_arg: *mut *mut c_void,
) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_get_callback";
    boundary(NAME, 0, || {
        let Some(state) = wait_ctx(ctx) else {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            return 0;
        };
        let Some((function, arg)) = state.callback() else {
            return 0;
        };
        if callback.is_null() || callback_arg.is_null() {
            report(
                NAME,
                openssl::ERR_R_PASSED_NULL_PARAMETER,
                "callback or callback_arg is NULL",
            );
            return 0;
        }
        // SAFETY: both checked non-null; valid for writes per contract.
        unsafe {
            *callback = Some(function);
            *callback_arg = arg;
        }
        1
    })
}

/// Sets the status an engine reports through the context. Returns 1, or 0
/// when `ctx` is NULL.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_set_status(ctx: *mut ASYNC_WAIT_CTX, status: c_int) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_set_status";
    boundary(NAME, 0, || match wait_ctx(ctx) {
        Some(state) => {
            state.set_status(status);
            1
        }
        None => {
            // OpenSSL returns 0 here without an error on its queue.
            log::emit(Level::Warn, format_args!("{}: ctx is NULL", NAME.to_string_lossy()));
            0
        }
    })
}

/// The status last set, `ASYNC_STATUS_UNSUPPORTED` if none was.
/// A NULL `ctx` gives `ASYNC_STATUS_ERR`.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_status(ctx: *mut ASYNC_WAIT_CTX) -> c_int {
    const NAME: &CStr = c"ASYNC_WAIT_CTX_get_status";
    boundary(NAME, ASYNC_STATUS_ERR, || match wait_ctx(ctx) {
        Some(state) => state.status(),
        None => {
            report(NAME, openssl::ERR_R_PASSED_NULL_PARAMETER, "ctx is NULL");
            ASYNC_STATUS_ERR
        }
    })
}

/// Replaces the functions that allocate and free job stacks (a NULL argument
/// keeps the current one). Returns 1, or 0 once any job stack exists.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_set_mem_functions(alloc_fn: ASYNC_stack_alloc_fn, free_fn: ASYNC_stack_free_fn) -> c_int {
    const NAME: &CStr = c"ASYNC_set_mem_functions";
    boundary(NAME, 0, || {
        let accepted = stack::set_memory_functions(alloc_fn, free_fn);
        if !accepted {
            report(
                NAME,
                openssl::ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED,
                "refused, job stacks exist already",
            );
        }
        c_int::from(accepted)
    })
}

/// Reports the stack functions in force (the library's own unless replaced)
/// through whichever pointers are not NULL.
///
/// # Safety
/// `alloc_fn` and `free_fn` must be NULL or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_get_mem_functions(
    alloc_fn: *mut ASYNC_stack_alloc_fn,
    free_fn: *mut ASYNC_stack_free_fn,
) {
    boundary(c"ASYNC_get_mem_functions", (), || {
        let (alloc, free) = stack::memory_functions_in_force();
        // SAFETY: each is written only when non-null; valid per contract.
        unsafe {
            if !alloc_fn.is_null() {
                *alloc_fn = Some(alloc);
            }
            if !free_fn.is_null() {
                *free_fn = Some(free);
            }
        }
    })
}
