//! Counters and the stack high-water mark, for `RUSTASYNC_STATS=1` and
//! `rustasync_stats()`.
//!
//! Counting sits on the hot path (start, finish, pause, resume), so it costs
//! no atomic read-modify-write and no lock: each thread counts in its own
//! `ThreadCounters`, with relaxed loads and stores that compile to plain
//! moves (only the owning thread writes; readers on other threads get a
//! consistent value of each counter). A report sums the counters of a
//! registry of live threads and the totals left by threads that exited.
//!
//! The deepest stack use is measured only when `RUSTASYNC_STATS` is set:
//! fresh stacks are painted with a pattern, and a stack is scanned from its
//! bottom for the first overwritten word when it is freed, and when a thread
//! asks for a report (its own idle and paused jobs). Jobs that are alive on
//! other threads at that moment contribute the depth they had at their
//! pauses, which each thread records for its own jobs.

use std::fmt::Write as _;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use crate::lock::{self, Lock};

use crate::config::Stats;

/// Figures for one thread, written by that thread only. The layout is a
/// slot of the live-figures file (`live_format::slot`), where the counters
/// live when `RUSTASYNC_STATS=live`.
#[derive(Default)]
#[repr(C, align(64))]
pub struct ThreadCounters {
    kind: AtomicU64,
    tid: AtomicU64,
    pub created: AtomicU64,
    pub destroyed: AtomicU64,
    pub started: AtomicU64,
    pub finished: AtomicU64,
    pub paused: AtomicU64,
    pub resumed: AtomicU64,
    /// Jobs of this thread paused right now.
    pub paused_now: AtomicU64,
    /// The most jobs this thread ever had paused at once.
    pub paused_peak: AtomicU64,
    /// Jobs waiting idle in this thread's pool.
    pub idle: AtomicU64,
    /// Deepest stack use seen at a pause of one of this thread's jobs.
    pub deepest_at_pause: AtomicU64,
    /// `ASYNC_start_job` calls refused with `ASYNC_NO_JOBS`.
    pub no_jobs: AtomicU64,
    spare: [AtomicU64; 3],
}

const _: () = {
    use crate::live_format::{SLOT_BYTES, slot};
    use std::mem::offset_of;
    assert!(size_of::<ThreadCounters>() == SLOT_BYTES);
    assert!(offset_of!(ThreadCounters, kind) == slot::KIND * 8);
    assert!(offset_of!(ThreadCounters, tid) == slot::TID * 8);
    assert!(offset_of!(ThreadCounters, created) == slot::CREATED * 8);
    assert!(offset_of!(ThreadCounters, destroyed) == slot::DESTROYED * 8);
    assert!(offset_of!(ThreadCounters, started) == slot::STARTED * 8);
    assert!(offset_of!(ThreadCounters, finished) == slot::FINISHED * 8);
    assert!(offset_of!(ThreadCounters, paused) == slot::PAUSED * 8);
    assert!(offset_of!(ThreadCounters, resumed) == slot::RESUMED * 8);
    assert!(offset_of!(ThreadCounters, paused_now) == slot::PAUSED_NOW * 8);
    assert!(offset_of!(ThreadCounters, paused_peak) == slot::PAUSED_PEAK * 8);
    assert!(offset_of!(ThreadCounters, idle) == slot::IDLE * 8);
    assert!(offset_of!(ThreadCounters, deepest_at_pause) == slot::DEEPEST * 8);
    assert!(offset_of!(ThreadCounters, no_jobs) == slot::NO_JOBS * 8);
};

/// Counters for a new thread: a slot of the live-figures file when it is
/// on (the file names `stack_size`, the usable size of the library's
/// stacks), else memory of our own (reused after threads exit). Cold: once
/// per thread.
pub fn acquire_counters(tid: libc::pid_t, stack_size: usize) -> &'static ThreadCounters {
    if live_wanted() {
        start_live(stack_size);
    }
    let counters: &'static ThreadCounters = match crate::live::claim_slot() {
        // SAFETY: a zeroed slot of the never-unmapped shared mapping, laid
        // out as ThreadCounters (checked above) and claimed for us alone.
        Some(slot) => unsafe { &*slot.cast::<ThreadCounters>() },
        None => {
            let reused = spare_counters().pop();
            match reused {
                // SAFETY: leaked below, never freed, and handed out once.
                Some(address) => unsafe { &*(address as *const ThreadCounters) },
                None => Box::leak(Box::default()),
            }
        }
    };
    counters.kind.store(crate::live_format::KIND_THREAD, Ordering::Relaxed);
    counters.tid.store(tid as u64, Ordering::Relaxed);
    counters
}

/// Counters of exited threads, kept for the next thread (they are few).
static SPARE: Lock<Vec<usize>> = Lock::new(Vec::new());

fn spare_counters() -> lock::Guard<'static, Vec<usize>> {
    SPARE.lock()
}

/// Gives back an exited thread's counters, once `unregister` folded them.
fn release_counters(counters: &'static ThreadCounters) {
    let address = ptr::from_ref(counters);
    if crate::live::owns(address.cast()) {
        crate::live::release_slot(address.cast_mut().cast());
        return;
    }
    for word in counters.words() {
        word.store(0, Ordering::Relaxed);
    }
    let mut spare = spare_counters();
    if spare.try_reserve(1).is_ok() {
        spare.push(address as usize);
    }
}

impl ThreadCounters {
    fn words(&self) -> impl Iterator<Item = &AtomicU64> {
        [
            &self.kind,
            &self.tid,
            &self.created,
            &self.destroyed,
            &self.started,
            &self.finished,
            &self.paused,
            &self.resumed,
            &self.paused_now,
            &self.paused_peak,
            &self.idle,
            &self.deepest_at_pause,
            &self.no_jobs,
        ]
        .into_iter()
        .chain(self.spare.iter())
    }

    /// Writes process totals in this slot's shape (the exited threads' slot
    /// of the live file).
    fn store_totals(&self, t: &Totals) {
        set(&self.created, t.created);
        set(&self.destroyed, t.destroyed);
        set(&self.started, t.started);
        set(&self.finished, t.finished);
        set(&self.paused, t.paused);
        set(&self.resumed, t.resumed);
        set(&self.paused_peak, t.paused_peak);
        set(&self.deepest_at_pause, t.deepest);
        set(&self.no_jobs, t.no_jobs);
    }
}

/// Adds one to a counter only its own thread writes: a load and a store,
/// not a locked read-modify-write.
#[inline(always)]
pub fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

/// Subtracts one, not going below zero; same rules as `bump`.
#[inline(always)]
pub fn drop_one(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed).saturating_sub(1), Ordering::Relaxed);
}

#[inline(always)]
pub fn set(counter: &AtomicU64, value: u64) {
    counter.store(value, Ordering::Relaxed);
}

impl ThreadCounters {
    /// A job of this thread paused: count it and track the peak.
    #[inline(always)]
    pub fn on_pause(&self) {
        bump(&self.paused);
        let now = self.paused_now.load(Ordering::Relaxed) + 1;
        self.paused_now.store(now, Ordering::Relaxed);
        if now > self.paused_peak.load(Ordering::Relaxed) {
            self.paused_peak.store(now, Ordering::Relaxed);
        }
    }

    /// A paused job of this thread was resumed.
    #[inline(always)]
    pub fn on_resume(&self) {
        bump(&self.resumed);
        // Not `drop_one`: the job was counted here when it paused (only its
        // own thread resumes it, and a thread's counters start at zero with
        // the thread), so the count is at least one.
        let now = self.paused_now.load(Ordering::Relaxed);
        self.paused_now.store(now.wrapping_sub(1), Ordering::Relaxed);
    }

    fn add_to(&self, sum: &mut Totals) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        sum.created += get(&self.created);
        sum.destroyed += get(&self.destroyed);
        sum.started += get(&self.started);
        sum.finished += get(&self.finished);
        sum.paused += get(&self.paused);
        sum.resumed += get(&self.resumed);
        sum.paused_now += get(&self.paused_now);
        sum.paused_peak = sum.paused_peak.max(get(&self.paused_peak));
        sum.idle += get(&self.idle);
        sum.deepest = sum.deepest.max(get(&self.deepest_at_pause));
        sum.no_jobs += get(&self.no_jobs);
    }
}

/// The figures of the whole process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub created: u64,
    pub destroyed: u64,
    pub started: u64,
    pub finished: u64,
    pub paused: u64,
    pub resumed: u64,
    pub paused_now: u64,
    pub paused_peak: u64,
    pub idle: u64,
    pub threads: u64,
    pub stack_size: u64,
    /// Deepest stack use observed, in bytes; 0 when not measured.
    pub deepest: u64,
    pub measured: bool,
    pub no_jobs: u64,
}

struct Registry {
    /// Counters of the threads alive now. Each points into a live
    /// `ThreadState`, which removes itself before it is freed.
    live: Vec<*const ThreadCounters>,
    /// What threads that exited had counted (their `paused_now` and `idle`
    /// are zero: their jobs were freed).
    exited: Totals,
}

// SAFETY: the pointers are only dereferenced under the registry's lock, and
// each stays valid until its thread unregisters it under the same lock;
// ThreadCounters holds only atomics, so reading it from any thread is sound.
unsafe impl Send for Registry {}

static REGISTRY: Lock<Registry> = Lock::new(Registry {
    live: Vec::new(),
    exited: Totals {
        created: 0,
        destroyed: 0,
        started: 0,
        finished: 0,
        paused: 0,
        resumed: 0,
        paused_now: 0,
        paused_peak: 0,
        idle: 0,
        threads: 0,
        stack_size: 0,
        deepest: 0,
        measured: false,
        no_jobs: 0,
    },
});

fn registry() -> lock::Guard<'static, Registry> {
    REGISTRY.lock()
}

/// The registry's lock and the spare counters', held across `fork()` (see
/// `fork::before_fork`).
pub(crate) struct ForkLock {
    _registry: lock::ForkHold<'static, Registry>,
    _spare: lock::ForkHold<'static, Vec<usize>>,
}

pub(crate) fn lock_for_fork() -> ForkLock {
    ForkLock {
        _registry: REGISTRY.hold_for_fork(),
        _spare: SPARE.hold_for_fork(),
    }
}

/// Adds a thread's counters to the registry. Cold: once per thread. The
/// first call with stats enabled has `report` (which prints
/// `format_report`'s text) run at exit.
///
/// `counters` must stay valid until `unregister` is called with it.
pub fn register(counters: &ThreadCounters, report: extern "C" fn()) {
    let mut registry = registry();
    if registry.live.try_reserve(1).is_ok() {
        registry.live.push(counters);
    }
    drop(registry);
    if enabled() {
        static AT_EXIT: Once = Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: `report` is a plain extern "C" function that lives as
            // long as the library; atexit has no other precondition.
            if unsafe { libc::atexit(report) } != 0 {
                crate::log::emit(
                    crate::log::Level::Warn,
                    format_args!("RUSTASYNC_STATS: cannot register the report at exit"),
                );
            }
        });
    }
}

/// Folds an exiting thread's counters into the totals of exited threads,
/// and gives them back for a later thread.
pub fn unregister(counters: &'static ThreadCounters) {
    let mut registry = registry();
    let before = registry.live.len();
    registry.live.retain(|&c| !std::ptr::eq(c, counters));
    if registry.live.len() != before {
        let mut exited = registry.exited;
        counters.add_to(&mut exited);
        exited.threads += 1;
        registry.exited = exited;
        if let Some(slot) = crate::live::exited_slot() {
            // SAFETY: slot 0 of the live file, laid out as ThreadCounters and
            // written only here, under the registry's lock.
            unsafe { &*slot.cast::<ThreadCounters>() }.store_totals(&exited);
        }
        drop(registry);
        release_counters(counters);
    }
}

const UNREAD: u8 = u8::MAX;
/// The report at exit and stack painting.
const REPORT: u8 = 1;
/// The live-figures file.
const LIVE: u8 = 2;
static SETTING: AtomicU8 = AtomicU8::new(UNREAD);

#[inline]
fn setting() -> u8 {
    match SETTING.load(Ordering::Relaxed) {
        UNREAD => read_setting(),
        value => value,
    }
}

/// Whether `RUSTASYNC_STATS` asks for the report at exit and for stack
/// measurement by painting. Read once; afterwards one relaxed load.
#[inline]
pub fn enabled() -> bool {
    setting() & REPORT != 0
}

/// Whether jobs record their stack depth when they pause: for the report
/// and for the live figures.
#[inline]
pub fn depth_at_pause() -> bool {
    setting() != 0
}

fn live_wanted() -> bool {
    setting() & LIVE != 0
}

/// `RUSTASYNC_STATS=live` or `RUSTASYNC_STATS_DIR=DIR` ask for the live
/// file (without painting stacks, which would make them resident); any
/// other value but an empty or false one asks for the report at exit.
#[cold]
fn read_setting() -> u8 {
    let config = crate::config::get();
    let mut bits = match config.stats {
        Stats::Off => 0,
        Stats::Report => REPORT,
        Stats::Live => LIVE,
    };
    if config.stats_dir.is_some() {
        bits |= LIVE;
    }
    SETTING.store(bits, Ordering::Relaxed);
    bits
}

#[cold]
fn start_live(stack_size: usize) {
    let dir = crate::config::get()
        .stats_dir
        .clone()
        .unwrap_or_else(|| std::ffi::CString::new(crate::live_format::DEFAULT_DIR).expect("no NUL"));
    if crate::live::start(dir) {
        crate::live::set_header(crate::live_format::header::STACK_SIZE, stack_size as u64);
    }
}

/// What fresh stacks are painted with: an odd-looking word that code
/// rarely writes.
const PAINT: u64 = 0x5A5A_C3A5_5AC3_A55A;

/// The deepest use found by scanning stacks (the pause-time figures live in
/// the thread counters).
static DEEPEST_SCANNED: AtomicUsize = AtomicUsize::new(0);

/// Paints a fresh stack so that `scan` can later tell how deep it was used.
///
/// # Safety
/// `[bottom, bottom + size)` must be writable memory nothing else uses, with
/// `bottom` aligned to 8 bytes.
pub unsafe fn paint(bottom: *mut u8, size: usize) {
    // Under valgrind, a reused stack's memory below its last stack pointer
    // is marked inaccessible; it is ours to paint.
    crate::valgrind::make_defined(bottom, size);
    let words = bottom.cast::<u64>();
    for i in 0..size / 8 {
        // SAFETY: within the range the caller vouches for, and aligned.
        unsafe { words.add(i).write(PAINT) };
    }
}

/// Records how much of a painted stack has been used: the distance from the
/// top to the lowest overwritten word.
///
/// # Safety
/// `[bottom, bottom + size)` must be readable and painted by `paint`, with
/// no code running on it while it is scanned.
pub unsafe fn scan(bottom: *const u8, size: usize) {
    // As in `paint`: all of it holds paint or old frames, and may be read.
    crate::valgrind::make_defined(bottom, size);
    let words = bottom.cast::<u64>();
    let count = size / 8;
    let mut first = count;
    for i in 0..count {
        // SAFETY: within the range the caller vouches for, and aligned.
        if unsafe { words.add(i).read() } != PAINT {
            first = i;
            break;
        }
    }
    let used = (count - first) * 8;
    // Cold: runs when a stack is freed or a report is made.
    DEEPEST_SCANNED.fetch_max(used, Ordering::Relaxed);
}

/// The whole process's figures, for stacks of `stack_size` usable bytes.
/// Scans the calling thread's own quiescent jobs first (`scan_own`), so
/// their depth counts too.
pub fn collect(scan_own: impl FnOnce(), stack_size: usize) -> Totals {
    let measured = enabled();
    if measured {
        scan_own();
    }
    let registry = registry();
    let mut sum = registry.exited;
    for &counters in &registry.live {
        // SAFETY: registered pointers stay valid while they are in the list,
        // and the lock is held.
        unsafe { &*counters }.add_to(&mut sum);
        sum.threads += 1;
    }
    drop(registry);
    sum.stack_size = stack_size as u64;
    sum.measured = measured;
    sum.deepest = if measured {
        sum.deepest.max(DEEPEST_SCANNED.load(Ordering::Relaxed) as u64)
    } else {
        0
    };
    sum
}

/// The report `RUSTASYNC_STATS=1` prints at exit.
pub fn format_report(t: &Totals) -> String {
    let mut out = String::new();
    let pid = std::process::id();
    let threads = if t.threads == 1 { "thread" } else { "threads" };
    let _ = writeln!(out, "rustasync: stats for pid {pid} ({} {threads})", t.threads);
    let _ = writeln!(
        out,
        "rustasync:   jobs created   {:>12}  (freed {}, alive {})",
        t.created,
        t.destroyed,
        t.created.saturating_sub(t.destroyed)
    );
    let _ = writeln!(out, "rustasync:   jobs started   {:>12}", t.started);
    let _ = writeln!(out, "rustasync:   jobs finished  {:>12}", t.finished);
    let _ = writeln!(
        out,
        "rustasync:   pauses         {:>12}  (resumes {}, paused now {})",
        t.paused, t.resumed, t.paused_now
    );
    let _ = writeln!(
        out,
        "rustasync:   peak paused    {:>12}  (at once, on one thread)",
        t.paused_peak
    );
    let _ = writeln!(
        out,
        "rustasync:   pools          {:>12}  jobs, {} idle",
        t.created.saturating_sub(t.destroyed),
        t.idle
    );
    let _ = writeln!(out, "rustasync:   stack size     {:>12}  bytes per job", t.stack_size);
    if t.measured {
        let share = if t.stack_size > 0 {
            t.deepest as f64 * 100.0 / t.stack_size as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "rustasync:   deepest stack  {:>12}  bytes used ({share:.1}% of the stack)",
            t.deepest
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_bump_and_peak() {
        let c = ThreadCounters::default();
        c.on_pause();
        c.on_pause();
        c.on_resume();
        c.on_pause();
        let mut t = Totals::default();
        c.add_to(&mut t);
        assert_eq!((t.paused, t.resumed, t.paused_now, t.paused_peak), (3, 1, 2, 2));
        drop_one(&c.destroyed);
        assert_eq!(c.destroyed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_painted_stack_reports_its_depth() {
        let mut block = vec![0u64; 1024];
        let bottom = block.as_mut_ptr().cast::<u8>();
        // SAFETY: the vector's memory is ours and aligned to 8 bytes.
        unsafe { paint(bottom, 8192) };
        block[1024 - 100] = 0;
        // SAFETY: painted just above; nothing runs on it.
        unsafe { scan(bottom, 8192) };
        assert!(DEEPEST_SCANNED.load(Ordering::Relaxed) >= 800);
    }

    #[test]
    fn the_report_names_every_figure() {
        let t = Totals {
            created: 4,
            destroyed: 4,
            started: 24,
            finished: 24,
            threads: 1,
            stack_size: 65536,
            deepest: 4096,
            measured: true,
            ..Totals::default()
        };
        let text = format_report(&t);
        for needle in [
            "jobs created",
            "jobs started             24",
            "jobs finished",
            "pauses",
            "peak paused",
            "pools",
            "stack size            65536",
            "deepest stack          4096",
            "(6.2% of the stack)",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
    }
}
