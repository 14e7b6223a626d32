//! Per-thread state: the job pool, the job currently running, and every job
//! the thread owns, so that none is lost when the thread cleans up or exits.
//!
//! OpenSSL keeps the same per-thread pool: `ASYNC_init_thread(max, init)`
//! sets its limit and pre-creates jobs, finished jobs return to it and are
//! reused last-in-first-out, and `ASYNC_NO_JOBS` means the limit is reached.
//! Unlike OpenSSL, jobs still paused when their pool is cleaned up, or when
//! their thread exits, are freed instead of leaked.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::{Once, OnceLock};

use crate::arena::ArenaForkLock;
use crate::error::Error;
use crate::fibre::Yield;
use crate::job::{JOBS, Job, JobFn, State};

use crate::log::{self, Level};
use crate::openssl;
use crate::overflow::{self, AltStack};
use crate::sanitizer;
use crate::stack;
use crate::stats::{self, ThreadCounters};
use crate::tls;
use crate::wait_ctx::WaitCtx;

/// What `ASYNC_start_job` did, when it did not fail.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Paused(*mut Job),
    Finished(c_int),
    NoJobs,
}

type Owned = HashMap<*mut Job, bool>;

#[derive(Clone, Copy)]
struct Limits {
    /// 0 means unlimited.
    max: usize,
    /// Jobs created for this pool and not yet freed.
    size: usize,
}

pub struct ThreadState {
    current: Cell<*mut Job>,
    /// Nesting depth of `ASYNC_block_pause`. Per thread, as in OpenSSL: a job
    /// that finishes with pausing blocked leaves it blocked for the next.
    blocked: Cell<u32>,
    pool: Cell<Option<Limits>>,
    /// Idle jobs of the pool, the most recently finished last.
    idle: UnsafeCell<Vec<&'static Job>>,
    /// Every job this thread created and has not freed, in any state, and
    /// whether it counts against the pool's limit (the busy jobs of a pool
    /// that was cleaned up or replaced no longer count against any).
    owned: UnsafeCell<Owned>,
    /// The signal stack made for this thread, if it had none.
    alt_stack: Cell<Option<AltStack>>,
    /// What `RUSTASYNC_STATS` and `rustasync_stats` report for this thread.
    counters: ThreadCounters,
}

impl ThreadState {
    /// The calling thread's state, if it has used the library.
    #[inline]
    pub fn current_thread() -> Option<&'static ThreadState> {
        // SAFETY: a non-zero word is this thread's live, leaked Box; it is
        // freed only by the thread-exit destructor, which clears it first.
        unsafe { (tls::get() as *const ThreadState).as_ref() }
    }

    /// The calling thread's state, made on first use.
    #[inline]
    pub fn get_or_create() -> Option<&'static ThreadState> {
        Self::current_thread().or_else(Self::create)
    }

    #[cold]
    fn create() -> Option<&'static ThreadState> {
        openssl::discover();
        sanitizer::discover();
        crate::job::settle_watchers();
        overflow::install();
        register_fork_handlers();
        let state = Box::into_raw(Box::new(ThreadState {
            current: Cell::new(ptr::null_mut()),
            blocked: Cell::new(0),
            pool: Cell::new(None),
            idle: UnsafeCell::new(Vec::new()),
            owned: UnsafeCell::new(HashMap::new()),
            alt_stack: Cell::new(AltStack::for_this_thread()),
            counters: ThreadCounters::default(),
        }));
        // SAFETY: the key is valid (made once, never deleted) and `state` is
        // the value its destructor expects.
        if unsafe { libc::pthread_setspecific(*exit_key()?, state.cast()) } != 0 {
            // SAFETY: never shared; reclaimed at once.
            drop(unsafe { Box::from_raw(state) });
            return None;
        }
        tls::set(state as usize);
        // SAFETY: just made, and lives until the thread exits.
        let state = unsafe { &*state };
        // Unregistered by the thread-exit destructor before the state is freed.
        stats::register(&state.counters, report_at_exit);
        Some(state)
    }

    pub fn current(&self) -> *mut Job {
        self.current.get()
    }

    /// The running job, if any.
    pub fn running_job(&self) -> Option<&Job> {
        // SAFETY: `current` is only ever set by `start_job` to a live job of
        // the arena, or to null.
        unsafe { self.current.get().as_ref() }
    }

    /// What this thread's jobs carry as their owner.
    fn owner_word(&self) -> *const c_void {
        ptr::from_ref(self).cast()
    }

    fn with_idle<R>(&self, f: impl FnOnce(&mut Vec<&'static Job>) -> R) -> R {
        // SAFETY: only this thread reaches its state, and no caller of
        // with_idle runs job code or re-enters while the borrow lives.
        let idle = unsafe { &mut *self.idle.get() };
        let result = f(idle);
        stats::set(&self.counters.idle, idle.len() as u64);
        result
    }

    fn with_owned<R>(&self, f: impl FnOnce(&mut Owned) -> R) -> R {
        // SAFETY: as in with_idle.
        f(unsafe { &mut *self.owned.get() })
    }

    /// `ASYNC_init_thread`: a new pool with limit `max` (0 = none) and `init`
    /// jobs made now. A previous pool's idle jobs are freed; its busy ones
    /// finish normally and then join the new pool, outside its count.
    pub fn init_pool(&self, max: usize, init: usize) -> bool {
        if init > max {
            return false;
        }
        self.drop_pool();
        log::emit(
            Level::Debug,
            format_args!("ASYNC_init_thread: pool of at most {max} jobs (0: no limit), {init} made now"),
        );
        self.pool.set(Some(Limits { max, size: 0 }));
        for _ in 0..init {
            // As in OpenSSL, running short of memory here only means fewer
            // jobs are made ahead of time.
            let Some(job) = self.create_job() else {
                break;
            };
            self.with_idle(|idle| idle.push(job));
        }
        true
    }

    /// `ASYNC_cleanup_thread`: frees the pool and, as OpenSSL does by freeing
    /// its per-thread context, forgets any pause block left behind.
    pub fn cleanup(&self) {
        self.drop_pool();
        if self.current.get().is_null() {
            self.blocked.set(0);
        }
    }

    fn drop_pool(&self) {
        if self.pool.take().is_none() {
            return;
        }
        let idle = self.with_idle(std::mem::take);
        for job in idle {
            self.disown(job);
            self.destroy(job);
        }
        self.with_owned(|owned| owned.values_mut().for_each(|counted| *counted = false));
    }

    fn create_job(&self) -> Option<&'static Job> {
        let job = Job::create(self.owner_word())?;
        let added = self.with_owned(|owned| {
            owned.try_reserve(1).ok()?;
            owned.insert(job.as_handle(), true);
            Some(())
        });
        if added.is_none() {
            job.destroy();
            return None;
        }
        stats::bump(&self.counters.created);
        if let Some(mut limits) = self.pool.get() {
            limits.size += 1;
            self.pool.set(Some(limits));
        }
        Some(job)
    }

    /// Frees a job this thread created, keeping the counts right.
    fn destroy(&self, job: &Job) {
        if job.state() == State::Paused {
            stats::drop_one(&self.counters.paused_now);
        }
        stats::bump(&self.counters.destroyed);
        job.destroy();
    }

    /// Removes a job from the owned list before it is destroyed. Kept out
    /// of line: `give_back` reaches it only when the pool cannot keep a job.
    #[inline(never)]
    fn disown(&self, job: &Job) {
        let counted = self.with_owned(|owned| owned.remove(&job.as_handle()));
        if counted == Some(true)
            && let Some(mut limits) = self.pool.get()
        {
            limits.size = limits.size.saturating_sub(1);
            self.pool.set(Some(limits));
        }
    }

    /// An idle job from the pool, or a new one within its limit.
    fn take_job(&self) -> Option<&'static Job> {
        if self.pool.get().is_none() {
            // First use without ASYNC_init_thread behaves as (0, 0).
            self.init_pool(0, 0);
        }
        if let Some(job) = self.with_idle(Vec::pop) {
            return Some(job);
        }
        let limits = self.pool.get()?;
        if limits.max != 0 && limits.size >= limits.max {
            log::emit(
                Level::Debug,
                format_args!("ASYNC_start_job: pool of {} jobs exhausted; ASYNC_NO_JOBS", limits.max),
            );
            return None;
        }
        self.create_job()
    }

    /// Returns a finished job to the pool. As in OpenSSL this is whatever
    /// pool the thread has now, even for a job of an earlier pool (which the
    /// new pool then reuses without counting it); with no pool it is freed.
    fn give_back(&self, job: &'static Job) {
        let kept =
            self.pool.get().is_some() && self.with_idle(|idle| idle.try_reserve(1).map(|()| idle.push(job)).is_ok());
        if !kept {
            self.disown(job);
            self.destroy(job);
        }
    }

    /// Whether `handle` is a job paused on this thread.
    fn resumable(&self, handle: *mut Job) -> Option<&'static Job> {
        let job = Job::from_handle(handle)?;
        (job.state() == State::Paused && job.owner() == self.owner_word()).then_some(job)
    }

    /// `ASYNC_start_job` once its pointers are known to be usable: resumes
    /// `handle` if it is non-null, else starts `func` on a copy of the
    /// argument block.
    pub fn start_job(
        &self,
        handle: *mut Job,
        wait_ctx: *mut WaitCtx,
        func: Option<JobFn>,
        args: *const c_void,
        size: usize,
    ) -> Result<Started, Error> {
        let job = if handle.is_null() {
            let Some(func) = func else {
                return Err(Error::null("func is NULL"));
            };
            let Some(job) = self.take_job() else {
                return Ok(Started::NoJobs);
            };
            // 1.1 takes a job from the pool before copying the arguments, so
            // ASYNC_NO_JOBS wins over this refusal there too.
            if !args.is_null() && size == 0 && openssl::is_1_1() {
                self.give_back(job);
                return Err(Error::no_memory(
                    "args is not NULL but size is 0, which OpenSSL 1.1 refuses (its copy is a malloc(0))",
                ));
            }
            if !job.prepare(func, args, size, wait_ctx) {
                self.give_back(job);
                return Err(Error::no_memory("cannot copy the argument block"));
            }
            stats::bump(&self.counters.started);
            job
        } else {
            match self.resumable(handle) {
                Some(job) => {
                    self.counters.on_resume();
                    job
                }
                None => {
                    self.explain_refusal(handle);
                    // Explained already; OpenSSL queues an invalid argument.
                    return Err(Error::invalid(""));
                }
            }
        };
        let outcome = job.enter(self.current.replace(job.as_handle()));
        self.current.set(job.take_parent());
        match outcome {
            Yield::Paused => {
                self.counters.on_pause();
                Ok(Started::Paused(job.as_handle()))
            }
            Yield::Finished => {
                stats::bump(&self.counters.finished);
                let ret = job.finish();
                self.give_back(job);
                Ok(Started::Finished(ret))
            }
        }
    }

    #[cold]
    fn explain_refusal(&self, handle: *mut Job) {
        if !log::enabled(Level::Warn) {
            return;
        }
        let why = match Job::from_handle(handle) {
            None => "is not a job of this library",
            Some(job) if job.state() == State::Free => "is a job that no longer exists",
            Some(job) if job.owner() != self.owner_word() => "belongs to another thread",
            Some(job) if job.state() == State::Running => "is running, not paused",
            Some(_) => "is not paused (it finished already)",
        };
        log::emit(
            Level::Warn,
            format_args!("ASYNC_start_job: job handle {handle:p} {why}; returning ASYNC_ERR"),
        );
    }

    /// `ASYNC_pause_job`: returns at once outside a job or while pausing is
    /// blocked, as OpenSSL does. False when the current job was left by
    /// `longjmp` (the caller is not on its stack): the job is abandoned
    /// where OpenSSL would switch to a stale context, and the thread is
    /// back in whatever job (or none) had entered it.
    pub fn pause_current(&self) -> bool {
        if let Some(job) = self.running_job()
            && self.blocked.get() == 0
        {
            if !job.on_own_stack() {
                self.current.set(job.abandon());
                return false;
            }
            job.pause(&self.counters.deepest_at_pause);
        }
        true
    }

    /// `ASYNC_block_pause`: counts only inside a job.
    pub fn block_pause(&self) {
        if !self.current.get().is_null() {
            self.blocked.set(self.blocked.get().saturating_add(1));
        }
    }

    /// `ASYNC_unblock_pause`: counts only inside a job.
    pub fn unblock_pause(&self) {
        if !self.current.get().is_null() {
            self.blocked.set(self.blocked.get().saturating_sub(1));
        }
    }

    /// Frees every job this thread owns except those running right now (the
    /// thread may be exiting from inside one of them).
    fn free_all_jobs(&self) {
        let owned = self.with_owned(std::mem::take);
        self.with_idle(Vec::clear);
        let mut kept = HashMap::new();
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
                    self.destroy(job);
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
        self.with_owned(|owned| *owned = kept);
    }
}

fn exit_key() -> Option<&'static libc::pthread_key_t> {
    static KEY: OnceLock<Option<libc::pthread_key_t>> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid out-pointer and the destructor has the
        // signature pthread expects.
        (unsafe { libc::pthread_key_create(&mut key, Some(on_thread_exit)) } == 0).then_some(key)
    })
    .as_ref()
}

/// Runs when a thread that used the library exits: its paused jobs can
/// never be resumed (only their own thread may resume them), so their
/// memory is reclaimed instead of leaked as OpenSSL does.
unsafe extern "C" fn on_thread_exit(state: *mut c_void) {
    let state = state.cast::<ThreadState>();
    if tls::get() == state as usize {
        tls::set(0);
    }
    let reclaim = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the key's value is the Box made by `create`, and nothing
        // else refers to it once the thread word is cleared.
        let thread = unsafe { &*state };
        thread.free_all_jobs();
        drop(thread.alt_stack.take());
        stats::unregister(&thread.counters);
        let still_running = thread.with_owned(|owned| !owned.is_empty());
        if !still_running {
            // SAFETY: as above; the last user is gone.
            drop(unsafe { Box::from_raw(state) });
        }
    }));
    if reclaim.is_err() {
        log::emit(
            Level::Error,
            format_args!("panic while reclaiming an exiting thread's jobs"),
        );
    }
}

/// The library's locks, held by the forking thread from just before
/// `fork()` until just after it, in both processes.
type ForkLocks = (
    stats::ForkLock,
    ArenaForkLock<'static>,
    stack::ForkLocks,
    std::io::StderrLock<'static>,
);

thread_local! {
    static FORK_LOCKS: RefCell<Option<ForkLocks>> = const { RefCell::new(None) };
}

/// Makes `fork()` safe while other threads use the library: without this, a
/// child could inherit a lock held by a thread that does not exist in it and
/// hang on its first job. The child keeps the forking thread's jobs (and can
/// finish them); other threads' jobs are unreachable there, as their threads
/// are.
fn register_fork_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the three handlers are plain functions that never unwind.
        let rc = unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork)) };
        if rc != 0 {
            log::emit(Level::Warn, format_args!("pthread_atfork failed ({rc})"));
        }
    });
}

/// Takes the locks in the order the library nests them (the stats
/// registry, the arena or the stacks, then stderr), so it cannot
/// deadlock with a thread using them.
extern "C" fn before_fork() {
    let _ = std::panic::catch_unwind(|| {
        let locks = (
            stats::lock_for_fork(),
            JOBS.lock_for_fork(),
            stack::lock_for_fork(),
            std::io::stderr().lock(),
        );
        FORK_LOCKS.with(|held| *held.borrow_mut() = Some(locks));
    });
}

/// Releases them again, in the parent and in the child.
extern "C" fn after_fork() {
    let _ = std::panic::catch_unwind(|| FORK_LOCKS.with(|held| drop(held.borrow_mut().take())));
}

/// The whole process's figures, the calling thread's idle and paused job
/// stacks measured first.
pub fn collect_stats() -> stats::Totals {
    stats::collect(scan_own_stacks, stack::usable_size())
}

/// The report `RUSTASYNC_STATS=1` prints at exit.
extern "C" fn report_at_exit() {
    let report = std::panic::catch_unwind(|| stats::format_report(&collect_stats()));
    if let Ok(text) = report {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }
}

/// Measures the stacks of the calling thread's jobs that are not running
/// (idle in the pool or paused), for a stats report.
fn scan_own_stacks() {
    let Some(thread) = ThreadState::current_thread() else {
        return;
    };
    thread.with_owned(|owned| {
        for &handle in owned.keys() {
            if let Some(job) = Job::from_handle(handle)
                && job.state() != State::Running
            {
                job.scan_stack();
            }
        }
    });
}
