//! The library's own job stacks, carved from large anonymous regions. Each
//! slot is a guard zone followed by the usable stack, so an overflow faults
//! instead of running into a neighbour. The zone is 64 KiB and a page
//! (`GUARD_BYTES`): a single guard page is jumped over by any frame larger
//! than a page that touches only its low end (`alloca`, big arrays; Debian's
//! gcc does not enable `-fstack-clash-protection`), while a frame of up to
//! 64 KiB that starts anywhere in the stack lands in the zone. Guards are
//! made with `MADV_GUARD_INSTALL`, which marks pages inside a region without
//! splitting it and without memory: a larger zone costs address space only,
//! and a hundred thousand guarded stacks cost a few dozen memory mappings.
//! Kernels without it get the same zone made `PROT_NONE` with one `mprotect`
//! (also address space only, but two mappings per stack), only within a
//! budget well under `vm.max_map_count`; past it stacks go unguarded rather
//! than starve the host program of mappings.
//!
//! Under an address-space limit (`RLIMIT_AS`) regions are only mapped while
//! a share of the limit stays free for the host program (see
//! `mem::address_space_allows`), so running out of jobs never means the
//! program can no longer `malloc`, `mmap` or start a thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{self, GuardMode};
use crate::lock::{ForkHold, Guard, Lock};
use crate::log::{self, Level};
use crate::mem::{MADV_GUARD_INSTALL, address_space_allows, map_anonymous, page_size};
use crate::valgrind;

/// The guard zone below every stack: frames of up to 64 KiB cannot skip it,
/// with a page to spare for the call that follows such a frame.
const GUARD_BYTES: usize = 64 * 1024 + 4096;
/// Regions grow geometrically from this many slots...
const FIRST_REGION_SLOTS: usize = 16;
/// ...up to this many, so a large population costs few mappings.
const MAX_REGION_SLOTS: usize = 4096;
/// Free slots kept resident for reuse; beyond this their pages go back to
/// the kernel when released.
const RESIDENT_FREE_SLOTS: usize = 256;
/// The most regions this library ever maps; the table is fixed so that a
/// signal handler can read it without locks.
const MAX_REGIONS: usize = 4096;

/// The usable size of each slot's stack: the configured size, rounded up
/// to pages.
pub fn stack_size() -> usize {
    let page = page_size();
    config::get().stack_size.div_ceil(page) * page
}

/// Lock-free table of the regions, for `is_guard_page` in signal handlers.
static REGION_STARTS: [AtomicUsize; MAX_REGIONS] = [const { AtomicUsize::new(0) }; MAX_REGIONS];
static REGION_ENDS: [AtomicUsize; MAX_REGIONS] = [const { AtomicUsize::new(0) }; MAX_REGIONS];
static REGION_COUNT: AtomicUsize = AtomicUsize::new(0);
static SLOT_SIZE: AtomicUsize = AtomicUsize::new(0);
static GUARD_SIZE: AtomicUsize = AtomicUsize::new(0);
static STACK_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The usable size of the library's own stacks, once the first was made
/// (0 before). Async-signal-safe.
pub fn region_stack_size() -> usize {
    STACK_BYTES.load(Ordering::Acquire)
}

/// Whether `addr` lies in the guard zone of one of our stacks: how the
/// fault handler (`overflow`) tells a job's stack overflow from any other
/// crash. Async-signal-safe: lock-free reads of a fixed table.
pub fn is_guard_page(addr: usize) -> bool {
    let slot = SLOT_SIZE.load(Ordering::Acquire);
    let guard = GUARD_SIZE.load(Ordering::Acquire);
    if slot == 0 || guard == 0 {
        return false;
    }
    let count = REGION_COUNT.load(Ordering::Acquire).min(MAX_REGIONS);
    (0..count).any(|i| {
        let start = REGION_STARTS[i].load(Ordering::Acquire);
        let end = REGION_ENDS[i].load(Ordering::Acquire);
        (start..end).contains(&addr) && (addr - start) % slot < guard
    })
}

enum Guards {
    /// `MADV_GUARD_INSTALL` works here.
    Madvise,
    /// `mprotect` guards while `spent` mappings stay under `budget`.
    Mprotect {
        spent: usize,
        budget: usize,
    },
    Off,
}

pub(crate) struct Regions {
    /// Bytes of guard zone below each stack (`GUARD_BYTES` in whole pages).
    guard: usize,
    stack_size: usize,
    guards: Guards,
    /// The unused tail of the newest region.
    next: usize,
    end: usize,
    next_region_slots: usize,
    /// Released slots, most recent last, reused first.
    free: Vec<*mut u8>,
    warned_unguarded: bool,
}

// SAFETY: the raw pointers are addresses of memory this module owns; the
// struct is only reached through the mutex below.
unsafe impl Send for Regions {}

static REGIONS: Lock<Option<Regions>> = Lock::new(None);

struct RegionsGuard(Guard<'static, Option<Regions>>);

fn regions() -> RegionsGuard {
    let mut guard = REGIONS.lock();
    if guard.is_none() {
        *guard = Some(Regions::new());
    }
    RegionsGuard(guard)
}

impl RegionsGuard {
    fn get(&mut self) -> &mut Regions {
        self.0.as_mut().expect("initialised by regions()")
    }

    fn take_slot(mut self) -> Option<*mut u8> {
        self.get().take_slot()
    }

    fn return_slot(mut self, bottom: *mut u8, discard: bool) {
        self.get().return_slot(bottom, discard)
    }
}

/// The bottom of a free slot's stack, `None` when no region can be mapped.
pub fn take_slot() -> Option<*mut u8> {
    regions().take_slot()
}

/// Gives back a slot `take_slot` handed out; with `discard`, its pages go
/// back to the kernel at once rather than staying resident for reuse.
pub fn return_slot(bottom: *mut u8, discard: bool) {
    regions().return_slot(bottom, discard)
}

/// The regions' lock, held across `fork()` (see `fork::before_fork`).
pub(crate) type ForkLock = ForkHold<'static, Option<Regions>>;

pub(crate) fn lock_for_fork() -> ForkLock {
    REGIONS.hold_for_fork()
}

impl Regions {
    fn new() -> Regions {
        let guard = GUARD_BYTES.next_multiple_of(page_size());
        let stack_size = stack_size();
        let guards = match config::get().guard {
            GuardMode::Auto => Guards::Madvise,
            GuardMode::Mprotect => Guards::Mprotect {
                spent: 0,
                budget: mapping_budget(),
            },
            GuardMode::Off => Guards::Off,
        };
        let guard_size = if matches!(guards, Guards::Off) { 0 } else { guard };
        STACK_BYTES.store(stack_size, Ordering::Release);
        SLOT_SIZE.store(guard + stack_size, Ordering::Release);
        GUARD_SIZE.store(guard_size, Ordering::Release);
        Regions {
            guard,
            stack_size,
            guards,
            next: 0,
            end: 0,
            next_region_slots: FIRST_REGION_SLOTS,
            free: Vec::new(),
            warned_unguarded: false,
        }
    }

    fn slot_size(&self) -> usize {
        self.guard + self.stack_size
    }

    fn take_slot(&mut self) -> Option<*mut u8> {
        if let Some(bottom) = self.free.pop() {
            return Some(bottom);
        }
        if self.next == self.end && !self.map_region() {
            return None;
        }
        let slot = self.next;
        self.next += self.slot_size();
        self.install_guard(slot as *mut u8);
        Some((slot + self.guard) as *mut u8)
    }

    fn return_slot(&mut self, bottom: *mut u8, discard: bool) {
        if discard || self.free.len() >= RESIDENT_FREE_SLOTS {
            // SAFETY: the range is the usable part of a slot we mapped and no
            // job runs on it any more; dropping its pages only zeroes it.
            unsafe { libc::madvise(bottom.cast(), self.stack_size, libc::MADV_DONTNEED) };
        }
        if self.free.try_reserve(1).is_ok() {
            self.free.push(bottom);
        }
    }

    /// Maps the next region, shrinking the request when address space is
    /// tight (e.g. under `RLIMIT_AS`).
    fn map_region(&mut self) -> bool {
        if REGION_COUNT.load(Ordering::Relaxed) >= MAX_REGIONS {
            return false;
        }
        let mut slots = self.next_region_slots;
        while slots > 0 {
            let Some(length) = slots.checked_mul(self.slot_size()) else {
                slots /= 2;
                continue;
            };
            if !address_space_allows(length) {
                slots /= 2;
                continue;
            }
            if let Some(base) = map_anonymous(length, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_STACK) {
                let index = REGION_COUNT.load(Ordering::Relaxed);
                REGION_STARTS[index].store(base as usize, Ordering::Release);
                REGION_ENDS[index].store(base as usize + length, Ordering::Release);
                REGION_COUNT.store(index + 1, Ordering::Release);
                crate::live::note_range(base as usize, length);
                self.next = base as usize;
                self.end = base as usize + length;
                self.next_region_slots = (slots * 2).min(MAX_REGION_SLOTS);
                if let Guards::Mprotect { spent, .. } = &mut self.guards {
                    *spent += 1;
                }
                return true;
            }
            slots /= 2;
        }
        let why = std::io::Error::last_os_error();
        if address_space_allows(self.slot_size()) {
            log::emit(Level::Warn, format_args!("cannot map memory for job stacks: {why}"));
        } else {
            log::emit(
                Level::Warn,
                format_args!(
                    "no more job stacks: the rest of the address-space limit (RLIMIT_AS) is left to the program"
                ),
            );
        }
        false
    }

    fn install_guard(&mut self, slot: *mut u8) {
        if !matches!(self.guards, Guards::Off) {
            valgrind::make_noaccess(slot, self.guard);
        }
        if let Guards::Madvise = self.guards {
            // SAFETY: `slot` is the first page of a slot inside a region we mapped.
            if unsafe { libc::madvise(slot.cast(), self.guard, MADV_GUARD_INSTALL) } == 0 {
                return;
            }
            log::emit(
                Level::Info,
                format_args!(
                    "MADV_GUARD_INSTALL unavailable ({}); using mprotect guard pages",
                    std::io::Error::last_os_error()
                ),
            );
            self.guards = Guards::Mprotect {
                spent: REGION_COUNT.load(Ordering::Relaxed),
                budget: mapping_budget(),
            };
        }
        if let Guards::Mprotect { spent, budget } = &mut self.guards {
            // A guard in the middle of a mapping splits it in two more pieces.
            if *spent + 2 <= *budget {
                // SAFETY: as above; only the guard zone changes protection.
                if unsafe { libc::mprotect(slot.cast(), self.guard, libc::PROT_NONE) } == 0 {
                    *spent += 2;
                    return;
                }
            }
        }
        if !matches!(self.guards, Guards::Off) && !self.warned_unguarded {
            self.warned_unguarded = true;
            log::emit(
                Level::Warn,
                format_args!(
                    "guard-page budget spent (kernel lacks MADV_GUARD_INSTALL); further job stacks are unguarded"
                ),
            );
        }
    }
}

/// How many memory mappings `mprotect` guards may use: a quarter of the
/// kernel's per-process limit, leaving the rest to the host program.
fn mapping_budget() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .unwrap_or(65530)
        / 4
}
