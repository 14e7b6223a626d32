//! The C types of `<openssl/async.h>`, each declared once: the opaque
//! handles, `OSSL_ASYNC_FD` and the function-pointer types, spelled as
//! OpenSSL 3.0 spells them.
//!
//! A leaf: it imports nothing from the crate. `ffi` exports these to C, and
//! the modules below it (`job`, `stack`, `wait_ctx`, `thread`) store and
//! call the same types. cbindgen reads this file together with `src/ffi.rs`.
//!
//! The function-pointer types are nullable (`Option<fn>`), as in C. Where
//! Rust needs a pointer that is known to be set, `Set<T>` names the function
//! type inside `T`; cbindgen does not see through it and emits nothing for it.

#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_void};

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

/// `ASYNC_start_job`'s `func`: `int (*func)(void *)`, which OpenSSL writes
/// out in the prototype and has no typedef for (the C header spells it out).
pub(crate) type ASYNC_job_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>;
/// `ASYNC_WAIT_CTX_set_wait_fd`'s `cleanup`: `void (*cleanup)(ASYNC_WAIT_CTX *,
/// const void *, OSSL_ASYNC_FD, void *)`, likewise written out by OpenSSL.
pub(crate) type ASYNC_cleanup_fn = Option<
    unsafe extern "C" fn(ctx: *mut ASYNC_WAIT_CTX, key: *const c_void, fd: OSSL_ASYNC_FD, custom_data: *mut c_void),
>;

/// The function type inside a nullable function-pointer type.
pub trait Nullable {
    /// The pointer, known to be set.
    type Set;
}

impl<F> Nullable for Option<F> {
    type Set = F;
}

/// A set (non-NULL) pointer of the nullable function-pointer type `T`.
pub type Set<T> = <T as Nullable>::Set;
