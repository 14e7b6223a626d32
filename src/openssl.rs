//! OpenSSL interop found at run time: the default library context and the
//! error queue.
//!
//! The library never links against libcrypto. When libcrypto 3 is in the
//! process (linked by the program, preloaded beside us, or opened later) its
//! symbols are looked up with `dlsym`, so the same binary works in processes
//! with and without OpenSSL.
//!
//! OpenSSL swaps the thread's default `OSSL_LIB_CTX` at every job switch.
//! A program may change a default by any path (its own calls, libssl's, or
//! a pointer from `dlsym` on libcrypto's handle), so nothing short of asking
//! libcrypto tells whether a swap is needed: each switch reads the current
//! default once (`OSSL_LIB_CTX_set0_default(NULL)`, which changes nothing)
//! and writes only when it differs from the one wanted — nearly always it
//! does not, and then a switch costs one read instead of OpenSSL's write.
//!
//! That read need not be a call into libcrypto. OpenSSL 3.0 and 3.1 keep
//! the thread's default in a thread-specific key of their own (NULL while
//! the thread uses the global default); when libcrypto is found, the
//! library finds that key once — it makes a context its default for a
//! moment and looks for the one key holding it — and from then on reads the
//! default with `pthread_getspecific`, which gives the same answer, and
//! writes one, when it must, with `pthread_setspecific`, as libcrypto does.
//! Where that cannot be established beyond doubt (later OpenSSL keeps its
//! thread-local values behind one key of its own), switches call libcrypto.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// `ERR_LIB_ASYNC` in `<openssl/err.h>`.
pub const ERR_LIB_ASYNC: c_int = 51;
const ERR_RFLAG_FATAL: c_int = 1 << 18;
const ERR_RFLAG_COMMON: c_int = 2 << 18;
/// Reasons shared by every OpenSSL library.
pub const ERR_R_MALLOC_FAILURE: c_int = 256 | ERR_RFLAG_FATAL | ERR_RFLAG_COMMON;
pub const ERR_R_PASSED_NULL_PARAMETER: c_int = 258 | ERR_RFLAG_FATAL | ERR_RFLAG_COMMON;
pub const ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED: c_int = 257 | ERR_RFLAG_FATAL | ERR_RFLAG_COMMON;
pub const ERR_R_INTERNAL_ERROR: c_int = 259 | ERR_RFLAG_FATAL | ERR_RFLAG_COMMON;
pub const ERR_R_PASSED_INVALID_ARGUMENT: c_int = 262 | ERR_RFLAG_COMMON;

type SetDefaultFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type GlobalDefaultFn = unsafe extern "C" fn() -> *mut c_void;
type ErrNewFn = unsafe extern "C" fn();
type ErrSetDebugFn = unsafe extern "C" fn(*const c_char, c_int, *const c_char);
type ErrSetErrorFn = unsafe extern "C" fn(c_int, c_int, *const c_char, ...);
type LibCtxNewFn = unsafe extern "C" fn() -> *mut c_void;
type LibCtxFreeFn = unsafe extern "C" fn(*mut c_void);

/// The libcrypto 3 entry points this library uses, resolved together.
struct Crypto {
    set0_default: SetDefaultFn,
    global_default: *mut c_void,
    /// The thread-specific key libcrypto keeps each thread's default in,
    /// when it was found (see the module's documentation).
    default_key: Option<libc::pthread_key_t>,
    err_new: ErrNewFn,
    err_set_debug: ErrSetDebugFn,
    err_set_error: ErrSetErrorFn,
}

/// Null until libcrypto 3 is found; then a leaked, immutable `Crypto`.
static CRYPTO: AtomicPtr<Crypto> = AtomicPtr::new(ptr::null_mut());

/// `Crypto::default_key` and `global_default` once both are known, copied
/// out so that a switch reads two words: `NO_KEY` until then.
static DEFAULT_KEY: AtomicUsize = AtomicUsize::new(NO_KEY);
static GLOBAL_DEFAULT: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
const NO_KEY: usize = usize::MAX;

/// Looks for libcrypto 3 if it has not been found yet. Called when a thread
/// first uses the library and before raising an error, so a libcrypto opened
/// after start-up is picked up without a lookup on the hot path.
pub fn discover() {
    if !CRYPTO.load(Ordering::Acquire).is_null() {
        return;
    }
    let Some(found) = resolve() else {
        return;
    };
    let key = found.default_key;
    let global = found.global_default;
    let leaked = Box::into_raw(Box::new(found));
    if CRYPTO
        .compare_exchange(ptr::null_mut(), leaked, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // SAFETY: `leaked` came from Box::into_raw just above and was never shared.
        drop(unsafe { Box::from_raw(leaked) });
        return;
    }
    if let Some(key) = key {
        GLOBAL_DEFAULT.store(global, Ordering::Relaxed);
        DEFAULT_KEY.store(key as usize, Ordering::Release);
    }
}

fn resolve() -> Option<Crypto> {
    // Programs and LD_PRELOAD put libcrypto in the global scope; a plugin may
    // have opened it RTLD_LOCAL, where only its own handle reaches it.
    resolve_in(libc::RTLD_DEFAULT).or_else(|| {
        let handle = local_libcrypto_handle();
        if handle.is_null() { None } else { resolve_in(handle) }
    })
}

fn resolve_in(handle: *mut c_void) -> Option<Crypto> {
    let set0_default = symbol(handle, c"OSSL_LIB_CTX_set0_default")?;
    let global_default = symbol(handle, c"OSSL_LIB_CTX_get0_global_default")?;
    let err_new = symbol(handle, c"ERR_new")?;
    let err_set_debug = symbol(handle, c"ERR_set_debug")?;
    let err_set_error = symbol(handle, c"ERR_set_error")?;
    // SAFETY: each symbol was found by its exact C name in libcrypto 3 and is
    // given the prototype `<openssl/crypto.h>` and `<openssl/err.h>` declare;
    // the global default context exists for the life of the process.
    unsafe {
        let global_default = std::mem::transmute::<*mut c_void, GlobalDefaultFn>(global_default)();
        let set0_default = std::mem::transmute::<*mut c_void, SetDefaultFn>(set0_default);
        Some(Crypto {
            set0_default,
            global_default,
            default_key: find_default_key(handle, set0_default, global_default),
            err_new: std::mem::transmute::<*mut c_void, ErrNewFn>(err_new),
            err_set_debug: std::mem::transmute::<*mut c_void, ErrSetDebugFn>(err_set_debug),
            err_set_error: std::mem::transmute::<*mut c_void, ErrSetErrorFn>(err_set_error),
        })
    }
}

/// The thread-specific key that holds this thread's default library
/// context, if exactly one key does. Cold: once per process.
fn find_default_key(
    handle: *mut c_void,
    set0_default: SetDefaultFn,
    global_default: *mut c_void,
) -> Option<libc::pthread_key_t> {
    let new = symbol(handle, c"OSSL_LIB_CTX_new")?;
    let free = symbol(handle, c"OSSL_LIB_CTX_free")?;
    // SAFETY: libcrypto's own functions with their documented prototypes.
    let (new, free) = unsafe {
        (
            std::mem::transmute::<*mut c_void, LibCtxNewFn>(new),
            std::mem::transmute::<*mut c_void, LibCtxFreeFn>(free),
        )
    };
    // What `pthread_getspecific` gives for `key` on this thread.
    // SAFETY: any key value may be asked; unused keys give NULL.
    let value = |key: usize| unsafe { libc::pthread_getspecific(key as libc::pthread_key_t) };
    const KEYS: usize = 1024; // glibc's PTHREAD_KEYS_MAX
    // SAFETY: a fresh context, freed below once it is no one's default.
    let probe = unsafe { new() };
    if probe.is_null() {
        return None;
    }
    // SAFETY: `probe` is a live context; the thread's previous default is
    // put back before anything else runs on this thread.
    let previous = unsafe { set0_default(probe) };
    let holders: Vec<usize> = (0..KEYS).filter(|&key| value(key) == probe).collect();
    // SAFETY: `previous` was this thread's default a moment ago.
    unsafe { set0_default(previous) };
    // SAFETY: no thread has `probe` as its default any more.
    unsafe { free(probe) };
    let &[key] = holders.as_slice() else {
        return None;
    };
    // The key must read back the restored default too (NULL stands for the
    // global one), or it is not the one libcrypto reads.
    let now = value(key);
    let restored = if now.is_null() { global_default } else { now };
    (restored == previous).then_some(key as libc::pthread_key_t)
}

fn local_libcrypto_handle() -> *mut c_void {
    // SAFETY: RTLD_NOLOAD only returns a handle to an already loaded object
    // and never runs its constructors.
    unsafe { libc::dlopen(c"libcrypto.so.3".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) }
}

fn symbol(handle: *mut c_void, name: &CStr) -> Option<*mut c_void> {
    // SAFETY: `handle` is RTLD_DEFAULT, RTLD_NEXT or a handle from dlopen;
    // `name` is a C string.
    let found = unsafe { libc::dlsym(handle, name.as_ptr()) };
    (!found.is_null()).then_some(found)
}

#[inline]
fn crypto() -> Option<&'static Crypto> {
    // SAFETY: a non-null pointer is a leaked Box that is never freed or changed.
    unsafe { CRYPTO.load(Ordering::Acquire).as_ref() }
}

/// A thread's default `OSSL_LIB_CTX`, as an opaque pointer. `GLOBAL` stands
/// for libcrypto's global default (and for "no libcrypto").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibCtx(*mut c_void);

impl LibCtx {
    pub const GLOBAL: LibCtx = LibCtx(ptr::null_mut());
}

/// The calling thread's current default library context (`GLOBAL` without
/// libcrypto).
#[inline]
pub fn current_default() -> LibCtx {
    let key = DEFAULT_KEY.load(Ordering::Acquire);
    if key != NO_KEY {
        // SAFETY: reads this thread's value of libcrypto's key.
        let own = unsafe { libc::pthread_getspecific(key as libc::pthread_key_t) };
        return LibCtx(if own.is_null() {
            GLOBAL_DEFAULT.load(Ordering::Relaxed)
        } else {
            own
        });
    }
    match crypto() {
        // SAFETY: set0_default(NULL) only reads the thread's default context.
        Some(c) => LibCtx(unsafe { (c.set0_default)(ptr::null_mut()) }),
        None => LibCtx::GLOBAL,
    }
}

/// Makes `wanted` the thread's default library context unless `current`,
/// the thread's default now, already is it.
#[inline]
pub fn ensure_default(current: LibCtx, wanted: LibCtx) {
    if current == wanted {
        return;
    }
    if let Some(c) = crypto() {
        let target = if wanted == LibCtx::GLOBAL {
            c.global_default
        } else {
            wanted.0
        };
        if target != current.0 && !write_own_key(target, c.global_default) {
            // SAFETY: `target` is the global default or a context that
            // set0_default returned on this thread, so libcrypto knows it.
            unsafe { (c.set0_default)(target) };
        }
    }
}

/// Writes `target` as the thread's default straight into libcrypto's key,
/// as `OSSL_LIB_CTX_set0_default` does once its one-time set-up has run
/// (it had: the key was found through it): NULL stands for the global
/// default. False when the key is unknown or the write fails.
#[inline]
fn write_own_key(target: *mut c_void, global_default: *mut c_void) -> bool {
    let key = DEFAULT_KEY.load(Ordering::Acquire);
    if key == NO_KEY {
        return false;
    }
    let value = if target == global_default {
        ptr::null_mut()
    } else {
        target
    };
    // SAFETY: libcrypto's own key on this thread, given a value of the kind
    // libcrypto stores there.
    unsafe { libc::pthread_setspecific(key as libc::pthread_key_t, value) == 0 }
}

/// Puts `ERR_LIB_ASYNC`/`reason` on OpenSSL's error queue if libcrypto 3 is
/// in the process, as `ERR_raise` would.
pub fn raise(function: &CStr, reason: c_int) {
    discover();
    let Some(c) = crypto() else {
        return;
    };
    // SAFETY: the three calls are what OpenSSL's ERR_raise macro expands to;
    // the strings are static C strings and the format argument is NULL.
    unsafe {
        (c.err_new)();
        (c.err_set_debug)(c"rustasync".as_ptr(), 0, function.as_ptr());
        (c.err_set_error)(ERR_LIB_ASYNC, reason, ptr::null());
    }
}
