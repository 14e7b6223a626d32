//! The layout of the live-figures file (`RUSTASYNC_STATS=live`), shared by
//! the library, which writes it, and `rustasync-stat`, which reads it.
//! Every value is a 64-bit little-endian word at an 8-byte-aligned offset,
//! so a reader never sees half of a counter.
//!
//! The file is a header page followed by `SLOTS` thread slots. A slot holds
//! one thread's counters; its owner alone writes them, with plain stores
//! (see `stats`).

/// The first word of the file: the bytes `RUSTASTA`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RUSTASTA");
pub const VERSION: u64 = 1;
pub const HEADER_BYTES: usize = 4096;
pub const SLOT_BYTES: usize = 128;
pub const SLOTS: usize = 1024;
pub const FILE_BYTES: usize = HEADER_BYTES + SLOTS * SLOT_BYTES;

/// The file name in its directory: `rustasync.<pid>`.
pub const FILE_PREFIX: &str = "rustasync.";
/// Where the file goes unless `RUSTASYNC_STATS_DIR` names a directory.
pub const DEFAULT_DIR: &str = "/dev/shm";

/// Word indices in the header.
pub mod header {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 1;
    pub const PID: usize = 2;
    pub const SLOTS: usize = 3;
    /// Usable bytes of each job stack (0 until the first stack is made).
    pub const STACK_SIZE: usize = 4;
    /// How many address ranges the library mapped (may exceed what fits).
    pub const REGION_COUNT: usize = 5;
    /// Threads that found no free slot (their counters are not in the file).
    pub const UNLISTED_THREADS: usize = 6;
    /// Pairs of words from here on: start and end of each range.
    pub const REGIONS: usize = 8;
}

/// How many ranges the header has room for.
pub const MAX_REGIONS: usize = (HEADER_BYTES / 8 - header::REGIONS) / 2;

/// Word indices in a slot.
pub mod slot {
    /// `KIND_*` below.
    pub const KIND: usize = 0;
    /// Kernel thread id of a live thread's slot.
    pub const TID: usize = 1;
    pub const CREATED: usize = 2;
    pub const DESTROYED: usize = 3;
    pub const STARTED: usize = 4;
    pub const FINISHED: usize = 5;
    pub const PAUSED: usize = 6;
    pub const RESUMED: usize = 7;
    pub const PAUSED_NOW: usize = 8;
    pub const PAUSED_PEAK: usize = 9;
    pub const IDLE: usize = 10;
    /// Deepest stack use seen at a pause, in bytes.
    pub const DEEPEST: usize = 11;
    /// `ASYNC_start_job` calls refused with `ASYNC_NO_JOBS`.
    pub const NO_JOBS: usize = 12;
}

pub const KIND_FREE: u64 = 0;
pub const KIND_THREAD: u64 = 1;
/// Slot 0: what threads that exited had counted.
pub const KIND_EXITED: u64 = 2;
