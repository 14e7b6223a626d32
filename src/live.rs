//! The live-figures file: with `RUSTASYNC_STATS=live` (or a directory in
//! `RUSTASYNC_STATS_DIR`) each thread's counters live in a shared mapping
//! of `/dev/shm/rustasync.<pid>` (or `DIR/rustasync.<pid>`), so that
//! `rustasync-stat` reads them while the program runs and the hot path
//! pays nothing for it: the counters are stored exactly where they would
//! be otherwise, the mapping being their home (layout in `live_format`).
//!
//! The file is created once, `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600,
//! and removed at exit by the process that created it. Nothing here takes
//! a lock: slots are claimed by compare-and-swap and ranges appended by
//! fetch-add, so `fork()` can never leave this module locked; a child gets
//! its own file, with the parent's figures as its start.

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use crate::live_format::{self as format, header, slot};
use crate::log::{self, Level};

/// The shared mapping, or null when live figures are off or failed.
static BASE: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());
/// The process whose file the mapping is (a forked child makes its own).
static OWNER: AtomicI32 = AtomicI32::new(0);
static DIR: OnceLock<CString> = OnceLock::new();

unsafe extern "C" {
    /// glibc's getenv that answers NULL in set-user-id and similar programs
    /// (the libc crate does not declare it).
    fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
}

/// Where the file goes: `RUSTASYNC_STATS_DIR` if set (read with
/// `secure_getenv`, so a set-user-id program ignores it), else `/dev/shm`.
pub fn directory_from_environment() -> Option<CString> {
    // SAFETY: a NUL-terminated name; the result, if any, is a C string we
    // copy at once.
    let value = unsafe { secure_getenv(c"RUSTASYNC_STATS_DIR".as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: secure_getenv returned a NUL-terminated string.
    let dir = unsafe { CStr::from_ptr(value) };
    (!dir.is_empty()).then(|| dir.to_owned())
}

/// Creates the file and maps it, once per process; false when that failed
/// (the reason is logged) and the counters stay private.
pub fn start(dir: CString) -> bool {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = DIR.get_or_init(|| dir);
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let Some(fd) = create_file(dir, pid) else {
            return;
        };
        // SAFETY: a new shared mapping of the file we just sized; the
        // descriptor can be closed once it is mapped.
        let base = unsafe {
            let base = libc::mmap(
                ptr::null_mut(),
                format::FILE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::close(fd);
            base
        };
        if base == libc::MAP_FAILED {
            log::emit(
                Level::Warn,
                format_args!("RUSTASYNC_STATS=live: cannot map the file: {}", last_error()),
            );
            remove_file(pid);
            return;
        }
        let base = base.cast::<u8>();
        let word = |i: usize| word_at(base, i);
        word(header::VERSION).store(format::VERSION, Ordering::Relaxed);
        word(header::PID).store(pid as u64, Ordering::Relaxed);
        word(header::SLOTS).store(format::SLOTS as u64, Ordering::Relaxed);
        slot_word(base, 0, slot::KIND).store(format::KIND_EXITED, Ordering::Relaxed);
        word(header::MAGIC).store(format::MAGIC, Ordering::Release);
        OWNER.store(pid, Ordering::Relaxed);
        BASE.store(base, Ordering::Release);
        // SAFETY: plain extern "C" functions that live as long as the library.
        unsafe {
            libc::atexit(remove_at_exit);
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
    !BASE.load(Ordering::Acquire).is_null()
}

/// Opens `DIR/rustasync.PID` as a new file of the right size. A file of
/// that name that we own and is a regular file can only be left by a dead
/// process with our pid: it is replaced once.
fn create_file(dir: &CStr, pid: libc::pid_t) -> Option<libc::c_int> {
    let path = path_for(dir, pid)?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    for attempt in 0..2 {
        // SAFETY: a NUL-terminated path; mode as the third argument.
        let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
        if fd >= 0 {
            // SAFETY: our descriptor, sized before it is mapped.
            if unsafe { libc::ftruncate(fd, format::FILE_BYTES as libc::off_t) } == 0 {
                return Some(fd);
            }
            log::emit(
                Level::Warn,
                format_args!("RUSTASYNC_STATS=live: cannot size {path:?}: {}", last_error()),
            );
            // SAFETY: ours to close and remove.
            unsafe {
                libc::close(fd);
                libc::unlink(path.as_ptr());
            }
            return None;
        }
        let error = std::io::Error::last_os_error();
        if attempt == 0 && error.raw_os_error() == Some(libc::EEXIST) && is_own_regular_file(&path) {
            // SAFETY: a NUL-terminated path.
            unsafe { libc::unlink(path.as_ptr()) };
            continue;
        }
        log::emit(
            Level::Warn,
            format_args!("RUSTASYNC_STATS=live: cannot create {path:?}: {error}"),
        );
        return None;
    }
    None
}

fn is_own_regular_file(path: &CStr) -> bool {
    // SAFETY: an all-zero stat is a valid out-buffer; the path is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; lstat does not follow a symlink.
    let ok = unsafe { libc::lstat(path.as_ptr(), &mut st) } == 0;
    // SAFETY: geteuid has no preconditions.
    ok && st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_uid == unsafe { libc::geteuid() }
}

fn path_for(dir: &CStr, pid: libc::pid_t) -> Option<CString> {
    let mut path = dir.to_bytes().to_vec();
    path.extend_from_slice(format!("/{}{pid}", format::FILE_PREFIX).as_bytes());
    CString::new(path).ok()
}

fn remove_file(pid: libc::pid_t) {
    if let Some(path) = DIR.get().and_then(|dir| path_for(dir, pid)) {
        // SAFETY: a NUL-terminated path.
        unsafe { libc::unlink(path.as_ptr()) };
    }
}

extern "C" fn remove_at_exit() {
    let owner = OWNER.load(Ordering::Relaxed);
    // SAFETY: getpid has no preconditions.
    if owner != 0 && owner == unsafe { libc::getpid() } {
        remove_file(owner);
    }
}

/// After `fork()`, in the child: the mapping is the parent's file, so the
/// child would count into the parent's figures. It gets its own file,
/// holding a copy of them, mapped at the same address so that every
/// counter pointer stays valid; failing that, a private copy.
extern "C" fn in_child() {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() {
        return;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let moved = DIR.get().and_then(|dir| create_file(dir, pid)).is_some_and(|fd| {
        // SAFETY: `base` maps FILE_BYTES readable bytes; the new mapping
        // replaces the old one at the same address, holding the same bytes.
        unsafe {
            let written = libc::write(fd, base.cast(), format::FILE_BYTES);
            let ok = written == format::FILE_BYTES as isize
                && libc::mmap(
                    base.cast(),
                    format::FILE_BYTES,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    fd,
                    0,
                ) != libc::MAP_FAILED;
            libc::close(fd);
            if !ok {
                remove_file(pid);
            }
            ok
        }
    });
    if moved {
        word_at(base, header::PID).store(pid as u64, Ordering::Relaxed);
        OWNER.store(pid, Ordering::Relaxed);
        return;
    }
    OWNER.store(0, Ordering::Relaxed);
    // SAFETY: a fresh private mapping gets a copy of the shared one and
    // then replaces it at the same address.
    unsafe {
        let copy = libc::mmap(
            ptr::null_mut(),
            format::FILE_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if copy != libc::MAP_FAILED {
            ptr::copy_nonoverlapping(base, copy.cast::<u8>(), format::FILE_BYTES);
            libc::mremap(
                copy,
                format::FILE_BYTES,
                format::FILE_BYTES,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                base.cast::<libc::c_void>(),
            );
        }
    }
}

fn word_at(base: *mut u8, index: usize) -> &'static AtomicU64 {
    // SAFETY: callers pass indices inside the mapping, which is 8-byte
    // aligned and never unmapped.
    unsafe { &*base.add(index * 8).cast::<AtomicU64>() }
}

fn slot_word(base: *mut u8, slot_index: usize, word: usize) -> &'static AtomicU64 {
    word_at(
        base,
        (format::HEADER_BYTES + slot_index * format::SLOT_BYTES) / 8 + word,
    )
}

/// A zeroed slot marked as a live thread's, or None when the file is off
/// or full. Lock-free (see the module comment).
pub fn claim_slot() -> Option<*mut u8> {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    for index in 1..format::SLOTS {
        let kind = slot_word(base, index, slot::KIND);
        if kind
            .compare_exchange(
                format::KIND_FREE,
                format::KIND_THREAD,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            return Some(slot_word(base, index, 0).as_ptr().cast::<u8>());
        }
    }
    word_at(base, header::UNLISTED_THREADS).fetch_add(1, Ordering::Relaxed);
    None
}

/// Where threads that exited are summed, when the file is on.
pub fn exited_slot() -> Option<*mut u8> {
    let base = BASE.load(Ordering::Acquire);
    (!base.is_null()).then(|| slot_word(base, 0, 0).as_ptr().cast::<u8>())
}

/// Whether `p` is a slot of the file.
pub fn owns(p: *const u8) -> bool {
    let base = BASE.load(Ordering::Acquire) as usize;
    base != 0 && (p as usize).wrapping_sub(base + format::HEADER_BYTES) < format::SLOTS * format::SLOT_BYTES
}

/// Frees a slot from `claim_slot` (its thread has exited).
pub fn release_slot(p: *mut u8) {
    let words = p.cast::<AtomicU64>();
    for i in 1..format::SLOT_BYTES / 8 {
        // SAFETY: `p` is a slot of the mapping, SLOT_BYTES long and aligned.
        unsafe { &*words.add(i) }.store(0, Ordering::Relaxed);
    }
    // SAFETY: as above.
    unsafe { &*words }.store(format::KIND_FREE, Ordering::Release);
}

/// Records a range the library mapped, for `rustasync-stat`'s mapping and
/// resident-memory figures. Lock-free; a no-op when the file is off.
pub fn note_range(start: usize, length: usize) {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() {
        return;
    }
    let index = word_at(base, header::REGION_COUNT).fetch_add(1, Ordering::AcqRel) as usize;
    if index < format::MAX_REGIONS {
        word_at(base, header::REGIONS + 2 * index).store(start as u64, Ordering::Relaxed);
        word_at(base, header::REGIONS + 2 * index + 1).store((start + length) as u64, Ordering::Release);
    }
}

/// Sets a header word (the stack size, once known).
pub fn set_header(index: usize, value: u64) {
    let base = BASE.load(Ordering::Acquire);
    if !base.is_null() {
        word_at(base, index).store(value, Ordering::Relaxed);
    }
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}
