//! Per-thread state: the job currently running, the pause block, the pool
//! (`pool`), the thread's signal stack and counters, and its lifecycle —
//! made on first use, reclaimed by a thread-exit destructor.
//!
//! This layer sets the thread's current job around each switch; a job itself
//! knows nothing of threads.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use context::Transfer;

use crate::ctypes::ASYNC_job_fn;
use crate::error::{Error, error};
use crate::fibre::{self, Step, Yield};
use crate::fork;
use crate::job::{Entry, Job, State};
use crate::log::{self, Level};
use crate::openssl;
use crate::overflow::{self, AltStack};
use crate::pool::Pool;
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

/// How a start or resume goes on: a switch for the caller to make, whose
/// other side ends in `ThreadState::returned`, or nothing more to do.
pub enum Begun {
    Switch(Step),
    Done(Started),
}

/// The pool comes first: its address, the owner word of its jobs, is then
/// the state's own, which the resume path has in a register already.
#[repr(C)]
pub struct ThreadState {
    pool: Pool,
    current: Cell<*mut Job>,
    /// Nesting depth of `ASYNC_block_pause`. Per thread, as in OpenSSL: a job
    /// that finishes with pausing blocked leaves it blocked for the next.
    blocked: Cell<u32>,
    /// The signal stack made for this thread, if it had none.
    alt_stack: Cell<Option<AltStack>>,
    /// What `RUSTASYNC_STATS` and `rustasync_stats` report for this thread
    /// (in the live-figures file when it is on).
    counters: &'static ThreadCounters,
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
        fork::register_handlers();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let state = Box::into_raw(Box::new(ThreadState {
            current: Cell::new(ptr::null_mut()),
            blocked: Cell::new(0),
            pool: Pool::new(tid),
            alt_stack: Cell::new(AltStack::for_this_thread()),
            counters: stats::acquire_counters(tid, stack::usable_size()),
        }));
        // SAFETY: the key is valid (made once, never deleted) and `state` is
        // the value its destructor expects.
        if unsafe { libc::pthread_setspecific(*exit_key()?, state.cast()) } != 0 {
            // SAFETY: never shared; reclaimed at once.
            drop(unsafe { Box::from_raw(state) });
            return None;
        }
        tls::set(state as usize);
        openssl::check_thread(*exit_key()?, state.cast());
        // SAFETY: just made, and lives until the thread exits.
        let state = unsafe { &*state };
        // Unregistered by the thread-exit destructor before the state is freed.
        stats::register(state.counters, report_at_exit);
        Some(state)
    }

    pub fn current(&self) -> *mut Job {
        self.current.get()
    }

    /// The running job, if any.
    pub fn running_job(&self) -> Option<&'static Job> {
        // SAFETY: `current` is only ever set by `start_job` to a live job of
        // the arena, or to null.
        unsafe { self.current.get().as_ref() }
    }

    /// `ASYNC_init_thread`: see `Pool::init`.
    pub fn init_pool(&self, max: usize, init: usize) -> bool {
        self.pool.init(max, init, self.counters)
    }

    /// `ASYNC_cleanup_thread`: frees the pool and, as OpenSSL does by freeing
    /// its per-thread context, forgets any pause block left behind.
    pub fn cleanup(&self) {
        self.pool.drop_pool(self.counters);
        if self.current.get().is_null() {
            self.blocked.set(0);
        }
    }

    /// `ASYNC_start_job` with a NULL job, once its pointers are known to be
    /// usable: starts `func` on a copy of the argument block.
    #[inline(always)]
    pub fn start_new(
        &self,
        wait_ctx: *mut WaitCtx,
        func: ASYNC_job_fn,
        args: *const c_void,
        size: usize,
    ) -> Result<Begun, Error> {
        let Some(func) = func else {
            return Err(error!(null, "func is NULL"));
        };
        let Some(job) = self.pool.take_job(self.counters) else {
            return Ok(Begun::Done(Started::NoJobs));
        };
        // 1.1 takes a job from the pool before copying the arguments, so
        // ASYNC_NO_JOBS wins over this refusal there too. (The version
        // first: one flag where libcrypto is 3.)
        if openssl::is_1_1() && !args.is_null() && size == 0 {
            self.pool.give_back(job, self.counters);
            return Err(error!(
                no_memory,
                "args is not NULL but size is 0, which OpenSSL 1.1 refuses (its copy is a malloc(0))",
            ));
        }
        if !job.prepare(func, args, size, wait_ctx) {
            self.pool.give_back(job, self.counters);
            return Err(error!(no_memory, "cannot copy the argument block"));
        }
        stats::bump(&self.counters.started);
        Ok(self.run(job, true))
    }

    /// `start_new` when it takes only loads and stores: an idle job is ready
    /// in the pool (see `Pool::next_idle_quick`), the arguments fit in its
    /// control block and `Job::start_quick` takes it. None, with nothing
    /// changed, for `start_new` to take every other case.
    #[inline(always)]
    pub fn start_quick(
        &self,
        wait_ctx: *mut WaitCtx,
        func: ASYNC_job_fn,
        args: *const c_void,
        size: usize,
    ) -> Option<Step> {
        let func = func?;
        if !Job::args_fit_inline(args, size) {
            return None;
        }
        let starter_ctx = openssl::current_default_read()?;
        let job = self.pool.next_idle_quick()?;
        let step = job.start_quick(func, args, size, wait_ctx, self.current.get(), starter_ctx)?;
        let looks = self.pool.take_idle(self.counters).is_some_and(|(_, looks)| looks);
        debug_assert!(!looks, "next_idle_quick checked the countdown");
        self.current.set(job.as_handle());
        stats::bump(&self.counters.started);
        Some(step)
    }

    /// `ASYNC_start_job` with a job: resumes `handle` if it is one of this
    /// thread's paused jobs.
    #[inline(always)]
    pub fn resume(&self, handle: *mut Job) -> Result<Begun, Error> {
        let Some(job) = self.pool.resumable(handle) else {
            self.explain_refusal(handle);
            // Explained already; OpenSSL queues an invalid argument.
            return Err(error!(invalid, ""));
        };
        self.counters.on_resume();
        Ok(self.run(job, false))
    }

    /// `resume` of a paused job of this thread when it takes only loads and
    /// stores (see `Job::resume_quick`); None, with nothing changed, for
    /// `resume` to take every other case.
    #[inline(always)]
    pub fn resume_quick(&self, handle: *mut Job) -> Option<Step> {
        Job::warm_for_resume(handle);
        let job = self.pool.resumable(handle)?;
        let step = job.resume_quick(self.current.get())?;
        self.current.set(job.as_handle());
        self.counters.on_resume();
        Some(step)
    }

    /// Makes `job` the current job and enters it (see `Job::enter`).
    #[inline(always)]
    fn run(&self, job: &'static Job, is_new: bool) -> Begun {
        let parent = self.current.replace(job.as_handle());
        match job.enter(parent, is_new) {
            Entry::Switch(step) => Begun::Switch(step),
            Entry::Made(outcome) => Begun::Done(self.back_from(job, outcome)),
        }
    }

    /// On the starter's side again after the switch of `Begun::Switch`:
    /// `arrival` is where the job stopped and why.
    #[inline(always)]
    pub fn returned(&self, arrival: Transfer) -> Result<Started, Error> {
        // The job that switched back stopped on its own stack. A job above
        // it is still current when it was left by `longjmp` into that one
        // (its entering job), which then finished: abandoned, as `pause_current` does.
        let stopped_at = fibre::save_area(&arrival.context) as usize;
        let job = loop {
            let Some(job) = self.running_job() else {
                return Err(error!(internal, "switched back with no current job"));
            };
            if job.holds(stopped_at) {
                break job;
            }
            self.current.set(job.abandon());
        };
        let outcome = Yield::decode(arrival.data);
        job.arrived_back(arrival.context, outcome);
        Ok(self.back_from(job, outcome))
    }

    /// `returned` when it takes only loads and stores: no swap of the default
    /// library context, and for a finish, the job that finished is the
    /// current one (not left by `longjmp`), its arguments were inline and
    /// the pool takes it back as `Pool::give_back_quick`. `arrival` back,
    /// with nothing changed, for `returned` to take every other case.
    #[inline(always)]
    pub fn returned_quick(&self, arrival: Transfer) -> Result<Started, Transfer> {
        let Some(job) = self.running_job() else {
            return Err(arrival);
        };
        if !job.left_quick() {
            return Err(arrival);
        }
        match Yield::decode(arrival.data) {
            Yield::Paused => {
                job.arrived_back(arrival.context, Yield::Paused);
                self.current.set(job.parent());
                self.counters.on_pause();
                Ok(Started::Paused(job.as_handle()))
            }
            Yield::Finished => {
                if !job.holds_quick(fibre::save_area(&arrival.context) as usize) || !self.pool.can_give_back_quick() {
                    return Err(arrival);
                }
                let Some(ret) = job.finish_quick() else {
                    return Err(arrival);
                };
                job.arrived_back(arrival.context, Yield::Finished);
                self.current.set(job.parent());
                let counters = self.counters;
                stats::bump(&counters.finished);
                // SAFETY: the pool said it has room, and nothing changed it.
                let looks = unsafe { self.pool.give_back_quick(job, counters) };
                debug_assert!(!looks, "can_give_back_quick checked the countdown");
                Ok(Started::Finished(ret))
            }
        }
    }

    /// The job that was current again, and the job given back to the pool
    /// when it finished.
    #[inline(always)]
    fn back_from(&self, job: &'static Job, outcome: Yield) -> Started {
        job.left();
        self.current.set(job.parent());
        match outcome {
            Yield::Paused => {
                self.counters.on_pause();
                Started::Paused(job.as_handle())
            }
            Yield::Finished => {
                // Read once: `finish` stores through the job, and the
                // compiler would read the field again after it.
                let counters = self.counters;
                stats::bump(&counters.finished);
                let ret = job.finish();
                self.pool.give_back(job, counters);
                Started::Finished(ret)
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
            Some(job) if !self.pool.owns(job) => "belongs to another thread",
            Some(job) if job.state() == State::Running => "is running, not paused",
            Some(_) => "is not paused (it finished already)",
        };
        log::emit(
            Level::Warn,
            format_args!("ASYNC_start_job: job handle {handle:p} {why}; returning ASYNC_ERR"),
        );
    }

    /// `ASYNC_pause_job`: the switch back to whoever entered the current
    /// job, for the caller to make (see `Job::pause`); None outside a job or
    /// while pausing is blocked, where it returns at once as OpenSSL does.
    /// Fails when the current job was left by `longjmp` (the caller is not
    /// on its stack): the job is abandoned where OpenSSL would switch to a
    /// stale context, and the thread is back in whatever job (or none) had
    /// entered it.
    #[inline(always)]
    pub fn pause_current(&self) -> Result<Option<Step>, Error> {
        if let Some(job) = self.running_job()
            && self.blocked.get() == 0
        {
            if !job.on_own_stack() {
                self.current.set(job.abandon());
                return Err(error!(
                    misuse,
                    "called off the current job's stack (was the job left with longjmp?); the job is abandoned",
                ));
            }
            return Ok(job.pause(deepest_at_pause));
        }
        Ok(None)
    }

    /// `pause_current` of a job on its own stack when pausing is not blocked
    /// and nothing watches switches; None, with nothing changed, for
    /// `pause_current` to take every other case.
    #[inline(always)]
    pub fn pause_quick(&self) -> Option<Step> {
        let job = self.running_job()?;
        if self.blocked.get() != 0 || !job.on_own_stack_quick() {
            return None;
        }
        job.pause_quick()
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
}

/// The calling thread's high-water mark of the stack depth at pauses, for
/// a watched pause. Out of line and found afresh: passed as a reference,
/// the compiler loaded the counters' address on every pause, watched or not.
#[cold]
#[inline(never)]
fn deepest_at_pause() -> &'static AtomicU64 {
    static NONE: AtomicU64 = AtomicU64::new(0);
    ThreadState::current_thread().map_or(&NONE, |thread| &thread.counters.deepest_at_pause)
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
        let still_running = thread.pool.free_all_jobs(thread.counters);
        drop(thread.alt_stack.take());
        stats::unregister(thread.counters);
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

/// The whole process's figures, the calling thread's idle and paused job
/// stacks measured first.
pub fn collect_stats() -> stats::Totals {
    let scan_own = || {
        if let Some(thread) = ThreadState::current_thread() {
            thread.pool.scan_stacks();
        }
    };
    stats::collect(scan_own, stack::usable_size())
}

/// The report `RUSTASYNC_STATS=1` prints at exit.
extern "C" fn report_at_exit() {
    let report = std::panic::catch_unwind(|| stats::format_report(&collect_stats()));
    if let Ok(text) = report {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }
}
