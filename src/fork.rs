//! Makes `fork()` safe while other threads use the library: without this, a
//! child could inherit a lock held by a thread that does not exist in it and
//! hang on its first job. The child keeps the forking thread's jobs (and can
//! finish them); other threads' jobs are unreachable there, as their threads
//! are.

use std::cell::RefCell;
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

thread_local! {
    static FORK_LOCKS: RefCell<Option<ForkLocks>> = const { RefCell::new(None) };
}

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
        FORK_LOCKS.with(|held| *held.borrow_mut() = Some(locks));
    });
}

/// Releases them again, in the parent and in the child.
extern "C" fn after_fork() {
    let _ = std::panic::catch_unwind(|| FORK_LOCKS.with(|held| drop(held.borrow_mut().take())));
}
