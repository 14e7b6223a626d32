//! Generates the C headers with cbindgen: `openssl/async.h` from
//! `src/ffi.rs` and `src/ctypes.rs` (OpenSSL's API and its C types) and `rustasync.h` from `src/extensions.rs`
//! (rustasync's own, with version macros taken from Cargo.toml).
//!
//! Both are written under `$OUT_DIR`. The copies users compile against are
//! committed under `include/`; `c-tests/header-test.sh` fails when they
//! differ, and `make header` refreshes them.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let header = generate(
        &root,
        &["src/ffi.rs", "src/ctypes.rs"],
        "cbindgen.toml",
        None,
        &out.join("openssl/async.h"),
    );
    println!("cargo:rustc-env=RUSTASYNC_GENERATED_HEADER={}", header.display());

    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets the version");
    let mut macros = String::from("\n/* The version of the library this header belongs to. */\n");
    for (name, part) in [
        ("MAJOR", "CARGO_PKG_VERSION_MAJOR"),
        ("MINOR", "CARGO_PKG_VERSION_MINOR"),
        ("PATCH", "CARGO_PKG_VERSION_PATCH"),
    ] {
        let value = env::var(part).expect("cargo sets the version");
        macros.push_str(&format!("#define RUSTASYNC_VERSION_{name} {value}\n"));
    }
    macros.push_str(&format!(
        "#define RUSTASYNC_VERSION_STRING \"{version}\"\n\n#ifdef __cplusplus\nextern \"C\" {{\n#endif"
    ));
    let ext = generate(
        &root,
        &["src/extensions.rs"],
        "cbindgen-ext.toml",
        Some(macros),
        &out.join("rustasync.h"),
    );
    println!("cargo:rustc-env=RUSTASYNC_GENERATED_EXT_HEADER={}", ext.display());

    // A SONAME lets programs linked with -lrustasync find the library by its
    // major version, like any other C library.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librustasync.so.{major}");
    // Once used, the library leaves code behind that outlives any dlclose:
    // a fault handler, a thread-exit destructor, fork handlers. Like other
    // libraries that install such hooks it is never unloaded.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}

/// Runs cbindgen over some source files with one configuration.
fn generate(root: &Path, sources: &[&str], config: &str, after_includes: Option<String>, header: &Path) -> PathBuf {
    let config_path = root.join(config);
    println!("cargo:rerun-if-changed={}", config_path.display());
    let mut config = cbindgen::Config::from_file(&config_path).expect("the cbindgen configuration parses");
    if after_includes.is_some() {
        config.after_includes = after_includes;
    }
    let mut builder = cbindgen::Builder::new().with_config(config);
    for source in sources {
        let source = root.join(source);
        println!("cargo:rerun-if-changed={}", source.display());
        builder = builder.with_src(source);
    }
    builder
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(header);
    header.to_path_buf()
}
