//! rustasync: a drop-in replacement for OpenSSL's asynchronous job layer.
//!
//! `ffi` is the C boundary. Behind it: `fibre` (the context switch), `stack`
//! (guarded job stacks), `arena` (job control blocks), `job`, `pool` (the
//! per-thread pool and thread state), `lock` (the mutex the fork handlers
//! hold), `tls` (the thread-state word), `wait_ctx`, `openssl` (run-time
//! interop with libcrypto), `config` (the settings, read with
//! `secure_getenv`) and `files` (files the library creates, safely).
//! Reliability helpers: `overflow` (the fault handler that names a job stack
//! overflow), `valgrind` and `sanitizer` (telling those tools about job
//! stacks and switches); `introspect` (what a debugger reads to find every
//! job). Raw pointers and system calls are spread over most of these
//! modules; every `unsafe` block states why it is sound
//! (`clippy::undocumented_unsafe_blocks` is denied).

mod arena;
/// Public only so that the fuzz driver (`fuzz/src/env_parsers.rs`) can
/// reach the parsers; not part of the library's interface.
#[doc(hidden)]
pub mod config;
pub mod extensions;
pub mod ffi;
mod fibre;
mod files;
mod introspect;
mod job;
mod live;
pub mod live_format;
mod lock;
mod log;
mod openssl;
mod overflow;
mod pool;
mod sanitizer;
mod stack;
mod stats;
mod tls;
mod trim;
mod valgrind;
mod wait_ctx;
