//! OpenSSL interop found at run time: the default library context and the
//! error queue.
//!
//! The library never links against libcrypto. When libcrypto is in the
//! process (linked by the program, preloaded beside us, or opened later) its
//! symbols are looked up with `dlsym`, so the same binary works in processes
//! with and without OpenSSL, and with OpenSSL 3 or 1.1.
//!
//! libcrypto is looked for when a thread first uses the library, and again
//! before an error is reported only if objects were loaded since the last
//! look (the loader's count of loaded objects tells), never once per error.
//! Which libcrypto it is decides, once, whose conventions the library
//! follows where OpenSSL 1.1 and 3 differ: with 1.1 errors go on its queue
//! with 1.1's function and reason codes, and `ASYNC_start_job` refuses a
//! non-NULL empty argument block as 1.1 does (see docs/openssl-1.1.1.md);
//! with 3.x, or with no libcrypto at all, the library behaves as 3.x.
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
//!
//! With glibc on x86_64 the read need not be a call either: glibc keeps the
//! values of keys below 32 at a fixed offset from the thread pointer
//! (`tsd`). While the probe context is the default, the library finds the
//! key's slot there (it must hold the probe, and then the restored
//! default), and every thread that later uses the library checks that the
//! slot agrees with `pthread_getspecific` and that its neighbour, the
//! library's own thread-exit key, holds the thread's state; anything that
//! does not check out puts the thread, and every thread after it, back on
//! `pthread_getspecific`. glibc's sequence number (which hides a value left
//! by an earlier key of the same number, since deleted) is checked as
//! `pthread_getspecific` checks it, against the number the key had when it
//! was found: libcrypto deletes its key only in `OPENSSL_cleanup`, after
//! which libcrypto may not be used at all, so that number stays the key's.

use std::ffi::{CStr, c_char, c_int, c_ulong, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::log::{self, Level};
use crate::tsd;

/// `ERR_LIB_ASYNC` in `<openssl/err.h>` (the same in 1.1 and 3).
pub const ERR_LIB_ASYNC: c_int = 51;
const ERR_RFLAG_FATAL: c_int = 1 << 18;
const ERR_RFLAG_COMMON: c_int = 2 << 18;
/// Reasons shared by every OpenSSL library, as OpenSSL 3 numbers them.
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
type ErrPutErrorFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_char, c_int);
type VersionNumFn = unsafe extern "C" fn() -> c_ulong;

/// The libcrypto 3 entry points this library uses, resolved together.
struct Crypto {
    set0_default: SetDefaultFn,
    global_default: *mut c_void,
    /// The thread-specific key libcrypto keeps each thread's default in,
    /// when it was found (see the module's documentation).
    default_key: Option<DefaultKey>,
    err_new: ErrNewFn,
    err_set_debug: ErrSetDebugFn,
    err_set_error: ErrSetErrorFn,
}

/// Null until libcrypto 3 is found; then a leaked, immutable `Crypto`.
static CRYPTO: AtomicPtr<Crypto> = AtomicPtr::new(ptr::null_mut());

/// libcrypto's key that holds each thread's default (`NO_KEY` until found).
static DEFAULT_KEY: AtomicUsize = AtomicUsize::new(NO_KEY);
const NO_KEY: usize = usize::MAX;
/// Where that key's value sits in every thread's descriptor (a
/// `tsd::Slot`'s offset), or 0: read it with `pthread_getspecific`.
static DEFAULT_SLOT: AtomicUsize = AtomicUsize::new(0);
/// glibc's sequence number of the key when it was found.
static DEFAULT_SEQ: AtomicUsize = AtomicUsize::new(0);

/// libcrypto's default-context key, and its slot in the thread descriptor
/// with the key's sequence number when that could be established.
#[derive(Clone, Copy)]
struct DefaultKey {
    key: libc::pthread_key_t,
    slot: Option<(tsd::Slot, usize)>,
}
/// Null unless the process's libcrypto is 1.1; then its `ERR_put_error`.
static PUT_ERROR_1_1: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
/// The loader's count of objects ever loaded when libcrypto was last looked
/// for in vain (0: not looked for yet; glibc's count is at least 1).
static LOOKED_AT: AtomicU64 = AtomicU64::new(0);

/// Looks for libcrypto unless it was found already, or nothing was loaded
/// since the last look. Called when a thread first uses the library and
/// before reporting an error, so a libcrypto opened after start-up is picked
/// up without a lookup on the hot path.
pub fn discover() {
    if !CRYPTO.load(Ordering::Acquire).is_null() || !PUT_ERROR_1_1.load(Ordering::Acquire).is_null() {
        return;
    }
    let loaded = objects_ever_loaded();
    if LOOKED_AT.swap(loaded, Ordering::AcqRel) == loaded {
        return;
    }
    match resolve() {
        Some(Found::V3(found)) => {
            let key = found.default_key;
            let leaked = Box::into_raw(Box::new(found));
            if CRYPTO
                .compare_exchange(ptr::null_mut(), leaked, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // SAFETY: `leaked` came from Box::into_raw just above and was never shared.
                drop(unsafe { Box::from_raw(leaked) });
                return;
            }
            let how = match key {
                Some(DefaultKey { key, slot }) => {
                    DEFAULT_KEY.store(key as usize, Ordering::Release);
                    match slot {
                        Some((slot, seq)) => {
                            DEFAULT_SEQ.store(seq, Ordering::Relaxed);
                            DEFAULT_SLOT.store(slot.offset(), Ordering::Release);
                            format!("from the thread descriptor (key {key}, offset {:#x})", slot.offset())
                        }
                        None => format!("with pthread_getspecific (key {key})"),
                    }
                }
                None => "with OSSL_LIB_CTX_set0_default(NULL)".to_owned(),
            };
            log::emit(
                Level::Debug,
                format_args!("libcrypto 3 found; the default library context is read {how}"),
            );
        }
        Some(Found::V1_1(put_error)) => {
            PUT_ERROR_1_1.store(put_error, Ordering::Release);
            log::emit(
                Level::Debug,
                format_args!("libcrypto 1.1 found; behaving as its async layer where 1.1 and 3 differ"),
            );
        }
        None => {}
    }
}

/// True when the process's libcrypto is 1.1: its conventions apply where
/// they differ from 3.x's.
#[inline]
pub fn is_1_1() -> bool {
    !PUT_ERROR_1_1.load(Ordering::Relaxed).is_null()
}

/// glibc's `dlpi_adds`: how many objects were ever loaded into the process.
fn objects_ever_loaded() -> u64 {
    unsafe extern "C" fn first(info: *mut libc::dl_phdr_info, _size: usize, out: *mut c_void) -> c_int {
        // SAFETY: the loader passes a valid `info`; `out` is the u64 below.
        unsafe { *out.cast::<u64>() = (*info).dlpi_adds };
        1
    }
    let mut adds: u64 = 0;
    // SAFETY: the callback only reads the first object's record and writes
    // `adds`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(first), ptr::from_mut(&mut adds).cast()) };
    adds
}

enum Found {
    V3(Crypto),
    /// libcrypto 1.1's `ERR_put_error`.
    V1_1(*mut c_void),
}

fn resolve() -> Option<Found> {
    // Programs and LD_PRELOAD put libcrypto in the global scope, and that one
    // is the program's own; a plugin may have opened one RTLD_LOCAL, where
    // only its own handle reaches it.
    let in_handle = |handle| {
        resolve_in(handle)
            .map(Found::V3)
            .or_else(|| resolve_1_1_in(handle).map(Found::V1_1))
    };
    in_handle(libc::RTLD_DEFAULT).or_else(|| {
        [c"libcrypto.so.3", c"libcrypto.so.1.1"].into_iter().find_map(|soname| {
            let handle = local_libcrypto_handle(soname);
            if handle.is_null() { None } else { in_handle(handle) }
        })
    })
}

/// libcrypto 1.1's `ERR_put_error`, if the libcrypto `handle` reaches is 1.1
/// (it has no `ERR_new`, and says so in `OpenSSL_version_num`).
fn resolve_1_1_in(handle: *mut c_void) -> Option<*mut c_void> {
    let put_error = symbol(handle, c"ERR_put_error")?;
    // Take the version from the object that defines ERR_put_error.
    let owner = object_of(put_error)?;
    let is_1_1 = symbol(owner, c"ERR_new").is_none()
        && symbol(owner, c"OpenSSL_version_num").is_some_and(|version| {
            // SAFETY: `OpenSSL_version_num` takes nothing and returns the
            // release number, in 1.1 as in 3.
            let number = unsafe { std::mem::transmute::<*mut c_void, VersionNumFn>(version)() };
            (0x1010_0000..0x3000_0000).contains(&number)
        });
    if !is_1_1 {
        // SAFETY: the handle came from dlopen in object_of; the object stays
        // loaded for whoever loaded it.
        unsafe { libc::dlclose(owner) };
        return None;
    }
    // The handle is kept: `put_error` must stay valid.
    Some(put_error)
}

/// A handle to the loaded object that defines `address`.
fn object_of(address: *mut c_void) -> Option<*mut c_void> {
    // SAFETY: Dl_info is plain data (pointers and integers); all zeroes is
    // a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: RTLD_NOLOAD returns a handle to the already loaded object
    // named by the loader itself, and runs no constructors.
    let handle = unsafe { libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    (!handle.is_null()).then_some(handle)
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
/// context, if exactly one key does, and its slot in the thread descriptor
/// if it can be read there. Cold: once per process.
fn find_default_key(
    handle: *mut c_void,
    set0_default: SetDefaultFn,
    global_default: *mut c_void,
) -> Option<DefaultKey> {
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
    // The slot must hold the probe now (glibc wrote the key's sequence
    // number beside it), and the restored default below.
    let slot = match holders.as_slice() {
        &[key] => tsd::Slot::find(key as libc::pthread_key_t, probe).map(|slot| (slot, slot.read().0)),
        _ => None,
    };
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
    (restored == previous).then_some(DefaultKey {
        key: key as libc::pthread_key_t,
        slot: slot.filter(|(slot, _)| slot.read().1 == now),
    })
}

fn local_libcrypto_handle(soname: &CStr) -> *mut c_void {
    // SAFETY: RTLD_NOLOAD only returns a handle to an already loaded object
    // and never runs its constructors.
    unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) }
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

/// A thread's default `OSSL_LIB_CTX`, as an opaque pointer. `GLOBAL`
/// (NULL, as libcrypto's key holds it) stands for libcrypto's global
/// default, and for "no libcrypto".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibCtx(*mut c_void);

impl LibCtx {
    pub const GLOBAL: LibCtx = LibCtx(ptr::null_mut());
}

/// The calling thread's current default library context. Two loads from
/// the thread descriptor where its slot is known (see the module's
/// documentation), else a call.
#[inline(always)]
pub fn current_default() -> LibCtx {
    current_default_read().unwrap_or_else(current_default_called)
}

/// `current_default` when the thread descriptor answers it, or when no
/// libcrypto 3 was found (none, or 1.1, which has no library contexts:
/// `GLOBAL`); None when only a call can.
#[inline(always)]
pub fn current_default_read() -> Option<LibCtx> {
    let offset = DEFAULT_SLOT.load(Ordering::Relaxed);
    if offset == 0 {
        // `discover` publishes libcrypto before its key, so without it
        // `current_default_called` has nothing to call either. One found a
        // moment ago by another thread is as if found after this read.
        return CRYPTO.load(Ordering::Relaxed).is_null().then_some(LibCtx::GLOBAL);
    }
    // SAFETY: a non-zero offset is that of the slot `find_default_key` found.
    let (data, seq) = unsafe { tsd::Slot::at(offset) }.read_data();
    if data.is_null() {
        return Some(LibCtx::GLOBAL);
    }
    // Otherwise as pthread_getspecific: a value left with another sequence
    // number is not the key's. An out-of-date DEFAULT_SEQ (another thread
    // found the slot a moment ago) only costs the call.
    (seq() == DEFAULT_SEQ.load(Ordering::Relaxed)).then_some(LibCtx(data))
}

/// `current_default` by a call: `pthread_getspecific` on libcrypto's key,
/// or libcrypto itself.
#[cold]
#[inline(never)]
fn current_default_called() -> LibCtx {
    let key = DEFAULT_KEY.load(Ordering::Acquire);
    if key != NO_KEY {
        // SAFETY: reads this thread's value of libcrypto's key.
        return LibCtx(unsafe { libc::pthread_getspecific(key as libc::pthread_key_t) });
    }
    match crypto() {
        Some(c) => {
            // SAFETY: set0_default(NULL) only reads the thread's default context.
            let now = unsafe { (c.set0_default)(ptr::null_mut()) };
            if now == c.global_default {
                LibCtx::GLOBAL
            } else {
                LibCtx(now)
            }
        }
        None => LibCtx::GLOBAL,
    }
}

/// Makes `wanted` the thread's default library context unless `current`,
/// the thread's default now, already is it.
#[inline(always)]
pub fn ensure_default(current: LibCtx, wanted: LibCtx) {
    if current != wanted {
        set_default(wanted);
    }
}

/// Writes `wanted` straight into libcrypto's key, as
/// `OSSL_LIB_CTX_set0_default` does once its one-time set-up has run (it
/// had: the key was found through it), NULL standing for the global
/// default; through libcrypto where the key is unknown or the write fails.
#[inline(never)]
fn set_default(wanted: LibCtx) {
    let Some(c) = crypto() else {
        return;
    };
    let key = DEFAULT_KEY.load(Ordering::Acquire);
    // SAFETY: libcrypto's own key on this thread, given a value of the kind
    // libcrypto stores there.
    if key != NO_KEY && unsafe { libc::pthread_setspecific(key as libc::pthread_key_t, wanted.0) } == 0 {
        return;
    }
    let target = if wanted == LibCtx::GLOBAL {
        c.global_default
    } else {
        wanted.0
    };
    // SAFETY: `target` is the global default or a context that was this
    // thread's default, so libcrypto knows it.
    unsafe { (c.set0_default)(target) };
}

/// Called on each thread when it first uses the library, once its value of
/// `own_key` (the library's thread-exit key) is `own_value`: confirms on
/// this thread that the slot of libcrypto's key reads as
/// `pthread_getspecific` does, and that the slot beside it for `own_key`
/// holds `own_value`. If not, every thread reads with the call from now on.
pub fn check_thread(own_key: libc::pthread_key_t, own_value: *mut c_void) {
    let offset = DEFAULT_SLOT.load(Ordering::Acquire);
    if offset == 0 {
        return;
    }
    let key = DEFAULT_KEY.load(Ordering::Acquire) as libc::pthread_key_t;
    // SAFETY: as in `current_default`.
    let slot = unsafe { tsd::Slot::at(offset) };
    // The direct read first: a call would clear a value left by an
    // earlier key of the same number.
    let direct = current_default();
    let called = current_default_called();
    let own = slot.sibling(key, own_key).map(|own| own.read().1);
    if direct != called || own.is_some_and(|own| own != own_value) {
        DEFAULT_SLOT.store(0, Ordering::Release);
        log::emit(
            Level::Info,
            format_args!(
                "the default library context's slot in the thread descriptor did not check out; \
                 read with pthread_getspecific from now on"
            ),
        );
    }
}

/// Puts `ERR_LIB_ASYNC`/`reason` on OpenSSL's error queue if libcrypto is
/// in the process: as `ERR_raise` would with libcrypto 3; with 1.1, as 1.1's
/// `ASYNCerr` would, with 1.1's codes (`reason` is given in 3's numbering).
pub fn raise(function: &CStr, reason: c_int) {
    discover();
    if let Some(c) = crypto() {
        // SAFETY: the three calls are what OpenSSL's ERR_raise macro expands
        // to; the strings are static C strings and the format argument is NULL.
        unsafe {
            (c.err_new)();
            (c.err_set_debug)(c"rustasync".as_ptr(), 0, function.as_ptr());
            (c.err_set_error)(ERR_LIB_ASYNC, reason, ptr::null());
        }
        return;
    }
    let put_error = PUT_ERROR_1_1.load(Ordering::Acquire);
    if put_error.is_null() {
        return;
    }
    let (function, reason) = codes_1_1(function, reason);
    // SAFETY: libcrypto 1.1's ERR_put_error(lib, func, reason, file, line);
    // the file name is a static C string.
    unsafe {
        std::mem::transmute::<*mut c_void, ErrPutErrorFn>(put_error)(
            ERR_LIB_ASYNC,
            function,
            reason,
            c"rustasync".as_ptr(),
            0,
        );
    }
}

/// 1.1's function code for an export (`ASYNC_F_*` in 1.1's `asyncerr.h`;
/// 0 for a function 1.1 never reports from) and 1.1's number for a reason
/// given in 3's numbering. The `ASYNC_R_*` reasons are the same in both.
fn codes_1_1(function: &CStr, reason: c_int) -> (c_int, c_int) {
    let function = match function.to_bytes() {
        b"ASYNC_init_thread" => 101,
        b"ASYNC_pause_job" => 103,
        b"ASYNC_start_job" => 105,
        b"ASYNC_WAIT_CTX_set_wait_fd" => 106,
        _ => 0,
    };
    // 1.1's ERR_R_FATAL flag, and its numbers for the common reasons.
    const FATAL: c_int = 64;
    let reason = match reason {
        ERR_R_MALLOC_FAILURE => 1 | FATAL,
        ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED => 2 | FATAL,
        ERR_R_PASSED_NULL_PARAMETER => 3 | FATAL,
        ERR_R_INTERNAL_ERROR => 4 | FATAL,
        ERR_R_PASSED_INVALID_ARGUMENT => 7,
        own => own,
    };
    (function, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1.1 packs lib << 24 | func << 12 | reason (`ERR_PACK` in 1.1's err.h).
    fn packed(function: &CStr, reason: c_int) -> u32 {
        let (f, r) = codes_1_1(function, reason);
        ((ERR_LIB_ASYNC as u32) << 24) | ((f as u32) << 12) | r as u32
    }

    #[test]
    fn codes_as_openssl_1_1_packs_them() {
        // ASYNC_init_thread(1, 5) in 1.1.1w: ERR_peek_error() = 0x33065067.
        assert_eq!(packed(c"ASYNC_init_thread", 103), 0x3306_5067);
        // ASYNC_start_job with args and size 0: malloc failure, 0x33069041.
        assert_eq!(packed(c"ASYNC_start_job", ERR_R_MALLOC_FAILURE), 0x3306_9041);
        assert_eq!(packed(c"ASYNC_start_job", ERR_R_PASSED_NULL_PARAMETER), 0x3306_9043);
        assert_eq!(
            packed(c"ASYNC_get_wait_ctx", ERR_R_PASSED_INVALID_ARGUMENT),
            0x3300_0007
        );
        assert_eq!(
            packed(c"ASYNC_WAIT_CTX_get_fd", ERR_R_PASSED_NULL_PARAMETER),
            0x3300_0043
        );
        assert_eq!(packed(c"ASYNC_WAIT_CTX_set_wait_fd", ERR_R_MALLOC_FAILURE), 0x3306_a041);
        assert_eq!(
            packed(c"ASYNC_set_mem_functions", ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED),
            0x3300_0042
        );
        assert_eq!(packed(c"ASYNC_start_job", ERR_R_INTERNAL_ERROR), 0x3306_9044);
    }

    #[test]
    fn the_loader_counts_loaded_objects() {
        let before = objects_ever_loaded();
        assert!(before >= 1);
        assert!(objects_ever_loaded() >= before);
    }
}
