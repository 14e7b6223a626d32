//! Makes `fork()` safe while other threads use the library: without this, a
//! child could inherit a lock held by a thread that does not exist in it and
//! hang on its first job. The child keeps the forking thread's jobs (and can
//! finish them); other threads' jobs are unreachable there, as their threads
//! are.

use std::cell::UnsafeCell;
use std::sync::Once;

use crate::arena::ArenaForkLock;
use crate::job::JOBS;
use crate::log::{self, Level};
use crate::stack;
use crate::stats;

/// The library's locks, held by the forking thread from just before
/// `fork()` until just after it, in both processes.
type ForkLocks = (
    stats::ForkLock,
    ArenaForkLock<'static>,
    stack::ForkLocks,
    std::io::StderrLock<'static>,
);

/// The locks `before_fork` took, until `after_fork` releases them. Not a
/// `thread_local!`: a thread can fork while it exits (from a program's
/// thread-specific destructor, which runs after thread-local destructors),
/// when such a variable can no longer be reached.
struct HeldForFork(UnsafeCell<Option<ForkLocks>>);

// SAFETY: the cell is read or written only by a thread that holds every
// lock in it (`before_fork` writes it once it has taken them all,
// `after_fork` empties it before it lets them go, in the parent and in the
// child), so no two threads ever reach it at once; and the guards it holds
// are dropped by the thread that took them (the forking thread, which in
// the child is the same thread).
unsafe impl Sync for HeldForFork {}

static HELD_FOR_FORK: HeldForFork = HeldForFork(UnsafeCell::new(None));

/// Installs the handlers, once per process.
pub fn register_handlers() {
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
        // SAFETY: this thread now holds every lock, so it alone reaches
        // the cell (see `HeldForFork`).
        unsafe { *HELD_FOR_FORK.0.get() = Some(locks) };
    });
}

/// Releases them again, in the parent and in the child.
extern "C" fn after_fork() {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: as in `before_fork`: the locks are still held while the
        // cell is emptied; they are released only when `held` is dropped.
        let held = unsafe { (*HELD_FOR_FORK.0.get()).take() };
        drop(held);
    });
}
