//! rustasync: a drop-in replacement for OpenSSL's asynchronous job layer.
//!
//! Layers, top to bottom (a module imports only from below; see
//! ARCHITECTURE.md): `ffi` and `extensions`, the C boundary; `thread`
//! (current job, lifecycle, thread exit), `pool` and `fork`, the per-thread
//! state; `job` and `arena`, a job and its control block, knowing nothing
//! of threads; `stack` and `fibre`, guarded stacks and the switch; `mem`,
//! memory-mapping helpers. Leaves: `ctypes` (the C types of the header,
//! each declared once), `wait_ctx`, `openssl` (run-time interop with
//! libcrypto), `stats`, `log`, `config` (the settings, read with
//! `secure_getenv`), `files` (files the library creates, safely),
//! `overflow` (names a job stack overflow), `valgrind`, `sanitizer`, `lock`,
//! `tls`, `tsd` (a glibc thread-specific key read without a call), `trim`
//! (when idle jobs go back to the kernel), `live` (live figures in a file)
//! and `introspect` (what a debugger reads to find every job). Every
//! `unsafe` block states why it is sound
//! (`clippy::undocumented_unsafe_blocks` is denied).

mod arena;
/// Public only so that the fuzz driver (`fuzz/src/env_parsers.rs`) can
/// reach the parsers; not part of the library's interface.
#[doc(hidden)]
pub mod config;
mod ctypes;
mod error;
pub mod extensions;
pub mod ffi;
mod fibre;
mod files;
mod fork;
mod introspect;
mod job;
mod live;
pub mod live_format;
mod lock;
mod log;
mod mem;
mod openssl;
mod overflow;
mod pool;
mod region;
mod sanitizer;
mod stack;
mod stats;
mod thread;
mod tls;
mod trim;
mod tsd;
mod valgrind;
mod wait_ctx;
