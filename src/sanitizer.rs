//! AddressSanitizer's fibre annotations, found at run time.
//!
//! When the program is built with `-fsanitize=address`, ASan must be told
//! before and after every switch to another stack, or it mistakes the job's
//! frames for stack overflows and use-after-return. The library itself is
//! built normally: the ASan runtime's entry points are looked up with
//! `dlsym` once, and each switch pays one relaxed load and a branch when
//! they are absent (the ordinary case).

use std::ffi::c_void;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size)`
type StartFn = unsafe extern "C" fn(*mut *mut c_void, *const c_void, usize);
/// `void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old)`
type FinishFn = unsafe extern "C" fn(*mut c_void, *mut *const c_void, *mut usize);
/// `void __asan_unpoison_memory_region(const volatile void *addr, size_t size)`
type UnpoisonFn = unsafe extern "C" fn(*const c_void, usize);

static START: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static FINISH: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
static UNPOISON: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// Looks the annotations up once. Called on cold paths (a thread's first
/// use of the library, a stack being made) before any switch.
pub fn discover() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let lookup = |name: &std::ffi::CStr| {
            // SAFETY: RTLD_DEFAULT with a NUL-terminated name.
            unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
        };
        let start = lookup(c"__sanitizer_start_switch_fiber");
        let finish = lookup(c"__sanitizer_finish_switch_fiber");
        // Both or neither: a half-annotated switch confuses ASan more than none.
        if !start.is_null() && !finish.is_null() {
            FINISH.store(finish, Ordering::Release);
            START.store(start, Ordering::Release);
        }
        UNPOISON.store(lookup(c"__asan_unpoison_memory_region"), Ordering::Release);
    });
}

/// The sanitizer-side state of one side of a switch: ASan's fake stack
/// (for detect_stack_use_after_return) and the bounds of the stack that
/// switched to it last.
pub struct FibreNotes {
    fake_stack: std::cell::Cell<*mut c_void>,
    from_bottom: std::cell::Cell<*const c_void>,
    from_size: std::cell::Cell<usize>,
}

impl Default for FibreNotes {
    fn default() -> Self {
        FibreNotes {
            fake_stack: std::cell::Cell::new(ptr::null_mut()),
            from_bottom: std::cell::Cell::new(ptr::null()),
            from_size: std::cell::Cell::new(0),
        }
    }
}

impl FibreNotes {
    /// Whether ASan saw this fibre run (only ever true under ASan).
    pub fn has_arrived(&self) -> bool {
        !self.from_bottom.get().is_null()
    }
}

#[inline]
fn start_fn() -> Option<StartFn> {
    let f = START.load(Ordering::Relaxed);
    // SAFETY: a non-null value is the address of ASan's
    // __sanitizer_start_switch_fiber, which has this signature.
    (!f.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, StartFn>(f) })
}

#[inline]
fn finish_fn() -> Option<FinishFn> {
    let f = FINISH.load(Ordering::Acquire);
    // SAFETY: as in start_fn, for __sanitizer_finish_switch_fiber.
    (!f.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, FinishFn>(f) })
}

/// Before switching into a job whose stack is `[bottom, bottom + size)`
/// from ordinary code; `save` must be passed to `finish_switch` when
/// control comes back.
#[inline]
pub fn start_switch_into(save: &mut *mut c_void, bottom: *const u8, size: usize) {
    if let Some(start) = start_fn() {
        // SAFETY: ASan's documented protocol; `save` is a valid out-pointer.
        unsafe { start(save, bottom.cast(), size) };
    }
}

/// After control came back to the code that called `start_switch_into`.
#[inline]
pub fn finish_switch_back(save: *mut c_void) {
    if let Some(finish) = finish_fn() {
        // SAFETY: `save` is what start_switch_into stored; NULL out-pointers
        // are allowed.
        unsafe { finish(save, ptr::null_mut(), ptr::null_mut()) };
    }
}

/// On the job's stack, after arriving: remembers the bounds of the stack
/// that switched here, to switch back to it later.
#[inline]
pub fn arrived(notes: &FibreNotes) {
    if let Some(finish) = finish_fn() {
        let mut bottom = ptr::null();
        let mut size = 0;
        // SAFETY: ASan's protocol; the out-pointers are valid locals.
        unsafe { finish(notes.fake_stack.get(), &mut bottom, &mut size) };
        notes.from_bottom.set(bottom);
        notes.from_size.set(size);
    }
}

/// On the job's stack, before switching back to whoever entered it.
#[inline]
pub fn leaving(notes: &FibreNotes) {
    if let Some(start) = start_fn() {
        let mut save = ptr::null_mut();
        // SAFETY: ASan's protocol; the bounds are those `arrived` recorded.
        unsafe { start(&mut save, notes.from_bottom.get(), notes.from_size.get()) };
        notes.fake_stack.set(save);
    }
}

/// Whether the program runs under AddressSanitizer (annotations found).
#[inline]
pub fn active() -> bool {
    !START.load(Ordering::Relaxed).is_null()
}

/// On a job's stack, before switching away from it for the last time: ASan
/// frees the job's fake stack (without this, every job freed while it was
/// paused or idle would leak one under detect_stack_use_after_return).
pub fn leaving_for_good(notes: &FibreNotes) {
    if let Some(start) = start_fn() {
        // SAFETY: ASan's protocol; a NULL save pointer means this fibre ends.
        unsafe { start(ptr::null_mut(), notes.from_bottom.get(), notes.from_size.get()) };
        notes.fake_stack.set(ptr::null_mut());
    }
}

/// Clears ASan's poison from a stack about to be reused: frames abandoned
/// on it (a paused job that was freed) leave their redzones behind.
pub fn unpoison(bottom: *const u8, size: usize) {
    let f = UNPOISON.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: the address of ASan's __asan_unpoison_memory_region; the
        // range is memory this library mapped.
        unsafe { std::mem::transmute::<*mut c_void, UnpoisonFn>(f)(bottom.cast(), size) };
    }
}
