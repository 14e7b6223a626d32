//! The async API the cases call, from one of two implementations:
//! rustasync (linked in) or OpenSSL's own, from libcrypto (`dlopen`ed with
//! `RTLD_LOCAL`, so neither sees the other's symbols). Every call goes
//! through the thread's current implementation, jobs' own calls included.
//!
//! While a trace is on, every result a caller can observe is recorded:
//! return values, out-parameters, and handles as numbers in order of first
//! appearance (addresses differ between implementations; which calls see
//! the same job or context does not). Two runs of one case, one per
//! implementation, must leave the same trace.

#![allow(non_snake_case)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};

use rustasync::ffi;
pub use rustasync::ffi::{
    ASYNC_ERR, ASYNC_FINISH, ASYNC_JOB, ASYNC_NO_JOBS, ASYNC_PAUSE, ASYNC_WAIT_CTX, ASYNC_callback_fn,
};

type JobFn = Option<unsafe extern "C" fn(*mut c_void) -> c_int>;
pub type CleanupFn = Option<unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *const c_void, c_int, *mut c_void)>;

/// One implementation's functions.
pub struct Impl {
    init_thread: unsafe extern "C" fn(usize, usize) -> c_int,
    cleanup_thread: unsafe extern "C" fn(),
    start_job:
        unsafe extern "C" fn(*mut *mut ASYNC_JOB, *mut ASYNC_WAIT_CTX, *mut c_int, JobFn, *mut c_void, usize) -> c_int,
    pause_job: unsafe extern "C" fn() -> c_int,
    get_current_job: unsafe extern "C" fn() -> *mut ASYNC_JOB,
    get_wait_ctx: unsafe extern "C" fn(*mut ASYNC_JOB) -> *mut ASYNC_WAIT_CTX,
    block_pause: unsafe extern "C" fn(),
    unblock_pause: unsafe extern "C" fn(),
    ctx_new: unsafe extern "C" fn() -> *mut ASYNC_WAIT_CTX,
    ctx_free: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX),
    set_wait_fd: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *const c_void, c_int, *mut c_void, CleanupFn) -> c_int,
    get_fd: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *const c_void, *mut c_int, *mut *mut c_void) -> c_int,
    get_all_fds: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *mut c_int, *mut usize) -> c_int,
    get_changed_fds: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *mut c_int, *mut usize, *mut c_int, *mut usize) -> c_int,
    clear_fd: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *const c_void) -> c_int,
    set_callback: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, ASYNC_callback_fn, *mut c_void) -> c_int,
    get_callback: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *mut ASYNC_callback_fn, *mut *mut c_void) -> c_int,
    set_status: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, c_int) -> c_int,
    get_status: unsafe extern "C" fn(*mut ASYNC_WAIT_CTX) -> c_int,
}

pub static RUSTASYNC: Impl = Impl {
    init_thread: ffi::ASYNC_init_thread,
    cleanup_thread: ffi::ASYNC_cleanup_thread,
    start_job: ffi::ASYNC_start_job,
    pause_job: ffi::ASYNC_pause_job,
    get_current_job: ffi::ASYNC_get_current_job,
    get_wait_ctx: ffi::ASYNC_get_wait_ctx,
    block_pause: ffi::ASYNC_block_pause,
    unblock_pause: ffi::ASYNC_unblock_pause,
    ctx_new: ffi::ASYNC_WAIT_CTX_new,
    ctx_free: ffi::ASYNC_WAIT_CTX_free,
    set_wait_fd: ffi::ASYNC_WAIT_CTX_set_wait_fd,
    get_fd: ffi::ASYNC_WAIT_CTX_get_fd,
    get_all_fds: ffi::ASYNC_WAIT_CTX_get_all_fds,
    get_changed_fds: ffi::ASYNC_WAIT_CTX_get_changed_fds,
    clear_fd: ffi::ASYNC_WAIT_CTX_clear_fd,
    set_callback: ffi::ASYNC_WAIT_CTX_set_callback,
    get_callback: ffi::ASYNC_WAIT_CTX_get_callback,
    set_status: ffi::ASYNC_WAIT_CTX_set_status,
    get_status: ffi::ASYNC_WAIT_CTX_get_status,
};

/// OpenSSL's implementation, from the system's libcrypto; the reason when
/// it cannot be loaded.
pub fn libcrypto() -> Result<&'static Impl, String> {
    // SAFETY: a plain library load; libcrypto's initialisers are safe to run.
    let handle = unsafe { libc::dlopen(c"libcrypto.so.3".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err("cannot dlopen libcrypto.so.3".into());
    }
    let find = |name: &CStr| {
        // SAFETY: `handle` is a live handle from dlopen, never closed.
        let found = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if found.is_null() {
            Err(format!("libcrypto.so.3 lacks {name:?}"))
        } else {
            Ok(found)
        }
    };
    macro_rules! get {
        ($name:literal) => {
            // SAFETY: the symbol is the OpenSSL function of that name, whose
            // C signature is the field's type (OpenSSL 3's <openssl/async.h>);
            // a function pointer has the size and representation of the
            // address dlsym returned.
            unsafe { std::mem::transmute_copy::<*mut c_void, _>(&find($name)?) }
        };
    }
    Ok(Box::leak(Box::new(Impl {
        init_thread: get!(c"ASYNC_init_thread"),
        cleanup_thread: get!(c"ASYNC_cleanup_thread"),
        start_job: get!(c"ASYNC_start_job"),
        pause_job: get!(c"ASYNC_pause_job"),
        get_current_job: get!(c"ASYNC_get_current_job"),
        get_wait_ctx: get!(c"ASYNC_get_wait_ctx"),
        block_pause: get!(c"ASYNC_block_pause"),
        unblock_pause: get!(c"ASYNC_unblock_pause"),
        ctx_new: get!(c"ASYNC_WAIT_CTX_new"),
        ctx_free: get!(c"ASYNC_WAIT_CTX_free"),
        set_wait_fd: get!(c"ASYNC_WAIT_CTX_set_wait_fd"),
        get_fd: get!(c"ASYNC_WAIT_CTX_get_fd"),
        get_all_fds: get!(c"ASYNC_WAIT_CTX_get_all_fds"),
        get_changed_fds: get!(c"ASYNC_WAIT_CTX_get_changed_fds"),
        clear_fd: get!(c"ASYNC_WAIT_CTX_clear_fd"),
        set_callback: get!(c"ASYNC_WAIT_CTX_set_callback"),
        get_callback: get!(c"ASYNC_WAIT_CTX_get_callback"),
        set_status: get!(c"ASYNC_WAIT_CTX_set_status"),
        get_status: get!(c"ASYNC_WAIT_CTX_get_status"),
    })))
}

#[derive(Default)]
struct Trace {
    values: Vec<i64>,
    jobs: HashMap<usize, i64>,
    ctxs: HashMap<usize, i64>,
    next_id: i64,
}

thread_local! {
    static CURRENT: Cell<&'static Impl> = const { Cell::new(&RUSTASYNC) };
    static TRACE: RefCell<Option<Trace>> = const { RefCell::new(None) };
}

fn api() -> &'static Impl {
    CURRENT.with(Cell::get)
}

/// Makes `imp` the implementation this thread's calls go to, and starts
/// (`trace`) or stops recording.
pub fn select(imp: &'static Impl, trace: bool) {
    CURRENT.with(|c| c.set(imp));
    TRACE.with(|t| *t.borrow_mut() = trace.then(Trace::default));
}

/// The values recorded since `select`.
pub fn take_trace() -> Vec<i64> {
    TRACE.with(|t| t.borrow_mut().take().map(|t| t.values).unwrap_or_default())
}

/// Records a value a caller observed.
pub fn record(v: i64) {
    TRACE.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            t.values.push(v);
        }
    });
}

fn record_handle(p: usize, ctx: bool, fresh: bool) {
    TRACE.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            let id = if p == 0 {
                0
            } else {
                let next = t.next_id + 1;
                let map = if ctx { &mut t.ctxs } else { &mut t.jobs };
                let id = if fresh {
                    map.insert(p, next);
                    next
                } else {
                    *map.entry(p).or_insert(next)
                };
                t.next_id = t.next_id.max(id);
                id
            };
            t.values.push(id);
        }
    });
}

fn record_job(job: *mut ASYNC_JOB) {
    record_handle(job as usize, false, false);
}

fn record_ctx(ctx: *mut ASYNC_WAIT_CTX, fresh: bool) {
    record_handle(ctx as usize, true, fresh);
}

/// Jobs freed by a pool change may come back at their old addresses as new
/// jobs in one implementation and not the other: forget their numbers.
fn forget_jobs() {
    TRACE.with(|t| {
        if let Some(t) = t.borrow_mut().as_mut() {
            t.jobs.clear();
        }
    });
}

fn record_fds(fds: &[c_int]) {
    record(fds.len() as i64);
    for &fd in fds {
        record(i64::from(fd));
    }
}

// The wrappers below carry the C functions' names and contracts; each
// forwards to the current implementation (the contract is the same in
// both) and records what it returned.

pub fn ASYNC_init_thread(max: usize, init: usize) -> c_int {
    forget_jobs();
    // SAFETY: takes plain values.
    let rc = unsafe { (api().init_thread)(max, init) };
    record(i64::from(rc));
    rc
}

pub fn ASYNC_cleanup_thread() {
    forget_jobs();
    // SAFETY: takes nothing; the drivers call it only with no job paused
    // where the implementation is OpenSSL's.
    unsafe { (api().cleanup_thread)() }
}

/// # Safety
/// As `ASYNC_start_job`: valid pointers, `args` readable for `size` bytes.
pub unsafe fn ASYNC_start_job(
    job: *mut *mut ASYNC_JOB,
    ctx: *mut ASYNC_WAIT_CTX,
    ret: *mut c_int,
    func: JobFn,
    args: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().start_job)(job, ctx, ret, func, args, size) };
    record(i64::from(rc));
    // SAFETY: `job` and `ret` are valid, as the caller promised.
    unsafe {
        record_job(*job);
        if rc == ASYNC_FINISH {
            record(i64::from(*ret));
        }
    }
    rc
}

pub fn ASYNC_pause_job() -> c_int {
    // SAFETY: callable anywhere.
    let rc = unsafe { (api().pause_job)() };
    record(i64::from(rc));
    rc
}

pub fn ASYNC_get_current_job() -> *mut ASYNC_JOB {
    // SAFETY: callable anywhere.
    let job = unsafe { (api().get_current_job)() };
    record_job(job);
    job
}

/// # Safety
/// `job` is a live job of the current implementation.
pub unsafe fn ASYNC_get_wait_ctx(job: *mut ASYNC_JOB) -> *mut ASYNC_WAIT_CTX {
    // SAFETY: the caller's contract is the function's.
    let ctx = unsafe { (api().get_wait_ctx)(job) };
    record_ctx(ctx, false);
    ctx
}

pub fn ASYNC_block_pause() {
    // SAFETY: callable anywhere.
    unsafe { (api().block_pause)() }
}

pub fn ASYNC_unblock_pause() {
    // SAFETY: callable anywhere.
    unsafe { (api().unblock_pause)() }
}

pub fn ASYNC_WAIT_CTX_new() -> *mut ASYNC_WAIT_CTX {
    // SAFETY: takes nothing.
    let ctx = unsafe { (api().ctx_new)() };
    record_ctx(ctx, true);
    ctx
}

/// # Safety
/// `ctx` is a live context no paused job uses.
pub unsafe fn ASYNC_WAIT_CTX_free(ctx: *mut ASYNC_WAIT_CTX) {
    // SAFETY: the caller's contract is the function's.
    unsafe { (api().ctx_free)(ctx) }
}

/// # Safety
/// `ctx` is a live context.
pub unsafe fn ASYNC_WAIT_CTX_set_wait_fd(
    ctx: *mut ASYNC_WAIT_CTX,
    key: *const c_void,
    fd: c_int,
    data: *mut c_void,
    cleanup: CleanupFn,
) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().set_wait_fd)(ctx, key, fd, data, cleanup) };
    record(i64::from(rc));
    rc
}

/// # Safety
/// `ctx` is a live context; the out-pointers are valid.
pub unsafe fn ASYNC_WAIT_CTX_get_fd(
    ctx: *mut ASYNC_WAIT_CTX,
    key: *const c_void,
    fd: *mut c_int,
    data: *mut *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().get_fd)(ctx, key, fd, data) };
    record(i64::from(rc));
    if rc == 1 {
        // SAFETY: valid, as the caller promised, and written on success.
        record(i64::from(unsafe { *fd }));
    }
    rc
}

/// # Safety
/// `ctx` is a live context; `n` is valid; `fds` is NULL or has room for
/// `*n` entries.
pub unsafe fn ASYNC_WAIT_CTX_get_all_fds(ctx: *mut ASYNC_WAIT_CTX, fds: *mut c_int, n: *mut usize) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().get_all_fds)(ctx, fds, n) };
    record(i64::from(rc));
    // SAFETY: as promised; on success `*n` entries of `fds` are written.
    unsafe {
        if fds.is_null() {
            record(*n as i64);
        } else if rc == 1 {
            record_fds(std::slice::from_raw_parts(fds, *n));
        }
    }
    rc
}

/// # Safety
/// As `ASYNC_WAIT_CTX_get_all_fds`, for both lists.
pub unsafe fn ASYNC_WAIT_CTX_get_changed_fds(
    ctx: *mut ASYNC_WAIT_CTX,
    add: *mut c_int,
    nadd: *mut usize,
    del: *mut c_int,
    ndel: *mut usize,
) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().get_changed_fds)(ctx, add, nadd, del, ndel) };
    record(i64::from(rc));
    // SAFETY: as promised; on success the counts' entries are written.
    unsafe {
        if add.is_null() {
            record(*nadd as i64);
            record(*ndel as i64);
        } else if rc == 1 {
            record_fds(std::slice::from_raw_parts(add, *nadd));
            record_fds(std::slice::from_raw_parts(del, *ndel));
        }
    }
    rc
}

/// # Safety
/// `ctx` is a live context.
pub unsafe fn ASYNC_WAIT_CTX_clear_fd(ctx: *mut ASYNC_WAIT_CTX, key: *const c_void) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().clear_fd)(ctx, key) };
    record(i64::from(rc));
    rc
}

/// # Safety
/// `ctx` is a live context.
pub unsafe fn ASYNC_WAIT_CTX_set_callback(ctx: *mut ASYNC_WAIT_CTX, cb: ASYNC_callback_fn, arg: *mut c_void) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().set_callback)(ctx, cb, arg) };
    record(i64::from(rc));
    rc
}

/// # Safety
/// `ctx` is a live context; the out-pointers are valid.
pub unsafe fn ASYNC_WAIT_CTX_get_callback(
    ctx: *mut ASYNC_WAIT_CTX,
    cb: *mut ASYNC_callback_fn,
    arg: *mut *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().get_callback)(ctx, cb, arg) };
    record(i64::from(rc));
    if rc == 1 {
        // SAFETY: valid, as the caller promised, and written on success.
        unsafe { record(i64::from((*cb).is_some()) + 2 * i64::from(!(*arg).is_null())) };
    }
    rc
}

/// # Safety
/// `ctx` is a live context.
pub unsafe fn ASYNC_WAIT_CTX_set_status(ctx: *mut ASYNC_WAIT_CTX, status: c_int) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().set_status)(ctx, status) };
    record(i64::from(rc));
    rc
}

/// # Safety
/// `ctx` is a live context.
pub unsafe fn ASYNC_WAIT_CTX_get_status(ctx: *mut ASYNC_WAIT_CTX) -> c_int {
    // SAFETY: the caller's contract is the function's.
    let rc = unsafe { (api().get_status)(ctx) };
    record(i64::from(rc));
    rc
}
