//! A thread's job pool, and every job the thread owns, so that none is lost
//! when the pool is cleaned up or the thread exits.
//!
//! OpenSSL keeps the same per-thread pool: `ASYNC_init_thread(max, init)`
//! sets its limit and pre-creates jobs, finished jobs return to it and are
//! reused last-in-first-out, and `ASYNC_NO_JOBS` means the limit is reached.
//! Unlike OpenSSL, jobs still paused when their pool is cleaned up, or when
//! their thread exits, are freed instead of leaked.
//!
//! A pool lives inside its thread's state (`thread`) and is used by that
//! thread alone; its address is the owner word of its jobs. Idle jobs that
//! went unused for a while are given back to the kernel (`trim`) while the
//! pool goes on counting them.

use std::cell::{Cell, UnsafeCell};
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::ptr;

use crate::job::{JOBS, Job, State};
use crate::log::{self, Level};
use crate::stats::{self, ThreadCounters};
use crate::trim::Trimmer;

/// Every job of the thread, and whether it counts against the pool's limit
/// (the busy jobs of a pool that was cleaned up or replaced no longer count
/// against any). A B-tree rather than a hash table: its nodes are pointed
/// to from their start, so leak checkers see the memory of a thread that
/// never exits (the main thread) as reachable, and it is walked in address
/// order.
type Owned = BTreeMap<*mut Job, bool>;

#[derive(Clone, Copy)]
struct Limits {
    /// 0 means unlimited.
    max: usize,
    /// Jobs created for this pool and not yet freed, retired ones included.
    size: usize,
    /// Idle jobs given back to the kernel (see `trim`): counted in `size`,
    /// as OpenSSL's idle jobs are, and made again when no idle one is left.
    retired: usize,
    /// The jobs `ASYNC_init_thread` asked to have ready: never retired.
    keep: usize,
}

/// The counts each method keeps up to date are the thread's `counters`.
pub struct Pool {
    /// The kernel's id of the owning thread, for debuggers (which find a
    /// job's thread through its owner word, this pool's address).
    tid: libc::pid_t,
    /// `None` until `ASYNC_init_thread` (or first use) and after cleanup.
    limits: Cell<Option<Limits>>,
    /// Idle jobs, the most recently finished last.
    idle: UnsafeCell<Vec<&'static Job>>,
    /// Every job this thread created and has not freed, in any state.
    owned: UnsafeCell<Owned>,
    /// When idle jobs that went unused are given back.
    trim: Trimmer,
}

/// Where a `Pool`, a job's owner, keeps its thread's kernel id (see
/// `introspect`).
pub const TID_OFFSET: usize = std::mem::offset_of!(Pool, tid);

impl Pool {
    pub fn new(tid: libc::pid_t) -> Pool {
        Pool {
            tid,
            trim: Trimmer::new(),
            limits: Cell::new(None),
            idle: UnsafeCell::new(Vec::new()),
            owned: UnsafeCell::new(BTreeMap::new()),
        }
    }

    /// What this pool's jobs carry as their owner.
    fn owner_word(&self) -> *const c_void {
        ptr::from_ref(self).cast()
    }

    /// Whether `job` was made by this pool (any thread may ask).
    pub fn owns(&self, job: &Job) -> bool {
        job.owner() == self.owner_word()
    }

    fn with_idle<R>(&self, counters: &ThreadCounters, f: impl FnOnce(&mut Vec<&'static Job>) -> R) -> R {
        // SAFETY: only the owning thread reaches its pool, and no caller of
        // with_idle runs job code or re-enters while the borrow lives.
        let idle = unsafe { &mut *self.idle.get() };
        let result = f(idle);
        self.after_idle_change(idle.len(), counters);
        result
    }

    /// After every change of the idle list, with its new length: the idle
    /// count, and the trimming countdown. (The length is passed, read once:
    /// the counter's store could alias it for the compiler.)
    #[inline(always)]
    fn after_idle_change(&self, len: usize, counters: &ThreadCounters) {
        if self.count_idle_change(len, counters) {
            self.look_for_cold_jobs(len, counters);
        }
    }

    /// `after_idle_change` short of the look: whether the trimmer is to
    /// look now, for callers that cannot make the call themselves.
    #[inline(always)]
    fn count_idle_change(&self, len: usize, counters: &ThreadCounters) -> bool {
        stats::set(&counters.idle, len as u64);
        self.trim.after_change(len)
    }

    /// Out of line, so that the idle-list helpers stay small on the hot path.
    #[cold]
    #[inline(never)]
    fn look_for_cold_jobs(&self, len: usize, counters: &ThreadCounters) {
        let count = self.trim.look(len);
        if count > 0 {
            self.retire_coldest(count, counters);
        }
    }

    /// Frees the `count` idle jobs at the bottom of the pool (the ones unused
    /// longest), giving their memory back to the kernel, while the pool goes
    /// on counting them; `take_job` makes them again when it runs out. Jobs
    /// of an earlier pool, which this one does not count, and as many as
    /// `ASYNC_init_thread` asked to have ready, are kept.
    #[cold]
    fn retire_coldest(&self, count: usize, counters: &ThreadCounters) {
        let Some(limits) = self.limits.get() else {
            return;
        };
        let cold: Vec<&'static Job> = self.with_idle(counters, |idle| {
            idle.drain(..count.min(idle.len().saturating_sub(limits.keep)))
                .collect()
        });
        if cold.is_empty() {
            return;
        }
        let mut kept = Vec::new();
        let mut retired = 0;
        for job in cold {
            // A job made ahead and never run starts with the floating-point
            // environment of its making, as OpenSSL's does: one made again
            // would start with its starter's. An earlier pool's job sitting
            // above it on the list can leave it in the drained range.
            if job.is_fresh() || !self.with_owned(|owned| owned.get(&job.as_handle()) == Some(&true)) {
                kept.push(job);
                continue;
            }
            self.disown(job);
            stats::bump(&counters.destroyed);
            job.retire();
            retired += 1;
        }
        if !kept.is_empty() {
            self.with_idle(counters, |idle| drop(idle.splice(0..0, kept)));
        }
        if let Some(mut limits) = self.limits.get() {
            limits.size += retired;
            limits.retired += retired;
            self.limits.set(Some(limits));
        }
        log::emit(
            Level::Debug,
            format_args!("gave back {retired} idle job(s) unused for a while; the pool still counts them"),
        );
        JOBS.discard_free_pages();
    }

    fn with_owned<R>(&self, f: impl FnOnce(&mut Owned) -> R) -> R {
        // SAFETY: as in with_idle.
        f(unsafe { &mut *self.owned.get() })
    }

    /// `ASYNC_init_thread`: a new pool with limit `max` (0 = none) and `init`
    /// jobs made now. A previous pool's idle jobs are freed; its busy ones
    /// finish normally and then join the new pool, outside its count.
    pub fn init(&self, max: usize, init: usize, counters: &ThreadCounters) -> bool {
        if init > max {
            return false;
        }
        self.drop_pool(counters);
        log::emit(
            Level::Debug,
            format_args!("ASYNC_init_thread: pool of at most {max} jobs (0: no limit), {init} made now"),
        );
        self.limits.set(Some(Limits {
            max,
            size: 0,
            retired: 0,
            keep: init,
        }));
        for _ in 0..init {
            // As in OpenSSL, running short of memory here only means fewer
            // jobs are made ahead of time.
            let Some(job) = self.create_job(counters) else {
                break;
            };
            self.with_idle(counters, |idle| idle.push(job));
        }
        true
    }

    /// Frees the idle jobs; busy ones stop counting against any limit.
    pub fn drop_pool(&self, counters: &ThreadCounters) {
        if self.limits.take().is_none() {
            return;
        }
        let idle = self.with_idle(counters, std::mem::take);
        for job in idle {
            self.disown(job);
            self.destroy(job, counters);
        }
        self.with_owned(|owned| owned.values_mut().for_each(|counted| *counted = false));
    }

    fn create_job(&self, counters: &ThreadCounters) -> Option<&'static Job> {
        let job = Job::create(self.owner_word())?;
        self.with_owned(|owned| owned.insert(job.as_handle(), true));
        stats::bump(&counters.created);
        if let Some(mut limits) = self.limits.get() {
            limits.size += 1;
            self.limits.set(Some(limits));
        }
        Some(job)
    }

    /// Frees a job this thread created, keeping the counts right.
    fn destroy(&self, job: &Job, counters: &ThreadCounters) {
        if job.state() == State::Paused {
            stats::drop_one(&counters.paused_now);
        }
        stats::bump(&counters.destroyed);
        job.destroy();
    }

    /// Removes a job from the owned list before it is destroyed. Kept out
    /// of line: `give_back` reaches it only when the pool cannot keep a job.
    #[inline(never)]
    fn disown(&self, job: &Job) {
        let counted = self.with_owned(|owned| owned.remove(&job.as_handle()));
        if counted == Some(true)
            && let Some(mut limits) = self.limits.get()
        {
            limits.size = limits.size.saturating_sub(1);
            self.limits.set(Some(limits));
        }
    }

    /// An idle job from the pool, or a new one within its limit.
    pub fn take_job(&self, counters: &ThreadCounters) -> Option<&'static Job> {
        if self.limits.get().is_none() {
            // First use without ASYNC_init_thread behaves as (0, 0).
            self.init(0, 0, counters);
        }
        if let Some((job, looks)) = self.take_idle(counters) {
            if looks {
                // SAFETY: as in with_idle.
                self.look_for_cold_jobs(unsafe { &*self.idle.get() }.len(), counters);
            }
            return Some(job);
        }
        // An empty list counts as a change too, as it always has.
        self.after_idle_change(0, counters);
        let limits = self.limits.get()?;
        if limits.retired > 0 {
            // Made again in place of a retired idle job: the count stays.
            let mut limits = limits;
            limits.size -= 1;
            limits.retired -= 1;
            self.limits.set(Some(limits));
            let job = self.create_job(counters);
            if job.is_none()
                && let Some(mut limits) = self.limits.get()
            {
                limits.size += 1;
                limits.retired += 1;
                self.limits.set(Some(limits));
            }
            return job;
        }
        if limits.max != 0 && limits.size >= limits.max {
            stats::bump(&counters.no_jobs);
            log::emit(
                Level::Debug,
                format_args!("ASYNC_start_job: pool of {} jobs exhausted; ASYNC_NO_JOBS", limits.max),
            );
            return None;
        }
        self.create_job(counters)
    }

    /// The job `take_job` would hand out next when that takes only loads and
    /// stores: an idle one is left and the change does not make the trimmer
    /// look. None otherwise, for `take_job`.
    #[inline(always)]
    pub fn next_idle_quick(&self) -> Option<&'static Job> {
        // SAFETY: as in with_idle.
        let idle = unsafe { &*self.idle.get() };
        if self.trim.next_change_looks() {
            return None;
        }
        idle.last().copied()
    }

    /// Takes the top idle job, if any, and counts the change; the second
    /// value says whether the trimmer is to look now (`look_for_cold_jobs`),
    /// which is left to the caller: a call here would cost the quick start,
    /// which asked `next_idle_quick` first, a stack frame.
    #[inline(always)]
    pub fn take_idle(&self, counters: &ThreadCounters) -> Option<(&'static Job, bool)> {
        // SAFETY: as in with_idle.
        let idle = unsafe { &mut *self.idle.get() };
        let job = idle.pop()?;
        Some((job, self.count_idle_change(idle.len(), counters)))
    }

    /// Whether `give_back_quick` can take a job: the pool has its limits,
    /// room on the idle list, and the change does not make the trimmer look.
    #[inline(always)]
    pub fn can_give_back_quick(&self) -> bool {
        // SAFETY: as in with_idle.
        let idle = unsafe { &*self.idle.get() };
        self.limits.get().is_some() && idle.len() < idle.capacity() && !self.trim.next_change_looks()
    }

    /// `give_back` to a pool with its limits and room on the idle list, in
    /// loads and stores; returns whether the trimmer is to look now, left to
    /// the caller as in `take_idle`.
    ///
    /// # Safety
    /// The idle list must have room for one more job.
    #[inline(always)]
    pub unsafe fn give_back_quick(&self, job: &'static Job, counters: &ThreadCounters) -> bool {
        // SAFETY: as in with_idle.
        let idle = unsafe { &mut *self.idle.get() };
        let len = idle.len();
        debug_assert!(len < idle.capacity(), "the caller made room");
        // SAFETY: within the capacity (the caller's contract); the slot is
        // written before the length covers it. (Not `push`, whose growth is
        // a call.)
        unsafe {
            idle.as_mut_ptr().add(len).write(job);
            idle.set_len(len + 1);
        }
        stats::set(&counters.idle, (len + 1) as u64);
        // with_idle's bookkeeping, less the low-water mark, which a longer
        // list leaves where it was.
        self.trim.after_growth()
    }

    /// Returns a finished job to the pool. As in OpenSSL this is whatever
    /// pool the thread has now, even for a job of an earlier pool (which the
    /// new pool then reuses without counting it); with no pool it is freed.
    #[inline(always)]
    pub fn give_back(&self, job: &'static Job, counters: &ThreadCounters) {
        if self.limits.get().is_some() {
            // SAFETY: as in with_idle.
            let idle = unsafe { &mut *self.idle.get() };
            if idle.try_reserve(1).is_ok() {
                // SAFETY: room was just made.
                if unsafe { self.give_back_quick(job, counters) } {
                    self.look_for_cold_jobs(idle.len(), counters);
                }
                return;
            }
        }
        self.disown(job);
        self.destroy(job, counters);
    }

    /// Whether `handle` is a job of this pool paused.
    pub fn resumable(&self, handle: *mut Job) -> Option<&'static Job> {
        let job = Job::from_handle(handle)?;
        (job.state() == State::Paused && self.owns(job)).then_some(job)
    }

    /// Frees every job this thread owns except those running right now (the
    /// thread may be exiting from inside one of them). Returns whether any
    /// is left.
    pub fn free_all_jobs(&self, counters: &ThreadCounters) -> bool {
        let owned = self.with_owned(std::mem::take);
        self.with_idle(counters, Vec::clear);
        let mut kept = BTreeMap::new();
        let mut paused = 0usize;
        for (handle, counted) in owned {
            let Some(job) = Job::from_handle(handle) else {
                continue;
            };
            match job.state() {
                State::Running => {
                    kept.insert(handle, counted);
                }
                state => {
                    paused += usize::from(state == State::Paused);
                    self.destroy(job, counters);
                }
            }
        }
        if paused > 0 {
            log::emit(
                Level::Info,
                format_args!("thread exited with {paused} paused job(s); they were freed"),
            );
        }
        if !kept.is_empty() {
            log::emit(
                Level::Warn,
                format_args!(
                    "thread exited inside {} running job(s); their stacks are leaked",
                    kept.len()
                ),
            );
        }
        let left = !kept.is_empty();
        self.with_owned(|owned| *owned = kept);
        left
    }

    /// Measures the stacks of the jobs that are not running (idle or
    /// paused), for a stats report.
    pub fn scan_stacks(&self) {
        self.with_owned(|owned| {
            for &handle in owned.keys() {
                if let Some(job) = Job::from_handle(handle)
                    && job.state() != State::Running
                {
                    job.scan_stack();
                }
            }
        });
    }
}
