//! The C boundary of rustasync's own extensions, declared in
//! `<rustasync.h>`. They use the `rustasync_` prefix, never OpenSSL's
//! `ASYNC_` namespace, and follow `ffi`'s rules: pointer checks, a panic
//! boundary, OpenSSL-style failure values.
//!
//! cbindgen reads this file alone to write `include/rustasync.h`; build.rs
//! adds the version macros from Cargo.toml.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int};

use crate::ffi::export;
use crate::thread;

/// The library's figures, as `RUSTASYNC_STATS=1` reports them at exit.
/// Counts cover every thread since the process started.
#[repr(C)]
pub struct rustasync_stats {
    /// Jobs created (each with its own stack).
    pub jobs_created: u64,
    /// Jobs freed (pool cleaned up, thread exited, pool over its limit).
    pub jobs_freed: u64,
    /// Jobs started by `ASYNC_start_job` with a NULL job.
    pub jobs_started: u64,
    /// Jobs whose function returned.
    pub jobs_finished: u64,
    /// Pauses (`ASYNC_pause_job` calls that switched out of a job).
    pub jobs_paused: u64,
    /// Resumptions of paused jobs.
    pub jobs_resumed: u64,
    /// Jobs paused right now.
    pub paused_now: u64,
    /// The most jobs paused at once on any one thread (jobs belong to a thread).
    pub paused_peak: u64,
    /// Jobs that exist now (created and not freed), in pools or in use.
    pub pool_jobs: u64,
    /// Of those, jobs idle in their thread's pool.
    pub pool_idle: u64,
    /// Threads that have used the library (alive or exited).
    pub threads: u64,
    /// Usable bytes of each job stack (`RUSTASYNC_STACK_SIZE`).
    pub stack_size: u64,
    /// The deepest stack use observed, in bytes; 0 unless `stack_measured`.
    pub stack_deepest: u64,
    /// 1 when stacks are measured (`RUSTASYNC_STATS` is set), else 0.
    pub stack_measured: c_int,
}

/// The library's version, e.g. `"0.1.0"`: the same text as
/// `RUSTASYNC_VERSION_STRING` in the header the program was built with.
#[unsafe(no_mangle)]
pub extern "C" fn rustasync_version() -> *const c_char {
    const VERSION: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(text) => text,
            Err(_) => panic!("the version contains no NUL"),
        };
    VERSION.as_ptr()
}

/// Fills `*out` with the library's figures. Returns 1, or 0 when `out` is
/// NULL. The calling thread's idle and paused job stacks are measured first.
///
/// # Safety
/// `out` must be NULL or valid for writing one `struct rustasync_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rustasync_stats(out: *mut rustasync_stats) -> c_int {
    export(c"rustasync_stats", 0, || {
        if out.is_null() {
            return Ok(0);
        }
        let t = thread::collect_stats();
        let figures = rustasync_stats {
            jobs_created: t.created,
            jobs_freed: t.destroyed,
            jobs_started: t.started,
            jobs_finished: t.finished,
            jobs_paused: t.paused,
            jobs_resumed: t.resumed,
            paused_now: t.paused_now,
            paused_peak: t.paused_peak,
            pool_jobs: t.created.saturating_sub(t.destroyed),
            pool_idle: t.idle,
            threads: t.threads,
            stack_size: t.stack_size,
            stack_deepest: t.deepest,
            stack_measured: c_int::from(t.measured),
        };
        // SAFETY: non-null and valid for writes per the contract.
        unsafe { out.write(figures) };
        Ok(1)
    })
}
