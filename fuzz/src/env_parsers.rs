//! Fuzzing of the parsers of the `RUSTASYNC_*` variables, on stable Rust.
//!
//! Every byte string an environment variable can hold (and more: the
//! parsers take any bytes) must give what the README's configuration table
//! documents: the value as written, a clamp into the documented range with a
//! warning, or the default with a warning. Never a panic, and never an
//! allocation that grows with the input: the value a warning repeats is cut
//! and escaped, so it is one short line of printable ASCII.
//!
//! The expected outcome comes from a model written from the documentation,
//! independently of `src/config.rs`. Inputs mix random bytes, documented
//! words in random case with blanks around them, numbers of any length with
//! and without units, and long strings.
//!
//!     env_parsers [SECONDS] [SEED]     (or FUZZ_SECONDS / FUZZ_SEED)
//!
//! A failure prints the seed and case number; rerunning with that seed
//! reproduces it. `run_case(&[u8])` is the whole target.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use std::ffi::CString;

mod rng;
use rng::{Rng, Run};

use rustasync::config::{
    self, DEFAULT_STACK_SIZE, DEFAULT_TRIM_PERIOD, ECHO_LIMIT, GuardMode, Level, MAX_STACK_SIZE, MIN_STACK_SIZE,
    Parsed, Stats,
};

/// Counts live heap bytes and their peak, so a case can assert that parsing
/// allocated a bounded amount whatever the input's length.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a parser may allocate for one value, whatever its length: a
/// warning of a fixed text plus an escaped echo of at most `ECHO_LIMIT`
/// bytes (4 characters each at worst), with room for `String`'s growth.
const ALLOCATION_LIMIT: usize = 4 * (4 * ECHO_LIMIT + 200);
/// The longest warning line: fixed text plus the escaped echo.
const WARNING_LIMIT: usize = 4 * ECHO_LIMIT + 200;

/// Blanks the documentation allows around a value: ASCII whitespace.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let start = bytes.iter().position(|b| !is_blank(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_blank(b)).map_or(start, |at| at + 1);
    &bytes[start..end]
}

fn is_any_case(bytes: &[u8], words: &[&str]) -> bool {
    words.iter().any(|w| bytes.eq_ignore_ascii_case(w.as_bytes()))
}

/// README: "usable stack per job, in bytes or with K/M (16 KiB – 256 MiB)",
/// default 64K. `Some(true)` when the value is out of range (clamped).
fn model_stack_size(value: Option<&[u8]>) -> (usize, bool) {
    let Some(value) = value else {
        return (DEFAULT_STACK_SIZE, false);
    };
    let text = trim(value);
    let (digits, unit): (&[u8], u128) = match text.last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1 << 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1 << 20),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return (DEFAULT_STACK_SIZE, true);
    }
    // Leading zeros do not make a number big; beyond 39 significant digits
    // it is past any usize anyway.
    let significant = &digits[digits.iter().position(|&d| d != b'0').unwrap_or(digits.len())..];
    if significant.len() > 30 {
        return (DEFAULT_STACK_SIZE, true);
    }
    let number = significant.iter().fold(0u128, |n, &d| n * 10 + u128::from(d - b'0')) * unit;
    if number > usize::MAX as u128 {
        return (DEFAULT_STACK_SIZE, true);
    }
    let size = number as usize;
    let clamped = size.clamp(MIN_STACK_SIZE, MAX_STACK_SIZE);
    (clamped, clamped != size)
}

/// README: `auto`, `mprotect`, `off`; default `auto` (as is `none` for off,
/// and an empty value for auto).
fn model_guard(value: Option<&[u8]>) -> (GuardMode, bool) {
    match value.map(trim) {
        None | Some(b"" | b"auto") => (GuardMode::Auto, false),
        Some(b"mprotect") => (GuardMode::Mprotect, false),
        Some(b"off" | b"none") => (GuardMode::Off, false),
        Some(_) => (GuardMode::Auto, true),
    }
}

/// README: `off`, `error`, `warn`, `info`, `debug` or `trace`, default off;
/// anything unknown logs at `warn` and says so.
fn model_log(value: Option<&[u8]>) -> (Level, bool) {
    let Some(value) = value else {
        return (Level::Off, false);
    };
    let word = trim(value);
    let table: [(&[&str], Level); 6] = [
        (&["", "off", "0", "none"], Level::Off),
        (&["error"], Level::Error),
        (&["warn", "warning"], Level::Warn),
        (&["info", "1"], Level::Info),
        (&["debug"], Level::Debug),
        (&["trace"], Level::Trace),
    ];
    table
        .iter()
        .find(|(words, _)| is_any_case(word, words))
        .map_or((Level::Warn, true), |&(_, level)| (level, false))
}

/// README: "set (not 0)"; off also for empty, `off`, `no`, `false`;
/// `live` for the live-figures file.
fn model_stats(value: Option<&[u8]>) -> (Stats, bool) {
    match value.map(trim) {
        None => (Stats::Off, false),
        Some(v) if is_any_case(v, &["", "0", "off", "no", "false"]) => (Stats::Off, false),
        Some(v) if is_any_case(v, &["live"]) => (Stats::Live, false),
        Some(_) => (Stats::Report, false),
    }
}

/// docs/operations.md: a number of pool operations, `on` (or unset or
/// empty) for the default, `off` or `0` for never; anything else gives the
/// default and a warning.
fn model_trim(value: Option<&[u8]>) -> (usize, bool) {
    let Some(text) = value.map(trim) else {
        return (DEFAULT_TRIM_PERIOD, false);
    };
    match text {
        b"" | b"on" => (DEFAULT_TRIM_PERIOD, false),
        b"off" => (0, false),
        _ if !text.is_empty() && text.iter().all(u8::is_ascii_digit) => {
            let significant = &text[text.iter().position(|&d| d != b'0').unwrap_or(text.len())..];
            let number = (significant.len() <= 30)
                .then(|| significant.iter().fold(0u128, |n, &d| n * 10 + u128::from(d - b'0')))
                .filter(|&n| n <= usize::MAX as u128);
            number.map_or((DEFAULT_TRIM_PERIOD, true), |n| (n as usize, false))
        }
        _ => (DEFAULT_TRIM_PERIOD, true),
    }
}

/// docs/host-process.md: on unless `0`, `off`, `no` or `false`; `1`, `on`,
/// `yes`, `true` (or unset, or empty) are on; anything else is on, with a
/// warning.
fn model_fault_handler(value: Option<&[u8]>) -> (bool, bool) {
    match value.map(trim) {
        None => (true, false),
        Some(v) if is_any_case(v, &["", "1", "on", "yes", "true"]) => (true, false),
        Some(v) if is_any_case(v, &["0", "off", "no", "false"]) => (false, false),
        Some(_) => (true, true),
    }
}

/// docs/operations.md: a directory, taken as written; none when unset or
/// empty. No directory has a NUL byte or a name of `PATH_MAX` bytes or
/// more: none, with a warning.
fn model_stats_dir(value: Option<&[u8]>) -> (Option<CString>, bool) {
    match value {
        None | Some(b"") => (None, false),
        Some(v) if v.len() >= 4096 || v.contains(&0) => (None, true),
        Some(v) => (Some(CString::new(v).expect("no NUL")), false),
    }
}

/// Runs one parser with allocation counting and checks its warning's shape.
/// `kept` is how many bytes of the value the setting itself may keep (a
/// directory's name).
fn checked<T: PartialEq + std::fmt::Debug>(
    name: &str,
    value: Option<&[u8]>,
    parse: fn(Option<&[u8]>) -> Parsed<T>,
    expected: (T, bool),
    kept: usize,
) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let parsed = parse(value);
    let allocated = PEAK.load(Ordering::Relaxed) - before;
    let shown = value.map(|v| String::from_utf8_lossy(&v[..v.len().min(80)]).into_owned());
    assert!(
        allocated <= ALLOCATION_LIMIT + 2 * kept,
        "{name}={shown:?} ({} bytes): parsing allocated {allocated} bytes",
        value.map_or(0, <[u8]>::len)
    );
    assert_eq!(parsed.value, expected.0, "{name}={shown:?}: value");
    assert_eq!(
        parsed.warning.is_some(),
        expected.1,
        "{name}={shown:?}: warning {:?}",
        parsed.warning
    );
    if let Some(warning) = &parsed.warning {
        assert!(warning.starts_with(&format!("{name}=")), "{warning}");
        assert!(
            warning.len() <= WARNING_LIMIT,
            "{name}: a {}-byte warning",
            warning.len()
        );
        assert!(
            warning.bytes().all(|b| (b' '..=b'~').contains(&b)),
            "{name}: a warning with bytes that are not printable ASCII: {warning:?}"
        );
    }
}

/// The whole target: the case's bytes as the value of every variable.
pub fn run_case(bytes: &[u8]) {
    for value in [None, Some(bytes)] {
        let size = model_stack_size(value);
        checked("RUSTASYNC_STACK_SIZE", value, config::parse_stack_size, size, 0);
        checked("RUSTASYNC_GUARD", value, config::parse_guard, model_guard(value), 0);
        checked("RUSTASYNC_LOG", value, config::parse_log, model_log(value), 0);
        checked("RUSTASYNC_STATS", value, config::parse_stats, model_stats(value), 0);
        checked("RUSTASYNC_TRIM", value, config::parse_trim, model_trim(value), 0);
        let handler = model_fault_handler(value);
        checked(
            "RUSTASYNC_FAULT_HANDLER",
            value,
            config::parse_fault_handler,
            handler,
            0,
        );
        let dir = model_stats_dir(value);
        let kept = dir.0.as_ref().map_or(0, |d| d.as_bytes_with_nul().len());
        checked("RUSTASYNC_STATS_DIR", value, config::parse_stats_dir, dir, kept);
    }
}

const WORDS: &[&str] = &[
    "auto", "mprotect", "off", "none", "error", "warn", "warning", "info", "debug", "trace", "0", "1", "no", "false",
    "on", "yes", "true",
];
const BLANKS: &[u8] = b" \t\n\r\x0c\x0b\x00\xa0";

fn blanks(rng: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..rng.below(3) {
        out.push(BLANKS[rng.below(BLANKS.len())]);
    }
}

/// One input: random bytes, a word in random case, or a number with a
/// unit, with blanks around it, sometimes mutated or made huge.
fn generate(rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    match rng.below(20) {
        0..=4 => {
            let len = rng.below(64);
            out.extend((0..len).map(|_| rng.next() as u8));
        }
        5..=9 => {
            blanks(rng, out);
            let word = WORDS[rng.below(WORDS.len())];
            out.extend(
                word.bytes()
                    .map(|b| if rng.next() & 1 == 1 { b.to_ascii_uppercase() } else { b }),
            );
            blanks(rng, out);
        }
        10..=13 => {
            // The documented limits, just inside and just outside, in
            // each unit that can express them.
            blanks(rng, out);
            let limits = [MIN_STACK_SIZE, DEFAULT_STACK_SIZE, MAX_STACK_SIZE, usize::MAX];
            let bytes = limits[rng.below(limits.len())];
            let (unit, suffix) = [(1, ""), (1 << 10, "K"), (1 << 20, "m")][rng.below(3)];
            let number = (bytes / unit).saturating_add(rng.below(3)).saturating_sub(1);
            out.extend_from_slice(format!("{number}{suffix}").as_bytes());
            blanks(rng, out);
        }
        14..=18 => {
            blanks(rng, out);
            let digits = match rng.below(4) {
                0 => 1 + rng.below(3),
                1 => 4 + rng.below(6),
                2 => 10 + rng.below(12),
                _ => rng.below(60),
            };
            out.extend((0..digits).map(|_| b'0' + rng.below(10) as u8));
            let units: &[&[u8]] = &[b"", b"k", b"K", b"m", b"M", b"G", b"KB", b"x", b"-"];
            out.extend_from_slice(units[rng.below(units.len())]);
            blanks(rng, out);
        }
        _ => {
            let len = [1024, 4095, 4096, 65536, 1 << 20][rng.below(5)];
            let byte = [b'9', b'a', b'\n', 0xff, b' '][rng.below(5)];
            out.resize(len, byte);
        }
    }
    if !out.is_empty() && rng.below(4) == 0 {
        let at = rng.below(out.len());
        out[at] = rng.next() as u8;
    }
}

fn main() {
    let run = Run::from_args();
    let (seconds, seed) = (run.seconds, run.seed);
    let deadline = run.deadline();
    println!("env_parsers: seed {seed}, {seconds} s");
    let mut rng = run.rng();
    let mut cases = 0u64;
    let mut bytes = Vec::new();
    while Instant::now() < deadline {
        generate(&mut rng, &mut bytes);
        cases += 1;
        if std::panic::catch_unwind(|| run_case(&bytes)).is_err() {
            eprintln!("env_parsers: case {cases} failed; reproduce with: env_parsers {seconds} {seed}");
            std::process::exit(1);
        }
    }
    println!("env_parsers: {cases} cases passed");
}
