//! `ASYNC_WAIT_CTX`: the file descriptors a paused job waits on, with the
//! bookkeeping callers rely on to update their pollers, plus the callback and
//! status used instead of fds by callback-driven engines.
//!
//! The rules follow OpenSSL's: fds are listed newest first; the "changed"
//! lists report fds added and removed since the job last paused, and an fd
//! added and removed in the same window appears in neither; counts reset
//! when a paused job is resumed; clearing an fd never calls its cleanup,
//! freeing the context calls the cleanup of every fd not cleared.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;

use crate::ffi::ASYNC_WAIT_CTX;

/// `void (*cleanup)(ASYNC_WAIT_CTX *, const void *, OSSL_ASYNC_FD, void *)`.
pub type CleanupFn = unsafe extern "C" fn(*mut ASYNC_WAIT_CTX, *const c_void, c_int, *mut c_void);
/// `ASYNC_callback_fn`.
pub type CallbackFn = unsafe extern "C" fn(*mut c_void) -> c_int;

/// `ASYNC_STATUS_UNSUPPORTED`: what the status is before anyone sets it.
pub const STATUS_UNSUPPORTED: c_int = 0;

struct FdEntry {
    key: *const c_void,
    fd: c_int,
    custom_data: *mut c_void,
    cleanup: Option<CleanupFn>,
    /// Added since the job last paused.
    added: bool,
    /// Cleared since the job last paused; kept until then so the clear can
    /// be reported.
    deleted: bool,
}

/// Whether a job must reset its wait context's counts when it resumes.
///
/// OpenSSL resets them at every resume, which touches the context's memory
/// even when nothing changed; with thousands of paused jobs that is a cache
/// and TLB miss per resume. The context instead marks the job using it when
/// something changes, and the job skips the reset while it is `Clean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resync {
    Clean,
    Dirty,
    /// The context is shared by jobs running at the same time: it cannot
    /// mark them all, so they reset at every resume, as OpenSSL does.
    Always,
}

/// Field order is free: C sees only an opaque pointer.
pub struct WaitCtx {
    /// Oldest first; every listing walks it backwards.
    fds: Vec<FdEntry>,
    added: usize,
    deleted: usize,
    callback: Option<CallbackFn>,
    callback_arg: *mut c_void,
    status: c_int,
    /// The resync flag of the job started with this context and not yet
    /// finished. It lives in the job arena, which is never unmapped.
    user: *const Cell<Resync>,
    /// Set once two unfinished jobs have used the context at the same time.
    shared: bool,
}

/// A key-value listing for the fds a caller asked for.
pub struct ChangedFds {
    pub added: Vec<c_int>,
    pub deleted: Vec<c_int>,
}

impl Default for WaitCtx {
    fn default() -> Self {
        WaitCtx {
            fds: Vec::new(),
            added: 0,
            deleted: 0,
            callback: None,
            callback_arg: std::ptr::null_mut(),
            status: STATUS_UNSUPPORTED,
            user: ptr::null(),
            shared: false,
        }
    }
}

impl WaitCtx {
    /// A job starts with this context: it must reset the counts at its first
    /// resume, and changes from now on are reported to its flag.
    pub fn attach(&mut self, flag: &Cell<Resync>) {
        // SAFETY: `user` is null or a flag in the job arena, always mapped.
        if let Some(other) = unsafe { self.user.as_ref() }
            && !ptr::eq(other, flag)
        {
            other.set(Resync::Always);
            self.shared = true;
        }
        flag.set(if self.shared { Resync::Always } else { Resync::Dirty });
        self.user = flag;
    }

    /// The job that attached with `flag` finished.
    pub fn detach(&mut self, flag: &Cell<Resync>) {
        if ptr::eq(self.user, flag) {
            self.user = ptr::null();
        }
    }

    fn note_change(&self) {
        // SAFETY: as in `attach`.
        if let Some(flag) = unsafe { self.user.as_ref() }
            && flag.get() == Resync::Clean
        {
            flag.set(Resync::Dirty);
        }
    }

    /// Registers `fd` under `key`. As in OpenSSL a key may be used twice;
    /// lookups then find the newer entry.
    pub fn set_wait_fd(
        &mut self,
        key: *const c_void,
        fd: c_int,
        custom_data: *mut c_void,
        cleanup: Option<CleanupFn>,
    ) -> bool {
        if self.fds.try_reserve(1).is_err() {
            return false;
        }
        self.note_change();
        self.fds.push(FdEntry {
            key,
            fd,
            custom_data,
            cleanup,
            added: true,
            deleted: false,
        });
        self.added += 1;
        true
    }

    fn live(&self) -> impl Iterator<Item = &FdEntry> {
        self.fds.iter().rev().filter(|e| !e.deleted)
    }

    pub fn fd(&self, key: *const c_void) -> Option<(c_int, *mut c_void)> {
        self.live().find(|e| e.key == key).map(|e| (e.fd, e.custom_data))
    }

    /// Live fds, newest first.
    pub fn all_fds(&self) -> impl Iterator<Item = c_int> + '_ {
        self.live().map(|e| e.fd)
    }

    pub fn changed_counts(&self) -> (usize, usize) {
        (self.added, self.deleted)
    }

    /// Added and deleted fds, newest first, leaving out those both added and
    /// deleted since the last pause.
    pub fn changed_fds(&self) -> ChangedFds {
        let mut changed = ChangedFds {
            added: Vec::new(),
            deleted: Vec::new(),
        };
        for e in self.fds.iter().rev() {
            match (e.added, e.deleted) {
                (true, false) => changed.added.push(e.fd),
                (false, true) => changed.deleted.push(e.fd),
                _ => {}
            }
        }
        changed
    }

    /// Removes the fd registered under `key`; the caller does any cleanup.
    pub fn clear_fd(&mut self, key: *const c_void) -> bool {
        let Some(at) = self.fds.iter().rposition(|e| !e.deleted && e.key == key) else {
            return false;
        };
        self.note_change();
        if self.fds[at].added {
            // Never reported: forget it outright.
            self.fds.remove(at);
            self.added -= 1;
        } else {
            self.fds[at].deleted = true;
            self.deleted += 1;
        }
        true
    }

    /// Called when the job using this context resumes after a pause.
    pub fn reset_counts(&mut self) {
        // Added entries number `added` and cleared ones `deleted`, so when
        // both are zero there is nothing to forget or unmark.
        if self.added == 0 && self.deleted == 0 {
            return;
        }
        self.added = 0;
        self.deleted = 0;
        self.fds.retain(|e| !e.deleted);
        for e in &mut self.fds {
            e.added = false;
        }
    }

    pub fn set_callback(&mut self, callback: Option<CallbackFn>, arg: *mut c_void) {
        self.callback = callback;
        self.callback_arg = arg;
    }

    pub fn callback(&self) -> Option<(CallbackFn, *mut c_void)> {
        self.callback.map(|f| (f, self.callback_arg))
    }

    pub fn set_status(&mut self, status: c_int) {
        self.status = status;
    }

    pub fn status(&self) -> c_int {
        self.status
    }

    /// Takes out the entries whose cleanup must run when the context is
    /// freed: every fd not cleared, newest first.
    pub fn take_cleanups(&mut self) -> Vec<(CleanupFn, *const c_void, c_int, *mut c_void)> {
        std::mem::take(&mut self.fds)
            .into_iter()
            .rev()
            .filter(|e| !e.deleted)
            .filter_map(|e| e.cleanup.map(|f| (f, e.key, e.fd, e.custom_data)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> *const c_void {
        n as *const c_void
    }

    #[test]
    fn fds_are_listed_newest_first() {
        let mut w = WaitCtx::default();
        w.set_wait_fd(key(1), 10, std::ptr::null_mut(), None);
        w.set_wait_fd(key(2), 20, std::ptr::null_mut(), None);
        assert_eq!(w.all_fds().collect::<Vec<_>>(), vec![20, 10]);
        assert_eq!(w.fd(key(1)).map(|f| f.0), Some(10));
        assert_eq!(w.fd(key(3)), None);
    }

    #[test]
    fn add_then_clear_in_one_window_is_invisible() {
        let mut w = WaitCtx::default();
        w.set_wait_fd(key(1), 10, std::ptr::null_mut(), None);
        assert!(w.clear_fd(key(1)));
        assert_eq!(w.changed_counts(), (0, 0));
        assert!(!w.clear_fd(key(1)));
    }

    #[test]
    fn clears_after_a_pause_are_reported_then_dropped() {
        let mut w = WaitCtx::default();
        w.set_wait_fd(key(1), 10, std::ptr::null_mut(), None);
        w.set_wait_fd(key(2), 20, std::ptr::null_mut(), None);
        assert_eq!(w.changed_fds().added, vec![20, 10]);
        w.reset_counts();
        assert_eq!(w.changed_counts(), (0, 0));
        assert!(w.clear_fd(key(1)));
        w.set_wait_fd(key(3), 30, std::ptr::null_mut(), None);
        let changed = w.changed_fds();
        assert_eq!((changed.added, changed.deleted), (vec![30], vec![10]));
        assert_eq!(w.all_fds().collect::<Vec<_>>(), vec![30, 20]);
        w.reset_counts();
        assert_eq!(w.changed_counts(), (0, 0));
        assert_eq!(w.fds.len(), 2);
    }

    #[test]
    fn changes_mark_the_attached_job_and_sharing_resets_always() {
        let (first, second) = (Cell::new(Resync::Clean), Cell::new(Resync::Clean));
        let mut w = WaitCtx::default();
        w.attach(&first);
        assert_eq!(first.get(), Resync::Dirty);
        first.set(Resync::Clean);
        w.set_wait_fd(key(1), 10, std::ptr::null_mut(), None);
        assert_eq!(first.get(), Resync::Dirty);
        first.set(Resync::Clean);
        w.clear_fd(key(9));
        assert_eq!(first.get(), Resync::Clean, "a clear that finds nothing changes nothing");
        w.attach(&second);
        assert_eq!((first.get(), second.get()), (Resync::Always, Resync::Always));
        w.detach(&second);
        let third = Cell::new(Resync::Clean);
        w.attach(&third);
        assert_eq!(third.get(), Resync::Always, "once shared, always reset");
    }

    #[test]
    fn status_defaults_to_unsupported_and_callback_to_none() {
        let w = WaitCtx::default();
        assert_eq!(w.status(), STATUS_UNSUPPORTED);
        assert!(w.callback().is_none());
    }
}
