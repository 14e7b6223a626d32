//! Bare context-switch floor: how long one resume round trip of the `context`
//! crate takes (caller -> coroutine -> caller), with no job bookkeeping at all.
//!
//! It prints one line in the format of `bench/async_bench.c`:
//!
//! ```text
//! RESULT context_switch <median ns> ns/roundtrip
//! RESULT context_switch_fpflags_differ <median ns> ns/roundtrip
//! ```
//!
//! The crate saves and restores MXCSR (SSE control *and status* bits) on every
//! switch. The first figure is the floor when both sides hold the same MXCSR;
//! the second is the same loop once the coroutine's floating-point status
//! flags differ from the caller's (here: it divided by zero once), so every
//! switch loads a different MXCSR value. On some CPUs a `stmxcsr` issued just
//! after an `ldmxcsr` that changed MXCSR is very slow (≈ 100 ns on the
//! project's machine); back-to-back switches like these are the worst case.
//!
//! Run with `-q` (or `QUICK=1` in the environment) for a tiny smoke run.
//!
//! The stack is mapped here with `mmap` (plus a `PROT_NONE` guard page below
//! it) rather than with the crate's own stack types, whose constructors read an
//! uninitialised `rlimit`.

use std::hint::black_box;
use std::ptr;
use std::time::Instant;

use context::stack::Stack;
use context::{Context, Transfer};

/// Usable stack bytes for the coroutine (it only runs a tiny loop).
const STACK_BYTES: usize = 64 * 1024;

/// Batches timed separately; the median batch is reported.
const BATCHES: usize = 15;
const BATCHES_QUICK: usize = 3;

/// Round trips per batch.
const ROUND_TRIPS: usize = 1_000_000;
const ROUND_TRIPS_QUICK: usize = 10_000;

/// Round trips done before timing starts.
const WARMUP: usize = 100_000;
const WARMUP_QUICK: usize = 1_000;

/// A stack mapped with `mmap`: one guard page at the low end, then
/// `STACK_BYTES` of read/write memory. Unmapped on drop.
struct MappedStack {
    base: *mut libc::c_void,
    total: usize,
    guard: usize,
}

impl MappedStack {
    fn new(usable: usize) -> MappedStack {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).unwrap_or(4096);
        let usable = usable.div_ceil(page) * page;
        let total = usable + page;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "mmap of the coroutine stack failed");
        // SAFETY: `base` .. `base + page` lies inside the mapping made above.
        let rc = unsafe { libc::mprotect(base, page, libc::PROT_NONE) };
        assert!(rc == 0, "mprotect of the guard page failed");
        MappedStack {
            base,
            total,
            guard: page,
        }
    }

    /// The crate's non-owning view of the usable part (top = highest address).
    fn view(&self) -> Stack {
        let bottom = self.base.cast::<u8>().wrapping_add(self.guard);
        let top = self.base.cast::<u8>().wrapping_add(self.total);
        // SAFETY: both addresses lie within (or one past the end of) our own
        // live mapping, and bottom <= top; the mapping outlives every use of
        // the view because `self` owns it and is dropped last in `main`.
        unsafe { Stack::new(top.cast(), bottom.cast()) }
    }
}

impl Drop for MappedStack {
    fn drop(&mut self) {
        // SAFETY: `base`/`total` describe exactly the mapping created in
        // `new`; by the time this runs no context executes on it any more.
        unsafe {
            libc::munmap(self.base, self.total);
        }
    }
}

/// What the coroutine is told on its first resume.
const KEEP_FP_FLAGS: usize = 0;
const RAISE_DIVBYZERO: usize = 1;

/// The coroutine: hand control straight back to whoever resumed it, forever.
/// It never returns (a returning context function makes the crate `_exit`).
///
/// If its first resume carries `RAISE_DIVBYZERO` it first divides by zero,
/// which sets the divide-by-zero status flag in *its* MXCSR only: the crate
/// saves and restores MXCSR on every switch, so from then on the two
/// contexts load different MXCSR values on each switch.
extern "C" fn bounce(mut t: Transfer) -> ! {
    if t.data == RAISE_DIVBYZERO {
        black_box(black_box(1.0_f64) / black_box(0.0_f64));
    }
    loop {
        // SAFETY: `t.context` is the suspended caller that just resumed us;
        // resuming it once is exactly what the crate's contract expects.
        t = unsafe { t.context.resume(t.data) };
    }
}

/// Do `n` round trips through the coroutine and give it back suspended.
fn round_trips(mut ctx: Context, n: usize) -> Context {
    for i in 0..n {
        // SAFETY: `ctx` is the suspended coroutine, whose stack is alive for
        // the whole run; each `Context` value is resumed exactly once.
        let t = unsafe { ctx.resume(black_box(i)) };
        ctx = t.context;
    }
    ctx
}

/// Time `batches` batches of `per_batch` round trips on a fresh coroutine.
/// Returns the nanoseconds of each batch; no floating-point arithmetic runs
/// on this side while timing, so the caller's FP status flags stay put.
fn run(first: usize, batches: usize, per_batch: usize, warmup: usize) -> Vec<u128> {
    let stack = MappedStack::new(STACK_BYTES);
    let view = stack.view();
    // SAFETY: `view` describes live, writable memory owned by `stack`, which
    // outlives the context (it is dropped at the end of this function, after
    // the last resume).
    let fresh = unsafe { Context::new(&view, bounce) };
    // SAFETY: the first resume enters `bounce`, which hands control back
    // with its own suspended context.
    let mut ctx = unsafe { fresh.resume(first) }.context;

    ctx = round_trips(ctx, warmup);
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        ctx = round_trips(ctx, per_batch);
        times.push(start.elapsed().as_nanos());
    }
    // The coroutine stays suspended inside `bounce` with nothing to drop, so
    // forgetting `ctx` and then unmapping its stack is sound.
    let _ = ctx;
    drop(stack);
    times
}

/// Median, min and max of the per-round-trip times of some batches.
fn summary(times: &[u128], per_batch: usize) -> (f64, f64, f64) {
    let mut v: Vec<f64> = times.iter().map(|&ns| ns as f64 / per_batch as f64).collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let quick = std::env::args().skip(1).any(|a| a == "-q") || std::env::var("QUICK").is_ok_and(|v| v == "1");
    let (batches, per_batch, warmup) = if quick {
        (BATCHES_QUICK, ROUND_TRIPS_QUICK, WARMUP_QUICK)
    } else {
        (BATCHES, ROUND_TRIPS, WARMUP)
    };

    // Put this thread in the state of any program that has done one inexact
    // floating-point operation: the sticky "inexact" flag is set in MXCSR.
    // A coroutine made afterwards starts with the same MXCSR.
    black_box(black_box(1.0_f64) / black_box(3.0_f64));

    let same = run(KEEP_FP_FLAGS, batches, per_batch, warmup);
    let differ = run(RAISE_DIVBYZERO, batches, per_batch, warmup);

    for (name, times) in [("context_switch", &same), ("context_switch_fpflags_differ", &differ)] {
        let (median, min, max) = summary(times, per_batch);
        println!("# {name}: {batches} batches x {per_batch} round trips, min {min:.2} max {max:.2} ns");
        println!("RESULT {name} {median:.2} ns/roundtrip");
    }
}
