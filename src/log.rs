//! One-line diagnostics on stderr, chosen by `RUSTASYNC_LOG`.
//!
//! Off by default; when off, a check costs one relaxed atomic load. The
//! level and the warnings about settings come from `config`.

use std::fmt;
use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::config;

pub use crate::config::Level;

const UNREAD: u8 = u8::MAX;
static LEVEL: AtomicU8 = AtomicU8::new(UNREAD);

#[inline]
fn configured() -> u8 {
    let level = LEVEL.load(Ordering::Relaxed);
    if level != UNREAD { level } else { read_environment() }
}

#[cold]
#[inline(never)]
fn read_environment() -> u8 {
    let config = config::get();
    let level = config.log as u8;
    LEVEL.store(level, Ordering::Relaxed);
    // Settings that were not taken as written say so once, at the first
    // moment anything could be logged.
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        for warning in &config.warnings {
            emit(Level::Warn, format_args!("{warning}"));
        }
    });
    level
}

#[inline]
pub fn enabled(level: Level) -> bool {
    level as u8 <= configured()
}

/// Writes one line if `level` is enabled. The line is assembled first so that
/// lines from different threads do not interleave.
pub fn emit(level: Level, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format!("rustasync: {}: {}\n", level.name(), message);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
