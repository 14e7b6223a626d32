//! Memory-mapping helpers shared by the stacks, the control-block arena and
//! the signal stacks: fresh anonymous mappings, guard pages, and how much
//! address space the library may still take under `RLIMIT_AS`. The bottom
//! layer: it imports nothing from the crate.

use std::ptr;

/// `MADV_GUARD_INSTALL` from Linux 6.13's uapi headers.
pub const MADV_GUARD_INSTALL: libc::c_int = 102;

/// A fresh private anonymous mapping of `length` bytes with protection
/// `prot` and `extra_flags` beside `MAP_PRIVATE | MAP_ANONYMOUS |
/// MAP_NORESERVE`; `None` when the kernel refuses.
pub fn map_anonymous(length: usize, prot: libc::c_int, extra_flags: libc::c_int) -> Option<*mut libc::c_void> {
    // SAFETY: a new mapping at an address of the kernel's choosing aliases
    // nothing; the caller owns it from here.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            length,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | extra_flags,
            -1,
            0,
        )
    };
    (base != libc::MAP_FAILED).then_some(base)
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// Whether mapping `length` more bytes leaves the host program its share of
/// a finite `RLIMIT_AS` (see `address_space_available`).
pub fn address_space_allows(length: usize) -> bool {
    address_space_available().is_none_or(|available| length <= available)
}

/// How much address space this library may still map under a finite
/// `RLIMIT_AS`: what is left after the process's current use and a
/// headroom for the host program of a quarter of the limit (at least
/// 64 MiB). `None` without a limit. Reads `/proc/self/statm`, so it is for
/// cold paths only.
pub fn address_space_available() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    let limit = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    let headroom = (limit / 4).max(64 << 20);
    let in_use = address_space_in_use().unwrap_or(limit);
    Some(limit.saturating_sub(in_use).saturating_sub(headroom))
}

/// The process's virtual size in bytes, read without allocating.
fn address_space_in_use() -> Option<usize> {
    let mut text = [0u8; 128];
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: reads at most text.len() bytes into `text`.
    let read = unsafe { libc::read(fd, text.as_mut_ptr().cast(), text.len()) };
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    let read = usize::try_from(read).ok()?;
    let pages = text[..read]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .try_fold(0usize, |n, &b| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))?;
    pages.checked_mul(page_size())
}

/// Makes the page at `page_addr` (inside a private anonymous mapping of
/// ours) a guard page: `MADV_GUARD_INSTALL` if the kernel has it, else
/// `mprotect`. For the few stacks outside the regions (signal stacks).
pub fn guard_page(page_addr: *mut u8) -> bool {
    let page = page_size();
    // SAFETY: the caller passes the first page of a mapping it owns; both
    // calls change only that page.
    unsafe {
        libc::madvise(page_addr.cast(), page, MADV_GUARD_INSTALL) == 0
            || libc::mprotect(page_addr.cast(), page, libc::PROT_NONE) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_space_is_unbounded_without_a_limit() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) }, 0);
        if limit.rlim_cur == libc::RLIM_INFINITY {
            assert_eq!(address_space_available(), None);
            assert!(address_space_allows(1 << 40));
        }
        let in_use = address_space_in_use().expect("statm is readable");
        assert!(in_use > 1 << 20, "a process uses more than 1 MiB of address space");
    }
}
