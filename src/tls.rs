//! One word of thread-local storage that every entry point reads: the
//! calling thread's state.
//!
//! A shared library's `thread_local!` uses the general-dynamic TLS model, so
//! each read is a call to `__tls_get_addr` (about twenty instructions, twice
//! per job round trip). On x86_64 Linux the word is instead a `.tbss` symbol
//! accessed with the initial-exec model: one load of its offset from the GOT
//! and one `%fs`-relative load. The linker marks the library `STATIC_TLS`;
//! when it is `dlopen`ed rather than linked or preloaded, glibc places the
//! word in the static TLS surplus it keeps for such libraries (8 bytes of a
//! few hundred), including in threads that already exist. Other targets
//! keep `thread_local!`.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    // Global (so that every codegen unit of the crate links to it) but hidden
    // (so that it is not exported and no other object can preempt it).
    std::arch::global_asm!(
        ".pushsection .tbss,\"awT\",@nobits",
        ".p2align 3",
        ".globl rustasync_thread_word",
        ".hidden rustasync_thread_word",
        ".type rustasync_thread_word, @object",
        ".size rustasync_thread_word, 8",
        "rustasync_thread_word:",
        ".zero 8",
        ".popsection",
        options(att_syntax)
    );

    #[inline(always)]
    pub fn get() -> usize {
        let value: usize;
        // SAFETY: reads this thread's copy of the 8-byte TLS word defined
        // above, at the offset the dynamic linker resolved for it.
        unsafe {
            std::arch::asm!(
                "movq rustasync_thread_word@GOTTPOFF(%rip), {value}",
                "movq %fs:({value}), {value}",
                value = out(reg) value,
                options(att_syntax, nostack, preserves_flags, readonly, pure)
            );
        }
        value
    }

    #[inline]
    pub fn set(value: usize) {
        // SAFETY: writes this thread's copy of the TLS word, as `get` reads it.
        unsafe {
            std::arch::asm!(
                "movq rustasync_thread_word@GOTTPOFF(%rip), {offset}",
                "movq {value}, %fs:({offset})",
                offset = out(reg) _,
                value = in(reg) value,
                options(att_syntax, nostack, preserves_flags)
            );
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod imp {
    use std::cell::Cell;

    thread_local! {
        static WORD: Cell<usize> = const { Cell::new(0) };
    }

    #[inline]
    pub fn get() -> usize {
        WORD.with(Cell::get)
    }

    #[inline]
    pub fn set(value: usize) {
        WORD.with(|w| w.set(value));
    }
}

/// This thread's word (0 until `set`).
#[inline(always)]
pub fn get() -> usize {
    imp::get()
}

/// Sets this thread's word.
#[inline]
pub fn set(value: usize) {
    imp::set(value);
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_thread_has_its_own_word() {
        super::set(0x1234);
        let other = std::thread::spawn(|| {
            let before = super::get();
            super::set(0x5678);
            (before, super::get())
        })
        .join()
        .expect("thread");
        assert_eq!(other, (0, 0x5678));
        assert_eq!(super::get(), 0x1234);
        super::set(0);
    }
}
