//! `ASYNC_WAIT_CTX`: the file descriptors a paused job waits on, with the
//! bookkeeping callers rely on to update their pollers, plus the callback and
//! status used instead of fds by callback-driven engines.
//!
//! The rules follow OpenSSL's: fds are listed newest first; the "changed"
//! lists report fds added and removed since the job last paused, and an fd
//! added and removed in the same window appears in neither; counts reset
//! when a paused job is resumed; clearing an fd never calls its cleanup,
//! freeing the context calls the cleanup of every fd not cleared.
//!
//! Freeing (`begin_teardown`, `next_cleanup`, `cleanup_done`,
//! `end_teardown`) runs the cleanups newest first, as OpenSSL walks its
//! list, with the context intact around each call: a cleanup may query
//! the context and clear other fds (`clear_fd` returns 1 and that fd's
//! cleanup is skipped). An fd whose cleanup has run is gone from the
//! context; one added by a cleanup is kept out of the teardown (OpenSSL
//! never cleans it up either).
//!
//! Every job started with a context is linked to it (`Attachment`, in the
//! job's control block), so that freeing the context while a job that uses
//! it is paused detaches the job (it goes on with no wait context) instead
//! of leaving it a dangling pointer, and a job freed while attached unlinks
//! itself. The jobs are detached after the cleanups have run: while they
//! run, a job started with the context still has it (as in OpenSSL), and a
//! job a cleanup starts with it is detached too.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::ctypes::{ASYNC_callback_fn, ASYNC_cleanup_fn, Set};

/// `ASYNC_STATUS_UNSUPPORTED`: what the status is before anyone sets it.
pub const STATUS_UNSUPPORTED: c_int = 0;

struct FdEntry {
    key: *const c_void,
    fd: c_int,
    custom_data: *mut c_void,
    cleanup: ASYNC_cleanup_fn,
    /// Added since the job last paused.
    added: bool,
    /// Cleared since the job last paused; kept until then so the clear can
    /// be reported.
    deleted: bool,
    /// Present when the context began to be freed: its cleanup is due.
    doomed: bool,
    /// Its cleanup is running right now.
    cleaning: bool,
}

/// A job's link to the wait context it was started with, kept in the job's
/// control block (the job arena is never unmapped). The first two fields
/// are read on every pause; the links only when a job starts or finishes.
#[repr(C)]
pub struct Attachment {
    /// Atomic because `ASYNC_get_wait_ctx` may read it from a thread that
    /// does not own the job: offload engines such as Intel's QAT engine
    /// call it from their polling thread to find the fd that wakes a
    /// paused job. Only the owning thread writes it (or a thread freeing
    /// the context, which no other thread may use meanwhile), so a load and
    /// a store stand in for read-modify-write operations, which are locked
    /// instructions on x86-64. `Relaxed` suffices: a reader needs only an
    /// untorn value, and whatever it then does with the context is ordered
    /// by whatever handed it the job.
    ctx: AtomicPtr<WaitCtx>,
    /// Whether the context's counts need resetting at the next resume.
    resync: Cell<Resync>,
    prev: Cell<*const Attachment>,
    next: Cell<*const Attachment>,
}

/// Where in an `Attachment` the context pointer is (for debuggers).
pub const ATTACHMENT_CTX_OFFSET: usize = std::mem::offset_of!(Attachment, ctx);

impl Default for Attachment {
    fn default() -> Self {
        Attachment {
            ctx: AtomicPtr::new(ptr::null_mut()),
            resync: Cell::new(Resync::Clean),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
        }
    }
}

impl Attachment {
    /// The context the job uses, or null. Any thread may ask (see `ctx`).
    pub fn ctx(&self) -> *mut WaitCtx {
        self.ctx.load(Ordering::Relaxed)
    }

    /// Called when the job resumes: resets the context's counts if anything
    /// changed since it paused (or always, for a shared context).
    #[inline(always)]
    pub fn resync_on_resume(&self) {
        if self.resync.get() != Resync::Clean {
            self.resync_now();
        }
    }

    /// `resync_on_resume`'s reset, out of line: kept inline it is a loop
    /// whose registers `ASYNC_pause_job` would save and restore on every
    /// pause, reset or not. (Not `#[cold]`: under libssl a job whose engine
    /// changed its fds resumes through here.)
    #[inline(never)]
    fn resync_now(&self) {
        let resync = self.resync.get();
        // SAFETY: a non-null context is live: freeing it detaches this job.
        if let Some(ctx) = unsafe { self.ctx().as_mut() } {
            ctx.reset_counts();
        }
        if resync == Resync::Dirty {
            self.resync.set(Resync::Clean);
        }
    }

    /// Links the job to `ctx` (null: none) when it starts. The job must not
    /// be attached.
    ///
    /// # Safety
    /// A non-null `ctx` must be a live context; `self` must stay mapped
    /// until it is detached (the job arena is never unmapped).
    #[inline(always)]
    pub unsafe fn attach(&self, ctx: *mut WaitCtx) {
        self.ctx.store(ctx, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        let Some(ctx) = (unsafe { ctx.as_mut() }) else {
            return;
        };
        // Read once: the stores below could alias it for the compiler.
        let users = ctx.users;
        // SAFETY: attached users are live attachments (they unlink before
        // they go away).
        if let Some(first) = unsafe { users.as_ref() } {
            // Jobs running at the same time on one context: it cannot mark
            // them all, so they reset at every resume, as OpenSSL does.
            ctx.shared = true;
            let mut user = Some(first);
            while let Some(u) = user {
                u.resync.set(Resync::Always);
                // SAFETY: as above.
                user = unsafe { u.next.get().as_ref() };
            }
            first.prev.set(self);
        }
        self.resync.set(if ctx.shared { Resync::Always } else { Resync::Dirty });
        self.prev.set(ptr::null());
        self.next.set(users);
        ctx.users = self;
    }

    /// Unlinks the job from its context, if it has one (it finished, or is
    /// being freed).
    pub fn detach(&self) {
        let ctx = self.ctx();
        // SAFETY: a non-null context is live: freeing it detaches this job.
        if let Some(ctx) = unsafe { ctx.as_mut() } {
            self.ctx.store(ptr::null_mut(), Ordering::Relaxed);
            self.unlink(ctx);
        }
    }

    fn unlink(&self, ctx: &mut WaitCtx) {
        // Left as they are: they are read only while attached, and `attach`
        // sets both.
        let (prev, next) = (self.prev.get(), self.next.get());
        // SAFETY: neighbours are live attachments of the same context.
        unsafe {
            match prev.as_ref() {
                Some(p) => p.next.set(next),
                None => ctx.users = next,
            }
            if let Some(n) = next.as_ref() {
                n.prev.set(prev);
            }
        }
    }
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
    callback: ASYNC_callback_fn,
    callback_arg: *mut c_void,
    status: c_int,
    /// The jobs started with this context and not yet finished, newest
    /// first. They live in the job arena, which is never unmapped.
    users: *const Attachment,
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
            users: ptr::null(),
            shared: false,
        }
    }
}

impl WaitCtx {
    fn note_change(&self) {
        // With one user the list has one entry; shared users reset always.
        // SAFETY: attached users are live attachments.
        if let Some(user) = unsafe { self.users.as_ref() }
            && user.resync.get() == Resync::Clean
        {
            user.resync.set(Resync::Dirty);
        }
    }

    /// Registers `fd` under `key`. As in OpenSSL a key may be used twice;
    /// lookups then find the newer entry.
    pub fn set_wait_fd(
        &mut self,
        key: *const c_void,
        fd: c_int,
        custom_data: *mut c_void,
        cleanup: ASYNC_cleanup_fn,
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
            doomed: false,
            cleaning: false,
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

    pub fn set_callback(&mut self, callback: ASYNC_callback_fn, arg: *mut c_void) {
        self.callback = callback;
        self.callback_arg = arg;
    }

    pub fn callback(&self) -> Option<(Set<ASYNC_callback_fn>, *mut c_void)> {
        self.callback.map(|f| (f, self.callback_arg))
    }

    pub fn set_status(&mut self, status: c_int) {
        self.status = status;
    }

    pub fn status(&self) -> c_int {
        self.status
    }

    /// The context is being freed: the fds present now are due for
    /// cleanup. Jobs started with it keep it until `end_teardown`, as in
    /// OpenSSL, where it is intact while the cleanups run.
    pub fn begin_teardown(&mut self) {
        for e in &mut self.fds {
            e.doomed = true;
        }
    }

    /// The cleanups have run and the context is about to go: every job
    /// still attached, including one a cleanup started with it, goes on
    /// without it.
    pub fn end_teardown(&mut self) {
        // SAFETY: attached users are live attachments.
        while let Some(user) = unsafe { self.users.as_ref() } {
            user.ctx.store(ptr::null_mut(), Ordering::Relaxed);
            user.resync.set(Resync::Clean);
            user.unlink(self);
        }
    }

    /// The next cleanup to run while the context is freed: the newest fd
    /// still due that was not cleared. The entry stays visible while its
    /// cleanup runs; `cleanup_done` removes it.
    pub fn next_cleanup(&mut self) -> Option<(Set<ASYNC_cleanup_fn>, *const c_void, c_int, *mut c_void)> {
        while let Some(at) = self.fds.iter().rposition(|e| e.doomed) {
            let e = &mut self.fds[at];
            match e.cleanup {
                Some(f) if !e.deleted => {
                    e.doomed = false;
                    e.cleaning = true;
                    return Some((f, e.key, e.fd, e.custom_data));
                }
                _ => {
                    self.forget(at);
                }
            }
        }
        None
    }

    /// The cleanup `next_cleanup` gave has returned: its fd is gone.
    pub fn cleanup_done(&mut self) {
        if let Some(at) = self.fds.iter().rposition(|e| e.cleaning) {
            self.forget(at);
        }
    }

    fn forget(&mut self, at: usize) {
        let e = self.fds.remove(at);
        match (e.added, e.deleted) {
            (true, false) => self.added -= 1,
            (false, true) => self.deleted -= 1,
            _ => {}
        }
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
        let (first, second, third) = (Attachment::default(), Attachment::default(), Attachment::default());
        let w: *mut WaitCtx = Box::into_raw(Box::default());
        // SAFETY: `w` is live until the end; the attachments outlive it.
        unsafe {
            first.attach(w);
            assert_eq!(first.resync.get(), Resync::Dirty);
            first.resync.set(Resync::Clean);
            (*w).set_wait_fd(key(1), 10, std::ptr::null_mut(), None);
            assert_eq!(first.resync.get(), Resync::Dirty);
            first.resync.set(Resync::Clean);
            (*w).clear_fd(key(9));
            assert_eq!(
                first.resync.get(),
                Resync::Clean,
                "a clear that finds nothing changes nothing"
            );
            second.attach(w);
            assert_eq!(
                (first.resync.get(), second.resync.get()),
                (Resync::Always, Resync::Always)
            );
            second.detach();
            assert!(second.ctx().is_null());
            third.attach(w);
            assert_eq!(third.resync.get(), Resync::Always, "once shared, always reset");
            // Freeing the context detaches whoever is still attached, once
            // the cleanups have run.
            (*w).begin_teardown();
            assert!(!first.ctx().is_null(), "attached while the cleanups run");
            (*w).end_teardown();
            assert!(first.ctx().is_null() && third.ctx().is_null());
            assert!((*w).users.is_null());
            drop(Box::from_raw(w));
        }
    }

    #[test]
    fn teardown_runs_cleanups_newest_first_with_the_context_intact() {
        unsafe extern "C" fn noop(_: *mut crate::ctypes::ASYNC_WAIT_CTX, _: *const c_void, _: c_int, _: *mut c_void) {}
        let mut w = WaitCtx::default();
        for n in 1..=3 {
            w.set_wait_fd(key(n), 10 * n as c_int, std::ptr::null_mut(), Some(noop));
        }
        w.set_wait_fd(key(4), 40, std::ptr::null_mut(), None);
        w.begin_teardown();
        let (_, k, fd, _) = w.next_cleanup().expect("fd 30 is due");
        assert_eq!((k, fd), (key(3), 30));
        // During the cleanup the context shows fd 30 and the older ones.
        assert_eq!(w.all_fds().collect::<Vec<_>>(), vec![30, 20, 10]);
        assert!(w.clear_fd(key(1)), "clearing another fd succeeds...");
        w.set_wait_fd(key(5), 50, std::ptr::null_mut(), Some(noop));
        w.cleanup_done();
        let (_, k, _, _) = w.next_cleanup().expect("fd 20 is due");
        assert_eq!(k, key(2));
        w.cleanup_done();
        assert!(
            w.next_cleanup().is_none(),
            "...and skips its cleanup; fd 50 came too late"
        );
    }

    #[test]
    fn status_defaults_to_unsupported_and_callback_to_none() {
        let w = WaitCtx::default();
        assert_eq!(w.status(), STATUS_UNSUPPORTED);
        assert!(w.callback().is_none());
    }
}
