//! A job: a function running on its own stack that can pause and be resumed.
//!
//! Control blocks live in an arena (see `arena`), so a handle from C can be
//! checked before it is trusted. A job's fibre stays alive between uses, so
//! a pooled job starts again with one switch. A job knows nothing of threads
//! or pools: its owner is an opaque word that its pool compares, and the
//! thread's current job is the thread layer's to keep (`thread`).

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use context::{Context, Transfer};

use crate::arena::Arena;
use crate::ctypes::{ASYNC_job_fn, Set};
use crate::fibre::{self, Step, Suspended, Yield};
use crate::log::{self, Level};
use crate::openssl::{self, LibCtx};
use crate::sanitizer::{self, FibreNotes};
use crate::stack::{self, Stack, StackSide};
use crate::stats;
use crate::wait_ctx::{Attachment, WaitCtx};

/// Argument blocks up to this size are copied into the control block; larger
/// ones go to the heap. libssl passes 40 bytes, `openssl speed` 8.
pub const INLINE_ARGS: usize = 96;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// The slot holds no job (zeroed memory reads as this).
    Free = 0,
    /// In its thread's pool, ready to run a function.
    Idle = 1,
    Running = 2,
    Paused = 3,
}

/// Argument bytes aligned as `malloc`'s would be, since jobs cast them to
/// their own structures.
#[repr(C, align(16))]
struct InlineArgs([u8; INLINE_ARGS]);

/// Fields are ordered by use: everything a pause or resume touches sits in
/// the first cache line, so resuming thousands of jobs in random order costs
/// one line of the control block each.
///
/// A job belongs to the thread that created it, and only that thread
/// writes its fields. Other threads may read three of them: `state` and
/// `owner`, to check a handle they were given (see `from_handle`), and the
/// wait context in `wait` (`wait_ctx`), which offload engines' polling
/// threads read through `ASYNC_get_wait_ctx` to wake a job they do not
/// own (Intel's QAT engine does). The three are atomics, accessed with
/// `Relaxed` ordering (a reader needs no ordering with anything else, only
/// a value that is not torn; on x86-64 the loads and stores are plain
/// moves).
#[repr(C, align(64))]
pub struct Job {
    state: AtomicU8,
    /// `FRESH` and `WATCHING` (see there): one byte, so that a start tests
    /// both at once.
    flags: Cell<u8>,
    /// The usable size of the stack, for `on_own_stack` (`u32::MAX`: too
    /// large to hold here, ask `stack`).
    stack_span: Cell<u32>,
    /// Who may run the job: an opaque word the thread layer chooses.
    owner: AtomicPtr<c_void>,
    /// The job that was current when this one was entered.
    parent: Cell<*mut Job>,
    /// The side of the switch that is not running: where the job stopped
    /// while it is not running, and where to go when it pauses or finishes
    /// while it is. The two never exist at once, so they share one word.
    other_side: Suspended,
    /// The default library context the job last ran with; while it runs,
    /// its starter's, to give back when it pauses or finishes (`left`).
    libctx: Cell<LibCtx>,
    /// The top of the stack (a copy of `stack`'s, kept in the first line).
    stack_top: Cell<usize>,
    /// The wait context the job was started with; its first 16 bytes (the
    /// context and its resync flag, read at every pause) end the first line.
    wait: Attachment,
    func: Cell<Set<ASYNC_job_fn>>,
    args: Cell<*mut c_void>,
    ret: Cell<c_int>,
    args_on_heap: Cell<bool>,
    stack: UnsafeCell<Option<Stack>>,
    inline_args: UnsafeCell<InlineArgs>,
}

/// How `Job::enter` left things.
pub enum Entry {
    /// The caller is to make this switch into the job.
    Switch(Step),
    /// The switch was made here, and the job has paused or finished.
    Made(Yield),
}

/// Every job's control block. The arena is `Sync` (its slots are handed
/// out under a lock), so any thread may look at any slot through
/// `from_handle`; what keeps that sound is that other threads read only a
/// job's three atomics (`Job` says which and why), never its thread-owned
/// fields.
pub static JOBS: Arena<Job> = Arena::new();

/// Where each paused job stopped on its stack, by slot (`Arena::slot_key`):
/// a dense table a resume can read from the handle alone, so that the miss
/// on the job's stack starts at once instead of after the control block,
/// which holds the same address, has arrived (`Job::warm_for_resume`). With
/// thousands of jobs resumed in random order, each resume otherwise pays
/// the two misses one after the other. Only a hint: jobs this many slots
/// apart share an entry, a stale one costs a useless prefetch.
static STOPPED_AT: [AtomicUsize; STOPPED_AT_SPAN] = [const { AtomicUsize::new(0) }; STOPPED_AT_SPAN];
/// 512 KiB of address space; only the pages of slots in use become resident.
const STOPPED_AT_SPAN: usize = 1 << 16;

#[inline(always)]
fn stopped_at(handle: *const Job) -> &'static AtomicUsize {
    &STOPPED_AT[Arena::slot_key(handle, STOPPED_AT_SPAN)]
}

/// Set once anything follows job switches: `RUSTASYNC_LOG=trace`, the stack
/// depth `RUSTASYNC_STATS` records at each pause, or AddressSanitizer. All
/// three are settled when a thread first uses the library, before it runs a
/// job (`settle_watchers`), so a switch that nothing watches costs this one
/// test instead of one per watcher.
static WATCHED: AtomicBool = AtomicBool::new(false);

/// Called when a thread first uses the library, once the sanitizer has been
/// looked for.
pub fn settle_watchers() {
    if log::enabled(Level::Trace) || stats::depth_at_pause() || sanitizer::active() {
        WATCHED.store(true, Ordering::Relaxed);
    }
}

#[inline(always)]
fn watched() -> bool {
    WATCHED.load(Ordering::Relaxed)
}

/// `Job::flags`: the fibre was never entered (it starts with the
/// floating-point environment it was made with, as OpenSSL's fresh context
/// does). Here rather than found from the stack's address, which sits in
/// the second cache line.
const FRESH: u8 = 1;
/// `Job::flags`: `WATCHED` as it was when the job was made. It is settled
/// before a thread makes its first job and never changes after; read from
/// the line a switch reads anyway, it is one test of memory instead of a
/// load of a global and a test.
const WATCHING: u8 = 2;

/// Byte offsets of what a debugger reads in a control block (see
/// `introspect`): state, owning thread, wait context, the fibre's saved
/// context, the stack's bottom and size, and (while the job runs) the saved
/// context of the code that entered it.
pub const DEBUG_OFFSETS: [usize; 7] = [
    std::mem::offset_of!(Job, state),
    std::mem::offset_of!(Job, owner),
    std::mem::offset_of!(Job, wait) + crate::wait_ctx::ATTACHMENT_CTX_OFFSET,
    std::mem::offset_of!(Job, other_side) + crate::fibre::SAVED_CONTEXT_OFFSET,
    std::mem::offset_of!(Job, stack) + stack::OPTION_FIELD_OFFSETS.0,
    std::mem::offset_of!(Job, stack) + stack::OPTION_FIELD_OFFSETS.1,
    // The same word: a job's two suspended sides never exist at once.
    std::mem::offset_of!(Job, other_side) + crate::fibre::SAVED_CONTEXT_OFFSET,
];

// Sixteen control blocks per page: keep the block within 256 bytes.
const _: () = assert!(size_of::<Job>() <= 256);
const _: () = assert!(std::mem::offset_of!(Job, wait) + 16 <= 64);

impl Job {
    /// A handle from C, if it is the address of one of our control blocks.
    /// The block may be free; callers check `state`, and `owner` before
    /// anything else: a job of another thread may be read only through its
    /// atomics (`state`, `owner`, `wait_ctx`).
    pub fn from_handle<'a>(handle: *mut Job) -> Option<&'a Job> {
        // SAFETY: arena slots stay mapped and initialised for the life of the
        // process, and every field has interior mutability, so a shared
        // reference is sound even to a slot another call is changing on this
        // thread; other threads read only the atomic `state`, `owner` and
        // wait-context pointer.
        JOBS.contains(handle).then(|| unsafe { &*handle })
    }

    #[inline(always)]
    fn watching(&self) -> bool {
        self.flags.get() & WATCHING != 0
    }

    /// Whether the job was never entered (see `FRESH`).
    pub fn is_fresh(&self) -> bool {
        self.flags.get() & FRESH != 0
    }

    pub fn as_handle(&self) -> *mut Job {
        ptr::from_ref(self).cast_mut()
    }

    pub fn state(&self) -> State {
        match self.state.load(Ordering::Relaxed) {
            1 => State::Idle,
            2 => State::Running,
            3 => State::Paused,
            _ => State::Free,
        }
    }

    fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn owner(&self) -> *const c_void {
        self.owner.load(Ordering::Relaxed)
    }

    /// The wait context the job was started with, or null; any thread may
    /// ask (see `Job`). Using the context is safe only while its owner does
    /// not, as for any wait context.
    pub fn wait_ctx(&self) -> *mut WaitCtx {
        self.wait.ctx()
    }

    /// Makes a job with its own stack and a fibre ready to run, owned by
    /// `owner`. `None` when memory for either is exhausted.
    pub fn create(owner: *const c_void) -> Option<&'static Job> {
        let slot = JOBS.allocate()?;
        let Some(stack) = stack::allocate() else {
            JOBS.release(slot);
            return None;
        };
        // SAFETY: the stack is ours until `destroy` releases it, after the
        // fibre on it can no longer run; `job_entry` never returns.
        let fibre = unsafe { Suspended::on_stack(&stack, job_entry) };
        let span = u32::try_from(stack.size()).unwrap_or(u32::MAX);
        let job = Job {
            inline_args: UnsafeCell::new(InlineArgs([0; INLINE_ARGS])),
            state: AtomicU8::new(State::Idle as u8),
            flags: Cell::new(FRESH | if watched() { WATCHING } else { 0 }),
            stack_span: Cell::new(span),
            stack_top: Cell::new(stack.top() as usize),
            args_on_heap: Cell::new(false),
            ret: Cell::new(0),
            owner: AtomicPtr::new(owner.cast_mut()),
            parent: Cell::new(ptr::null_mut()),
            func: Cell::new(no_function),
            args: Cell::new(ptr::null_mut()),
            wait: Attachment::default(),
            libctx: Cell::new(LibCtx::GLOBAL),
            other_side: fibre,
            stack: UnsafeCell::new(Some(stack)),
        };
        // SAFETY: `slot` is an arena slot handed to us alone; writing a whole
        // Job over it needs no drop of the old contents (Job owns nothing
        // that a free slot still holds).
        unsafe { slot.write(job) };
        // SAFETY: just initialised, and arena slots live forever.
        Some(unsafe { &*slot })
    }

    /// Frees the job's stack and slot. The job must not be running; a paused
    /// job's frames are simply abandoned, as its thread can never resume it.
    pub fn destroy(&self) {
        self.destroy_with(stack::release);
    }

    /// Frees an idle job that went unused (see `trim`), its stack's pages
    /// going back to the kernel at once.
    pub fn retire(&self) {
        self.destroy_with(stack::release_cold);
    }

    fn destroy_with(&self, release: fn(Stack)) {
        self.end_fibre_for_sanitizer();
        self.free_args();
        self.wait.detach();
        self.set_state(State::Free);
        self.owner.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the job is not running, so nothing executes on the stack and
        // no other reference to the Option exists during this take.
        if let Some(stack) = unsafe { (*self.stack.get()).take() } {
            release(stack);
        }
        JOBS.release(self.as_handle());
    }

    /// The bookkeeping block at the top of the job's stack.
    fn side(&self) -> Option<&StackSide> {
        // SAFETY: the stack Option changes only in `destroy`, on the owning
        // thread, which is the only one calling this.
        unsafe { &*self.stack.get() }.as_ref().map(Stack::side)
    }

    /// The job's stack when AddressSanitizer follows switches onto it, else
    /// None without reading the stack field, which sits in the control
    /// block's second cache line.
    #[inline]
    fn stack_for_sanitizer(&self) -> Option<&Stack> {
        if !watched() || !sanitizer::active() {
            return None;
        }
        // SAFETY: as in `side`.
        unsafe { &*self.stack.get() }.as_ref()
    }

    /// The job's notes for AddressSanitizer, or None without it (one load
    /// and a branch: this is on every switch).
    #[inline]
    fn notes(&self) -> Option<&FibreNotes> {
        if !watched() || !sanitizer::active() {
            return None;
        }
        self.side().map(|side| &side.notes)
    }

    /// Under AddressSanitizer, enters a job that ran once more so that it can
    /// announce its end (see `sanitizer::leaving_for_good`). A no-op, one
    /// load, otherwise.
    fn end_fibre_for_sanitizer(&self) {
        // A fibre that never ran has nothing to end (and its first entry
        // would start the job's function).
        if !sanitizer::active() {
            return;
        }
        let Some(side) = self.side() else {
            return;
        };
        if !side.notes.has_arrived() {
            return;
        }
        side.dying.set(true);
        // SAFETY: the job is idle or paused (never running when destroyed),
        // so its fibre is suspended on its still-mapped stack; on arrival it
        // sees `dying` and switches straight back, running nothing else.
        unsafe {
            if let Some(stack) = &*self.stack.get() {
                self.other_side.enter(0, Some(stack));
            }
        }
        side.dying.set(false);
    }

    /// On the job's stack, after every switch into it: a job being freed
    /// leaves for good instead of going on.
    #[inline]
    fn check_dying(&self) {
        if let Some(notes) = self.notes()
            && self.side().is_some_and(|side| side.dying.get())
        {
            // SAFETY: on this job's stack; `destroy` entered it and will
            // never enter it again.
            unsafe { self.other_side.leave_for_good(notes) }
        }
    }

    /// Prepares an idle job to run `func` on a copy of `size` bytes at
    /// `args`. Fails only when a large argument block cannot be allocated.
    pub fn prepare(&self, func: Set<ASYNC_job_fn>, args: *const c_void, size: usize, wait_ctx: *mut WaitCtx) -> bool {
        let copy = if args.is_null() || size <= INLINE_ARGS {
            self.copy_args_inline(args, size)
        } else {
            // SAFETY: malloc has no preconditions.
            let block = unsafe { libc::malloc(size) };
            if block.is_null() {
                return false;
            }
            self.args_on_heap.set(true);
            // SAFETY: `args` points to `size` readable bytes (the caller's
            // contract) and `block` to `size` writable ones of its own.
            unsafe { ptr::copy_nonoverlapping(args.cast::<u8>(), block.cast::<u8>(), size) };
            block
        };
        self.set_function(func, copy, wait_ctx);
        true
    }

    /// The copy of an argument block of at most `INLINE_ARGS` bytes, in the
    /// control block. OpenSSL copies only a non-empty block; a pointer with
    /// size 0 reaches the job as NULL.
    #[inline(always)]
    fn copy_args_inline(&self, args: *const c_void, size: usize) -> *mut c_void {
        if args.is_null() || size == 0 {
            return ptr::null_mut();
        }
        let inline = self.inline_args.get().cast::<c_void>();
        // SAFETY: `args` points to `size` readable bytes (the caller's
        // contract), at most INLINE_ARGS (the caller's check), which the
        // control block's own array holds.
        unsafe { copy_small(args.cast::<u8>(), inline.cast::<u8>(), size) };
        inline
    }

    /// What the next run of the job calls, with what, and the wait context
    /// it is attached to.
    #[inline(always)]
    fn set_function(&self, func: Set<ASYNC_job_fn>, args: *mut c_void, wait_ctx: *mut WaitCtx) {
        self.args.set(args);
        self.func.set(func);
        // SAFETY: a non-null wait context is live when the job starts (the
        // caller's contract with ASYNC_start_job); the attachment lives in
        // the arena and detaches before the job is freed.
        unsafe { self.wait.attach(wait_ctx) };
    }

    /// Whether `start_quick` takes these arguments: none, or a block that
    /// fits in the control block (an empty block behind a pointer is
    /// OpenSSL 1.1's refusal, which `prepare`'s caller makes).
    #[inline(always)]
    pub fn args_fit_inline(args: *const c_void, size: usize) -> bool {
        // 1..=INLINE_ARGS as one unsigned compare.
        args.is_null() || size.wrapping_sub(1) < INLINE_ARGS
    }

    /// `prepare` and `enter` of an idle job in loads and stores, with a copy
    /// of arguments that `args_fit_inline`: when the job is no fresh fibre
    /// and nothing watches it. `starter_ctx` is the caller's default library
    /// context. None, with nothing changed, in every other case.
    #[inline(always)]
    pub fn start_quick(
        &self,
        func: Set<ASYNC_job_fn>,
        args: *const c_void,
        size: usize,
        wait_ctx: *mut WaitCtx,
        parent: *mut Job,
        starter_ctx: LibCtx,
    ) -> Option<Step> {
        if self.flags.get() != 0 {
            return None;
        }
        self.set_function(func, self.copy_args_inline(args, size), wait_ctx);
        self.libctx.set(starter_ctx);
        self.parent.set(parent);
        self.set_state(State::Running);
        // SAFETY: as in `enter`: the job is idle and not fresh.
        Some(unsafe { self.other_side.hand_over(self as *const Job as usize) })
    }

    fn free_args(&self) {
        if self.args_on_heap.replace(false) {
            // SAFETY: the block came from malloc in `prepare` and the job that
            // used it has finished.
            unsafe { libc::free(self.args.get()) };
        }
        self.args.set(ptr::null_mut());
    }

    /// Clears what a finished run left behind and returns its result. The
    /// function, the argument pointer and the result stay: `prepare` and
    /// `run` set them afresh before they are read again.
    pub fn finish(&self) -> c_int {
        // Tested before it is cleared: a job whose arguments were inline
        // (nearly every one) then stores nothing.
        if self.args_on_heap.get() {
            self.args_on_heap.set(false);
            // SAFETY: the block came from malloc in `prepare` and the job that
            // used it has finished.
            unsafe { libc::free(self.args.get()) };
        }
        self.finish_run()
    }

    /// `finish` when it takes only loads and stores; None, with nothing
    /// changed, when the arguments are on the heap.
    #[inline(always)]
    pub fn finish_quick(&self) -> Option<c_int> {
        if self.args_on_heap.get() {
            return None;
        }
        Some(self.finish_run())
    }

    /// `finish` once the arguments are freed.
    #[inline(always)]
    fn finish_run(&self) -> c_int {
        self.wait.detach();
        self.set_state(State::Idle);
        self.ret.get()
    }

    /// Begins running the job, entered from `parent` (the job that was
    /// running, or null), which the caller makes current again when it is
    /// back (`abandon` gives it back if the job is left by `longjmp`).
    /// `is_new` says the job is idle, about to start its function (the caller
    /// knows, so the state is not read again). Swaps OpenSSL's default
    /// library context as OpenSSL does: the job runs with the context it last
    /// had (a new job with its starter's), and the starter gets its own back
    /// afterwards (`left`).
    ///
    /// Returns the switch for the caller to make (`fibre::Step`), whose
    /// other side calls `arrived_back`; or, for a fresh fibre or when
    /// something follows switches, makes it here and says how the job left.
    #[inline(always)]
    pub fn enter(&self, parent: *mut Job, is_new: bool) -> Entry {
        let starter_ctx = openssl::current_default();
        if !is_new {
            openssl::ensure_default(starter_ctx, self.libctx.get());
        }
        // While the job runs, the field holds its starter's context instead.
        self.libctx.set(starter_ctx);
        self.parent.set(parent);
        self.set_state(State::Running);
        // Only an idle job can be fresh: a paused one has run.
        let slow = if is_new { FRESH | WATCHING } else { WATCHING };
        if self.flags.get() & slow != 0 {
            return Entry::Made(self.switch_in_slow(is_new));
        }
        // SAFETY: the job is idle or paused (checked by the callers) and not
        // fresh, so its fibre holds a live, entered suspended context on its
        // mapped stack, which no one else touches while it runs; the caller
        // switches at once.
        Entry::Switch(unsafe { self.other_side.hand_over(self as *const Job as usize) })
    }

    /// `enter` for a paused job when nothing needs more than loads and
    /// stores: nothing watches its switches, and the starter's default
    /// library context is the one the job last ran with, so neither side
    /// needs a swap. None, with nothing changed, in every other case.
    #[inline(always)]
    pub fn resume_quick(&self, parent: *mut Job) -> Option<Step> {
        if self.watching() || openssl::current_default_read()? != self.libctx.get() {
            return None;
        }
        self.parent.set(parent);
        self.set_state(State::Running);
        // SAFETY: as in `enter`: the job is paused (the caller checked).
        Some(unsafe { self.other_side.hand_over(self as *const Job as usize) })
    }

    /// Starts loading where the job behind `handle` stopped, if it is a
    /// paused job, before anything reads its control block; `handle` may be
    /// anything (it is used only as a number).
    #[inline(always)]
    pub fn warm_for_resume(handle: *mut Job) {
        fibre::prefetch(stopped_at(handle).load(Ordering::Relaxed));
    }

    /// Whether `left` has nothing to do: the job's default library context
    /// is its starter's.
    #[inline(always)]
    pub fn left_quick(&self) -> bool {
        openssl::current_default_read() == Some(self.libctx.get())
    }

    /// Back on the starter's side after the caller's switch (`Entry::Switch`):
    /// `job_side` is where the job stopped, and `outcome` why.
    #[inline(always)]
    pub fn arrived_back(&self, job_side: Context, outcome: Yield) {
        if outcome == Yield::Paused {
            // Stored only when it moved: a job pausing where it paused before
            // (the common case) then leaves the line shared, which matters
            // when the neighbouring slots belong to jobs of other threads.
            let hint = stopped_at(self);
            let at = fibre::save_area(&job_side) as usize;
            if hint.load(Ordering::Relaxed) != at {
                hint.store(at, Ordering::Relaxed);
            }
        }
        self.other_side.arrive(job_side);
    }

    /// The starter's side of the job's pause or finish, after the switch
    /// back: the job keeps the default library context it had, the starter
    /// gets its own back.
    #[inline(always)]
    pub fn left(&self) {
        let job_ctx = openssl::current_default();
        openssl::ensure_default(job_ctx, self.libctx.get());
        self.libctx.set(job_ctx);
    }

    /// The job that entered this one.
    #[inline(always)]
    pub fn parent(&self) -> *mut Job {
        self.parent.get()
    }

    /// `enter`'s switch into a fresh job (once per job), or when something
    /// follows switches (see `WATCHED`): the trace line, and
    /// AddressSanitizer told about the stack.
    #[cold]
    #[inline(never)]
    fn switch_in_slow(&self, is_new: bool) -> Yield {
        let flags = self.flags.get();
        self.flags.set(flags & !FRESH);
        if flags & WATCHING == 0 {
            // SAFETY: as in `enter`.
            return unsafe { self.other_side.enter(self as *const Job as usize, None) };
        }
        if log::enabled(Level::Trace) {
            let what = if is_new { "start" } else { "resume" };
            log::emit(Level::Trace, format_args!("{what} job {:p}", self));
        }
        // SAFETY: as in `enter`.
        unsafe {
            self.other_side
                .enter(self as *const Job as usize, self.stack_for_sanitizer())
        }
    }

    /// Called on the job's own stack by `ASYNC_pause_job`: returns the switch
    /// back to whoever entered the job, for the caller to make, the resume
    /// arriving in `resumed`; or, when something follows switches, switches
    /// here and returns None once the job is resumed. `deepest` is the
    /// high-water mark, in bytes, of the stack depth at pauses that
    /// `RUSTASYNC_STATS` keeps (the caller's counter), asked for only when
    /// something watches switches: finding it is a load the unwatched pause
    /// need not make.
    #[inline(always)]
    pub fn pause<'a>(&self, deepest: impl FnOnce() -> &'a AtomicU64) -> Option<Step> {
        if let Some(step) = self.pause_quick() {
            return Some(step);
        }
        self.set_state(State::Paused);
        self.pause_watched(deepest());
        self.wait.resync_on_resume();
        None
    }

    /// `pause` when nothing watches switches; None, with nothing changed,
    /// when something does.
    #[inline(always)]
    pub fn pause_quick(&self) -> Option<Step> {
        if self.watching() {
            return None;
        }
        self.set_state(State::Paused);
        // SAFETY: this runs on the job's stack while it is running, so the
        // other side holds the suspended code that entered it; the caller
        // switches at once.
        Some(unsafe { self.other_side.hand_over(Yield::Paused.encode()) })
    }

    /// The job's side of a resume after a pause the caller switched out of
    /// (`pause`'s `Step`): `arrival` is what the switch into the job passed,
    /// the job's own address (see `enter`) and where the code resuming it
    /// stopped.
    ///
    /// # Safety
    /// `arrival` must be what that switch delivered.
    #[inline(always)]
    pub unsafe fn resumed(arrival: Transfer) {
        // SAFETY: `enter` hands over the job's address, an arena slot that
        // lives for the life of the process.
        let job = unsafe { &*(arrival.data as *const Job) };
        job.other_side.arrive(arrival.context);
        job.wait.resync_on_resume();
    }

    /// `pause`'s switch when something follows switches (see `WATCHED`).
    #[cold]
    #[inline(never)]
    fn pause_watched(&self, deepest: &AtomicU64) {
        if stats::depth_at_pause() {
            self.note_depth(deepest);
        }
        if log::enabled(Level::Trace) {
            log::emit(Level::Trace, format_args!("pause job {:p}", self));
        }
        // SAFETY: as in `pause`.
        unsafe { self.other_side.leave(Yield::Paused, self.notes()) };
        self.check_dying();
    }

    /// On the job's stack once its function returned: hands control back
    /// for good, until the job is entered again.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn finished(&self) {
        if self.watching() {
            self.finished_watched();
        } else {
            // SAFETY: running on this job's stack, entered through `enter`.
            unsafe { self.other_side.leave(Yield::Finished, None) };
        }
    }

    #[cold]
    #[inline(never)]
    fn finished_watched(&self) {
        if log::enabled(Level::Trace) {
            log::emit(
                Level::Trace,
                format_args!("finish job {:p} with {}", self, self.ret.get()),
            );
        }
        // SAFETY: as in `finished`.
        unsafe { self.other_side.leave(Yield::Finished, self.notes()) };
        self.check_dying();
    }

    /// Gives up a running job that was left by `longjmp`: it can never
    /// run again (its fibre's frames were unwound) and stays `Running`, so
    /// nothing reuses its stack. Returns the job that had entered it.
    #[cold]
    pub fn abandon(&self) -> *mut Job {
        self.wait.detach();
        self.parent.replace(ptr::null_mut())
    }

    /// Whether the calling code runs on this job's stack: false once the job
    /// was left by `longjmp` (it is still the thread's current job, but its
    /// fibre is gone). A few compares on the control block's first line.
    #[inline]
    pub fn on_own_stack(&self) -> bool {
        let here = 0u8;
        self.holds(ptr::from_ref(&here) as usize)
    }

    /// Whether the address `at` lies on this job's stack.
    #[inline]
    pub fn holds(&self, at: usize) -> bool {
        self.holds_quick(at) || (self.stack_span.get() == u32::MAX && self.holds_on_large_stack(at))
    }

    /// `on_own_stack` in one compare: false for a stack too large for
    /// `stack_span` (ask `on_own_stack`).
    #[inline(always)]
    pub fn on_own_stack_quick(&self) -> bool {
        let here = 0u8;
        self.holds_quick(ptr::from_ref(&here) as usize)
    }

    /// `holds` in one compare: false for a stack too large for `stack_span`.
    #[inline(always)]
    pub fn holds_quick(&self, at: usize) -> bool {
        // bottom <= at < top, as one unsigned compare: below the top, the
        // distance from the top's last byte is less than the size.
        self.stack_top.get().wrapping_sub(at).wrapping_sub(1) < self.stack_span.get() as usize
    }

    /// `holds` for a stack too large for `stack_span`.
    #[cold]
    #[inline(never)]
    fn holds_on_large_stack(&self, at: usize) -> bool {
        // SAFETY: the job is the thread's current one, so its stack Option
        // changes only on this thread, not during this read.
        match unsafe { &*self.stack.get() } {
            Some(stack) => (stack.bottom() as usize..stack.top() as usize).contains(&at),
            None => false,
        }
    }

    /// Raises `deepest` to how deep the job's stack is used here. Runs on
    /// the job's own stack.
    #[cold]
    #[inline(never)]
    fn note_depth(&self, deepest: &AtomicU64) {
        let here = 0u8;
        let sp = ptr::from_ref(&here) as usize;
        // SAFETY: the job is running on this thread (we are on its stack), so
        // no one else touches the Option.
        let Some(top) = (unsafe { &*self.stack.get() }).as_ref().map(|s| s.top() as usize) else {
            return;
        };
        let depth = top.saturating_sub(sp) as u64;
        if depth > deepest.load(Ordering::Relaxed) {
            stats::set(deepest, depth);
        }
    }

    /// Measures how deep the job's painted stack has been used. The job must
    /// not be running and must belong to the calling thread.
    pub fn scan_stack(&self) {
        // SAFETY: the job is idle or paused and owned by this thread, so
        // nothing runs on its stack and no one else touches the Option.
        if let Some(stack) = unsafe { &*self.stack.get() } {
            // SAFETY: the stack was painted when allocated (stats are on) and
            // nothing runs on it.
            unsafe { stats::scan(stack.bottom(), stack.top() as usize - stack.bottom() as usize) };
        }
    }

    /// One run of the job's function, with any Rust panic stopped here: a
    /// panic must never unwind off the top of a fibre.
    fn run(&self) {
        let func = self.func.get();
        // SAFETY: `func` and its argument block were given to
        // ASYNC_start_job, whose caller vouches for them (`prepare` set both
        // before this entry).
        let result = catch_unwind(AssertUnwindSafe(|| unsafe { func(self.args.get()) }));
        let ret = result.unwrap_or_else(|_| {
            log::emit(
                Level::Error,
                format_args!("job {:p} panicked; it finishes with 0", self),
            );
            0
        });
        self.ret.set(ret);
    }
}

/// Copies `size` bytes, 1 to `INLINE_ARGS`, in moves of 16, 8, 4 or 1 bytes
/// (the last move of each size overlapping the one before) rather than by a
/// call to `memcpy`, which would make the quick start keep registers in a
/// stack frame; libssl's 40-byte block takes three moves.
///
/// # Safety
/// `src` must be readable and `dst` writable for `size` bytes, and the two
/// must not overlap.
#[inline(always)]
unsafe fn copy_small(src: *const u8, dst: *mut u8, size: usize) {
    // SAFETY (all blocks): every move lies within the first `size` bytes of
    // both, by the bounds tested before it; the caller vouches for those.
    unsafe fn move_at<T>(src: *const u8, dst: *mut u8, at: usize) {
        // SAFETY: the caller's.
        unsafe {
            dst.add(at)
                .cast::<T>()
                .write_unaligned(src.add(at).cast::<T>().read_unaligned())
        };
    }
    // SAFETY: see above.
    unsafe {
        if size >= 16 {
            let mut at = 0;
            while at + 16 < size {
                move_at::<u128>(src, dst, at);
                at += 16;
            }
            move_at::<u128>(src, dst, size - 16);
        } else if size >= 8 {
            move_at::<u64>(src, dst, 0);
            move_at::<u64>(src, dst, size - 8);
        } else if size >= 4 {
            move_at::<u32>(src, dst, 0);
            move_at::<u32>(src, dst, size - 4);
        } else {
            for at in 0..size {
                move_at::<u8>(src, dst, at);
            }
        }
    }
}

/// A job's function before `prepare` gives it one (never run: a job is
/// entered to run only once prepared).
extern "C" fn no_function(_args: *mut c_void) -> c_int {
    0
}

/// The first code a fibre runs. It loops forever: each time the job is taken
/// from the pool and entered, it runs the job's function once and switches
/// back. It never returns (the `context` crate would end the process).
extern "C" fn job_entry(transfer: Transfer) -> ! {
    // SAFETY: `enter` passes the address of the job whose fibre this is; the
    // slot lives for the life of the process.
    let job = unsafe { &*(transfer.data as *const Job) };
    if let Some(notes) = job.notes() {
        sanitizer::arrived(notes);
    }
    job.other_side.store(transfer.context);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: on the job's own stack, entered through `enter`.
    unsafe {
        job_loop(job)
    }
    #[cfg(not(target_arch = "x86_64"))]
    loop {
        job.run();
        job.finished();
    }
}

/// `job_entry`'s loop on x86-64, switching as the exported functions do (see
/// `fibre::Step`): calls `run_to_finish`, jumps to `jump_fcontext` with the
/// landing as the point to come back to, and when the job is started again,
/// lands, takes the starter's floating-point environment, calls `restarted`
/// and goes round. A switch back made by a call would have to load that
/// environment on every start, differing or not (see `fibre`). The job's
/// address stays at the bottom of the frame.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn job_loop(job: &'static Job) -> ! {
    std::arch::naked_asm!(
        ".cfi_startproc",
        "push rdi",
        ".cfi_adjust_cfa_offset 8",
        "2:",
        "mov rdi, [rsp]",
        "call {run}",
        "test rax, rax",
        "jz 2b",
        crate::fibre::jump_and_land!(),
        "mov rsi, rdi",
        "mov rdi, [rsp]",
        "call {restarted}",
        "jmp 2b",
        ".cfi_endproc",
        run = sym run_to_finish,
        restarted = sym restarted,
        jump = sym crate::fibre::jump_fcontext,
    )
}

/// `job_loop`'s half before its switch: one run of the function, then the
/// switch back to the starter; a job whose switches something watches makes
/// that switch here, by a call, and says so with no target once it is
/// started again.
#[cfg(target_arch = "x86_64")]
extern "C" fn run_to_finish(job: &'static Job) -> Step {
    job.run();
    if job.watching() {
        job.finished_watched();
        return Step::stay(0);
    }
    // SAFETY: on the job's stack while it runs, so the other side holds the
    // code that entered it; `job_loop` switches at once.
    unsafe { job.other_side.hand_over(Yield::Finished.encode()) }
}

/// `job_loop`'s half after its switch: the job is started again, and
/// `starter` is where the code that started it stopped.
#[cfg(target_arch = "x86_64")]
extern "C" fn restarted(job: &'static Job, starter: Context) {
    job.other_side.arrive(starter);
}
