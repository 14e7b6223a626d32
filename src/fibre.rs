//! The context switch itself: Boost.Context's fcontext through the `context`
//! crate. A switch saves the callee-saved registers and the floating-point
//! control words and jumps; no system call, no signal-mask change.
//!
//! fcontext gives each context its own floating-point environment (it
//! restores the target's MXCSR and x87 control word), but with OpenSSL the
//! environment belongs to the thread: a job sees the rounding mode its
//! caller set, and the caller sees the exception flags the job raised. So
//! the side switched to takes the other side's: fcontext has just saved the
//! switching side's two words in its save area, the address the switch
//! delivers. The stubs that switch by jumping (see `Step`) compare them with
//! what fcontext loaded, still in the landing side's own save area just
//! below its stack pointer, and load them only when they differ
//! (`jump_and_land!`); a switch made by a call loads them afterwards
//! (`adopt_fp_env`). Reading the current MXCSR instead, to store it into the
//! target's save area before the switch, costs a `stmxcsr`, which on the
//! development machine takes about 4.5 ns — a third of a round trip. The
//! one exception is OpenSSL's too: the first entry into a fresh fibre.
//! OpenSSL enters it with `setcontext` on the `getcontext` made when the job
//! was created, so a job made ahead of time by `ASYNC_init_thread` starts
//! with the environment the thread had then; `make_fcontext` captured the
//! same.
//!
//! Every switch is announced to AddressSanitizer when the program runs under
//! it (see `sanitizer`); otherwise that costs a load and a branch.

use std::cell::Cell;
use std::ffi::c_void;

use context::stack::Stack as ContextStack;
use context::{Context, ContextFn, Transfer};

use crate::sanitizer::{self, FibreNotes};
use crate::stack::Stack;

/// What a job reports when it hands control back to whoever entered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Yield {
    Paused,
    Finished,
}

impl Yield {
    pub fn encode(self) -> usize {
        match self {
            Yield::Paused => 1,
            Yield::Finished => 2,
        }
    }

    pub fn decode(data: usize) -> Yield {
        if data == 1 { Yield::Paused } else { Yield::Finished }
    }
}

/// After a switch made by a call (`Suspended::enter`, `leave`): takes the
/// floating-point environment the side that switched here had, from its
/// save area (`from`, what the switch delivered).
///
/// # Safety
/// `from` must be the context a switch just delivered, whose save area
/// begins with MXCSR (4 bytes) and the x87 control word.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
unsafe fn adopt_fp_env(from: &Context) {
    #[cfg(target_arch = "x86_64")]
    {
        let area = save_area(from);
        // SAFETY: the save area is on the other side's suspended stack,
        // mapped, and begins with the two words (the caller's contract).
        unsafe {
            std::arch::asm!(
                "ldmxcsr [{area}]",
                "fldcw [{area} + 4]",
                area = in(reg) area,
                options(nostack, preserves_flags)
            );
        }
    }
}

/// The switch of a `Step` by jumping (x86-64; see `Step`), as `naked_asm!`
/// text for the functions that switch that way (`ASYNC_start_job`,
/// `ASYNC_pause_job`, the job's loop), with the step in `rax:rdx` and
/// `jump_fcontext` named `jump` by the caller: pushes the landing (label 3)
/// as the point to come back to and jumps. The `nop` before the landing is
/// never run: a debugger unwinding a suspended side looks up the rule of the
/// byte before its saved address, as for any return address, and finds the
/// landing's there instead of the jump's. On landing, `rdi` holds the other
/// side's save area, and the landing side's own, from which fcontext has
/// just loaded, lies 64 bytes below the stack pointer, inside the red zone,
/// which a signal handler leaves alone: the floating-point words are loaded
/// only when they differ (what `adopt_fp_env` does unconditionally).
/// Clobbers `rax`, `rcx`, `rsi` and the flags; uses the local labels 3, 4
/// and 5; the call-frame rules around the jump leave the frame as before.
#[cfg(target_arch = "x86_64")]
macro_rules! jump_and_land {
    () => {
        "mov rdi, rax
        mov rsi, rdx
        lea rcx, [rip + 3f]
        push rcx
        .cfi_adjust_cfa_offset 8
        jmp {jump}
        .cfi_adjust_cfa_offset -8
        nop
        3:
        mov eax, [rdi]
        cmp eax, [rsp - 64]
        je 4f
        ldmxcsr [rdi]
        4:
        movzx eax, word ptr [rdi + 4]
        cmp ax, [rsp - 60]
        je 5f
        fldcw [rdi + 4]
        5:"
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use jump_and_land;

/// The address of a suspended context's save area (what `jump_fcontext`
/// takes and returns): on the stack of the side that stopped there.
#[inline(always)]
pub fn save_area(context: &Context) -> *mut c_void {
    const _: () = assert!(size_of::<Context>() == size_of::<*mut c_void>());
    // SAFETY: `Context` is a repr(C) wrapper of that one pointer.
    unsafe { *std::ptr::from_ref(context).cast::<*mut c_void>() }
}

/// Starts bringing the cache line at `address`, and its page's TLB entry,
/// closer without waiting for either; any address will do, since a prefetch
/// never faults. A resume in shuffled order misses both on the job's stack,
/// and this lets the miss run while the control block is still being read.
#[inline(always)]
pub fn prefetch(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect the program can observe and never
    // faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address as *const i8)
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; `prfm` writes no register and no memory.
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) address, options(nostack, readonly, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = address;
}

unsafe extern "C" {
    /// The `context` crate's switch (Boost.Context's), named here so that the
    /// exported functions can jump to it instead of calling it (see `Step`).
    pub fn jump_fcontext(to: *mut c_void, data: usize) -> Transfer;
}

/// What an exported function that may switch is to do next: switch to the
/// suspended context at `target`, passing `data`, or, when `target` is null,
/// return `data` to its caller. Returned in two registers.
///
/// The exported functions that switch on every call (`ASYNC_start_job`,
/// `ASYNC_pause_job`) get a `Step` from Rust and then make the switch
/// themselves, with their caller's return address as the point to come back
/// to: on x86-64 they jump to `jump_fcontext` rather than call it, and the
/// side switched to goes on from a landing stub of the function that
/// switched to it, which returns with an indirect jump. No return then runs
/// on a stack other than the one whose call it answers: a switch inside a
/// function that returns costs two mispredicted returns per round trip
/// (the CPU predicts returns from a stack of the calls it saw), about half
/// of a round trip's time (`bench/README.md`, *Where the floors are*).
#[repr(C)]
pub struct Step {
    target: *mut c_void,
    data: usize,
}

impl Step {
    /// No switch: the exported function returns `value`.
    pub fn stay(value: usize) -> Step {
        Step {
            target: std::ptr::null_mut(),
            data: value,
        }
    }

    /// The switch `Step` describes, made by a call, for targets without the
    /// jumping stubs: returns when something switches back.
    ///
    /// # Safety
    /// As for `Suspended::hand_over`'s result: a live suspended target.
    #[cfg(not(target_arch = "x86_64"))]
    pub unsafe fn switch(self) -> Result<Transfer, usize> {
        if self.target.is_null() {
            return Err(self.data);
        }
        // SAFETY: the caller's.
        Ok(unsafe { jump_fcontext(self.target, self.data) })
    }
}

/// One side of a switch that is not running: either a job waiting to be
/// entered or the code that entered a job, waiting for it to yield.
#[derive(Default)]
pub struct Suspended(Cell<Option<Context>>);

/// Where a `Suspended` keeps the saved stack pointer of the side that is
/// not running: fcontext saves the registers at that address, which is how
/// a debugger unwinds a paused job (see `introspect`).
pub const SAVED_CONTEXT_OFFSET: usize = std::mem::offset_of!(Suspended, 0);
const _: () = assert!(size_of::<Option<Context>>() == size_of::<usize>());

impl Suspended {
    /// Prepares `stack` so that the first switch into it calls `entry`.
    ///
    /// # Safety
    /// `stack` must stay mapped for as long as the returned context may be
    /// switched to, and `entry` must never return.
    pub unsafe fn on_stack(stack: &Stack, entry: ContextFn) -> Suspended {
        // SAFETY: the caller guarantees the stack memory outlives the context;
        // top and bottom come from one allocation, top above bottom.
        let context = unsafe {
            let bounds = ContextStack::new(stack.top().cast::<c_void>(), stack.bottom().cast::<c_void>());
            Context::new(&bounds, entry)
        };
        Suspended(Cell::new(Some(context)))
    }

    pub fn store(&self, context: Context) {
        self.0.set(Some(context));
    }

    /// The context held here, left in place: the side switched to stores
    /// the other side's context over it on arrival, so a copy costs no
    /// store of its own, and a debugger reading the word between the two
    /// sees the context switched to, whose frames are still there.
    #[inline(always)]
    fn held(&self) -> Option<Context> {
        // SAFETY: `Context` is a plain pointer without `Drop`, and the copy
        // is resumed at most once before the cell is overwritten.
        unsafe { std::ptr::read(self.0.as_ptr()) }
    }

    /// Switches into the job held here, passing it `data`; returns when the
    /// job yields, having stored the job's new suspension point here. A
    /// context never entered (made by `on_stack`) starts with the
    /// floating-point environment it was made with: only a side that lands
    /// takes the other's. `watched` is the job's stack when AddressSanitizer
    /// follows the switches, and None otherwise (so that the common case
    /// does not read where the stack is).
    ///
    /// # Safety
    /// The held context must be live (its stack mapped) and not running.
    #[inline(always)]
    pub unsafe fn enter(&self, data: usize, watched: Option<&Stack>) -> Yield {
        // SAFETY: the side is empty only inside `leave_for_good` (which
        // never returns to the job); every other path stores a context here
        // before it lets go, and the caller enters an idle or paused job,
        // whose side holds one. Not tested: the test was on every switch.
        let target = unsafe { self.held().unwrap_unchecked() };
        let mut fake_stack = std::ptr::null_mut();
        if let Some(stack) = watched {
            sanitizer::start_switch_into(&mut fake_stack, stack.bottom(), stack.size());
        }
        // SAFETY: the caller guarantees the target is a suspended, live
        // context; the switch back delivers the job's.
        let transfer = unsafe {
            let transfer = target.resume(data);
            adopt_fp_env(&transfer.context);
            transfer
        };
        if watched.is_some() {
            sanitizer::finish_switch_back(fake_stack);
        }
        self.0.set(Some(transfer.context));
        Yield::decode(transfer.data)
    }

    /// From inside a job: switches back to the side that entered it, and
    /// returns when the job is entered again. `notes` are the job's own
    /// (None when AddressSanitizer is absent).
    ///
    /// # Safety
    /// Must run on the job's own stack, with this cell holding the context of
    /// the code that entered the job.
    #[inline(always)]
    pub unsafe fn leave(&self, why: Yield, notes: Option<&FibreNotes>) {
        // SAFETY: while the job runs, its side holds the code that entered
        // it (stored by `enter`'s switch, or by `job_entry` on the first);
        // see `enter`.
        let target = unsafe { self.held().unwrap_unchecked() };
        if let Some(notes) = notes {
            sanitizer::leaving(notes);
        }
        // SAFETY: the caller guarantees we are on the job's stack and the
        // target is the suspended code that entered it.
        let transfer = unsafe {
            let transfer = target.resume(why.encode());
            adopt_fp_env(&transfer.context);
            transfer
        };
        if let Some(notes) = notes {
            sanitizer::arrived(notes);
        }
        self.0.set(Some(transfer.context));
    }

    /// The first half of `enter` or `leave` when the caller makes the switch
    /// (see `Step`): the target and `data` for it. The side switched to
    /// takes the floating-point environment (`jump_and_land!`) and calls
    /// `arrive` with where the other stopped.
    ///
    /// # Safety
    /// As for `enter` (or `leave`, from the job's stack), and the context
    /// must not be fresh; the switch must be made before anything else
    /// switches this side.
    #[inline(always)]
    pub unsafe fn hand_over(&self, data: usize) -> Step {
        // SAFETY: as in `enter`.
        let target = unsafe { self.held().unwrap_unchecked() };
        Step {
            target: save_area(&target),
            data,
        }
    }

    /// The second half of a switch the caller made (`hand_over`): on the side
    /// switched to, `context` is where the other side stopped.
    #[inline(always)]
    pub fn arrive(&self, context: Context) {
        self.0.set(Some(context));
    }

    /// From inside a job that is being freed: switches back for the last
    /// time, telling AddressSanitizer this fibre ends. Never returns.
    ///
    /// # Safety
    /// As for `leave`; nothing may resume the job afterwards.
    pub unsafe fn leave_for_good(&self, notes: &FibreNotes) -> ! {
        loop {
            if let Some(target) = self.0.take() {
                sanitizer::leaving_for_good(notes);
                // SAFETY: as in `leave`.
                let transfer = unsafe { target.resume(Yield::Finished.encode()) };
                self.0.set(Some(transfer.context));
            }
        }
    }
}
