//! What a debugger needs to find every job of a process, live or in a core
//! dump, in a release build without type information: one exported,
//! always-kept symbol, `rustasync_debug_info`, holding the addresses of the
//! job arena's base and length cells and the byte offsets of the fields
//! `tools/gdb/rustasync.py` reads. The arena is one reserved range, so
//! walking its committed slots finds every job, in any state.
//!
//! The layout is versioned; the gdb extension refuses a version it does not
//! know rather than misread memory.

use std::sync::atomic::AtomicUsize;

use crate::job::{DEBUG_OFFSETS, JOBS};
use crate::pool::TID_OFFSET;

/// `RUSTASYNC` as little-endian bytes, then a layout version.
const MAGIC: u64 = u64::from_le_bytes(*b"RUSTASYN");
const VERSION: u64 = 1;

/// Read by debuggers only; every field is a plain 64-bit word.
#[repr(C)]
pub struct DebugInfo {
    magic: u64,
    version: u64,
    /// Holds the address of the first slot (0 before the first job).
    arena_base: &'static AtomicUsize,
    /// Holds how many bytes of slots are committed.
    arena_committed: &'static AtomicUsize,
    slot_size: usize,
    /// Offsets in a slot: state (one byte: 0 free, 1 idle, 2 running,
    /// 3 paused), owner (the owning thread's pool), wait context, saved fibre
    /// context, stack bottom, stack size, saved context of the code that
    /// entered a running job.
    job_offsets: [usize; 7],
    /// Offset of the kernel thread id (32 bits) in a job's owner (a pool).
    thread_tid: usize,
}

/// The symbol the gdb extension looks up. `#[used]` and `no_mangle` keep it
/// through LTO and in both the shared and the static library.
#[used]
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static rustasync_debug_info: DebugInfo = DebugInfo {
    magic: MAGIC,
    version: VERSION,
    arena_base: JOBS.debug_view().1,
    arena_committed: JOBS.debug_view().2,
    slot_size: JOBS.debug_view().0,
    job_offsets: DEBUG_OFFSETS,
    thread_tid: TID_OFFSET,
};
