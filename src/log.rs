//! One-line diagnostics on stderr, chosen by `RUSTASYNC_LOG`.
//!
//! Off by default; when off, a check costs one relaxed atomic load.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

const UNREAD: u8 = u8::MAX;
static LEVEL: AtomicU8 = AtomicU8::new(UNREAD);

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "0" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" | "1" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }
}

#[inline]
fn configured() -> u8 {
    let level = LEVEL.load(Ordering::Relaxed);
    if level != UNREAD { level } else { read_environment() }
}

#[cold]
#[inline(never)]
fn read_environment() -> u8 {
    let value = std::env::var("RUSTASYNC_LOG").unwrap_or_default();
    let parsed = Level::parse(&value);
    let level = parsed.unwrap_or(Level::Warn) as u8;
    LEVEL.store(level, Ordering::Relaxed);
    if parsed.is_none() {
        emit(
            Level::Warn,
            format_args!("RUSTASYNC_LOG={value} is not off|error|warn|info|debug|trace; using warn"),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse() {
        assert_eq!(Level::parse("TRACE"), Some(Level::Trace));
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse(""), Some(Level::Off));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Error < Level::Trace);
    }
}
