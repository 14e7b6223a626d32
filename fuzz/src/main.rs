//! Differential fuzzing of rustasync's C API, on stable Rust: against
//! OpenSSL's own implementation where OpenSSL defines the behaviour, and
//! against a small reference model where it does not.
//!
//! Each case decodes a byte string into a sequence of API calls: jobs
//! started with scripted behaviour (pauses, blocked pauses, wait-fd set,
//! clear and lookup, a nested job, checks of the current job and wait
//! context), resumes in any order, resumes of handles that are not
//! resumable, pool set-up and clean-up, wait contexts created and freed,
//! callbacks and status. After every call the model's prediction is
//! compared with what the library did: return codes, `*ret`, handles
//! (including the pool's last-in-first-out reuse), what the job itself
//! observed, every wait context's fds, changed fds, callback and status,
//! and the fd clean-ups run when a context is freed.
//!
//! Every case runs three times. First on rustasync with every kind of call,
//! checked by the model alone: this covers what OpenSSL leaves undefined
//! (it crashes on nested jobs, foreign or stale handles, resuming a job
//! that has no wait context, `ASYNC_cleanup_thread` with jobs paused).
//! Then, with those calls left out, on libcrypto and on rustasync (see
//! `api`): the two runs must record the same trace of every observed
//! result, libcrypto being the reference, and the model must agree with
//! libcrypto too.
//!
//! `cargo fuzz` needs nightly (`-Zsanitizer`), which this project does not
//! use; the driver below feeds `run_case` from a seeded generator instead.
//! `run_case(&[u8])` is the whole target: a libFuzzer harness is a
//! one-line wrapper around it.
//!
//!     api_model [SECONDS] [SEED]     (or FUZZ_SECONDS / FUZZ_SEED)
//!
//! A failure prints the seed and case number; rerunning with that seed
//! reproduces it.

mod api;
mod rng;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::time::Instant;

use api::*;
use rng::Run;

thread_local! {
    /// Leave out what OpenSSL leaves undefined (the differential runs).
    static DEFINED_ONLY: Cell<bool> = const { Cell::new(false) };
}

fn defined_only() -> bool {
    DEFINED_ONLY.with(Cell::get)
}

/// Reads decisions from the case's bytes; zeros once they run out.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

const KEYS: usize = 4;
static KEY_CELLS: [u8; KEYS] = [0; KEYS];

fn key(k: usize) -> *const c_void {
    ptr::from_ref(&KEY_CELLS[k]).cast()
}

/// One thing a job does inside a window (between two pauses).
#[derive(Clone, Copy, Debug)]
enum Step {
    SetFd {
        key: usize,
        fd: c_int,
    },
    ClearFd {
        key: usize,
    },
    GetFd {
        key: usize,
    },
    /// ASYNC_block_pause, ASYNC_pause_job (must not pause), unblock.
    BlockedPause,
    /// Starts a job that finishes without pausing, from inside this one.
    Nested {
        value: c_int,
    },
    /// ASYNC_get_current_job and ASYNC_get_wait_ctx are this job's.
    CheckSelf,
}

#[derive(Debug)]
struct Script {
    windows: Vec<Vec<Step>>, // windows.len() - 1 pauses
    value: c_int,
    /// What the job saw, one entry per step, compared with the model's.
    observed: RefCell<Vec<i64>>,
    args_len: usize,
}

/// What the job receives: a copy of this block (or a larger one).
#[repr(C)]
#[derive(Clone, Copy)]
struct JobArgs {
    script: *const Script,
}

const PATTERN: u8 = 0xA5;

extern "C" fn scripted_job(arg: *mut c_void) -> c_int {
    // SAFETY: the driver passes a JobArgs block (possibly followed by
    // pattern bytes) that the library copied; the script outlives the job.
    let (args, script) = unsafe {
        let args = arg.cast::<JobArgs>().read_unaligned();
        (arg, &*args.script)
    };
    // The copy is private, complete, and not the caller's block.
    // SAFETY: the copy has args_len bytes.
    let copy = unsafe { std::slice::from_raw_parts(args.cast::<u8>(), script.args_len) };
    let intact = copy[size_of::<JobArgs>()..].iter().all(|&b| b == PATTERN);
    script.observed.borrow_mut().push(i64::from(intact));
    let me = ASYNC_get_current_job();
    // SAFETY: `me` is the running job.
    let ctx = unsafe { ASYNC_get_wait_ctx(me) };
    for (i, window) in script.windows.iter().enumerate() {
        if i > 0 {
            ASYNC_pause_job();
        }
        for step in window {
            let seen = run_step(*step, me, ctx);
            script.observed.borrow_mut().push(seen);
        }
    }
    script.value
}

extern "C" fn nested_job(arg: *mut c_void) -> c_int {
    // SAFETY: the caller passes a c_int.
    unsafe { arg.cast::<c_int>().read_unaligned() }
}

fn run_step(step: Step, me: *mut ASYNC_JOB, ctx: *mut ASYNC_WAIT_CTX) -> i64 {
    // SAFETY: `ctx` is NULL or the live context this job was started with;
    // the pointers passed are valid locals.
    unsafe {
        match step {
            Step::SetFd { key: k, fd } => i64::from(ASYNC_WAIT_CTX_set_wait_fd(
                ctx,
                key(k),
                fd,
                ptr::null_mut(),
                Some(count_cleanup),
            )),
            Step::ClearFd { key: k } => i64::from(ASYNC_WAIT_CTX_clear_fd(ctx, key(k))),
            Step::GetFd { key: k } => {
                let mut fd = -1;
                let mut data = ptr::null_mut();
                let rc = ASYNC_WAIT_CTX_get_fd(ctx, key(k), &mut fd, &mut data);
                i64::from(rc) * 1000 + i64::from(if rc == 1 { fd } else { -1 })
            }
            Step::BlockedPause => {
                ASYNC_block_pause();
                let rc = ASYNC_pause_job();
                ASYNC_unblock_pause();
                i64::from(rc)
            }
            Step::Nested { value } => {
                let mut inner = ptr::null_mut();
                let mut ret = -1;
                let mut v = value;
                let rc = ASYNC_start_job(
                    &mut inner,
                    ptr::null_mut(),
                    &mut ret,
                    Some(nested_job),
                    (&raw mut v).cast(),
                    size_of::<c_int>(),
                );
                let back = ASYNC_get_current_job() == me;
                i64::from(rc) * 1_000_000 + i64::from(if rc == ASYNC_FINISH { ret } else { 0 }) * 10 + i64::from(back)
            }
            Step::CheckSelf => {
                i64::from(ASYNC_get_current_job() == me && !me.is_null() && ASYNC_get_wait_ctx(me) == ctx)
            }
        }
    }
}

thread_local! {
    static CLEANUPS: RefCell<Vec<c_int>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "C" fn count_cleanup(_ctx: *mut ASYNC_WAIT_CTX, _key: *const c_void, fd: c_int, _data: *mut c_void) {
    CLEANUPS.with(|c| c.borrow_mut().push(fd));
}

unsafe extern "C" fn some_callback(_arg: *mut c_void) -> c_int {
    1
}

// ---- The reference model ----

#[derive(Clone, Debug)]
struct FdEntry {
    key: usize,
    fd: c_int,
    added: bool,
    deleted: bool,
}

/// OpenSSL's ASYNC_WAIT_CTX: entries newest first; fds added and cleared
/// within one window vanish; counts reset when a paused job resumes.
#[derive(Default, Debug)]
struct CtxModel {
    entries: Vec<FdEntry>, // newest first
    callback: bool,
    status: c_int,
    /// A job (by model id) is using this context.
    busy: bool,
}

impl CtxModel {
    fn set(&mut self, key: usize, fd: c_int) -> i64 {
        self.entries.insert(
            0,
            FdEntry {
                key,
                fd,
                added: true,
                deleted: false,
            },
        );
        1
    }

    fn clear(&mut self, key: usize) -> i64 {
        let Some(at) = self.entries.iter().position(|e| e.key == key && !e.deleted) else {
            return 0;
        };
        if self.entries[at].added {
            self.entries.remove(at);
        } else {
            self.entries[at].deleted = true;
        }
        1
    }

    fn get(&self, key: usize) -> i64 {
        match self.entries.iter().find(|e| e.key == key && !e.deleted) {
            Some(e) => 1000 + i64::from(e.fd),
            None => -1,
        }
    }

    fn reset(&mut self) {
        self.entries.retain(|e| !e.deleted);
        for e in &mut self.entries {
            e.added = false;
        }
    }

    fn live(&self) -> Vec<c_int> {
        self.entries.iter().filter(|e| !e.deleted).map(|e| e.fd).collect()
    }

    fn changed(&self) -> (Vec<c_int>, Vec<c_int>) {
        let added = self
            .entries
            .iter()
            .filter(|e| e.added && !e.deleted)
            .map(|e| e.fd)
            .collect();
        let deleted = self.entries.iter().filter(|e| e.deleted).map(|e| e.fd).collect();
        (added, deleted)
    }
}

/// A job the model knows to be paused.
struct PausedJob {
    handle: *mut ASYNC_JOB,
    ctx: Option<usize>,
    script: Box<Script>,
    /// Next window to run.
    window: usize,
}

struct Pool {
    max: usize,
    size: usize,
    /// Idle jobs, most recently finished last; None = handle not yet seen.
    idle: Vec<Option<*mut ASYNC_JOB>>,
}

#[derive(Default)]
struct Model {
    pool: Option<Pool>,
    paused: Vec<PausedJob>,
    ctxs: Vec<(*mut ASYNC_WAIT_CTX, CtxModel)>,
    /// Handles seen at some point; those not paused now are stale.
    seen: HashSet<usize>,
    expected_cleanups: Vec<c_int>,
}

/// Where a started job comes from: the pool's most recently finished job
/// (its handle, if the model saw it) or a new one. `Model::take` returns
/// `None` for ASYNC_NO_JOBS.
enum Take {
    Reused(Option<*mut ASYNC_JOB>),
    New,
}

impl Model {
    fn pool(&mut self) -> &mut Pool {
        self.pool.get_or_insert(Pool {
            max: 0,
            size: 0,
            idle: Vec::new(),
        })
    }

    fn take(&mut self) -> Option<Take> {
        let pool = self.pool();
        if let Some(handle) = pool.idle.pop() {
            return Some(Take::Reused(handle));
        }
        if pool.max != 0 && pool.size >= pool.max {
            return None;
        }
        pool.size += 1;
        Some(Take::New)
    }

    /// A finished job goes back to whatever pool the thread has now (as in
    /// OpenSSL, even a job of an earlier pool, which the new pool reuses
    /// without counting it); with no pool it is freed.
    fn give_back(&mut self, handle: Option<*mut ASYNC_JOB>) {
        if let Some(pool) = self.pool.as_mut() {
            pool.idle.push(handle);
        }
    }

    /// Runs one window of a script against the model, returning what the
    /// job should observe.
    fn simulate(&mut self, steps: &[Step], ctx: Option<usize>, observed: &mut Vec<i64>) {
        for step in steps {
            let seen = match (*step, ctx) {
                (Step::SetFd { .. } | Step::ClearFd { .. } | Step::GetFd { .. }, None) => 0, // NULL ctx
                (Step::SetFd { key, fd }, Some(c)) => self.ctxs[c].1.set(key, fd),
                (Step::ClearFd { key }, Some(c)) => self.ctxs[c].1.clear(key),
                (Step::GetFd { key }, Some(c)) => self.ctxs[c].1.get(key),
                (Step::BlockedPause, _) => 1,
                (Step::Nested { value }, _) => match self.take() {
                    None => i64::from(ASYNC_NO_JOBS) * 1_000_000 + 1,
                    Some(_) => {
                        // Finishes at once and returns to the pool; its
                        // handle is not visible to the outer job.
                        self.give_back(None);
                        i64::from(ASYNC_FINISH) * 1_000_000 + i64::from(value) * 10 + 1
                    }
                },
                (Step::CheckSelf, _) => 1,
            };
            observed.push(seen);
        }
    }

    fn check_ctxs(&self, case: &str) {
        for (i, (ctx, m)) in self.ctxs.iter().enumerate() {
            let mut n = 0usize;
            let mut fds = [0 as c_int; 64];
            // SAFETY: a live context; the array has room for 64 fds (cases
            // never register more).
            unsafe {
                assert_eq!(ASYNC_WAIT_CTX_get_all_fds(*ctx, ptr::null_mut(), &mut n), 1);
                assert!(n <= fds.len());
                assert_eq!(ASYNC_WAIT_CTX_get_all_fds(*ctx, fds.as_mut_ptr(), &mut n), 1);
            }
            assert_eq!(fds[..n], m.live()[..], "{case}: ctx {i} fds");
            let (mut na, mut nd) = (0usize, 0usize);
            let mut add = [0 as c_int; 64];
            let mut del = [0 as c_int; 64];
            // SAFETY: as above.
            unsafe {
                assert_eq!(
                    ASYNC_WAIT_CTX_get_changed_fds(*ctx, ptr::null_mut(), &mut na, ptr::null_mut(), &mut nd),
                    1
                );
                assert_eq!(
                    ASYNC_WAIT_CTX_get_changed_fds(*ctx, add.as_mut_ptr(), &mut na, del.as_mut_ptr(), &mut nd),
                    1
                );
            }
            let (ea, ed) = m.changed();
            assert_eq!(add[..na], ea[..], "{case}: ctx {i} added fds");
            assert_eq!(del[..nd], ed[..], "{case}: ctx {i} deleted fds");
            let mut cb: ASYNC_callback_fn = None;
            let mut arg = ptr::null_mut();
            // SAFETY: valid out-pointers.
            let got = unsafe { ASYNC_WAIT_CTX_get_callback(*ctx, &mut cb, &mut arg) };
            assert_eq!(got == 1, m.callback, "{case}: ctx {i} callback");
            // SAFETY: a live context.
            let status = unsafe { ASYNC_WAIT_CTX_get_status(*ctx) };
            assert_eq!(status, m.status, "{case}: ctx {i} status");
        }
    }
}

fn script_from(input: &mut Input, ctx: Option<usize>) -> Box<Script> {
    let mut pauses = input.below(5);
    if defined_only() && ctx.is_none() {
        // OpenSSL crashes resuming a job that has no wait context.
        pauses = 0;
    }
    let mut windows = Vec::new();
    for _ in 0..=pauses {
        let mut steps = Vec::new();
        for _ in 0..input.below(4) {
            let key = input.below(KEYS);
            steps.push(match input.below(if ctx.is_some() { 6 } else { 3 }) {
                0 => Step::BlockedPause,
                // OpenSSL fails a nested start and then crashes.
                1 if defined_only() => {
                    input.byte();
                    Step::CheckSelf
                }
                1 => Step::Nested {
                    value: input.byte() as c_int,
                },
                2 => Step::CheckSelf,
                3 => Step::SetFd {
                    key,
                    fd: 3 + input.below(60) as c_int,
                },
                4 => Step::ClearFd { key },
                _ => Step::GetFd { key },
            });
        }
        windows.push(steps);
    }
    Box::new(Script {
        windows,
        value: input.byte() as c_int - 100,
        observed: RefCell::new(Vec::new()),
        args_len: if input.byte().is_multiple_of(3) {
            300
        } else {
            size_of::<JobArgs>() + 8
        },
    })
}

/// One fuzz case: the decoded call sequence, checked call by call, then
/// everything finished and freed.
pub fn run_case(bytes: &[u8]) {
    let mut input = Input { bytes, at: 0 };
    let mut model = Model::default();
    let mut calls = 0;
    while !input.done() && calls < 400 {
        calls += 1;
        let case = format!("call {calls}");
        match input.below(12) {
            0..=2 => start_new(&mut model, &mut input, &case),
            3..=5 => {
                if !model.paused.is_empty() {
                    let at = input.below(model.paused.len());
                    resume(&mut model, at, &case);
                }
            }
            // OpenSSL has no notion of a bad handle: it crashes.
            6 if defined_only() => {}
            6 => bad_resume(&mut model, &mut input, &case),
            // OpenSSL crashes resuming a job paused before the clean-up.
            8 if defined_only() && !model.paused.is_empty() => {}
            7 => init_thread(&mut model, &mut input, &case),
            8 => {
                ASYNC_cleanup_thread();
                model.pool = None;
            }
            9 => ctx_new_or_free(&mut model, &mut input, &case),
            10 => ctx_settings(&mut model, &mut input),
            _ => outside_calls(&mut model, &mut input, &case),
        }
        model.check_ctxs(&case);
        assert!(ASYNC_get_current_job().is_null(), "{case}: a job is current outside");
    }
    // Finish everything, free every context, drop the pool.
    while !model.paused.is_empty() {
        resume(&mut model, 0, "final resume");
    }
    while !model.ctxs.is_empty() {
        free_ctx(&mut model, 0, "final free");
    }
    ASYNC_cleanup_thread();
}

fn start_new(model: &mut Model, input: &mut Input, case: &str) {
    // A context no paused job uses, or none.
    let free: Vec<usize> = (0..model.ctxs.len()).filter(|&i| !model.ctxs[i].1.busy).collect();
    let ctx = if free.is_empty() || input.below(4) == 0 {
        None
    } else {
        Some(free[input.below(free.len())])
    };
    let script = script_from(input, ctx);
    let mut block = vec![PATTERN; script.args_len];
    let header = JobArgs { script: &*script };
    // SAFETY: `block` has room for the header at its start.
    unsafe { block.as_mut_ptr().cast::<JobArgs>().write_unaligned(header) };

    let take = model.take();
    let ctx_ptr = ctx.map_or(ptr::null_mut(), |c| model.ctxs[c].0);
    let mut handle = ptr::null_mut();
    let mut ret = c_int::MIN;
    // SAFETY: valid pointers; the block has args_len readable bytes.
    let rc = unsafe {
        ASYNC_start_job(
            &mut handle,
            ctx_ptr,
            &mut ret,
            Some(scripted_job),
            block.as_mut_ptr().cast(),
            block.len(),
        )
    };
    let Some(take) = take else {
        assert_eq!(rc, ASYNC_NO_JOBS, "{case}: expected ASYNC_NO_JOBS");
        assert!(handle.is_null());
        return;
    };
    assert!(rc == ASYNC_PAUSE || rc == ASYNC_FINISH, "{case}: start returned {rc}");
    if rc == ASYNC_PAUSE {
        match take {
            Take::Reused(Some(expected)) => assert_eq!(handle, expected, "{case}: pool reuse is LIFO"),
            Take::Reused(None) => {}
            Take::New => assert!(
                !model.paused.iter().any(|p| p.handle == handle),
                "{case}: handle in use"
            ),
        }
        model.seen.insert(handle as usize);
    }
    // The first window, then the job pauses or finishes.
    let mut expected = vec![1]; // the argument copy was intact
    let mut job = PausedJob {
        handle,
        ctx,
        script,
        window: 0,
    };
    run_window(model, &mut job, &mut expected);
    finish_or_keep(model, job, rc, ret, expected, case);
}

/// Simulates the next window of a job.
fn run_window(model: &mut Model, job: &mut PausedJob, expected: &mut Vec<i64>) {
    let steps = job.script.windows[job.window].clone();
    model.simulate(&steps, job.ctx, expected);
    job.window += 1;
}

fn finish_or_keep(model: &mut Model, job: PausedJob, rc: c_int, ret: c_int, expected: Vec<i64>, case: &str) {
    let observed = std::mem::take(&mut *job.script.observed.borrow_mut());
    assert_eq!(
        observed, expected,
        "{case}: what the job saw, script {:?}",
        job.script.windows
    );
    let finished = job.window == job.script.windows.len();
    if finished {
        assert_eq!(rc, ASYNC_FINISH, "{case}: job should finish");
        assert_eq!(ret, job.script.value, "{case}: job result");
        if let Some(c) = job.ctx {
            model.ctxs[c].1.busy = false;
        }
        // A job that finished in its first window was never seen.
        model.give_back((!job.handle.is_null()).then_some(job.handle));
    } else {
        assert_eq!(rc, ASYNC_PAUSE, "{case}: job should pause");
        if let Some(c) = job.ctx {
            model.ctxs[c].1.busy = true;
        }
        model.paused.push(job);
    }
}

fn resume(model: &mut Model, at: usize, case: &str) {
    let mut job = model.paused.swap_remove(at);
    let mut handle = job.handle;
    let ctx_ptr = job.ctx.map_or(ptr::null_mut(), |c| model.ctxs[c].0);
    let mut ret = c_int::MIN;
    // SAFETY: valid pointers; resuming needs no function or arguments.
    let rc = unsafe { ASYNC_start_job(&mut handle, ctx_ptr, &mut ret, None, ptr::null_mut(), 0) };
    if rc == ASYNC_PAUSE {
        assert_eq!(handle, job.handle, "{case}: the handle is stable across pauses");
    } else {
        assert!(handle.is_null(), "{case}: *job is NULL after ASYNC_FINISH");
    }
    // Resuming a paused job resets its context's change counts.
    if let Some(c) = job.ctx {
        model.ctxs[c].1.reset();
    }
    let mut expected = Vec::new();
    run_window(model, &mut job, &mut expected);
    finish_or_keep(model, job, rc, ret, expected, case);
}

fn bad_resume(model: &mut Model, input: &mut Input, case: &str) {
    let local = 0u64;
    let paused: HashSet<usize> = model.paused.iter().map(|p| p.handle as usize).collect();
    let stale: Vec<usize> = model.seen.iter().copied().filter(|h| !paused.contains(h)).collect();
    let mut handle = match input.below(3) {
        0 if !stale.is_empty() => stale[input.below(stale.len())] as *mut ASYNC_JOB,
        1 => ptr::from_ref(&local).cast_mut().cast(),
        _ => (0x1000 + 64 * input.below(100)) as *mut ASYNC_JOB,
    };
    let before = handle;
    let mut ret = 12345;
    // SAFETY: valid pointers; the library must reject the handle.
    let rc = unsafe { ASYNC_start_job(&mut handle, ptr::null_mut(), &mut ret, None, ptr::null_mut(), 0) };
    assert_eq!(rc, ASYNC_ERR, "{case}: a handle that is not paused is refused");
    assert_eq!(handle, before, "{case}: *job untouched");
    assert_eq!(ret, 12345, "{case}: *ret untouched");
}

fn init_thread(model: &mut Model, input: &mut Input, case: &str) {
    let max = input.below(5);
    let init = input.below(max + 2);
    let rc = ASYNC_init_thread(max, init);
    if init > max {
        assert_eq!(rc, 0, "{case}: init > max is refused");
        return;
    }
    assert_eq!(rc, 1, "{case}: init_thread({max}, {init})");
    // The old pool's idle jobs are freed; its busy ones finish normally and
    // then join the new pool, outside its count.
    model.pool = Some(Pool {
        max,
        size: init,
        idle: vec![None; init],
    });
}

fn ctx_new_or_free(model: &mut Model, input: &mut Input, case: &str) {
    let idle: Vec<usize> = (0..model.ctxs.len()).filter(|&i| !model.ctxs[i].1.busy).collect();
    if model.ctxs.len() < 4 && (idle.is_empty() || input.below(2) == 0) {
        let ctx = ASYNC_WAIT_CTX_new();
        assert!(!ctx.is_null());
        model.ctxs.push((ctx, CtxModel::default()));
    } else if !idle.is_empty() {
        free_ctx(model, idle[input.below(idle.len())], case);
    }
}

fn free_ctx(model: &mut Model, at: usize, case: &str) {
    let (ctx, m) = model.ctxs.remove(at);
    for job in &mut model.paused {
        if let Some(c) = job.ctx.as_mut() {
            assert_ne!(*c, at, "{case}: freeing a context a paused job uses");
            if *c > at {
                *c -= 1;
            }
        }
    }
    model.expected_cleanups = m.live();
    CLEANUPS.with(|c| c.borrow_mut().clear());
    // SAFETY: a live context no paused job uses.
    unsafe { ASYNC_WAIT_CTX_free(ctx) };
    let mut ran = CLEANUPS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let mut expected = std::mem::take(&mut model.expected_cleanups);
    ran.sort_unstable();
    expected.sort_unstable();
    // The clean-ups run, in no defined order.
    for &fd in &ran {
        api::record(i64::from(fd));
    }
    assert_eq!(ran, expected, "{case}: clean-ups run by ASYNC_WAIT_CTX_free");
}

fn ctx_settings(model: &mut Model, input: &mut Input) {
    if model.ctxs.is_empty() {
        return;
    }
    let at = input.below(model.ctxs.len());
    let (ctx, m) = &mut model.ctxs[at];
    // SAFETY: a live context; arguments are plain values.
    unsafe {
        if input.below(2) == 0 {
            let status = input.below(4) as c_int;
            assert_eq!(ASYNC_WAIT_CTX_set_status(*ctx, status), 1);
            m.status = status;
        } else {
            let set = input.below(3) != 0;
            let callback: ASYNC_callback_fn = if set { Some(some_callback) } else { None };
            assert_eq!(ASYNC_WAIT_CTX_set_callback(*ctx, callback, ptr::null_mut()), 1);
            m.callback = set;
        }
    }
}

fn outside_calls(model: &mut Model, input: &mut Input, case: &str) {
    assert_eq!(ASYNC_pause_job(), 1, "{case}: pause outside a job");
    ASYNC_block_pause();
    ASYNC_unblock_pause();
    // Fd changes made by the caller on a context no job uses.
    let idle: Vec<usize> = (0..model.ctxs.len()).filter(|&i| !model.ctxs[i].1.busy).collect();
    if idle.is_empty() {
        return;
    }
    let at = idle[input.below(idle.len())];
    let k = input.below(KEYS);
    let (ctx, m) = &mut model.ctxs[at];
    // SAFETY: a live context.
    unsafe {
        if input.below(2) == 0 {
            let fd = 3 + input.below(60) as c_int;
            let rc = ASYNC_WAIT_CTX_set_wait_fd(*ctx, key(k), fd, ptr::null_mut(), Some(count_cleanup));
            assert_eq!(i64::from(rc), m.set(k, fd), "{case}: set_wait_fd outside");
        } else {
            let rc = ASYNC_WAIT_CTX_clear_fd(*ctx, key(k));
            assert_eq!(i64::from(rc), m.clear(k), "{case}: clear_fd outside");
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("api_model: {message}");
    std::process::exit(1);
}

/// Runs one case with `imp`, recording (`trace`) or not; the trace and
/// whether the model's checks all held.
fn run_with(imp: &'static Impl, defined: bool, trace: bool, bytes: &[u8]) -> (Vec<i64>, bool) {
    api::select(imp, trace);
    DEFINED_ONLY.with(|d| d.set(defined));
    let held = std::panic::catch_unwind(|| run_case(bytes)).is_ok();
    let recorded = api::take_trace();
    api::select(&RUSTASYNC, false);
    (recorded, held)
}

fn main() {
    let run = Run::from_args();
    let (seconds, seed) = (run.seconds, run.seed);
    let reference = api::libcrypto().unwrap_or_else(|e| fail(&format!("{e}: the differential runs cannot run")));
    let deadline = run.deadline();
    println!("api_model: seed {seed}, {seconds} s");
    let mut rng = run.rng();
    let mut cases = 0u64;
    let mut compared = 0usize;
    let mut bytes = Vec::new();
    while Instant::now() < deadline {
        let len = 16 + rng.below(2048);
        bytes.clear();
        bytes.extend((0..len).map(|_| rng.next() as u8));
        cases += 1;
        let again = format!("reproduce with: api_model {seconds} {seed}");
        if !run_with(&RUSTASYNC, false, false, &bytes).1 {
            fail(&format!("case {cases}: rustasync differs from the model; {again}"));
        }
        let (theirs, model_held) = run_with(reference, true, true, &bytes);
        if !model_held {
            fail(&format!("case {cases}: the model differs from libcrypto; {again}"));
        }
        let (ours, held) = run_with(&RUSTASYNC, true, true, &bytes);
        if !held {
            fail(&format!(
                "case {cases}: rustasync differs from the model where OpenSSL defines the behaviour; {again}"
            ));
        }
        if let Some(at) = (0..theirs.len().max(ours.len())).find(|&i| theirs.get(i) != ours.get(i)) {
            fail(&format!(
                "case {cases}: rustasync differs from libcrypto at observed value {at}: libcrypto {:?}, rustasync {:?}; {again}",
                theirs.get(at),
                ours.get(at)
            ));
        }
        compared += ours.len();
    }
    println!(
        "api_model: {cases} cases passed: the model on rustasync, then, without what OpenSSL leaves undefined, \
         libcrypto and rustasync with identical traces ({compared} observed values compared)"
    );
}
