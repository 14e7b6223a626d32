#!/usr/bin/env bash
# c-tests/aarch64-qemu.sh BUILD_DIR: the library built for aarch64, where
# ASYNC_start_job and ASYNC_pause_job switch by a call instead of the x86-64
# jumping stubs (src/ffi.rs), and the C tests that need no libcrypto run
# under qemu-aarch64. Not part of `make test`: it needs rustup's aarch64
# standard library (a download from rust-lang.org, outside the package
# registries CI reaches). `make aarch64-test` runs it.
#
# Each test checks itself (its CHECKs and exit status), and its standard
# output must be the x86-64 library's for the same test line for line
# (`make c-test` writes those to X86_OUT, build/c-tests/rustasync by
# default; a test whose x86-64 output is missing fails).
set -u -o pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: aarch64-qemu.sh BUILD_DIR}
x86_out=${X86_OUT:-$root/build/c-tests/rustasync}
. "$root/c-tests/lib.sh"

"$root/tools/ensure-packages" gcc-aarch64-linux-gnu qemu-user || exit 1
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    rustup target add "$target" || { echo "aarch64: cannot add the $target standard library"; exit 1; }
fi
mkdir -p "$build/include/openssl"
build=$(cd "$build" && pwd)
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    cargo build --manifest-path "$root/Cargo.toml" --release --lib --target "$target" || exit 1
cp "$root/target/$target/release/librustasync.so" "$build/librustasync.so.0"
ln -sf librustasync.so.0 "$build/librustasync.so"
# The system's OpenSSL headers are x86-64's; <openssl/async.h> needs only
# their configuration macros, which do not depend on the architecture.
for header in configuration.h opensslconf.h; do
    cp "/usr/include/x86_64-linux-gnu/openssl/$header" "$build/include/openssl/"
done

# Tests that need no libcrypto. Not here: hot_path (seccomp strict mode
# stops qemu-user's own system calls), stack_overflow (qemu-user does not
# deliver guard-page faults on the signal stack as the kernel does),
# fork_handlers and host_signals (they run themselves again with exec, which
# an aarch64 binary cannot do under qemu-user without binfmt_misc), fp_env
# (x86 intrinsics). exhaustion, fork_paused, libcrypto_late, paused_at_exit,
# stack_clash, stack_size, trim_memory and wx_maps fail or print otherwise
# under qemu-user, not yet looked into.
tests=(args_alignment args_copy block_pause block_pause_scope current_job defined_misuse
       empty_args_no_libcrypto job_lifecycle live_file_safety longjmp_in_job many_jobs mem_functions
       nested_fork_counts nesting no_libcrypto pause_outside pool_cleanup pool_default pool_limits
       pool_reinit pool_reuse pool_threads pool_trim_limits resume_args_ignored signal_in_switch
       start_results stats_api stress wait_ctx_callback_status wait_ctx_changed wait_ctx_cleanup
       wait_ctx_fds wait_ctx_shared wait_ctx_teardown)
mapfile -t cflags < <(c_test_cflags rustasync)
for name in "${tests[@]}"; do
    if ! aarch64-linux-gnu-gcc "${cflags[@]}" -I"$root/include" -I"$build/include" \
            -o "$build/$name" "$root/c-tests/$name.c" \
            -L"$build" -lrustasync -lpthread -ldl 2>"$build/$name.cc"; then
        fail "$name" "does not build for aarch64: $(head -n1 "$build/$name.cc")"
        continue
    fi
    if ! STRESS_SECONDS=2 timeout 300 qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$build" \
            "$build/$name" >"$build/$name.out" 2>"$build/$name.err"; then
        fail "$name" "failed under qemu-aarch64: $(grep -h -m1 FAILED "$build/$name.out" "$build/$name.err")"
        continue
    fi
    if [ ! -f "$x86_out/$name.out" ]; then
        fail "$name" "no x86-64 output to compare with at $x86_out/$name.out (run make c-test)"
    elif ! diff -u "$x86_out/$name.out" "$build/$name.out" >"$build/$name.diff"; then
        fail "$name" "output differs from x86-64's: $(sed -n 4p "$build/$name.diff")"
    else
        pass "$name ($(wc -l <"$build/$name.out") lines identical to x86-64's)"
    fi
done
summary aarch64
