//! Bare context-switch floor: how long one resume round trip of the `context`
//! crate takes (caller -> coroutine -> caller), with no job bookkeeping at all.
//!
//! It prints one line in the format of `bench/async_bench.c`:
//!
//! ```text
//! RESULT context_switch <median ns> ns/roundtrip
//! RESULT context_switch_fpflags_differ <median ns> ns/roundtrip
//! RESULT context_switch_in_calls <median ns> ns/roundtrip
//! RESULT context_switch_in_calls_two_threads <median ns> ns/roundtrip
//! RESULT context_switch_jumping <median ns> ns/roundtrip
//! RESULT context_switch_jumping_two_threads <median ns> ns/roundtrip
//! ```
//!
//! The crate saves and restores MXCSR (SSE control *and status* bits) on every
//! switch. The first figure is the floor when both sides hold the same MXCSR;
//! the second is the same loop once the coroutine's floating-point status
//! flags differ from the caller's (here: it divided by zero once), so every
//! switch loads a different MXCSR value. On some CPUs a `stmxcsr` issued just
//! after an `ldmxcsr` that changed MXCSR is very slow (≈ 100 ns on the
//! project's machine); back-to-back switches like these are the worst case.
//! The third puts each switch in a function of its own that returns to its
//! caller, as any API that switches must (`ASYNC_start_job` returns to the
//! program, `ASYNC_pause_job` to the job): the `ret` after a switch goes to
//! another call chain than the one the CPU's return-stack predictor
//! recorded, so each side pays a mispredicted return, which the inlined
//! loops of the first two never do. The fourth is the third on two threads
//! at once (the floor under "two threads at once"): the mean of the two
//! threads' median batches. The fifth and sixth (x86-64) switch as the
//! library does since it stopped returning across a switch (`src/fibre.rs`,
//! `Step`): each side calls a function that asks Rust for the target, jumps
//! to `jump_fcontext` with its caller's return address saved, and lands in
//! a stub that calls Rust again and returns with an indirect jump, so every
//! return the CPU predicts is one whose call it saw; the Rust halves only
//! keep the other side's context. The floor of that design, as the third
//! is of a switch inside a returning function.
//!
//! The floors under "shuffled resumes" are 10,000 fibres, each on a stack
//! laid out as the library lays out its own (see `src/stack.rs`: regions of
//! 16, 32, ... up to 4,096 slots, each slot a guard page made with
//! `MADV_GUARD_INSTALL` and then a 64 KiB stack whose top 64 bytes are kept
//! for bookkeeping), all paused, then resumed once per round in the order
//! `async_bench shuffled_resume` uses (same generator, same seed, one untimed
//! round, then the timed ones); ns per resume, median over rounds. Three
//! ways (see `Shuffled`): bare, with the inlined loop of the first figure;
//! each switch inside a returning function, as the third; and that with
//! each fibre's context kept behind a state byte in a 256-byte block of a
//! huge-page mapping, as the library keeps a job's in its control-block
//! arena:
//!
//! ```text
//! RESULT context_switch_shuffled <median ns> ns/resume
//! RESULT context_switch_shuffled_in_calls <median ns> ns/resume
//! RESULT context_switch_shuffled_blocks <median ns> ns/resume
//! ```
//!
//! The shuffled rows swing several-fold with the machine's phases, within
//! one process and between processes, so a floor measured in another
//! process says little about the library's figure. With `RUSTASYNC_LIB`
//! naming the library, the bench loads it (`dlopen`, checking with `dladdr`
//! that `ASYNC_start_job` comes from that file), pauses 10,000 of its jobs as
//! `async_bench shuffled_resume` does, and alternates round by round: every
//! job, then every fibre of the checked-block floor most like the library
//! (on x86-64 switching as it does, by jumps, from the benchmark's loop of
//! handles and wait contexts; `Shuffled::LIKE_THE_LIBRARY`),
//! in the same new order (which goes first alternates too, so that the
//! side running second in one round runs first in the next, on caches it
//! has just warmed). The per-side figures are medians over all rounds; the
//! last two, over pairs of rounds, in which each side ran once first and
//! once second: the ratio of the two sides' nanoseconds, and the library's
//! nanoseconds less the floor's per resume (what the library adds to a
//! resume that misses the caches, to set beside what it adds to one that
//! does not):
//!
//! ```text
//! RESULT context_switch_shuffled_library_in_process <median ns> ns/resume
//! RESULT context_switch_shuffled_blocks_in_process <median ns> ns/resume
//! RESULT context_switch_shuffled_library_over_blocks <median> ratio
//! RESULT context_switch_shuffled_library_minus_blocks <median ns> ns/resume
//! ```
//!
//! Run with `-q` (or `QUICK=1` in the environment) for a tiny smoke run.
//!
//! The stack is mapped here with `mmap` (plus a `PROT_NONE` guard page below
//! it) rather than with the crate's own stack types, whose constructors read an
//! uninitialised `rlimit`.

use std::ffi::{CStr, CString, c_int, c_void};
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// A new private read/write anonymous mapping of `length` bytes with the
/// extra `flags`; `what` names it if the kernel refuses.
fn map_private(length: usize, flags: libc::c_int, what: &str) -> *mut libc::c_void {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; no existing memory is affected.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            length,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    assert!(base != libc::MAP_FAILED, "mmap of {what} failed");
    base
}

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
        let base = map_private(total, libc::MAP_STACK, "the coroutine stack");
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
const SWITCH_IN_CALLS: usize = 2;
#[cfg(target_arch = "x86_64")]
const SWITCH_BY_JUMPS: usize = 3;

/// The library's way of switching, with nothing else (see the top comment).
#[cfg(target_arch = "x86_64")]
mod jumping {
    use std::cell::Cell;

    use context::{Context, Transfer};

    thread_local! {
        /// The side that is not running.
        static PEER: Cell<usize> = const { Cell::new(0) };
    }

    unsafe extern "C" {
        fn jump_fcontext(to: usize, data: usize) -> Transfer;
    }

    pub fn set_peer(suspended: Context) {
        // SAFETY: `Context` is a repr(C) wrapper of one pointer.
        PEER.set(unsafe { std::mem::transmute::<Context, usize>(suspended) });
    }

    /// The side that switched here last, as `set_peer` took it.
    pub fn peer() -> Context {
        // SAFETY: `PEER` holds what `set_peer` or `landed` stored: a
        // suspended context, switched to at most once more before it changes.
        unsafe { std::mem::transmute::<usize, Context>(PEER.get()) }
    }

    /// Where to switch, and what to pass: as `fibre::Step`.
    #[repr(C)]
    struct Step {
        target: usize,
        data: usize,
    }

    extern "C" fn before() -> Step {
        Step {
            target: PEER.get(),
            data: 0,
        }
    }

    extern "C" fn landed(from: usize, _data: usize) {
        PEER.set(from);
    }

    /// One switch to the other side; returns when it switches back.
    #[unsafe(naked)]
    pub extern "C" fn switch() {
        std::arch::naked_asm!(
            "sub rsp, 8",
            "call {before}",
            "add rsp, 8",
            "mov rdi, rax",
            "mov rsi, rdx",
            "lea rcx, [rip + 3f]",
            "push rcx",
            "jmp {jump}",
            "3:",
            "sub rsp, 8",
            "call {landed}",
            "add rsp, 8",
            "pop rcx",
            "jmp rcx",
            before = sym before,
            landed = sym landed,
            jump = sym jump_fcontext,
        )
    }
}

/// One switch inside a function that then returns to its caller.
#[inline(never)]
fn switch_in_call(ctx: Context, data: usize) -> Transfer {
    // SAFETY: as for every resume here: `ctx` is suspended, on a live stack,
    // and resumed once.
    unsafe { ctx.resume(data) }
}

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
    if t.data == SWITCH_IN_CALLS {
        loop {
            t = switch_in_call(t.context, t.data);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if t.data == SWITCH_BY_JUMPS {
        jumping::set_peer(t.context);
        loop {
            jumping::switch();
        }
    }
    loop {
        // SAFETY: `t.context` is the suspended caller that just resumed us;
        // resuming it once is exactly what the crate's contract expects.
        t = unsafe { t.context.resume(t.data) };
    }
}

/// The calling thread's CPU time in ns: on a shared machine, time spent
/// waiting for a core is not counted (as in `async_bench`).
fn cpu_ns() -> u128 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert!(rc == 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

/// Do `n` round trips through the coroutine and give it back suspended.
fn round_trips(mut ctx: Context, n: usize, first: usize) -> Context {
    #[cfg(target_arch = "x86_64")]
    if first == SWITCH_BY_JUMPS {
        // The coroutine's context stays with `jumping` (set by `run`).
        for _ in 0..n {
            jumping::switch();
        }
        return ctx;
    }
    let in_calls = first == SWITCH_IN_CALLS;
    for i in 0..n {
        if in_calls {
            ctx = switch_in_call(ctx, black_box(i)).context;
            continue;
        }
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
    #[cfg(target_arch = "x86_64")]
    if first == SWITCH_BY_JUMPS {
        // SAFETY: a copy of the coroutine's context for `jumping`, which
        // switches to it from now on; `ctx` is never resumed again.
        jumping::set_peer(unsafe { ptr::read(&ctx) });
    }

    ctx = round_trips(ctx, warmup, first);
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = cpu_ns();
        ctx = round_trips(ctx, per_batch, first);
        times.push(cpu_ns() - start);
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
    let in_calls = run(SWITCH_IN_CALLS, batches, per_batch, warmup);

    // Row 6's floors: the same switches on two threads at once, started
    // together; each thread's median batch, then the mean of the two.
    let on_two_threads = |first: usize| -> Vec<u128> {
        let both = std::sync::Barrier::new(2);
        let medians: Vec<u128> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        both.wait();
                        let times = run(first, batches, per_batch, warmup);
                        summary(&times, 1).0 as u128
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("floor thread")).collect()
        });
        vec![medians.iter().sum::<u128>() / 2]
    };
    let two_threads = on_two_threads(SWITCH_IN_CALLS);

    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))] // x86-64 adds the jumping rows
    let mut rows = vec![
        ("context_switch", same),
        ("context_switch_fpflags_differ", differ),
        ("context_switch_in_calls", in_calls),
        ("context_switch_in_calls_two_threads", two_threads),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        rows.push((
            "context_switch_jumping",
            run(SWITCH_BY_JUMPS, batches, per_batch, warmup),
        ));
        rows.push(("context_switch_jumping_two_threads", on_two_threads(SWITCH_BY_JUMPS)));
    }
    for (name, times) in &rows {
        let (median, min, max) = summary(times, per_batch);
        println!("# {name}: {batches} batches x {per_batch} round trips, min {min:.2} max {max:.2} ns");
        println!("RESULT {name} {median:.2} ns/roundtrip");
    }

    let (fibres, rounds) = if quick {
        (SHUFFLE_FIBRES_QUICK, SHUFFLE_ROUNDS_QUICK)
    } else {
        (SHUFFLE_FIBRES, SHUFFLE_ROUNDS)
    };
    for (name, how) in [
        ("context_switch_shuffled", Shuffled::Bare),
        ("context_switch_shuffled_in_calls", Shuffled::InCalls),
        ("context_switch_shuffled_blocks", Shuffled::InCallsBlocks),
    ] {
        let times = shuffled(fibres, rounds, how);
        let (median, min, max) = summary(&times, fibres);
        println!("# {name}: {fibres} fibres, {rounds} rounds, per resume min {min:.2} max {max:.2} ns");
        println!("RESULT {name} {median:.2} ns/resume");
    }
    if let Some(path) = std::env::var_os("RUSTASYNC_LIB") {
        let api = Api::load(path.to_str().expect("a UTF-8 path"));
        // Twice the rounds: each pair of them gives one figure (see
        // `shuffled_interleaved`).
        let (library, floor) = shuffled_interleaved(&api, fibres, 2 * rounds);
        for (name, times) in [
            ("context_switch_shuffled_library_in_process", &library),
            ("context_switch_shuffled_blocks_in_process", &floor),
        ] {
            let (median, min, max) = summary(times, fibres);
            println!(
                "# {name}: {fibres} jobs, {} rounds, per resume min {min:.2} max {max:.2} ns",
                2 * rounds
            );
            println!("RESULT {name} {median:.2} ns/resume");
        }
        // Per pair of rounds: the library's nanoseconds against the floor's,
        // as a ratio, and as what the library adds to each resume (to set
        // beside what it adds to a round trip that stays in cache).
        let pairs: Vec<(f64, f64)> = library
            .chunks_exact(2)
            .zip(floor.chunks_exact(2))
            .map(|(l, f)| ((l[0] + l[1]) as f64, (f[0] + f[1]) as f64))
            .collect();
        let sorted = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v
        };
        let ratios = sorted(pairs.iter().map(|&(l, f)| l / f).collect());
        let extra = sorted(pairs.iter().map(|&(l, f)| (l - f) / (2 * fibres) as f64).collect());
        let name = "context_switch_shuffled_library_over_blocks";
        println!(
            "# {name}: per pair of rounds, min {:.2} max {:.2}",
            ratios[0],
            ratios[ratios.len() - 1]
        );
        println!("RESULT {name} {:.2} ratio", ratios[ratios.len() / 2]);
        println!(
            "RESULT context_switch_shuffled_library_minus_blocks {:.2} ns/resume",
            extra[extra.len() / 2]
        );
    }
}

/// Fibres and timed rounds of the shuffled floor, as in `async_bench`.
const SHUFFLE_FIBRES: usize = 10_000;
const SHUFFLE_ROUNDS: usize = 11;
const SHUFFLE_FIBRES_QUICK: usize = 1_000;
const SHUFFLE_ROUNDS_QUICK: usize = 3;

/// The library's stack layout (`src/stack.rs`): usable bytes per slot (the
/// default `RUSTASYNC_STACK_SIZE`), bytes kept at the top of each stack, and
/// how regions grow.
const LIBRARY_STACK_BYTES: usize = 64 * 1024;
const LIBRARY_SIDE_BYTES: usize = 64;
const FIRST_REGION_SLOTS: usize = 16;
const MAX_REGION_SLOTS: usize = 4096;
/// `MADV_GUARD_INSTALL` (Linux 6.13); older kernels get `mprotect` guards.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// A stack's bottom and top, and a mapped region's base and length.
type Bounds = (*mut u8, *mut u8);
type Region = (*mut libc::c_void, usize);

/// Stacks for `n` fibres, carved as the library carves them: the bottom and
/// top of each, and the regions to unmap afterwards.
fn library_like_stacks(n: usize) -> (Vec<Bounds>, Vec<Region>) {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let slot = page + LIBRARY_STACK_BYTES.div_ceil(page) * page;
    let mut stacks = Vec::with_capacity(n);
    let mut regions = Vec::new();
    let mut slots = FIRST_REGION_SLOTS;
    while stacks.len() < n {
        let length = slots * slot;
        let base = map_private(length, libc::MAP_NORESERVE | libc::MAP_STACK, "a stack region");
        regions.push((base, length));
        for i in 0..slots.min(n - stacks.len()) {
            let guard = base.cast::<u8>().wrapping_add(i * slot);
            // SAFETY: the first page of a slot inside our own region.
            let guarded = unsafe {
                libc::madvise(guard.cast(), page, MADV_GUARD_INSTALL) == 0
                    || libc::mprotect(guard.cast(), page, libc::PROT_NONE) == 0
            };
            assert!(guarded, "cannot install a guard page");
            let bottom = guard.wrapping_add(page);
            let usable = (slot - page - LIBRARY_SIDE_BYTES) & !15;
            stacks.push((bottom, bottom.wrapping_add(usable)));
        }
        slots = (slots * 2).min(MAX_REGION_SLOTS);
    }
    (stacks, regions)
}

/// `async_bench`'s xorshift64* generator and Fisher-Yates shuffle, so that the
/// fibres are resumed in exactly the order its jobs are.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// How the shuffled floor keeps and switches its fibres.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shuffled {
    /// Contexts in a dense array, each switch inlined into a loop: no
    /// function returns between switches, so the CPU runs ahead into the
    /// next resumes and overlaps their cache misses.
    Bare,
    /// Each switch inside a function that returns, on both sides, as an API
    /// must: the mispredicted return after each switch waits for the return
    /// address, loaded from the resumed stack, so misses no longer overlap.
    InCalls,
    /// As `InCalls`, with each fibre's context kept in a 256-byte block of
    /// its own behind a state byte that is checked first, as a job's control
    /// block is in the library's arena: a design that validates a job handle
    /// reads that block before it can switch to the job's stack. (The
    /// library starts loading the stack before, from a table of hints; these
    /// floors do not.)
    InCallsBlocks,
    /// As `InCallsBlocks`, switching as the library does on x86-64: out by
    /// a jump, back into a stub, no return across a switch (`jumping`); and
    /// resumed from `async_bench`'s loop, which reads each job's handle from
    /// an array and passes its wait context along, as the library's rows are.
    #[cfg(target_arch = "x86_64")]
    JumpingBlocks,
}

impl Shuffled {
    /// The floor most like the library's own resumes: a checked block, and
    /// switches made the library's way on this target.
    #[cfg(target_arch = "x86_64")]
    const LIKE_THE_LIBRARY: Shuffled = Shuffled::JumpingBlocks;
    #[cfg(not(target_arch = "x86_64"))]
    const LIKE_THE_LIBRARY: Shuffled = Shuffled::InCallsBlocks;

    fn has_blocks(self) -> bool {
        self != Shuffled::Bare && self != Shuffled::InCalls
    }
}

/// A control block's stand-in: a state byte and the suspended context, in
/// a block of the library's control-block size.
#[repr(C, align(256))]
struct Block {
    paused: bool,
    context: Option<Context>,
}

/// `n` fibres paused at once, resumed once per round in a new shuffled order;
/// the nanoseconds of each timed round.
fn shuffled(n: usize, rounds: usize, how: Shuffled) -> Vec<u128> {
    let mut fibres = FibreSet::new(n, how);
    shuffled_rounds(n, rounds, |order| timed(|| fibres.resume_all(order)))
}

/// Runs `round` once untimed, then `rounds` times, each with a new shuffled
/// order of `0..n`, as `async_bench` orders its rounds; what the timed
/// rounds gave.
fn shuffled_rounds<T>(n: usize, rounds: usize, mut round: impl FnMut(&[usize]) -> T) -> Vec<T> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Shuffler(SHUFFLE_SEED);
    (0..=rounds)
        .filter_map(|r| {
            rng.shuffle(&mut order);
            let result = round(&order);
            (r > 0).then_some(result)
        })
        .collect()
}

/// The nanoseconds `f` takes.
fn timed(f: impl FnOnce()) -> u128 {
    let start = cpu_ns();
    f();
    cpu_ns() - start
}

/// `async_bench`'s seed.
const SHUFFLE_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// `n` fibres on the library's stack layout, all paused, kept as `how` says.
struct FibreSet {
    how: Shuffled,
    /// The dense array of the bare and in-call floors.
    dense: Vec<Option<Context>>,
    /// The blocks of the last floor, and their mapping's length.
    blocks: *mut Block,
    blocks_bytes: usize,
    /// What `async_bench` keeps beside its jobs, for the floor most like
    /// the library: an array of handles (here, the blocks' addresses) read
    /// for each resume, and an array of wait contexts whose entry each
    /// resume passes along (here, words nothing reads further).
    #[cfg(target_arch = "x86_64")]
    handles: Vec<*mut Block>,
    #[cfg(target_arch = "x86_64")]
    waits: Vec<usize>,
    regions: Vec<Region>,
}

impl FibreSet {
    fn new(n: usize, how: Shuffled) -> FibreSet {
        let (stacks, regions) = library_like_stacks(n);
        let first = match how {
            Shuffled::Bare => KEEP_FP_FLAGS,
            #[cfg(target_arch = "x86_64")]
            Shuffled::JumpingBlocks => SWITCH_BY_JUMPS,
            Shuffled::InCalls | Shuffled::InCallsBlocks => SWITCH_IN_CALLS,
        };
        let mut dense: Vec<Option<Context>> = stacks
            .iter()
            .map(|&(bottom, top)| {
                // SAFETY: [bottom, top) is writable memory of a region
                // unmapped only when the set is dropped, after the last resume.
                let view = unsafe { Stack::new(top.cast(), bottom.cast()) };
                // SAFETY: as above; `bounce` never returns.
                let fresh = unsafe { Context::new(&view, bounce) };
                // SAFETY: the first resume enters `bounce`, which hands control
                // straight back: the fibre is now paused, as a job would be.
                Some(unsafe { fresh.resume(first) }.context)
            })
            .collect();
        let blocks_bytes = (n * size_of::<Block>()).next_multiple_of(HUGE_PAGE);
        let blocks = map_blocks(blocks_bytes).cast::<Block>();
        if how.has_blocks() {
            for (i, context) in dense.iter_mut().enumerate() {
                // SAFETY: `i < n` blocks fit in the fresh mapping, aligned.
                unsafe {
                    blocks.add(i).write(Block {
                        paused: true,
                        context: context.take(),
                    })
                };
            }
        }
        FibreSet {
            how,
            dense,
            blocks,
            blocks_bytes,
            // SAFETY: `i < n` blocks fit in the mapping.
            #[cfg(target_arch = "x86_64")]
            handles: (0..n).map(|i| unsafe { blocks.add(i) }).collect(),
            #[cfg(target_arch = "x86_64")]
            waits: (0..n).collect(),
            regions,
        }
    }

    fn block(&mut self, i: usize) -> &mut Block {
        assert!(i < self.dense.len(), "a fibre of this set");
        // SAFETY: block `i` was written in `new` and only this set uses it.
        unsafe { &mut *self.blocks.add(i) }
    }

    /// Resumes every fibre once, in `order`.
    #[inline(never)]
    fn resume_all(&mut self, order: &[usize]) {
        for &i in order {
            match self.how {
                Shuffled::Bare => {
                    let ctx = self.dense[i].take().expect("every fibre is paused between resumes");
                    // SAFETY: a paused fibre on its live stack, resumed exactly once.
                    self.dense[i] = Some(unsafe { ctx.resume(black_box(i)) }.context);
                }
                Shuffled::InCalls => {
                    let ctx = self.dense[i].take().expect("every fibre is paused between resumes");
                    self.dense[i] = Some(switch_in_call(ctx, i).context);
                }
                Shuffled::InCallsBlocks => resume_block(self.block(i), i),
                #[cfg(target_arch = "x86_64")]
                Shuffled::JumpingBlocks => {
                    black_box(self.waits[i]);
                    // SAFETY: `handles` holds the addresses of this set's
                    // blocks, written in `new` and never changed, and only
                    // this set uses them.
                    resume_block_jumping(unsafe { &mut *black_box(self.handles[i]) })
                }
            }
        }
    }
}

impl Drop for FibreSet {
    fn drop(&mut self) {
        // The fibres stay suspended inside `bounce` with nothing to drop.
        // SAFETY: mapped by `map_blocks` with this length; nothing uses it now.
        unsafe { libc::munmap(self.blocks.cast(), self.blocks_bytes) };
        for &(base, length) in &self.regions {
            // SAFETY: each region was mapped in `new` and no fibre runs on it now.
            unsafe { libc::munmap(base, length) };
        }
    }
}

const HUGE_PAGE: usize = 2 << 20;

/// Memory for the blocks, mapped as the library maps its control-block
/// arena (`src/arena.rs`): transparent huge pages on request, so that
/// thousands of blocks share a TLB entry.
fn map_blocks(length: usize) -> *mut libc::c_void {
    let base = map_private(length, libc::MAP_NORESERVE, "the blocks");
    // SAFETY: advice on our own fresh mapping; refusal means small pages.
    unsafe { libc::madvise(base, length, libc::MADV_HUGEPAGE) };
    base
}

/// Checks the block's state, then resumes its fibre from a function that
/// returns, as `ASYNC_start_job` does with a job handle.
#[inline(never)]
fn resume_block(block: &mut Block, data: usize) {
    assert!(black_box(block.paused), "every fibre is paused between resumes");
    let ctx = block.context.take().expect("every fibre is paused between resumes");
    // SAFETY: a paused fibre on its live stack, resumed exactly once.
    block.context = Some(unsafe { ctx.resume(data) }.context);
}

/// `resume_block`, switching as the library does on x86-64.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn resume_block_jumping(block: &mut Block) {
    assert!(black_box(block.paused), "every fibre is paused between resumes");
    let ctx = block.context.take().expect("every fibre is paused between resumes");
    jumping::set_peer(ctx);
    jumping::switch();
    block.context = Some(jumping::peer());
}

/// The async API of the library named by `RUSTASYNC_LIB`, loaded into this
/// process, for the shuffled rows measured against their floors round by
/// round: the machine's slow and fast phases (both sides together, for
/// seconds at a time) then meet a library round and a floor round alike,
/// which separate processes cannot promise.
struct Api {
    start_job: StartJob,
    wait_ctx_new: unsafe extern "C" fn() -> *mut c_void,
    wait_ctx_free: unsafe extern "C" fn(*mut c_void),
    init_thread: unsafe extern "C" fn(usize, usize) -> c_int,
    cleanup_thread: unsafe extern "C" fn(),
}

type JobFn = extern "C" fn(*mut c_void) -> c_int;
type StartJob =
    unsafe extern "C" fn(*mut *mut c_void, *mut c_void, *mut c_int, Option<JobFn>, *mut c_void, usize) -> c_int;
type PauseJob = unsafe extern "C" fn() -> c_int;

/// `ASYNC_pause_job` of the loaded library, for `pausing_job`.
static PAUSE_JOB: AtomicUsize = AtomicUsize::new(0);
/// Set when the jobs are to finish.
static STOP_JOBS: AtomicBool = AtomicBool::new(false);
const ASYNC_PAUSE: c_int = 2;
const ASYNC_FINISH: c_int = 3;

/// `async_bench`'s job: pause until told to stop.
extern "C" fn pausing_job(_: *mut c_void) -> c_int {
    // SAFETY: set to the loaded library's `ASYNC_pause_job` before any job starts.
    let pause: PauseJob = unsafe { std::mem::transmute::<usize, PauseJob>(PAUSE_JOB.load(Ordering::Relaxed)) };
    while !STOP_JOBS.load(Ordering::Relaxed) {
        // SAFETY: called from inside a job of that library.
        if unsafe { pause() } != 1 {
            return -1;
        }
    }
    7
}

impl Api {
    /// Loads `path` on its own (`RTLD_LOCAL`): this process has no other
    /// async layer, so nothing else answers these names.
    fn load(path: &str) -> Api {
        let c_path = CString::new(path).expect("a path without NUL");
        // SAFETY: a NUL-terminated path; the library stays loaded for the
        // life of the process.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "cannot load {path}");
        let find = |name: &CStr| {
            // SAFETY: a live handle and a NUL-terminated name.
            let f = unsafe { libc::dlsym(handle, name.as_ptr()) };
            assert!(!f.is_null(), "{path} has no {name:?}");
            f
        };
        // Prove which implementation runs: the library asked for, not one
        // it may pull in.
        let start_job = find(c"ASYNC_start_job");
        // SAFETY: `Dl_info` is plain data that `dladdr` fills.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: an address inside a loaded object and a valid out-pointer.
        let found = unsafe { libc::dladdr(start_job, &mut info) } != 0 && !info.dli_fname.is_null();
        // SAFETY: `dladdr` succeeded, so the name is a NUL-terminated string.
        let provider = found.then(|| unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned());
        let canonical = |p: &str| std::fs::canonicalize(p).ok();
        assert!(
            provider.as_deref().and_then(canonical) == canonical(path),
            "ASYNC_start_job comes from {provider:?}, not {path}"
        );
        println!("# shuffled rows in one process: ASYNC_start_job from {path}");
        PAUSE_JOB.store(find(c"ASYNC_pause_job") as usize, Ordering::Relaxed);
        // SAFETY: each symbol is the library's function of that name, whose
        // C signature the type spells.
        unsafe {
            Api {
                start_job: std::mem::transmute::<*mut c_void, StartJob>(start_job),
                wait_ctx_new: std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> *mut c_void>(find(
                    c"ASYNC_WAIT_CTX_new",
                )),
                wait_ctx_free: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(find(
                    c"ASYNC_WAIT_CTX_free",
                )),
                init_thread: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(usize, usize) -> c_int>(find(
                    c"ASYNC_init_thread",
                )),
                cleanup_thread: std::mem::transmute::<*mut c_void, unsafe extern "C" fn()>(find(
                    c"ASYNC_cleanup_thread",
                )),
            }
        }
    }
}

/// `n` jobs of the loaded library, paused, as `async_bench shuffled_resume`
/// keeps them: a job handle and a wait context each.
struct JobSet<'a> {
    api: &'a Api,
    jobs: Vec<*mut c_void>,
    waits: Vec<*mut c_void>,
}

impl<'a> JobSet<'a> {
    fn new(api: &'a Api, n: usize) -> JobSet<'a> {
        // SAFETY: the library's own function, called on this thread.
        assert!(unsafe { (api.init_thread)(0, 0) } == 1, "ASYNC_init_thread failed");
        // SAFETY: as above.
        let waits: Vec<*mut c_void> = (0..n).map(|_| unsafe { (api.wait_ctx_new)() }).collect();
        assert!(waits.iter().all(|w| !w.is_null()), "ASYNC_WAIT_CTX_new failed");
        let mut set = JobSet {
            api,
            jobs: vec![ptr::null_mut(); n],
            waits,
        };
        let all: Vec<usize> = (0..n).collect();
        set.resume_all(&all);
        set
    }

    /// Starts or resumes job `i`; `ASYNC_start_job`'s status.
    #[inline(always)]
    fn step(&mut self, i: usize) -> c_int {
        let mut ret = 0;
        // SAFETY: the library's own function with a handle it gave (or
        // NULL), a live wait context and an out-pointer.
        unsafe {
            (self.api.start_job)(
                &mut self.jobs[i],
                self.waits[i],
                &mut ret,
                Some(pausing_job),
                ptr::null_mut(),
                0,
            )
        }
    }

    /// Resumes (or first starts) every job once, in `order`; each pauses again.
    #[inline(never)]
    fn resume_all(&mut self, order: &[usize]) {
        for &i in order {
            assert!(self.step(i) == ASYNC_PAUSE, "job {i} did not pause");
        }
    }
}

impl Drop for JobSet<'_> {
    fn drop(&mut self) {
        STOP_JOBS.store(true, Ordering::Relaxed);
        for i in 0..self.jobs.len() {
            assert!(self.step(i) == ASYNC_FINISH, "job {i} did not finish");
            // SAFETY: a wait context of this library no job uses any more.
            unsafe { (self.api.wait_ctx_free)(self.waits[i]) };
        }
        STOP_JOBS.store(false, Ordering::Relaxed);
        // SAFETY: the library's own function; no job of this thread is left.
        unsafe { (self.api.cleanup_thread)() };
    }
}

/// The library's shuffled resumes and the checked-block floor's, measured in
/// one process: each round resumes every job and every fibre in the same new
/// order, the library first in even rounds and second in odd ones. Whichever
/// side runs second in a round runs first in the next, on caches it has
/// just warmed, and each position has its own cost, so only a pair of rounds
/// treats both sides alike. Gives each round's library and floor nanoseconds.
fn shuffled_interleaved(api: &Api, n: usize, rounds: usize) -> (Vec<u128>, Vec<u128>) {
    let mut jobs = JobSet::new(api, n);
    let mut fibres = FibreSet::new(n, Shuffled::LIKE_THE_LIBRARY);
    let mut library_first = false;
    shuffled_rounds(n, rounds, |order| {
        library_first = !library_first;
        if library_first {
            let library = timed(|| jobs.resume_all(order));
            (library, timed(|| fibres.resume_all(order)))
        } else {
            let floor = timed(|| fibres.resume_all(order));
            (timed(|| jobs.resume_all(order)), floor)
        }
    })
    .into_iter()
    .unzip()
}
