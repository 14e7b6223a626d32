//! Settings read once from the environment.
//!
//! Every knob has a default that matches or beats OpenSSL's own behaviour, so
//! the library works unconfigured inside programs that never heard of it.

use std::sync::OnceLock;

use crate::log::{self, Level};

/// OpenSSL gives each job 32 KiB, of which a job can really use about 28 KiB;
/// TLS handshakes with certificate verification run close to that edge, so
/// the default doubles it. Untouched pages cost address space only.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
/// Below this the job entry code and a C call chain no longer fit.
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// Large enough for any sane job, small enough that a typo cannot make each
/// job reserve gigabytes.
pub const MAX_STACK_SIZE: usize = 256 * 1024 * 1024;

/// How stack guard pages are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// `MADV_GUARD_INSTALL` where the kernel has it, else `mprotect` within a
    /// budget of memory mappings, else no guard.
    Auto,
    /// Skip `MADV_GUARD_INSTALL`: the fallback path of older kernels.
    Mprotect,
    /// No guard pages at all.
    Off,
}

#[derive(Debug)]
pub struct Config {
    pub stack_size: usize,
    pub guard: GuardMode,
    /// `RUSTASYNC_FAULT_HANDLER=0` keeps the library's fault handler (and
    /// its signal stacks) out of the process entirely.
    pub fault_handler: bool,
    /// Idle-list changes between looks for idle jobs to give back (see
    /// `trim`); 0 = never.
    pub trim_period: usize,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

pub fn get() -> &'static Config {
    CONFIG.get_or_init(|| Config {
        stack_size: stack_size_from(std::env::var("RUSTASYNC_STACK_SIZE").ok().as_deref()),
        guard: guard_from(std::env::var("RUSTASYNC_GUARD").ok().as_deref()),
        fault_handler: switch_from(
            "RUSTASYNC_FAULT_HANDLER",
            std::env::var("RUSTASYNC_FAULT_HANDLER").ok().as_deref(),
        ),
        trim_period: trim_from(std::env::var("RUSTASYNC_TRIM").ok().as_deref()),
    })
}

fn stack_size_from(value: Option<&str>) -> usize {
    let Some(text) = value else {
        return DEFAULT_STACK_SIZE;
    };
    match parse_size(text) {
        Some(size) if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) => size,
        Some(size) => {
            let clamped = size.clamp(MIN_STACK_SIZE, MAX_STACK_SIZE);
            log::emit(
                Level::Warn,
                format_args!("RUSTASYNC_STACK_SIZE={text} is out of range, using {clamped} bytes"),
            );
            clamped
        }
        None => {
            log::emit(
                Level::Warn,
                format_args!(
                    "RUSTASYNC_STACK_SIZE={text} is not a size (bytes, or with K/M), using {DEFAULT_STACK_SIZE}"
                ),
            );
            DEFAULT_STACK_SIZE
        }
    }
}

fn guard_from(value: Option<&str>) -> GuardMode {
    match value.map(str::trim) {
        None | Some("") | Some("auto") => GuardMode::Auto,
        Some("mprotect") => GuardMode::Mprotect,
        Some("off") | Some("none") => GuardMode::Off,
        Some(other) => {
            log::emit(
                Level::Warn,
                format_args!("RUSTASYNC_GUARD={other} is not auto, mprotect or off; using auto"),
            );
            GuardMode::Auto
        }
    }
}

/// An on/off knob, on unless set to `0`, `off`, `no` or `false`.
fn switch_from(name: &str, value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") | Some("1") | Some("on") | Some("yes") | Some("true") => true,
        Some("0") | Some("off") | Some("no") | Some("false") => false,
        Some(other) => {
            log::emit(Level::Warn, format_args!("{name}={other} is not 0 or 1; using 1"));
            true
        }
    }
}

/// Idle-list changes between two looks at the pool's low-water mark
/// (`trim`), unless `RUSTASYNC_TRIM` says otherwise.
pub const DEFAULT_TRIM_PERIOD: usize = 1024;

fn trim_from(value: Option<&str>) -> usize {
    match value.map(str::trim) {
        None | Some("") | Some("on") => DEFAULT_TRIM_PERIOD,
        Some("off") => 0,
        Some(text) => text.parse::<usize>().unwrap_or_else(|_| {
            log::emit(
                Level::Warn,
                format_args!(
                    "RUSTASYNC_TRIM={text} is not a number of pool operations (0 = off); using {}",
                    DEFAULT_TRIM_PERIOD
                ),
            );
            DEFAULT_TRIM_PERIOD
        }),
    }
}

/// Parses `65536`, `64K`, `64k`, `1M` or `1m` into bytes.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (at, 'k' | 'K') => (&text[..at], 1024),
        (at, 'm' | 'M') => (&text[..at], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size(" 2M "), Some(2 * 1024 * 1024));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("12G"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
    }

    #[test]
    fn stack_size_is_clamped_and_defaulted() {
        assert_eq!(stack_size_from(None), DEFAULT_STACK_SIZE);
        assert_eq!(stack_size_from(Some("128K")), 128 * 1024);
        assert_eq!(stack_size_from(Some("1K")), MIN_STACK_SIZE);
        assert_eq!(stack_size_from(Some("junk")), DEFAULT_STACK_SIZE);
    }

    #[test]
    fn switches_are_on_unless_turned_off() {
        assert!(switch_from("X", None));
        assert!(switch_from("X", Some("1")));
        assert!(!switch_from("X", Some("0")));
        assert!(!switch_from("X", Some(" off ")));
        assert!(switch_from("X", Some("maybe")));
    }

    #[test]
    fn trim_periods_parse() {
        assert_eq!(trim_from(None), DEFAULT_TRIM_PERIOD);
        assert_eq!(trim_from(Some("0")), 0);
        assert_eq!(trim_from(Some("off")), 0);
        assert_eq!(trim_from(Some("4096")), 4096);
        assert_eq!(trim_from(Some("lots")), DEFAULT_TRIM_PERIOD);
    }

    #[test]
    fn guard_modes_parse() {
        assert_eq!(guard_from(None), GuardMode::Auto);
        assert_eq!(guard_from(Some("mprotect")), GuardMode::Mprotect);
        assert_eq!(guard_from(Some("off")), GuardMode::Off);
        assert_eq!(guard_from(Some("bogus")), GuardMode::Auto);
    }
}
