//! The C boundary: every function of `<openssl/async.h>`, exported under
//! OpenSSL's names with OpenSSL's signatures.
//!
//! Each function only checks its pointers, maps C onto the safe Rust behind
//! it, and turns failures into OpenSSL's failure values (with an entry on
//! OpenSSL's error queue when libcrypto is in the process, and a line on
//! stderr under `RUSTASYNC_LOG`). No panic crosses this boundary: each body
//! runs inside `export`, which turns a panic or an `Error` into the failure value.
//!
//! cbindgen reads this file and `src/ctypes.rs` (the C types, declared
//! there once) to write `include/openssl/async.h`. The two parameter types
//! OpenSSL writes out in its prototypes (`ASYNC_start_job`'s `func`,
//! `ASYNC_WAIT_CTX_set_wait_fd`'s `cleanup`) are written out here too, so
//! the header matches; they are the very types `ctypes` names
//! (`ASYNC_job_fn`, `ASYNC_cleanup_fn`), which the compiler checks where
//! they are handed on.

#![allow(non_camel_case_types)]

use std::ffi::{CStr, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

pub use crate::ctypes::{
    ASYNC_JOB, ASYNC_WAIT_CTX, ASYNC_callback_fn, ASYNC_stack_alloc_fn, ASYNC_stack_free_fn, OSSL_ASYNC_FD,
    async_job_st, async_wait_ctx_st,
};
use context::Transfer;

use crate::error::{Error, error};
use crate::fibre::Step;
use crate::job::{Job, State};
use crate::stack;
use crate::thread::{Begun, Started, ThreadState};
use crate::wait_ctx::WaitCtx;

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

/// Every export's body runs here: a panic stops at the boundary, and an
/// `Err` is reported the OpenSSL way (`Error::report`). Either gives
/// `failure`, the value OpenSSL's `function` returns when it fails.
pub(crate) fn export<R>(function: &CStr, failure: R, body: impl FnOnce() -> Result<R, Error>) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            error.report(function);
            failure
        }
        Err(_) => {
            error!(internal, "internal panic caught at the C boundary").report(function);
            failure
        }
    }
}

/// `pointer`, or `error` when it is NULL.
pub(crate) fn not_null<T>(pointer: *mut T, error: Error) -> Result<*mut T, Error> {
    if pointer.is_null() { Err(error) } else { Ok(pointer) }
}

fn wait_ctx<'a>(ctx: *mut ASYNC_WAIT_CTX) -> Result<&'a mut WaitCtx, Error> {
    // SAFETY: a non-null ASYNC_WAIT_CTX pointer is, by the API contract, one
    // returned by ASYNC_WAIT_CTX_new and not yet freed; calls on one context
    // are not made concurrently.
    unsafe { ctx.cast::<WaitCtx>().as_mut() }.ok_or(error!(null, "ctx is NULL"))
}

#[inline(always)]
fn thread_state() -> Result<&'static ThreadState, Error> {
    match ThreadState::current_thread() {
        Some(thread) => Ok(thread),
        None => first_use(),
    }
}

/// The thread's first call: its state is made. Out of line, so that the
/// common case tests the thread word once.
#[cold]
#[inline(never)]
fn first_use() -> Result<&'static ThreadState, Error> {
    ThreadState::get_or_create().ok_or(error!(no_memory, "cannot allocate thread state"))
}

/// Sets up the calling thread's job pool: at most `max_size` jobs (0: no
/// limit), `init_size` of them created now. Returns 1, or 0 when
/// `init_size > max_size` (`ASYNC_R_INVALID_POOL_SIZE`).
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_init_thread(max_size: usize, init_size: usize) -> c_int {
    export(c"ASYNC_init_thread", 0, || {
        if init_size > max_size {
            return Err(error!(
                with,
                ASYNC_R_INVALID_POOL_SIZE, "init_size is larger than max_size",
            ));
        }
        Ok(c_int::from(thread_state()?.init_pool(max_size, init_size)))
    })
}

/// Frees the calling thread's pool. Jobs still paused stay resumable and are
/// freed when they finish.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_cleanup_thread() {
    export(c"ASYNC_cleanup_thread", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.cleanup();
        }
        Ok(())
    })
}

/// The body of an export that switches on x86-64 (see `fibre::Step`): calls
/// `$before` with the export's arguments; if it names no target, returns the
/// value it gave; else jumps to `jump_fcontext`, the caller's return address
/// saved as where to come back, and when something switches back, lands at
/// label 3, calls `$landed` with what the switch delivered (and the
/// registers `hand_on` loads), and goes back to the caller by an indirect
/// jump (`fibre::jump_and_land!` is the switch and the landing). `keep`
/// pushes what must outlive the switch; `frame` is the bytes below the
/// return address, `keep`'s and an 8-byte pad that keeps the calls aligned,
/// all of it left in place across the switch. Where the return address is
/// found again after `jmp rcx` is spelled out (`.cfi_offset`), not
/// `.cfi_restore`: libgcc's unwinder takes a restore to mean "not saved",
/// and `backtrace(3)` from a signal handler that interrupted the
/// instruction after it read a return address out of rcx.
#[cfg(target_arch = "x86_64")]
macro_rules! switching_export {
    (
        $before:path,
        $landed:path,
        frame = $frame:literal,
        keep = [$($keep:literal),*],
        hand_on = [$($hand_on:literal),*] $(,)?
    ) => {
        std::arch::naked_asm!(
            ".cfi_startproc",
            $($keep,)*
            "sub rsp, 8",
            ".cfi_adjust_cfa_offset 8",
            "call {before}",
            "test rax, rax",
            "jz 2f",
            crate::fibre::jump_and_land!(),
            $($hand_on,)*
            "call {landed}",
            "add rsp, {frame}",
            ".cfi_adjust_cfa_offset -{frame}",
            "pop rcx",
            ".cfi_adjust_cfa_offset -8",
            ".cfi_register 16, 2",
            "jmp rcx",
            "2:",
            ".cfi_def_cfa_offset {frame} + 8",
            ".cfi_offset 16, -8",
            "add rsp, {frame}",
            ".cfi_adjust_cfa_offset -{frame}",
            "mov eax, edx",
            "ret",
            ".cfi_endproc",
            before = sym $before,
            landed = sym $landed,
            jump = sym crate::fibre::jump_fcontext,
            frame = const $frame,
        )
    };
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
// SAFETY: the body is the stub `fibre::Step` describes, whose frame and
// call-frame information are written out below.
#[cfg_attr(target_arch = "x86_64", unsafe(naked))]
pub unsafe extern "C" fn ASYNC_start_job(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> c_int {
    // `job` and `ret` stay on the stack below the return address until the
    // landing hands them to `start_job_landed`.
    #[cfg(target_arch = "x86_64")]
    switching_export!(
        start_job_before,
        start_job_landed,
        frame = 24,
        keep = [
            "push rdi",
            ".cfi_adjust_cfa_offset 8",
            "push rdx",
            ".cfi_adjust_cfa_offset 8"
        ],
        hand_on = ["mov rdx, [rsp + 8]", "mov rcx, [rsp + 16]"],
    );
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: a step from `start_job_before` is a live suspended context.
        match unsafe { start_job_before(job, ctx, ret, func, args, size).switch() } {
            Ok(arrival) => start_job_landed(arrival, ret, job),
            Err(value) => value as c_int,
        }
    }
}

/// `ASYNC_start_job` up to its switch: a resume to `start_job_resume`, the
/// rest to `start_job_prepared`, each by a jump.
extern "C" fn start_job_before(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> Step {
    if job.is_null() {
        return start_job_prepared(job, ctx, ret, func, args, size);
    }
    // SAFETY: `job` is non-null and, per the contract, valid for reads.
    if unsafe { *job }.is_null() {
        return start_job_new(job, ctx, ret, func, args, size);
    }
    start_job_resume(job, ctx, ret, func, args, size)
}

/// A new job that takes only loads and stores (`ThreadState::start_quick`)
/// needs no frame and nothing that could panic; any other goes to
/// `start_job_prepared`.
#[inline(never)]
extern "C" fn start_job_new(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> Step {
    if let Some(thread) = ThreadState::current_thread()
        && let Some(step) = thread.start_quick(ctx.cast(), func, args, size)
    {
        return step;
    }
    start_job_prepared(job, ctx, ret, func, args, size)
}

/// A resume that takes only loads and stores (`ThreadState::resume_quick`)
/// needs no frame, no call and nothing that could panic; any other goes to
/// `start_job_prepared`.
#[inline(never)]
extern "C" fn start_job_resume(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> Step {
    if let Some(thread) = ThreadState::current_thread()
        // SAFETY: `start_job_before` found `job` non-null (valid for reads).
        && let Some(step) = thread.resume_quick(unsafe { *job }.cast())
    {
        return step;
    }
    start_job_prepared(job, ctx, ret, func, args, size)
}

/// `start_job_before` for every case.
#[inline(never)]
extern "C" fn start_job_prepared(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    args: *mut c_void,
    size: usize,
) -> Step {
    export(c"ASYNC_start_job", Step::stay(ASYNC_ERR as usize), || {
        let job = not_null(job, error!(null, "job is NULL"))?;
        // SAFETY: `job` is non-null and, per the contract, valid for reads.
        let handle = unsafe { *job }.cast::<Job>();
        // The thread's state is fetched on each path: a resume needs no
        // start arguments kept across a first call's set-up.
        let begun = if handle.is_null() {
            thread_state()?.start_new(ctx.cast(), func, args, size)?
        } else {
            thread_state()?.resume(handle)?
        };
        Ok(match begun {
            Begun::Switch(step) => step,
            Begun::Done(started) => Step::stay(deliver(started, job, ret) as usize),
        })
    })
}

/// `ASYNC_start_job` after its switch, when the job switched back; a pause
/// in loads and stores as in `start_job_before`.
extern "C" fn start_job_landed(arrival: Transfer, ret: *mut c_int, job: *mut *mut ASYNC_JOB) -> c_int {
    let mut arrival = arrival;
    if let Some(thread) = ThreadState::current_thread() {
        match thread.returned_quick(arrival) {
            Ok(started) => return deliver(started, job, ret),
            Err(back) => arrival = back,
        }
    }
    start_job_landed_fully(arrival, ret, job)
}

/// `start_job_landed` for every case.
#[inline(never)]
extern "C" fn start_job_landed_fully(arrival: Transfer, ret: *mut c_int, job: *mut *mut ASYNC_JOB) -> c_int {
    export(c"ASYNC_start_job", ASYNC_ERR, || {
        let thread = ThreadState::current_thread().ok_or(error!(internal, "no thread state after a switch"))?;
        Ok(deliver(thread.returned(arrival)?, job, ret))
    })
}

/// What `ASYNC_start_job` returns and stores for `started`.
#[inline(always)]
fn deliver(started: Started, job: *mut *mut ASYNC_JOB, ret: *mut c_int) -> c_int {
    match started {
        Started::Paused(paused) => {
            // SAFETY: valid for writes per the contract.
            unsafe { *job = paused.cast() };
            ASYNC_PAUSE
        }
        Started::Finished(value) => {
            // SAFETY: both are valid for writes per the contract; `ret` may
            // be NULL when the caller ignores the result.
            unsafe {
                if !ret.is_null() {
                    *ret = value;
                }
                *job = ptr::null_mut();
            }
            ASYNC_FINISH
        }
        Started::NoJobs => ASYNC_NO_JOBS,
    }
}

/// Inside a job, hands control back to the caller of `ASYNC_start_job`;
/// returns 1 when the job is resumed. Outside a job, or while pausing is
/// blocked, returns 1 at once.
#[unsafe(no_mangle)]
// SAFETY: as for `ASYNC_start_job`.
#[cfg_attr(target_arch = "x86_64", unsafe(naked))]
pub extern "C" fn ASYNC_pause_job() -> c_int {
    #[cfg(target_arch = "x86_64")]
    switching_export!(pause_job_before, pause_job_landed, frame = 8, keep = [], hand_on = []);
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: a step from `pause_job_before` is a live suspended context.
        match unsafe { pause_job_before().switch() } {
            Ok(arrival) => pause_job_landed(arrival),
            Err(value) => value as c_int,
        }
    }
}

/// `ASYNC_pause_job` up to its switch; the common case in loads and stores
/// as in `start_job_before`.
extern "C" fn pause_job_before() -> Step {
    match ThreadState::current_thread().and_then(ThreadState::pause_quick) {
        Some(step) => step,
        None => pause_job_prepared(),
    }
}

/// `pause_job_before` for every case.
#[inline(never)]
extern "C" fn pause_job_prepared() -> Step {
    export(c"ASYNC_pause_job", Step::stay(0), || {
        let step = match ThreadState::current_thread() {
            Some(thread) => thread.pause_current()?,
            None => None,
        };
        Ok(step.unwrap_or(Step::stay(1)))
    })
}

/// `ASYNC_pause_job` after its switch, when the job is resumed.
extern "C" fn pause_job_landed(arrival: Transfer) -> c_int {
    export(c"ASYNC_pause_job", 0, || {
        // SAFETY: the landing is reached only by the switch `Job::enter`
        // handed over.
        unsafe { Job::resumed(arrival) };
        Ok(1)
    })
}

/// The job running on this thread, or NULL outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_get_current_job() -> *mut ASYNC_JOB {
    export(c"ASYNC_get_current_job", ptr::null_mut(), || {
        Ok(ThreadState::current_thread().map_or(ptr::null_mut(), |t| t.current().cast()))
    })
}

/// The wait context `job` was started with (NULL if it was started without,
/// or when `job` is not a running or paused job).
///
/// Any thread may call it, not only the one that runs `job`: offload
/// engines' polling threads (Intel's QAT engine) use it to find the fd that
/// wakes a job another thread paused. Using the context it returns is then
/// the caller's to order with the job's thread, as in OpenSSL.
///
/// # Safety
/// `job` must be NULL or a handle this library returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_get_wait_ctx(job: *mut ASYNC_JOB) -> *mut ASYNC_WAIT_CTX {
    export(c"ASYNC_get_wait_ctx", ptr::null_mut(), || {
        let job = not_null(job, error!(null, "job is NULL"))?;
        match Job::from_handle(job.cast()) {
            Some(job) if matches!(job.state(), State::Running | State::Paused) => Ok(job.wait_ctx().cast()),
            _ => Err(error!(invalid, "not the handle of a running or paused job")),
        }
    })
}

/// Inside a job, stops `ASYNC_pause_job` from pausing until the matching
/// `ASYNC_unblock_pause`; calls nest. The count belongs to the thread, as in
/// OpenSSL. Ignored outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_block_pause() {
    export(c"ASYNC_block_pause", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.block_pause();
        }
        Ok(())
    })
}

/// Undoes one `ASYNC_block_pause`. Ignored outside a job.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_unblock_pause() {
    export(c"ASYNC_unblock_pause", (), || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.unblock_pause();
        }
        Ok(())
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
    export(c"ASYNC_WAIT_CTX_new", ptr::null_mut(), || {
        let layout = std::alloc::Layout::new::<WaitCtx>();
        // SAFETY: the layout has non-zero size.
        let memory = unsafe { std::alloc::alloc(layout) }.cast::<WaitCtx>();
        if memory.is_null() {
            return Err(error!(no_memory, "out of memory"));
        }
        // SAFETY: fresh memory of WaitCtx's layout; ASYNC_WAIT_CTX_free
        // reclaims it as a Box.
        unsafe { memory.write(WaitCtx::default()) };
        Ok(memory.cast())
    })
}

/// Frees `ctx`, first calling the cleanup function of every fd still
/// registered, newest first, with the context intact around each call (as
/// OpenSSL does). NULL is ignored. A job still using the context (paused)
/// keeps it while the cleanups run, then goes on without one.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_free(ctx: *mut ASYNC_WAIT_CTX) {
    export(c"ASYNC_WAIT_CTX_free", (), || {
        let Ok(state) = wait_ctx(ctx) else {
            return Ok(());
        };
        state.begin_teardown();
        // Each turn takes the context afresh: a cleanup may call back into
        // the API with it.
        while let Some((cleanup, key, fd, data)) = wait_ctx(ctx).ok().and_then(WaitCtx::next_cleanup) {
            // SAFETY: the program registered `cleanup` for this fd; the
            // context stays allocated until every cleanup has run.
            unsafe { cleanup(ctx.cast(), key, fd, data) };
            if let Ok(state) = wait_ctx(ctx) {
                state.cleanup_done();
            }
        }
        if let Ok(state) = wait_ctx(ctx) {
            state.end_teardown();
        }
        // SAFETY: allocated by ASYNC_WAIT_CTX_new with WaitCtx's layout.
        drop(unsafe { Box::from_raw(ctx.cast::<WaitCtx>()) });
        Ok(())
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
    export(c"ASYNC_WAIT_CTX_set_wait_fd", 0, || {
        let state = wait_ctx(ctx)?;
        if state.set_wait_fd(key, fd, custom_data, cleanup) {
            Ok(1)
        } else {
            Err(error!(no_memory, "out of memory"))
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
    export(c"ASYNC_WAIT_CTX_get_fd", 0, || {
        let state = wait_ctx(ctx)?;
        if fd.is_null() || custom_data.is_null() {
            return Err(error!(null, "fd or custom_data is NULL"));
        }
        let Some((found, data)) = state.fd(key) else {
            return Ok(0);
        };
        // SAFETY: both checked non-null; valid for writes per contract.
        unsafe {
            *fd = found;
            *custom_data = data;
        }
        Ok(1)
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
    export(c"ASYNC_WAIT_CTX_get_all_fds", 0, || {
        let state = wait_ctx(ctx)?;
        let numfds = not_null(numfds, error!(null, "numfds is NULL"))?;
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
        Ok(1)
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
    export(c"ASYNC_WAIT_CTX_get_changed_fds", 0, || {
        let state = wait_ctx(ctx)?;
        if numaddfds.is_null() || numdelfds.is_null() {
            return Err(error!(null, "numaddfds or numdelfds is NULL"));
        }
        let (added, deleted) = state.changed_counts();
        // SAFETY: checked non-null; valid for writes per contract.
        unsafe {
            *numaddfds = added;
            *numdelfds = deleted;
        }
        if addfd.is_null() && delfd.is_null() {
            return Ok(1);
        }
        let changed = state.changed_fds();
        for (array, fds) in [(addfd, &changed.added), (delfd, &changed.deleted)] {
            if !array.is_null() {
                // SAFETY: the caller sized each array from the counts above,
                // which equal the lengths of these lists.
                unsafe { ptr::copy_nonoverlapping(fds.as_ptr(), array, fds.len()) };
            }
        }
        Ok(1)
    })
}

/// Removes the fd registered under `key` without calling its cleanup.
/// Returns 1, or 0 when no fd has that key.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_clear_fd(ctx: *mut ASYNC_WAIT_CTX, key: *const c_void) -> c_int {
    export(c"ASYNC_WAIT_CTX_clear_fd", 0, || {
        Ok(c_int::from(wait_ctx(ctx)?.clear_fd(key)))
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
    export(c"ASYNC_WAIT_CTX_set_callback", 0, || {
        // OpenSSL returns 0 here without an error on its queue.
        let state = wait_ctx(ctx).map_err(|_| error!(unqueued, "ctx is NULL"))?;
        state.set_callback(callback, callback_arg);
        Ok(1)
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
    export(c"ASYNC_WAIT_CTX_get_callback", 0, || {
        let state = wait_ctx(ctx)?;
        let Some((function, arg)) = state.callback() else {
            return Ok(0);
        };
        if callback.is_null() || callback_arg.is_null() {
            return Err(error!(null, "callback or callback_arg is NULL"));
        }
        // SAFETY: both checked non-null; valid for writes per contract.
        unsafe {
            *callback = Some(function);
            *callback_arg = arg;
        }
        Ok(1)
    })
}

/// Sets the status an engine reports through the context. Returns 1, or 0
/// when `ctx` is NULL.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_set_status(ctx: *mut ASYNC_WAIT_CTX, status: c_int) -> c_int {
    export(c"ASYNC_WAIT_CTX_set_status", 0, || {
        // OpenSSL returns 0 here without an error on its queue.
        let state = wait_ctx(ctx).map_err(|_| error!(unqueued, "ctx is NULL"))?;
        state.set_status(status);
        Ok(1)
    })
}

/// The status last set, `ASYNC_STATUS_UNSUPPORTED` if none was.
/// A NULL `ctx` gives `ASYNC_STATUS_ERR`.
///
/// # Safety
/// `ctx` must be NULL or a live wait context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ASYNC_WAIT_CTX_get_status(ctx: *mut ASYNC_WAIT_CTX) -> c_int {
    export(c"ASYNC_WAIT_CTX_get_status", ASYNC_STATUS_ERR, || {
        Ok(wait_ctx(ctx)?.status())
    })
}

/// Replaces the functions that allocate and free job stacks (a NULL argument
/// keeps the current one). Returns 1, or 0 once any job stack exists.
#[unsafe(no_mangle)]
pub extern "C" fn ASYNC_set_mem_functions(alloc_fn: ASYNC_stack_alloc_fn, free_fn: ASYNC_stack_free_fn) -> c_int {
    export(c"ASYNC_set_mem_functions", 0, || {
        if stack::set_memory_functions(alloc_fn, free_fn) {
            Ok(1)
        } else {
            Err(error!(misuse, "refused, job stacks exist already"))
        }
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
    export(c"ASYNC_get_mem_functions", (), || {
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
        Ok(())
    })
}
