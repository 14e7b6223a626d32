//! Where job control blocks live: one reserved stretch of address space,
//! committed as it fills. A job handle is an address inside it, so checking
//! that a pointer from C really is one of our jobs costs a subtraction and a
//! comparison — no lookup, no dereference of foreign memory — and the whole
//! arena costs two memory mappings however many jobs exist.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::lock::{ForkHold, Lock};

use crate::log::{self, Level};

/// Address space asked for first; halved on refusal, and under `RLIMIT_AS`
/// until the host program keeps its share (`mem::address_space_allows`).
const RESERVE_BYTES: usize = 1 << 30;
const MIN_RESERVE_BYTES: usize = 1 << 22;
/// Committed in steps of one transparent huge page, so that (where the
/// kernel allows THP on request) 8,192 control blocks share one TLB entry:
/// resuming thousands of jobs in random order then misses the TLB on their
/// stacks only. The first step costs 2 MiB of resident memory.
const COMMIT_STEP: usize = 1 << 21;

/// A fixed-size-slot arena of `T`, reserved once, never unmapped. Freed slots
/// stay readable (zeroed state means free), so stale handles can be checked.
pub struct Arena<T> {
    base: AtomicUsize,
    committed: AtomicUsize,
    /// `committed` in slots, for `contains`, which then needs no shift.
    committed_slots: AtomicUsize,
    state: Lock<ArenaState>,
    marker: std::marker::PhantomData<fn() -> T>,
}

/// The arena's lock, held while the process forks.
pub struct ArenaForkLock<'a> {
    _hold: ForkHold<'a, ArenaState>,
}

struct ArenaState {
    reserved: usize,
    /// Slots never handed out start here.
    bump: usize,
    /// Released slot offsets, reused most recent first.
    free: Vec<usize>,
    /// One bit per page: given back to the kernel by `discard_free_pages`
    /// and not written since.
    discarded: Vec<u64>,
}

impl<T> Arena<T> {
    pub const fn new() -> Arena<T> {
        Arena {
            base: AtomicUsize::new(0),
            committed: AtomicUsize::new(0),
            committed_slots: AtomicUsize::new(0),
            state: Lock::new(ArenaState {
                reserved: 0,
                bump: 0,
                free: Vec::new(),
                discarded: Vec::new(),
            }),
            marker: std::marker::PhantomData,
        }
    }

    /// A power of two, so that checking a handle needs no division.
    const fn slot() -> usize {
        size_of::<T>().next_multiple_of(align_of::<T>()).next_power_of_two()
    }

    /// The slot size, and the cells holding the arena's base address and
    /// committed length: what a debugger reads to walk every slot.
    pub const fn debug_view(&self) -> (usize, &AtomicUsize, &AtomicUsize) {
        (Self::slot(), &self.base, &self.committed)
    }

    /// A number that differs between any two slots less than `span` slots
    /// apart, found from the address alone, without reading the arena; any
    /// address gives one below `span` (a power of two).
    #[inline(always)]
    pub fn slot_key(p: *const T, span: usize) -> usize {
        ((p as usize) >> Self::slot().trailing_zeros()) & (span - 1)
    }

    /// Whether `p` is the address of a slot of this arena (free or not).
    #[inline]
    pub fn contains(&self, p: *const T) -> bool {
        // Committed first: it is 0 until the base is set (and stored after
        // it), so an arena not yet reserved contains nothing without a test
        // of its own.
        let committed_slots = self.committed_slots.load(Ordering::Acquire);
        let offset = (p as usize).wrapping_sub(self.base.load(Ordering::Acquire));
        // In slots, one compare for both conditions: rotating a misaligned
        // offset carries its low bits to the top, past any committed length.
        offset.rotate_right(Self::slot().trailing_zeros()) < committed_slots
    }

    /// A slot for a new `T`, zero-filled or as its last user left it; `None`
    /// when address space or the reservation is exhausted.
    pub fn allocate(&self) -> Option<*mut T> {
        let mut state = self.state.lock();
        if let Some(offset) = state.free.pop() {
            let page = offset / crate::mem::page_size();
            if let Some(bits) = state.discarded.get_mut(page / 64) {
                *bits &= !(1 << (page % 64));
            }
            return Some((self.base.load(Ordering::Relaxed) + offset) as *mut T);
        }
        if state.reserved == 0 {
            self.reserve(&mut state)?;
        }
        let base = self.base.load(Ordering::Relaxed);
        let offset = state.bump;
        let end = offset + Self::slot();
        if end > state.reserved {
            log::emit(
                Level::Warn,
                format_args!("job arena full ({} bytes reserved)", state.reserved),
            );
            return None;
        }
        let committed = self.committed.load(Ordering::Relaxed);
        if end > committed {
            let grow = COMMIT_STEP.min(state.reserved - committed).max(end - committed);
            // SAFETY: the range lies inside our own PROT_NONE reservation.
            let ok = unsafe {
                libc::mprotect(
                    (base + committed) as *mut libc::c_void,
                    grow,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            } == 0;
            if !ok {
                log::emit(
                    Level::Warn,
                    format_args!("cannot commit job arena memory: {}", std::io::Error::last_os_error()),
                );
                return None;
            }
            self.committed.store(committed + grow, Ordering::Release);
            // Rounded down (a part of a slot holds no job; the lengths are
            // whole pages, so nothing is lost).
            self.committed_slots
                .store((committed + grow) / Self::slot(), Ordering::Release);
        }
        state.bump = end;
        Some((base + offset) as *mut T)
    }

    /// Returns a slot for reuse. The caller has already marked it free.
    pub fn release(&self, p: *mut T) {
        let mut state = self.state.lock();
        let offset = p as usize - self.base.load(Ordering::Relaxed);
        if state.free.try_reserve(1).is_ok() {
            state.free.push(offset);
        }
    }

    /// Gives back to the kernel every committed page whose slots are all
    /// free. A discarded page reads as zeros, which is a free slot, so stale
    /// handles are still recognised. Cold: after idle jobs were retired.
    pub fn discard_free_pages(&self) {
        let page = crate::mem::page_size();
        let per_page = page / Self::slot();
        if per_page == 0 {
            return;
        }
        let mut state = self.state.lock();
        let pages = state.bump.div_ceil(page);
        let mut free_in_page = vec![0usize; pages];
        for &offset in &state.free {
            free_in_page[offset / page] += 1;
        }
        state.discarded.resize(pages.div_ceil(64), 0);
        let base = self.base.load(Ordering::Relaxed);
        let mut first = 0;
        while first < pages {
            let wanted = |p: usize, d: &[u64]| free_in_page[p] == per_page && d[p / 64] & (1 << (p % 64)) == 0;
            if !wanted(first, &state.discarded) {
                first += 1;
                continue;
            }
            let mut end = first;
            while end < pages && wanted(end, &state.discarded) {
                state.discarded[end / 64] |= 1 << (end % 64);
                end += 1;
            }
            // SAFETY: whole pages of our committed arena holding only free
            // slots; the lock keeps `allocate` from handing one out meanwhile.
            unsafe {
                libc::madvise(
                    (base + first * page) as *mut libc::c_void,
                    (end - first) * page,
                    libc::MADV_DONTNEED,
                )
            };
            first = end;
        }
    }

    /// Holds the arena's lock across `fork()` (see `fork::before_fork`).
    pub fn lock_for_fork(&self) -> ArenaForkLock<'_> {
        ArenaForkLock {
            _hold: self.state.hold_for_fork(),
        }
    }

    fn reserve(&self, state: &mut ArenaState) -> Option<()> {
        let mut length = RESERVE_BYTES;
        // Under an address-space limit, control blocks get a small share of
        // what is left: each job also needs a stack two hundred times larger.
        if let Some(available) = crate::mem::address_space_available() {
            while length > MIN_RESERVE_BYTES && length > available / 32 {
                length /= 2;
            }
        }
        while length >= MIN_RESERVE_BYTES {
            if !crate::mem::address_space_allows(length) {
                length /= 2;
                continue;
            }
            if let Some(base) = crate::mem::map_anonymous(length, libc::PROT_NONE, 0) {
                // SAFETY: advice on our own fresh mapping; failure (no THP)
                // only means ordinary pages.
                unsafe { libc::madvise(base, length, libc::MADV_HUGEPAGE) };
                state.reserved = length;
                crate::live::note_range(base as usize, length);
                self.base.store(base as usize, Ordering::Release);
                return Some(());
            }
            length /= 2;
        }
        log::emit(
            Level::Warn,
            format_args!(
                "cannot reserve address space for jobs: {}",
                std::io::Error::last_os_error()
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(64))]
    struct Block([u64; 8]);

    #[test]
    fn slots_are_recognised_and_reused() {
        let arena: Arena<Block> = Arena::new();
        assert!(!arena.contains(std::ptr::null()));
        let a = arena.allocate().expect("slot");
        let b = arena.allocate().expect("slot");
        assert!(arena.contains(a) && arena.contains(b));
        assert!(!arena.contains((a as usize + 8) as *const Block));
        assert!(!arena.contains(&Block([0; 8])));
        arena.release(a);
        assert_eq!(arena.allocate(), Some(a));
    }

    #[test]
    fn only_pages_of_free_slots_are_discarded() {
        let arena: Arena<Block> = Arena::new();
        let per_page = crate::mem::page_size() / size_of::<Block>();
        let slots: Vec<_> = (0..per_page * 2).map(|_| arena.allocate().expect("slot")).collect();
        for &slot in &slots {
            // SAFETY: a slot of ours, never shared.
            unsafe { slot.write(Block([7; 8])) };
        }
        for &slot in &slots[..per_page + 1] {
            arena.release(slot);
        }
        arena.discard_free_pages();
        // SAFETY: arena slots stay mapped and readable.
        let first = unsafe { (*slots[0]).0[0] };
        // SAFETY: as above.
        let kept = unsafe { (*slots[per_page + 1]).0[0] };
        assert_eq!(first, 0, "a page of free slots reads as zeros once discarded");
        assert_eq!(kept, 7, "a page with a slot in use keeps its contents");
        let again = arena.allocate().expect("slot");
        // SAFETY: as above; a reused slot of a discarded page is writable.
        unsafe { again.write(Block([9; 8])) };
    }
}
