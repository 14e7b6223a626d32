//! When idle pooled jobs go back to the kernel. libssl makes its pool
//! without a limit, so after a burst of N concurrent handshakes OpenSSL
//! keeps N jobs and every stack page they touched until the thread exits.
//! rustasync gives back the idle jobs a thread has stopped using, while the
//! pool goes on counting them exactly as OpenSSL's would (see
//! `pool::Pool::retire_coldest`).
//!
//! The pool is last-in-first-out, so the idle jobs that go unused are the
//! ones at the bottom of the idle list, below the lowest length the list
//! had over a period. Every `RUSTASYNC_TRIM` changes of the list (a start
//! or a finish each; default `config::DEFAULT_TRIM_PERIOD`, 0 = never) up to `BATCH` of
//! those are retired. In a steady state the list never goes below its
//! low-water mark, so nothing is retired and the hot path makes no system
//! call; all this costs it is a compare and a countdown.

use std::cell::Cell;

/// The most jobs retired at one look, bounding the pause it costs (about a
/// millisecond): 10,000 idle jobs go back within 40 periods.
pub const BATCH: usize = 256;

pub struct Trimmer {
    /// Changes left before the next look.
    left: Cell<usize>,
    /// The shortest the idle list has been since the last look.
    low: Cell<usize>,
}

impl Trimmer {
    pub const fn new() -> Trimmer {
        Trimmer {
            left: Cell::new(1),
            low: Cell::new(0),
        }
    }

    /// Called after every change of the idle list, with its new length:
    /// whether it is time to `look`.
    #[inline(always)]
    pub fn after_change(&self, len: usize) -> bool {
        // A branch, not a min: in a steady state the mark is not lowered,
        // and the untaken branch skips the store.
        if len < self.low.get() {
            self.low.set(len);
        }
        let left = self.left.get().wrapping_sub(1);
        self.left.set(left);
        left == 0
    }

    /// `after_change` for a change that made the list longer, which
    /// cannot lower its low-water mark.
    #[inline(always)]
    pub fn after_growth(&self) -> bool {
        let left = self.left.get().wrapping_sub(1);
        self.left.set(left);
        left == 0
    }

    /// Whether the next change of the list is the one that makes it look.
    #[inline(always)]
    pub fn next_change_looks(&self) -> bool {
        self.left.get() == 1
    }

    /// How many of the idle list's coldest jobs to retire now.
    #[cold]
    pub fn look(&self, len: usize) -> usize {
        let period = crate::config::get().trim_period;
        if period == 0 {
            self.left.set(usize::MAX);
            return 0;
        }
        self.left.set(period);
        // Jobs below the low-water mark were not taken once in a period.
        self.low.replace(len).min(len).min(BATCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_below_the_low_water_mark_are_retired() {
        let t = Trimmer::new();
        let change = |len| if t.after_change(len) { t.look(len) } else { 0 };
        assert_eq!(change(10), 0, "the first look only sets the mark");
        let period = crate::config::get().trim_period;
        let mut retired = 0;
        for i in 0..period {
            // 16 jobs in use at most: the list goes between 10 and 9.
            retired += change(if i % 2 == 0 { 9 } else { 10 });
        }
        assert_eq!(retired, 9, "the 9 jobs never taken in a period are retired");
        for i in 0..period {
            retired += change(if i % 2 == 0 { 0 } else { 1 });
        }
        assert_eq!(retired, 9, "a list that empties every period keeps its jobs");
    }
}
