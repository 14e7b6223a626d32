//! rustasync-stat PID [INTERVAL [COUNT]]: the live figures of a process
//! running with `RUSTASYNC_STATS=live`, printed like vmstat: one row per
//! thread and a total every INTERVAL seconds (default 1), COUNT times
//! (default: until the process exits or the command is interrupted).
//!
//! It maps the process's figures file (`/dev/shm/rustasync.PID`, or in
//! `RUSTASYNC_STATS_DIR`) read-only, so reading costs the program nothing,
//! and reads `/proc/PID/smaps` for the memory the library's mappings hold.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustasync::live_format::{self as format, header, slot};

struct Figures {
    base: *const u8,
}

#[derive(Clone, Copy, Default)]
struct Row {
    running: u64,
    paused: u64,
    idle: u64,
    started: u64,
    pauses: u64,
    finished: u64,
    no_jobs: u64,
    deepest: u64,
}

impl Figures {
    fn open(pid: u32) -> Result<Figures, String> {
        let dir = std::env::var("RUSTASYNC_STATS_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format::DEFAULT_DIR.to_string());
        let path = format!("{dir}/{}{pid}", format::FILE_PREFIX);
        let c_path = CString::new(path.clone()).map_err(|_| "bad path".to_string())?;
        // SAFETY: a NUL-terminated path; the descriptor is closed below.
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "{path}: {} (is the process running with RUSTASYNC_STATS=live?)",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: a read-only shared mapping of the file; st is an out-buffer.
        let (base, size) = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            libc::fstat(fd, &mut st);
            let base = if st.st_size as usize >= format::FILE_BYTES {
                libc::mmap(
                    std::ptr::null_mut(),
                    format::FILE_BYTES,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            } else {
                libc::MAP_FAILED
            };
            libc::close(fd);
            (base, st.st_size)
        };
        if base == libc::MAP_FAILED {
            return Err(format!("{path}: not a rustasync figures file ({size} bytes)"));
        }
        let figures = Figures { base: base.cast() };
        if figures.word(header::MAGIC) != format::MAGIC {
            return Err(format!("{path}: not a rustasync figures file"));
        }
        if figures.word(header::VERSION) != format::VERSION {
            return Err(format!(
                "{path}: layout version {} unknown",
                figures.word(header::VERSION)
            ));
        }
        Ok(figures)
    }

    fn word(&self, index: usize) -> u64 {
        // SAFETY: indices stay inside the FILE_BYTES mapping; words are
        // 8-byte aligned, so an atomic load never tears.
        unsafe { &*self.base.add(index * 8).cast::<AtomicU64>() }.load(Ordering::Relaxed)
    }

    fn slot(&self, index: usize, word: usize) -> u64 {
        self.word((format::HEADER_BYTES + index * format::SLOT_BYTES) / 8 + word)
    }

    fn row(&self, index: usize) -> Row {
        let get = |w| self.slot(index, w);
        let (started, finished, paused_now) = (get(slot::STARTED), get(slot::FINISHED), get(slot::PAUSED_NOW));
        Row {
            // Begun and not finished, less those paused: the jobs running.
            running: started.saturating_sub(finished).saturating_sub(paused_now),
            paused: paused_now,
            idle: get(slot::IDLE),
            started,
            pauses: get(slot::PAUSED),
            finished,
            no_jobs: get(slot::NO_JOBS),
            deepest: get(slot::DEEPEST),
        }
    }

    /// Rows of the live threads by thread id, and the exited threads' sums.
    fn sample(&self) -> (BTreeMap<u64, Row>, Row) {
        let mut threads = BTreeMap::new();
        let slots = (self.word(header::SLOTS) as usize).min(format::SLOTS);
        for index in 1..slots {
            if self.slot(index, slot::KIND) == format::KIND_THREAD {
                threads.insert(self.slot(index, slot::TID), self.row(index));
            }
        }
        (threads, self.row(0))
    }

    fn ranges(&self) -> Vec<(u64, u64)> {
        let count = (self.word(header::REGION_COUNT) as usize).min(format::MAX_REGIONS);
        (0..count)
            .map(|i| {
                (
                    self.word(header::REGIONS + 2 * i),
                    self.word(header::REGIONS + 2 * i + 1),
                )
            })
            .filter(|&(start, end)| start != 0 && end > start)
            .collect()
    }
}

/// Mappings of the process inside the library's ranges, and their resident
/// kilobytes, from /proc/PID/smaps.
fn memory(pid: u32, ranges: &[(u64, u64)]) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let (mut maps, mut rss, mut inside) = (0u64, 0u64, false);
    for line in text.lines() {
        if let Some(kb) = line.strip_prefix("Rss:") {
            if inside {
                rss += kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0);
            }
            continue;
        }
        let Some((span, _)) = line.split_once(' ') else {
            continue;
        };
        let Some((start, end)) = span.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
            continue;
        };
        inside = ranges.iter().any(|&(s, e)| start < e && s < end);
        maps += u64::from(inside);
    }
    Some((maps, rss))
}

fn per_second(now: u64, before: u64, seconds: f64) -> u64 {
    (now.saturating_sub(before) as f64 / seconds).round() as u64
}

fn print_row(name: &str, now: &Row, before: &Row, seconds: f64, tail: &str) {
    println!(
        "{name:>8} {:>6} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8}{tail}",
        now.running,
        now.paused,
        now.idle,
        per_second(now.started, before.started, seconds),
        per_second(now.pauses, before.pauses, seconds),
        per_second(now.finished, before.finished, seconds),
        now.no_jobs.saturating_sub(before.no_jobs),
        now.deepest,
    );
}

fn total(threads: &BTreeMap<u64, Row>, exited: &Row) -> Row {
    let mut sum = Row {
        started: exited.started,
        pauses: exited.pauses,
        finished: exited.finished,
        no_jobs: exited.no_jobs,
        deepest: exited.deepest,
        ..Row::default()
    };
    for row in threads.values() {
        sum.running += row.running;
        sum.paused += row.paused;
        sum.idle += row.idle;
        sum.started += row.started;
        sum.pauses += row.pauses;
        sum.finished += row.finished;
        sum.no_jobs += row.no_jobs;
        sum.deepest = sum.deepest.max(row.deepest);
    }
    sum
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: rustasync-stat PID [INTERVAL [COUNT]]";
    let Some(pid) = args.get(1).and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let interval = match args.get(2).map(|a| a.parse::<f64>()) {
        None => 1.0,
        Some(Ok(s)) if s > 0.0 && s <= 86_400.0 => s,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let count = match args.get(3).map(|a| a.parse::<u64>()) {
        None => u64::MAX,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let figures = match Figures::open(pid) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rustasync-stat: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "rustasync-stat: pid {pid}, {} bytes of stack per job, every {interval} s",
        figures.word(header::STACK_SIZE)
    );
    println!(
        "{:>8} {:>6} {:>7} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>5} {:>9}",
        "thread", "run", "paused", "idle", "start/s", "pause/s", "finish/s", "nojobs", "deepest", "maps", "rss(KiB)"
    );
    let (mut threads, mut exited) = figures.sample();
    let mut then = Instant::now();
    for _ in 0..count {
        std::thread::sleep(Duration::from_secs_f64(interval));
        if !alive(pid) {
            println!("rustasync-stat: process {pid} has exited");
            return ExitCode::SUCCESS;
        }
        let (now_threads, now_exited) = figures.sample();
        let now = Instant::now();
        let seconds = now.duration_since(then).as_secs_f64();
        for (tid, row) in &now_threads {
            let before = threads.get(tid).copied().unwrap_or_default();
            print_row(&tid.to_string(), row, &before, seconds, "");
        }
        let memory = match memory(pid, &figures.ranges()) {
            Some((maps, rss)) => format!(" {maps:>5} {rss:>9}"),
            None => format!(" {:>5} {:>9}", "?", "?"),
        };
        print_row(
            "total",
            &total(&now_threads, &now_exited),
            &total(&threads, &exited),
            seconds,
            &memory,
        );
        let unlisted = figures.word(header::UNLISTED_THREADS);
        if unlisted > 0 {
            println!("rustasync-stat: {unlisted} thread(s) found no slot and are counted nowhere here");
        }
        (threads, exited, then) = (now_threads, now_exited, now);
    }
    ExitCode::SUCCESS
}
