//! Valgrind client requests: telling valgrind where job stacks are, so that
//! it follows the switches between them instead of reporting "client
//! switching stacks?" and losing track of the stack pointer.
//!
//! A client request is a magic instruction sequence that valgrind's JIT
//! recognises; on a real CPU it is a handful of register rotations that
//! cancel out (3 + 13 + 61 + 51 = 128 bits, two full turns) followed by an
//! exchange of a register with itself, so outside valgrind it does nothing
//! and returns the default value. The request codes are those of
//! `<valgrind/valgrind.h>` (`VG_USERREQ__STACK_REGISTER` = 0x1501, …).
//!
//! Only the cold paths (a stack is made or freed) issue requests; the switch
//! itself needs none.

/// `VG_USERREQ__STACK_REGISTER`: (lowest address, highest address) → id.
const STACK_REGISTER: usize = 0x1501;
/// `VG_USERREQ__STACK_DEREGISTER`: (id).
const STACK_DEREGISTER: usize = 0x1502;

/// Issues one client request; returns `default` when not under valgrind.
#[cfg(target_arch = "x86_64")]
#[inline]
fn client_request(default: usize, request: usize, args: [usize; 5]) -> usize {
    let block: [usize; 6] = [request, args[0], args[1], args[2], args[3], args[4]];
    let mut result = default;
    // SAFETY: the sequence rotates %rdi by 128 bits in total (leaving it and
    // every other register unchanged; only the flags are clobbered) and then
    // executes `xchg %rbx, %rbx`, a no-op. Under valgrind the JIT replaces it
    // with a read of the six words at %rax and a write of the result to
    // %rdx; `block` lives across the asm statement, which may touch memory
    // (the default for asm!) and does not use the stack.
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") block.as_ptr(),
            inout("rdx") result,
            out("rdi") _,
            options(nostack),
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn client_request(default: usize, _request: usize, _args: [usize; 5]) -> usize {
    default
}

/// Registers the stack `[bottom, top)` with valgrind; returns its id (0
/// outside valgrind, where nothing happens).
pub fn register_stack(bottom: *const u8, top: *const u8) -> usize {
    // Valgrind takes the highest address of the stack, inclusive.
    client_request(0, STACK_REGISTER, [bottom as usize, top as usize - 1, 0, 0, 0])
}

/// Memcheck's `VALGRIND_MAKE_MEM_DEFINED` (`'M' << 24 | 'C' << 16 | 2`).
const MAKE_MEM_DEFINED: usize = 0x4D43_0002;

/// Tells memcheck that `[start, start + len)` may be read and holds defined
/// data: for the stats' scans of whole job stacks, parts of which lie below
/// a stack pointer valgrind saw. Nothing happens outside valgrind.
pub fn make_defined(start: *const u8, len: usize) {
    client_request(0, MAKE_MEM_DEFINED, [start as usize, len, 0, 0, 0]);
}

/// Memcheck's `VALGRIND_MAKE_MEM_NOACCESS` (`'M' << 24 | 'C' << 16 | 0`).
const MAKE_MEM_NOACCESS: usize = 0x4D43_0000;

/// Tells memcheck that `[start, start + len)` must not be touched: for the
/// guard zones below job stacks, which valgrind cannot see are guards
/// (`MADV_GUARD_INSTALL`), so that its leak check skips them instead of
/// faulting on every page. Nothing happens outside valgrind.
pub fn make_noaccess(start: *const u8, len: usize) {
    client_request(0, MAKE_MEM_NOACCESS, [start as usize, len, 0, 0, 0]);
}

/// Undoes `register_stack`.
pub fn deregister_stack(id: usize) {
    client_request(0, STACK_DEREGISTER, [id, 0, 0, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_no_ops_outside_valgrind() {
        let memory = [0u8; 64];
        let range = memory.as_ptr_range();
        // Under valgrind the id is a real one; outside it is the default.
        let id = register_stack(range.start, range.end);
        deregister_stack(id);
        let running_on_valgrind = client_request(7, 0x1001, [0; 5]) != 7;
        if !running_on_valgrind {
            assert_eq!(id, 0);
        }
    }
}
