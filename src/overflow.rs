//! Stack overflow inside a job: a clear fatal diagnostic instead of a bare
//! "Segmentation fault".
//!
//! Every job stack has a guard zone below it (see `stack`), so running off
//! its end faults at once. The program's signal handling is its own, so the
//! library follows the policy of Rust's standard library for its guard
//! pages: when a thread first uses the library, a `SIGSEGV`/`SIGBUS` handler
//! is installed only if the disposition of both is still `SIG_DFL` (and not
//! at all with `RUSTASYNC_FAULT_HANDLER=0`), and only then do
//! threads that run jobs get an alternate signal stack (the job's own stack
//! is exhausted, so the handler cannot run there). A program that handles
//! or ignores the signal keeps its handler, flags, mask and signal stacks;
//! a job stack overflow then meets the program's own handling (without a
//! signal stack of its own that is death by `SIGSEGV`, without our line).
//!
//! The handler writes one line to stderr when the fault address is in one
//! of our guard zones, naming the cause, the stack size and the
//! `RUSTASYNC_STACK_SIZE` knob. Then, for every signal, it gives back
//! exactly the default action: it restores `SIG_DFL` and returns, so a
//! fault runs the faulting instruction again and the process dies of it as
//! it would have without this library; a signal sent by a process (`kill`,
//! `raise`, `sigqueue`) is raised again and delivered once the handler
//! returns.
//!
//! Everything the handler does is async-signal-safe: lock-free reads,
//! formatting into a buffer on its stack, `write(2)`, `sigaction(2)`,
//! `raise(3)`.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config;
use crate::mem;
use crate::region;

/// The signals a guard-page hit raises: `SIGSEGV` on Linux for a guard made
/// with `mprotect` or `MADV_GUARD_INSTALL`; `SIGBUS` is covered as well.
const SIGNALS: [c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];
/// Usable size of the alternate signal stacks this library makes.
const ALT_STACK_SIZE: usize = 64 * 1024;
/// `AT_MINSIGSTKSZ` from `<elf.h>`.
const AT_MINSIGSTKSZ: libc::c_ulong = 51;

/// Set once the handler was installed for at least one signal.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the fault handler, once per process, when both signals are
/// still at `SIG_DFL` (a program that handles one of them keeps both) and
/// `RUSTASYNC_FAULT_HANDLER=0` is not set.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if !config::get().fault_handler || !SIGNALS.iter().all(|&signal| disposition(signal) == Some(libc::SIG_DFL)) {
            return;
        }
        for signal in SIGNALS {
            // SAFETY: an all-zero sigaction is a valid value to fill in.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: an all-zero sigaction is a valid out-value.
            let mut replaced: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: `sa_mask` is a valid sigset; `on_fault` has the
            // SA_SIGINFO signature and is async-signal-safe.
            let installed = unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, &mut replaced) == 0
            };
            if !installed {
                continue;
            }
            if replaced.sa_sigaction != libc::SIG_DFL {
                // Another thread installed a handler since the check: it
                // wins, as if it had come first.
                // SAFETY: puts back exactly what was there.
                unsafe { libc::sigaction(signal, &replaced, ptr::null_mut()) };
                continue;
            }
            INSTALLED.store(true, Ordering::Release);
        }
    });
}

/// The handler address (or `SIG_DFL`/`SIG_IGN`) in force for `signal`.
fn disposition(signal: c_int) -> Option<libc::sighandler_t> {
    // SAFETY: an all-zero sigaction is a valid out-value.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a query only; the out-pointer is valid.
    (unsafe { libc::sigaction(signal, ptr::null(), &mut current) } == 0).then_some(current.sa_sigaction)
}

/// Whether our handler is still the action for some fault signal: only then
/// does a thread need a signal stack from us. Cold path (two system calls).
fn handler_in_place() -> bool {
    INSTALLED.load(Ordering::Acquire)
        && SIGNALS
            .iter()
            .any(|&signal| disposition(signal) == Some(on_fault as *const () as usize))
}

/// An alternate signal stack this library made for a thread.
pub struct AltStack {
    mapping: *mut c_void,
    length: usize,
}

impl AltStack {
    /// Gives the calling thread an alternate signal stack when our fault
    /// handler is in place and the thread has none. `None` otherwise, or when
    /// memory is short (a guard-page hit then dies of the signal).
    pub fn for_this_thread() -> Option<AltStack> {
        if !handler_in_place() {
            return None;
        }
        // SAFETY: a zeroed stack_t is valid; the call only queries.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer; a NULL new stack means query only.
        if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0 || current.ss_flags & libc::SS_DISABLE == 0 {
            return None;
        }
        let page = mem::page_size();
        // The kernel's minimum for this CPU's signal frame (AT_MINSIGSTKSZ,
        // 0 when unknown); a handler needs several times that.
        // SAFETY: getauxval has no preconditions.
        let minimum = usize::try_from(unsafe { libc::getauxval(AT_MINSIGSTKSZ) }).unwrap_or(0);
        let usable = ALT_STACK_SIZE.max(minimum * 8).next_multiple_of(page);
        let length = usable + page;
        let mapping = mem::map_anonymous(length, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let alt = AltStack { mapping, length };
        // The handler's own overflow should fault, not scribble below.
        mem::guard_page(mapping.cast());
        let new = libc::stack_t {
            ss_sp: mapping.cast::<u8>().wrapping_add(page).cast(),
            ss_flags: 0,
            ss_size: usable,
        };
        // SAFETY: `new` describes memory we own for as long as it is installed
        // (until `Drop` uninstalls it).
        if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } != 0 {
            return None; // `alt` unmaps on drop; nothing was installed.
        }
        Some(alt)
    }
}

impl Drop for AltStack {
    /// Uninstalls the stack if it is still the thread's, then unmaps it.
    /// Must run on the thread it was made for (its exit destructor).
    fn drop(&mut self) {
        // SAFETY: zeroed stack_t is valid; query only.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        let queried = unsafe { libc::sigaltstack(ptr::null(), &mut current) } == 0;
        let ours = (self.mapping as usize..self.mapping as usize + self.length).contains(&(current.ss_sp as usize));
        if queried && ours {
            if current.ss_flags & libc::SS_ONSTACK != 0 {
                return; // Never pull the stack from under a running handler.
            }
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling the thread's alternate stack has no other effect.
            unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
        }
        // (If the program replaced it, ours is no longer in use either.)
        // SAFETY: the mapping is ours and no longer the thread's signal stack.
        unsafe { libc::munmap(self.mapping, self.length) };
    }
}

/// The handler. Async-signal-safe throughout.
extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, _context: *mut c_void) {
    // SAFETY: errno is thread-local; the handler gives it back unchanged.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code > 0: raised by the kernel for a fault, not sent by a process.
    let fault = code > 0;
    if fault && region::is_guard_page(address) {
        report_overflow(address);
    }
    // SAFETY: a zeroed sigaction with SIG_DFL (0) is the default action.
    let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
    default.sa_sigaction = libc::SIG_DFL;
    // SAFETY: sigaction and raise are async-signal-safe. A fault runs the
    // faulting instruction again on return and dies of it; a sent signal is
    // raised again, blocked until this handler returns.
    unsafe {
        libc::sigaction(signal, &default, ptr::null_mut());
        if !fault {
            libc::raise(signal);
        }
        *libc::__errno_location() = errno;
    }
}

/// Writes the one-line diagnostic with `write(2)` from a stack buffer.
fn report_overflow(address: usize) {
    let size = region::region_stack_size();
    let mut line = Line::new();
    line.text("rustasync: fatal: job stack overflow (");
    // A privileged program does not tell whoever started it where its
    // memory lies.
    if !config::privileged() {
        line.text("fault at 0x");
        line.hex(address);
        line.text(" ");
    }
    line.text("in the guard zone below a ");
    line.decimal(size);
    line.text("-byte job stack); set RUSTASYNC_STACK_SIZE to more, e.g. RUSTASYNC_STACK_SIZE=");
    line.decimal((size * 2).div_ceil(1024));
    line.text("K\n");
    line.write_to_stderr();
}

/// A fixed buffer for one line, filled without allocating.
struct Line {
    buffer: [u8; 256],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buffer: [0; 256],
            len: 0,
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let room = self.buffer.len() - self.len;
        let n = bytes.len().min(room);
        self.buffer[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn number(&mut self, mut value: usize, base: usize) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b"0123456789abcdef"[value % base];
            value /= base;
            if value == 0 {
                break;
            }
        }
        self.bytes(&digits[at..]);
    }

    fn decimal(&mut self, value: usize) {
        self.number(value, 10);
    }

    fn hex(&mut self, value: usize) {
        self.number(value, 16);
    }

    fn write_to_stderr(&self) {
        let mut written = 0;
        while written < self.len {
            // SAFETY: writes initialised bytes of our buffer; write(2) is
            // async-signal-safe.
            let n = unsafe {
                libc::write(
                    libc::STDERR_FILENO,
                    self.buffer[written..].as_ptr().cast(),
                    self.len - written,
                )
            };
            if n <= 0 {
                return;
            }
            written += n as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_format_numbers_without_allocating() {
        let mut line = Line::new();
        line.text("a ");
        line.decimal(65536);
        line.text(" 0x");
        line.hex(0xdead_beef);
        line.decimal(0);
        assert_eq!(&line.buffer[..line.len], b"a 65536 0xdeadbeef0");
    }

    #[test]
    fn no_signal_stack_without_our_handler() {
        // Unit tests never install the handler (no thread state is made),
        // so the library must leave every thread's signal stack alone.
        std::thread::spawn(|| {
            if !INSTALLED.load(Ordering::Acquire) {
                assert!(AltStack::for_this_thread().is_none());
            }
        })
        .join()
        .expect("thread");
    }
}
