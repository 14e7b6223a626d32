//! Job stacks: the `Stack` a job runs on and where it comes from — the
//! program's own allocator (`ASYNC_set_mem_functions`) or the library's
//! guarded regions (`region`).
//!
//! Stacks from the program's allocator get no guard zone, and like every
//! stack lose their top `SIDE_BYTES` (64) to the library's bookkeeping
//! (`StackSide`).
//!
//! Every stack is registered with valgrind (a no-op outside it), and its
//! AddressSanitizer poison is cleared when it is given back.

use std::ffi::c_void;
use std::ptr;

use crate::config;
use crate::ctypes::{ASYNC_stack_alloc_fn, ASYNC_stack_free_fn, Set};
use crate::lock::{ForkHold, Guard, Lock};
use crate::log::{self, Level};
use crate::region;
use crate::stats;
use crate::{sanitizer, valgrind};

/// A job's stack: `size` usable bytes starting at `bottom`.
#[derive(Debug)]
pub struct Stack {
    /// Lowest usable address.
    bottom: *mut u8,
    /// Usable bytes; the `SIDE_BYTES` above them hold the `StackSide`.
    size: usize,
    origin: Origin,
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    Region,
    Custom(Set<ASYNC_stack_free_fn>),
}

/// Bookkeeping kept at the very top of each stack, above what the job may
/// use, so the control block stays within its cache lines: valgrind's id
/// for the stack, and what AddressSanitizer needs to follow the switches.
/// Only the thread that owns the job touches it.
#[derive(Default)]
#[repr(C, align(16))]
pub struct StackSide {
    valgrind_id: std::cell::Cell<usize>,
    /// Set while a freed job is entered one last time (sanitizer runs only).
    pub dying: std::cell::Cell<bool>,
    pub notes: crate::sanitizer::FibreNotes,
}

/// Bytes reserved at the top of every stack for its `StackSide`.
const SIDE_BYTES: usize = 64;
const _: () = assert!(size_of::<StackSide>() <= SIDE_BYTES);

impl Stack {
    pub fn bottom(&self) -> *mut u8 {
        self.bottom
    }

    /// The top of the usable part (the fibre's initial stack pointer).
    pub fn top(&self) -> *mut u8 {
        self.bottom.wrapping_add(self.size)
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The stack's bookkeeping block.
    pub fn side(&self) -> &StackSide {
        // SAFETY: `new` wrote a StackSide at `top()`, 16-byte aligned (both
        // ends of every stack are), inside the stack's memory, which lives
        // as long as `self`.
        unsafe { &*self.top().cast::<StackSide>() }
    }

    /// Takes `[bottom, bottom + full_size)`, keeps its top `SIDE_BYTES` for
    /// bookkeeping, and registers the rest with valgrind.
    fn new(bottom: *mut u8, full_size: usize, origin: Origin) -> Stack {
        let size = (full_size - SIDE_BYTES) & !15;
        let stack = Stack { bottom, size, origin };
        // SAFETY: the side block lies within the stack's memory, which is
        // ours and writable; nothing else refers to it yet.
        unsafe { stack.top().cast::<StackSide>().write(StackSide::default()) };
        let id = valgrind::register_stack(bottom, stack.top());
        stack.side().valgrind_id.set(id);
        stack
    }
}

/// Where a `Some(Stack)` keeps its lowest address and usable size inside an
/// `Option<Stack>`, in bytes from its start: what a debugger needs to find a
/// job's stack (see `introspect`).
pub const OPTION_FIELD_OFFSETS: (usize, usize) = {
    let probe = Some(Stack {
        bottom: ptr::null_mut(),
        size: 0,
        origin: Origin::Region,
    });
    let start = (&raw const probe).cast::<u8>();
    match &probe {
        // SAFETY: both pointers are into `probe`, one allocation.
        Some(stack) => unsafe {
            (
                (&raw const stack.bottom).cast::<u8>().offset_from(start) as usize,
                (&raw const stack.size).cast::<u8>().offset_from(start) as usize,
            )
        },
        None => (0, 0),
    }
};

/// Makes a stack for a new job: from the program's allocator if it set one,
/// else from the guarded regions. `None` when memory is exhausted.
pub fn allocate() -> Option<Stack> {
    let stack = allocate_unpainted()?;
    if stats::enabled() {
        // SAFETY: a fresh stack, ours alone, page- or malloc-aligned.
        unsafe { stats::paint(stack.bottom, stack.size) };
    }
    Some(stack)
}

fn allocate_unpainted() -> Option<Stack> {
    let custom = {
        let mut mem = memory_functions();
        mem.stack_made = true;
        mem.custom
    };
    match custom {
        Some((alloc, free)) => {
            let mut size = config::get().stack_size;
            // SAFETY: the program registered `alloc` as an ASYNC_stack_alloc_fn.
            let bottom = unsafe { alloc(&mut size) }.cast::<u8>();
            if bottom.is_null() || size < config::MIN_STACK_SIZE / 4 {
                if !bottom.is_null() {
                    // SAFETY: returning the block to the allocator it came from.
                    unsafe { free(bottom.cast()) };
                }
                log::emit(
                    Level::Warn,
                    format_args!("the stack allocator set by ASYNC_set_mem_functions returned no usable stack"),
                );
                return None;
            }
            Some(Stack::new(bottom, size, Origin::Custom(free)))
        }
        None => region::take_slot().map(|bottom| Stack::new(bottom, region::stack_size(), Origin::Region)),
    }
}

/// Gives a stack back to where it came from.
pub fn release(stack: Stack) {
    release_with(stack, false);
}

/// Gives a stack back, and its pages to the kernel at once (idle jobs
/// being trimmed, see `trim`), rather than keeping it resident for reuse.
pub fn release_cold(stack: Stack) {
    release_with(stack, true);
}

fn release_with(stack: Stack, discard: bool) {
    if stats::enabled() {
        // SAFETY: painted when allocated (stats are read once, so the setting
        // has not changed), and no job runs on it any more.
        unsafe { stats::scan(stack.bottom, stack.size) };
    }
    valgrind::deregister_stack(stack.side().valgrind_id.get());
    sanitizer::unpoison(stack.bottom, stack.size);
    match stack.origin {
        // SAFETY: the block came from this allocator and no job runs on it.
        Origin::Custom(free) => unsafe { free(stack.bottom.cast()) },
        Origin::Region => region::return_slot(stack.bottom, discard),
    }
}

pub(crate) struct MemoryFunctions {
    custom: Option<(Set<ASYNC_stack_alloc_fn>, Set<ASYNC_stack_free_fn>)>,
    stack_made: bool,
}

static MEMORY_FUNCTIONS: Lock<MemoryFunctions> = Lock::new(MemoryFunctions {
    custom: None,
    stack_made: false,
});

fn memory_functions() -> Guard<'static, MemoryFunctions> {
    MEMORY_FUNCTIONS.lock()
}

/// `ASYNC_set_mem_functions`: refused once any stack exists, because stacks
/// already made would be freed by the wrong function. A null argument keeps
/// the current function.
pub fn set_memory_functions(alloc: ASYNC_stack_alloc_fn, free: ASYNC_stack_free_fn) -> bool {
    let mut mem = memory_functions();
    if mem.stack_made {
        return false;
    }
    let (current_alloc, current_free) = mem.custom.unwrap_or((default_alloc, default_free));
    let chosen = (alloc.unwrap_or(current_alloc), free.unwrap_or(current_free));
    let is_default = ptr::fn_addr_eq(chosen.0, default_alloc as Set<ASYNC_stack_alloc_fn>)
        && ptr::fn_addr_eq(chosen.1, default_free as Set<ASYNC_stack_free_fn>);
    mem.custom = if is_default { None } else { Some(chosen) };
    true
}

/// `ASYNC_get_mem_functions`: the functions in force, ours when none was set.
pub fn memory_functions_in_force() -> (Set<ASYNC_stack_alloc_fn>, Set<ASYNC_stack_free_fn>) {
    memory_functions().custom.unwrap_or((default_alloc, default_free))
}

/// The allocator `ASYNC_get_mem_functions` reports when the program set none:
/// a guarded slot. Requests larger than the configured stack size fail,
/// since every slot has that size.
unsafe extern "C" fn default_alloc(num: *mut usize) -> *mut c_void {
    let size = region::stack_size();
    // SAFETY: OpenSSL's contract makes `num` point to the requested size.
    if num.is_null() || unsafe { *num } > size {
        return ptr::null_mut();
    }
    match region::take_slot() {
        Some(bottom) => {
            // SAFETY: checked non-null above.
            unsafe { *num = size };
            bottom.cast()
        }
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn default_free(addr: *mut c_void) {
    if !addr.is_null() {
        region::return_slot(addr.cast(), false);
    }
}

/// The size of the library's own job stacks: the configured size, rounded
/// up to pages (of which the top `SIDE_BYTES` hold the `StackSide`).
pub fn usable_size() -> usize {
    region::stack_size()
}

/// `pthread_atfork` support: holds the stack locks across `fork()` so the
/// child never inherits one locked by a thread that does not exist there.
pub(crate) struct ForkLocks {
    _memory_functions: ForkHold<'static, MemoryFunctions>,
    _regions: region::ForkLock,
}

pub(crate) fn lock_for_fork() -> ForkLocks {
    ForkLocks {
        _memory_functions: MEMORY_FUNCTIONS.hold_for_fork(),
        _regions: region::lock_for_fork(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GuardMode;

    #[test]
    fn slots_are_distinct_writable_and_reused() {
        let a = allocate().expect("stack");
        let b = allocate().expect("stack");
        assert_ne!(a.bottom(), b.bottom());
        assert!(a.top() as usize - a.bottom() as usize >= config::MIN_STACK_SIZE);
        // SAFETY: both ranges are usable stack memory we own.
        unsafe {
            a.bottom().write_bytes(0xAA, a.top() as usize - a.bottom() as usize);
            b.bottom().write_bytes(0x55, b.top() as usize - b.bottom() as usize);
            assert_eq!(*a.top().sub(1), 0xAA);
        }
        let reused = a.bottom();
        release(a);
        let c = allocate().expect("stack");
        assert_eq!(c.bottom(), reused, "the last released slot is reused first");
        release(b);
        release(c);
    }

    #[test]
    fn the_page_below_a_stack_is_its_guard() {
        let s = allocate().expect("stack");
        let below = s.bottom() as usize - 1;
        if config::get().guard != GuardMode::Off {
            assert!(region::is_guard_page(below));
            assert!(
                region::is_guard_page(s.bottom() as usize - 64 * 1024),
                "a 64 KiB frame lands in the zone"
            );
        }
        assert!(!region::is_guard_page(s.bottom() as usize));
        assert!(!region::is_guard_page(s.top() as usize - 1));
        release(s);
    }
}
