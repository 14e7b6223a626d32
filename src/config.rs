//! Settings read once from the environment: the only place the library
//! looks at it.
//!
//! Every knob has a default that matches or beats OpenSSL's own behaviour, so
//! the library works unconfigured inside programs that never heard of it.
//!
//! Variables are read with `secure_getenv`. In a process whose privileges
//! differ from its caller's (setuid, setgid, file capabilities: glibc's
//! `AT_SECURE`) every `RUSTASYNC_*` variable reads as unset, so whoever
//! starts a privileged program cannot turn on its diagnostics (which name
//! addresses), take away its guard pages or choose its stack size.
//!
//! The parsers are pure functions of the variable's bytes, so any byte
//! string can be fed to them (`fuzz/src/env_parsers.rs` does): each returns
//! the documented default or a documented clamp, with at most one bounded,
//! single-line warning, which `log` prints when it first starts.

use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

/// OpenSSL gives each job 32 KiB, of which a job can really use about 28 KiB;
/// TLS handshakes with certificate verification run close to that edge, so
/// the default doubles it. Untouched pages cost address space only.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
/// Below this the job entry code and a C call chain no longer fit.
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// Large enough for any sane job, small enough that a typo cannot make each
/// job reserve gigabytes.
pub const MAX_STACK_SIZE: usize = 256 * 1024 * 1024;
/// How many idle-list changes `trim` lets pass between its looks for idle
/// jobs to give back, unless `RUSTASYNC_TRIM` says otherwise.
pub const DEFAULT_TRIM_PERIOD: usize = 1024;
/// How much of a rejected value a warning repeats: enough to recognise it,
/// never a line as long as whatever the environment held.
pub const ECHO_LIMIT: usize = 64;

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

/// How much `log` writes; lives here because `RUSTASYNC_LOG` is a setting
/// like the others (`log` re-exports it).
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

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// What `RUSTASYNC_STATS` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stats {
    Off,
    /// The report at exit, and stack measurement.
    Report,
    /// The live-figures file (see `live`).
    Live,
}

/// A parsed setting and, when the text was not taken as written, why.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<T> {
    pub value: T,
    pub warning: Option<String>,
}

impl<T> Parsed<T> {
    fn exact(value: T) -> Parsed<T> {
        Parsed { value, warning: None }
    }
}

#[derive(Debug)]
pub struct Config {
    pub stack_size: usize,
    pub guard: GuardMode,
    pub log: Level,
    pub stats: Stats,
    /// `RUSTASYNC_STATS_DIR`: where the live-figures file goes.
    pub stats_dir: Option<CString>,
    /// `RUSTASYNC_FAULT_HANDLER=0` keeps the library's fault handler (and
    /// its signal stacks) out of the process entirely.
    pub fault_handler: bool,
    /// Idle-list changes between looks for idle jobs to give back (see
    /// `trim`); 0 = never.
    pub trim_period: usize,
    /// One line per variable that was not taken as written.
    pub warnings: Vec<String>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

pub fn get() -> &'static Config {
    CONFIG.get_or_init(|| {
        let stack = read(c"RUSTASYNC_STACK_SIZE", parse_stack_size);
        let guard = read(c"RUSTASYNC_GUARD", parse_guard);
        let log = read(c"RUSTASYNC_LOG", parse_log);
        let stats = read(c"RUSTASYNC_STATS", parse_stats);
        let stats_dir = read(c"RUSTASYNC_STATS_DIR", parse_stats_dir);
        let trim = read(c"RUSTASYNC_TRIM", parse_trim);
        let fault_handler = read(c"RUSTASYNC_FAULT_HANDLER", parse_fault_handler);
        let warnings = [
            stack.warning,
            guard.warning,
            log.warning,
            stats.warning,
            stats_dir.warning,
            trim.warning,
            fault_handler.warning,
        ]
        .into_iter()
        .flatten()
        .collect();
        Config {
            stack_size: stack.value,
            guard: guard.value,
            log: log.value,
            stats: stats.value,
            stats_dir: stats_dir.value,
            trim_period: trim.value,
            fault_handler: fault_handler.value,
            warnings,
        }
    })
}

// glibc's (since 2.17); the `libc` crate declares it for Solaris only.
unsafe extern "C" {
    fn secure_getenv(name: *const c_char) -> *mut c_char;
}

/// Parses a variable's bytes where they lie, without copying them (so its
/// length costs nothing); `None` when it is unset or the process is
/// privileged (see the module's comment).
fn read<T>(name: &CStr, parse: fn(Option<&[u8]>) -> Parsed<T>) -> Parsed<T> {
    // SAFETY: `name` is NUL-terminated; the returned pointer, when not
    // null, is a NUL-terminated string in the environment, read before
    // this function returns.
    let value = unsafe {
        let value = secure_getenv(name.as_ptr());
        (!value.is_null()).then(|| CStr::from_ptr(value).to_bytes())
    };
    parse(value)
}

/// Whether the process runs with privileges its caller lacks (setuid,
/// setgid, file capabilities), as the kernel told it at `exec`: when
/// `secure_getenv` reads nothing. Async-signal-safe.
pub fn privileged() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The value as a warning may show it: the first `ECHO_LIMIT` bytes, with
/// anything but printable ASCII escaped, so that a value cannot forge log
/// lines or send terminal control sequences.
pub fn echo(value: &[u8]) -> String {
    let shown = &value[..value.len().min(ECHO_LIMIT)];
    let mut text = shown.escape_ascii().to_string();
    if value.len() > ECHO_LIMIT {
        text.push_str("...");
    }
    text
}

/// `RUSTASYNC_STACK_SIZE`: bytes, or with a `K`/`M` suffix, within
/// `MIN_STACK_SIZE..=MAX_STACK_SIZE` (clamped with a warning); anything
/// else gives the default with a warning.
pub fn parse_stack_size(value: Option<&[u8]>) -> Parsed<usize> {
    let Some(text) = value else {
        return Parsed::exact(DEFAULT_STACK_SIZE);
    };
    match parse_size(text) {
        Some(size) if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) => Parsed::exact(size),
        Some(size) => {
            let clamped = size.clamp(MIN_STACK_SIZE, MAX_STACK_SIZE);
            Parsed {
                value: clamped,
                warning: Some(format!(
                    "RUSTASYNC_STACK_SIZE={} is out of range, using {clamped} bytes",
                    echo(text)
                )),
            }
        }
        None => Parsed {
            value: DEFAULT_STACK_SIZE,
            warning: Some(format!(
                "RUSTASYNC_STACK_SIZE={} is not a size (bytes, or with K/M), using {DEFAULT_STACK_SIZE}",
                echo(text)
            )),
        },
    }
}

/// `RUSTASYNC_GUARD`: `auto` (or empty), `mprotect`, `off` or `none`;
/// anything else gives `auto` with a warning.
pub fn parse_guard(value: Option<&[u8]>) -> Parsed<GuardMode> {
    match value.map(<[u8]>::trim_ascii) {
        None | Some(b"" | b"auto") => Parsed::exact(GuardMode::Auto),
        Some(b"mprotect") => Parsed::exact(GuardMode::Mprotect),
        Some(b"off" | b"none") => Parsed::exact(GuardMode::Off),
        Some(other) => Parsed {
            value: GuardMode::Auto,
            warning: Some(format!(
                "RUSTASYNC_GUARD={} is not auto, mprotect or off; using auto",
                echo(other)
            )),
        },
    }
}

/// `RUSTASYNC_LOG`, any case: unset, empty, `off`, `0` or `none` is off;
/// `error`, `warn`/`warning`, `info`/`1`, `debug`, `trace`; anything else
/// gives `warn` with a warning.
pub fn parse_log(value: Option<&[u8]>) -> Parsed<Level> {
    let Some(text) = value else {
        return Parsed::exact(Level::Off);
    };
    let word = text.trim_ascii();
    let names: [(&[u8], Level); 11] = [
        (b"", Level::Off),
        (b"off", Level::Off),
        (b"0", Level::Off),
        (b"none", Level::Off),
        (b"error", Level::Error),
        (b"warn", Level::Warn),
        (b"warning", Level::Warn),
        (b"info", Level::Info),
        (b"1", Level::Info),
        (b"debug", Level::Debug),
        (b"trace", Level::Trace),
    ];
    match names.iter().find(|(name, _)| word.eq_ignore_ascii_case(name)) {
        Some(&(_, level)) => Parsed::exact(level),
        None => Parsed {
            value: Level::Warn,
            warning: Some(format!(
                "RUSTASYNC_LOG={} is not off|error|warn|info|debug|trace; using warn",
                echo(text)
            )),
        },
    }
}

/// `RUSTASYNC_STATS`: off when unset, empty, `0`, `off`, `no` or `false`,
/// `live` for the live-figures file, the report at exit for anything else
/// (any case). Every value means something, so none warns.
pub fn parse_stats(value: Option<&[u8]>) -> Parsed<Stats> {
    let Some(text) = value else {
        return Parsed::exact(Stats::Off);
    };
    let word = text.trim_ascii();
    let off = [&b""[..], b"0", b"off", b"no", b"false"]
        .iter()
        .any(|name| word.eq_ignore_ascii_case(name));
    Parsed::exact(if off {
        Stats::Off
    } else if word.eq_ignore_ascii_case(b"live") {
        Stats::Live
    } else {
        Stats::Report
    })
}

/// `RUSTASYNC_STATS_DIR`: a directory for the live-figures file, taken as
/// written; unset or empty is none. A name no directory can have (a NUL
/// byte, longer than `PATH_MAX`) is none too, with a warning.
pub fn parse_stats_dir(value: Option<&[u8]>) -> Parsed<Option<CString>> {
    let Some(dir) = value.filter(|dir| !dir.is_empty()) else {
        return Parsed::exact(None);
    };
    // Checked before any copy, so a rejected value costs no allocation of
    // its size.
    let why = if dir.len() >= libc::PATH_MAX as usize {
        "is longer than PATH_MAX"
    } else if dir.contains(&0) {
        "holds a NUL byte"
    } else {
        return Parsed::exact(Some(CString::new(dir).expect("no NUL byte: checked above")));
    };
    Parsed {
        value: None,
        warning: Some(format!("RUSTASYNC_STATS_DIR={} {why}; no live figures", echo(dir))),
    }
}

/// `RUSTASYNC_TRIM`: a number of pool operations between looks for idle
/// jobs to give back; unset, empty or `on` is the default, `off` (or `0`)
/// never; anything else gives the default with a warning.
pub fn parse_trim(value: Option<&[u8]>) -> Parsed<usize> {
    match value.map(<[u8]>::trim_ascii) {
        None | Some(b"" | b"on") => Parsed::exact(DEFAULT_TRIM_PERIOD),
        Some(b"off") => Parsed::exact(0),
        Some(text) => match parse_count(text) {
            Some(period) => Parsed::exact(period),
            None => Parsed {
                value: DEFAULT_TRIM_PERIOD,
                warning: Some(format!(
                    "RUSTASYNC_TRIM={} is not a number of pool operations (0 = off); using {DEFAULT_TRIM_PERIOD}",
                    echo(text)
                )),
            },
        },
    }
}

/// `RUSTASYNC_FAULT_HANDLER`: on unless `0`, `off`, `no` or `false` (any
/// case); unset, empty, `1`, `on`, `yes`, `true` are on; anything else is
/// on, with a warning.
pub fn parse_fault_handler(value: Option<&[u8]>) -> Parsed<bool> {
    let Some(text) = value else {
        return Parsed::exact(true);
    };
    let word = text.trim_ascii();
    let any = |names: &[&[u8]]| names.iter().any(|name| word.eq_ignore_ascii_case(name));
    if any(&[b"", b"1", b"on", b"yes", b"true"]) {
        Parsed::exact(true)
    } else if any(&[b"0", b"off", b"no", b"false"]) {
        Parsed::exact(false)
    } else {
        Parsed {
            value: true,
            warning: Some(format!("RUSTASYNC_FAULT_HANDLER={} is not 0 or 1; using 1", echo(text))),
        }
    }
}

/// ASCII digits as a `usize`; `None` for anything else, or past `usize`.
fn parse_count(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let digit = usize::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// Parses `65536`, `64K`, `64k`, `1M` or `1m` (surrounding ASCII blanks
/// allowed) into bytes; `None` for anything else or a size past `usize`.
pub fn parse_size(text: &[u8]) -> Option<usize> {
    let text = text.trim_ascii();
    let (digits, unit) = match text.split_last()? {
        (b'k' | b'K', digits) => (digits, 1024),
        (b'm' | b'M', digits) => (digits, 1024 * 1024),
        _ => (text, 1),
    };
    parse_count(digits)?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size(b"65536"), Some(65536));
        assert_eq!(parse_size(b"64K"), Some(65536));
        assert_eq!(parse_size(b"64k"), Some(65536));
        assert_eq!(parse_size(b" 2M "), Some(2 * 1024 * 1024));
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"K"), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"+1"), None);
        assert_eq!(parse_size(b"12G"), None);
        assert_eq!(parse_size(b"99999999999999999999"), None);
        assert_eq!(parse_size(b"\xff64K"), None);
    }

    #[test]
    fn stack_size_is_clamped_and_defaulted() {
        assert_eq!(parse_stack_size(None), Parsed::exact(DEFAULT_STACK_SIZE));
        assert_eq!(parse_stack_size(Some(b"128K")), Parsed::exact(128 * 1024));
        let small = parse_stack_size(Some(b"1K"));
        assert_eq!(small.value, MIN_STACK_SIZE);
        assert!(small.warning.expect("a clamp warns").contains("out of range"));
        let junk = parse_stack_size(Some(b"junk"));
        assert_eq!(junk.value, DEFAULT_STACK_SIZE);
        assert!(junk.warning.is_some());
    }

    #[test]
    fn guard_modes_parse() {
        assert_eq!(parse_guard(None).value, GuardMode::Auto);
        assert_eq!(parse_guard(Some(b"mprotect")).value, GuardMode::Mprotect);
        assert_eq!(parse_guard(Some(b" off\n")).value, GuardMode::Off);
        let bogus = parse_guard(Some(b"bogus"));
        assert_eq!(bogus.value, GuardMode::Auto);
        assert!(bogus.warning.is_some());
    }

    #[test]
    fn levels_parse() {
        assert_eq!(parse_log(Some(b"TRACE")).value, Level::Trace);
        assert_eq!(parse_log(Some(b"warn")).value, Level::Warn);
        assert_eq!(parse_log(Some(b"")).value, Level::Off);
        assert_eq!(parse_log(None), Parsed::exact(Level::Off));
        let loud = parse_log(Some(b"loud"));
        assert_eq!(loud.value, Level::Warn);
        assert!(loud.warning.is_some());
        assert!(Level::Error < Level::Trace);
    }

    #[test]
    fn stats_switch_parses() {
        assert_eq!(parse_stats(None).value, Stats::Off);
        assert_eq!(parse_stats(Some(b" No ")).value, Stats::Off);
        assert_eq!(parse_stats(Some(b"1")).value, Stats::Report);
        assert_eq!(parse_stats(Some(b"\xff")).value, Stats::Report);
        assert_eq!(parse_stats(Some(b"Live\n")).value, Stats::Live);
    }

    #[test]
    fn fault_handler_switch_parses() {
        assert_eq!(parse_fault_handler(None), Parsed::exact(true));
        assert_eq!(parse_fault_handler(Some(b"1")), Parsed::exact(true));
        assert_eq!(parse_fault_handler(Some(b"0")), Parsed::exact(false));
        assert_eq!(parse_fault_handler(Some(b" OFF ")), Parsed::exact(false));
        let maybe = parse_fault_handler(Some(b"maybe"));
        assert!(maybe.value && maybe.warning.is_some());
    }

    #[test]
    fn trim_periods_parse() {
        assert_eq!(parse_trim(None), Parsed::exact(DEFAULT_TRIM_PERIOD));
        assert_eq!(parse_trim(Some(b" on")).value, DEFAULT_TRIM_PERIOD);
        assert_eq!(parse_trim(Some(b"off")).value, 0);
        assert_eq!(parse_trim(Some(b"0")).value, 0);
        assert_eq!(parse_trim(Some(b"64\n")), Parsed::exact(64));
        let junk = parse_trim(Some(b"+5"));
        assert_eq!(junk.value, DEFAULT_TRIM_PERIOD);
        assert!(junk.warning.is_some());
    }

    #[test]
    fn stats_dir_parses() {
        assert_eq!(parse_stats_dir(None), Parsed::exact(None));
        assert_eq!(parse_stats_dir(Some(b"")), Parsed::exact(None));
        assert_eq!(parse_stats_dir(Some(b"/run/x")).value, Some(CString::from(c"/run/x")));
        assert!(parse_stats_dir(Some(b"/a\0b")).warning.is_some());
        let long = vec![b'a'; 1 << 16];
        let parsed = parse_stats_dir(Some(&long));
        assert_eq!(parsed.value, None);
        assert!(parsed.warning.expect("too long").len() < 400);
    }

    #[test]
    fn warnings_are_one_short_line() {
        let mut hostile = b"1\nrustasync: fatal: forged\x1b[2J".to_vec();
        hostile.resize(1 << 20, b'x');
        let warning = parse_stack_size(Some(&hostile)).warning.expect("not a size");
        assert!(!warning.contains('\n') && !warning.contains('\x1b'), "{warning}");
        assert!(warning.len() < 4 * ECHO_LIMIT + 100, "{} bytes", warning.len());
    }
}
