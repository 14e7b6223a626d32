//! The library's mutex: a plain futex lock that its `pthread_atfork`
//! handlers can hold across `fork()` without locking out the forking thread.
//!
//! The library holds its locks from just before `fork()` until just after,
//! so that the child never inherits one held by a thread it does not have.
//! But the program's own fork handlers run inside that window too (prepare
//! handlers in reverse order of registration, parent and child handlers in
//! order), and they may call the API — `ASYNC_cleanup_thread` around a fork
//! is a known pattern. A `std::sync::Mutex` would deadlock them. So a lock
//! held for a fork lets the thread that holds it (the forking thread, which
//! in the child is the same thread with the same `pthread_self()`) take it
//! again; the fork hold itself never touches the data, so that thread's
//! access stays exclusive. Every other thread waits as usual.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Unlocked, locked, and locked with waiters (who must be woken).
const FREE: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

pub struct Lock<T> {
    word: AtomicU32,
    /// The holding thread's `pthread_self()`, 0 when free.
    owner: AtomicUsize,
    /// Set while `hold_for_fork` holds the lock.
    held_for_fork: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a Guard, and Guards of one lock
// exist on one thread at a time (the lock's holder); `T: Send` lets that
// thread be any thread.
unsafe impl<T: Send> Sync for Lock<T> {}

/// Access to the data while the lock is held.
pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
    /// False for a guard taken inside a fork hold, which releases nothing.
    releases: bool,
}

/// The lock held across a `fork()`; released when dropped (in the parent
/// and in the child).
pub struct ForkHold<'a, T> {
    lock: &'a Lock<T>,
}

fn this_thread() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

impl<T> Lock<T> {
    pub const fn new(value: T) -> Lock<T> {
        Lock {
            word: AtomicU32::new(FREE),
            owner: AtomicUsize::new(0),
            held_for_fork: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> Guard<'_, T> {
        let me = this_thread();
        if self.held_for_fork.load(Ordering::Acquire) && self.owner.load(Ordering::Relaxed) == me {
            return Guard {
                lock: self,
                releases: false,
            };
        }
        self.acquire();
        self.owner.store(me, Ordering::Relaxed);
        Guard {
            lock: self,
            releases: true,
        }
    }

    /// Takes the lock for a `fork()` on this thread (see the module notes).
    pub fn hold_for_fork(&self) -> ForkHold<'_, T> {
        self.acquire();
        self.owner.store(this_thread(), Ordering::Relaxed);
        self.held_for_fork.store(true, Ordering::Release);
        ForkHold { lock: self }
    }

    fn acquire(&self) {
        if self
            .word
            .compare_exchange(FREE, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        for _ in 0..64 {
            std::hint::spin_loop();
            if self.word.load(Ordering::Relaxed) == FREE
                && self
                    .word
                    .compare_exchange(FREE, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        while self.word.swap(CONTENDED, Ordering::Acquire) != FREE {
            // SAFETY: a futex wait on our own word; it returns at once if the
            // word is no longer CONTENDED, and spuriously at worst.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    CONTENDED,
                    ptr::null::<libc::timespec>(),
                );
            }
        }
    }

    fn release(&self) {
        self.owner.store(0, Ordering::Relaxed);
        if self.word.swap(FREE, Ordering::Release) == CONTENDED {
            // SAFETY: wakes one waiter on our own word.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1,
                );
            }
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this thread holds the lock (directly or through its fork
        // hold, which never touches the data).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        if self.releases {
            self.lock.release();
        }
    }
}

impl<T> Drop for ForkHold<'_, T> {
    fn drop(&mut self) {
        self.lock.held_for_fork.store(false, Ordering::Release);
        self.lock.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fork_holder_may_lock_again_and_others_wait() {
        static LOCK: Lock<u32> = Lock::new(0);
        let hold = LOCK.hold_for_fork();
        *LOCK.lock() += 1;
        let other = std::thread::spawn(|| *LOCK.lock() += 10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(*LOCK.lock(), 1, "the other thread waits for the fork hold");
        drop(hold);
        other.join().expect("thread");
        assert_eq!(*LOCK.lock(), 11);
    }

    #[test]
    fn contended_locking_counts_right() {
        static LOCK: Lock<u64> = Lock::new(0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        *LOCK.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(*LOCK.lock(), 40_000);
    }
}
