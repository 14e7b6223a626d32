//! A glibc thread-specific key's value read straight from the thread
//! descriptor, without a call to `pthread_getspecific`.
//!
//! glibc keeps the values of keys 0–31 inside each thread's descriptor
//! (`struct pthread`, which begins at the thread pointer on x86_64): an
//! array of 32 `{seq, data}` pairs, directly followed by the table of
//! second-level blocks, whose first entry points back at that array. For
//! such a key `pthread_getspecific` returns `data` unless it is NULL or
//! `seq` differs from the key's current sequence number (the value was left
//! by an earlier key of the same number, since deleted); `pthread_setspecific`
//! writes both words. The pair sits at the same offset from the thread
//! pointer in every thread of the process, so once that offset is known a
//! read is two `%fs`-relative loads.
//!
//! Nothing about the layout is assumed: `Slot::find` looks for the array by
//! its back-pointer, then requires the key's pair to hold the value the key
//! has on this thread right now; callers confirm with further values and
//! compare with `pthread_getspecific` on every thread (see `openssl`). On
//! other targets, and for keys from 32 up (their values live in blocks
//! glibc allocates), there is no slot and callers keep calling pthread.

use std::ffi::c_void;

/// Byte offsets of a pair's two words.
const SEQ: usize = 0;
const DATA: usize = 8;

/// The keys whose values glibc keeps inside the descriptor.
pub const INLINE_KEYS: usize = 32;

/// Where one key's `{seq, data}` pair lives: its byte offset from the
/// thread pointer (the same in every thread of the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// The slot of `key`, whose value on the calling thread is `value` right
    /// now (non-NULL, and preferably an address nothing else holds).
    /// `None` wherever the layout is not glibc's as described above.
    pub fn find(key: libc::pthread_key_t, value: *mut c_void) -> Option<Slot> {
        let key = key as usize;
        if value.is_null() || key >= INLINE_KEYS {
            return None;
        }
        let block = imp::inline_block()?;
        let slot = Slot(block + 16 * key);
        let (seq, data) = slot.read();
        // glibc marks a key in use with an odd sequence number.
        (data == value && seq & 1 == 1).then_some(slot)
    }

    /// The slot of `other`, a key of the same process, given `self`, the
    /// slot of `key`. `None` for a key whose value is not kept inline.
    pub fn sibling(self, key: libc::pthread_key_t, other: libc::pthread_key_t) -> Option<Slot> {
        let other = other as usize;
        (other < INLINE_KEYS).then(|| Slot(self.0 - 16 * key as usize + 16 * other))
    }

    /// The byte offset from the thread pointer, never 0 (to be kept, and
    /// given back to `at`).
    pub fn offset(self) -> usize {
        self.0
    }

    /// The slot at `offset`.
    ///
    /// # Safety
    /// `offset` must be the `offset` of a slot `find` returned in this
    /// process: `read` loads from the thread descriptor there.
    #[inline(always)]
    pub unsafe fn at(offset: usize) -> Slot {
        Slot(offset)
    }

    /// The calling thread's `(seq, data)` of this slot.
    #[inline(always)]
    pub fn read(self) -> (usize, *mut c_void) {
        (imp::word::<SEQ>(self.0), imp::word::<DATA>(self.0) as *mut c_void)
    }

    /// The calling thread's `data` of this slot alone, and its `seq` only
    /// when asked: a NULL value needs no sequence number (it is NULL
    /// whatever key left it), so the common read makes one load, not two.
    #[inline(always)]
    pub fn read_data(self) -> (*mut c_void, impl FnOnce() -> usize) {
        (imp::word::<DATA>(self.0) as *mut c_void, move || {
            imp::word::<SEQ>(self.0)
        })
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod imp {
    use super::INLINE_KEYS;

    /// Bytes of the inline array: 32 pairs of two words.
    const BLOCK_BYTES: usize = INLINE_KEYS * 16;
    /// How far into the descriptor the array's back-pointer is looked for.
    /// `struct pthread` has been larger than this in every glibc with the
    /// inline array (2,368 bytes in 2.36, the array at 0x310 and the
    /// back-pointer at 0x510), so the scan reads the descriptor only.
    const SCAN_BYTES: usize = 2048;

    fn thread_pointer() -> usize {
        let tp: usize;
        // SAFETY: on x86_64 Linux the first word of the thread control block
        // is its own address (the TLS ABI requires it).
        unsafe {
            std::arch::asm!(
                "mov {tp}, qword ptr fs:[0]",
                tp = out(reg) tp,
                options(nostack, readonly, preserves_flags)
            );
        }
        tp
    }

    /// The offset from the thread pointer of the calling thread's inline
    /// array: the first word, past the array's own length, that points
    /// back at the address that length before it.
    pub fn inline_block() -> Option<usize> {
        let tp = thread_pointer();
        // From one word past the array's length, so that the array's
        // offset, and every slot's, is never 0 (the thread pointer's own word).
        (BLOCK_BYTES + 8..SCAN_BYTES).step_by(8).find_map(|offset| {
            // SAFETY: within the first SCAN_BYTES of this thread's
            // descriptor, which is mapped, initialised memory (see
            // SCAN_BYTES); read as plain words, never written.
            let word = unsafe { ((tp + offset) as *const usize).read_volatile() };
            (word == tp + offset - BLOCK_BYTES).then_some(offset - BLOCK_BYTES)
        })
    }

    /// The calling thread's word `AT` bytes into the pair at `offset` from
    /// its thread pointer (`AT` is folded into the load's address).
    #[inline(always)]
    pub fn word<const AT: usize>(offset: usize) -> usize {
        let word: usize;
        // SAFETY: `offset` is a slot's (from `Slot::find`) and `AT` 0 or 8:
        // the calling thread's descriptor holds the pair there, as every
        // thread's does.
        unsafe {
            std::arch::asm!(
                "mov {word}, qword ptr fs:[{offset} + {at}]",
                offset = in(reg) offset,
                at = const AT,
                word = lateout(reg) word,
                options(nostack, readonly, pure, preserves_flags)
            );
        }
        word
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn inline_block() -> Option<usize> {
        None
    }

    pub fn word<const AT: usize>(_offset: usize) -> usize {
        unreachable!("no slot is ever found on this target")
    }
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn new_key() -> libc::pthread_key_t {
        let mut key = 0;
        // SAFETY: a valid out-pointer, no destructor.
        assert_eq!(unsafe { libc::pthread_key_create(&mut key, None) }, 0);
        key
    }

    #[test]
    fn a_key_reads_as_pthread_getspecific_on_every_thread() {
        let key = new_key();
        let other = new_key();
        assert!((key as usize) < INLINE_KEYS && (other as usize) < INLINE_KEYS);
        let mut value = 7u8;
        let value = std::ptr::from_mut(&mut value).cast::<c_void>();
        // SAFETY: a key of ours.
        unsafe { libc::pthread_setspecific(key, value) };
        let slot = Slot::find(key, value).expect("the slot of a key below 32");
        assert_eq!(slot.read().1, value);
        // The one-word reads give the pair's two words.
        let (data, seq) = slot.read_data();
        assert_eq!((seq(), data), slot.read());
        let sibling = slot.sibling(key, other).expect("inline");
        // SAFETY: a key of ours.
        unsafe { libc::pthread_setspecific(other, value.wrapping_add(1)) };
        assert_eq!(sibling.read().1, value.wrapping_add(1));
        let elsewhere = value as usize + 2;
        let (seen, expected) = std::thread::spawn(move || {
            // SAFETY: a key of ours.
            unsafe { libc::pthread_setspecific(key, elsewhere as *mut c_void) };
            (slot.read().1 as usize, elsewhere)
        })
        .join()
        .expect("thread");
        assert_eq!(seen, expected);
        // A deleted key's value is left behind with the old sequence number,
        // which a new key of the same number no longer has.
        let (seq_before, _) = slot.read();
        // SAFETY: keys of ours, no longer used.
        unsafe {
            libc::pthread_key_delete(key);
            libc::pthread_key_delete(other);
        }
        let again = new_key();
        if again == key {
            assert_eq!(slot.read(), (seq_before, value));
            // SAFETY: the new key of ours.
            assert!(unsafe { libc::pthread_getspecific(again) }.is_null());
            // SAFETY: as above.
            unsafe { libc::pthread_setspecific(again, value) };
            assert_ne!(slot.read().0, seq_before);
        }
        // SAFETY: a key of ours.
        unsafe { libc::pthread_key_delete(again) };
    }

    #[test]
    fn no_slot_without_the_value() {
        let key = new_key();
        let mut value = 1u8;
        let value = std::ptr::from_mut(&mut value).cast::<c_void>();
        assert_eq!(Slot::find(key, value), None, "the key holds NULL, not value");
        assert_eq!(Slot::find(INLINE_KEYS as libc::pthread_key_t, value), None);
        // SAFETY: a key of ours.
        unsafe { libc::pthread_key_delete(key) };
    }
}
