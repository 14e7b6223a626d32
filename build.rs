//! Generates the C header from `src/ffi.rs` with cbindgen.
//!
//! The header is written to `$OUT_DIR/openssl/async.h`. The copy users
//! compile against is the committed `include/openssl/async.h`; a unit test
//! fails when the two differ, and `make header` refreshes the committed one.

use std::env;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let source = root.join("src/ffi.rs");
    let config_path = root.join("cbindgen.toml");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", config_path.display());

    let config = cbindgen::Config::from_file(&config_path).expect("cbindgen.toml parses");
    let header = out.join("openssl/async.h");
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(&source)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(&header);
    println!("cargo:rustc-env=RUSTASYNC_GENERATED_HEADER={}", header.display());

    // A SONAME lets programs linked with -lrustasync find the library by its
    // major version, like any other C library.
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librustasync.so.{major}");
}
