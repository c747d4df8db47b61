//! Link flags of the `rampart` binary.
//!
//! On Linux with glibc the position-independent executable's ~65,000 relative relocations are packed
//! (`DT_RELR`, glibc ≥ 2.36, GNU ld ≥ 2.38): 1.5 MB of `.rela.dyn` that the loader read at every start become
//! a few kilobytes, so the process starts with that much less memory mapped. Address-space randomisation
//! is unchanged (still PIE). `tests/it/binary.rs` checks the result.

fn main() {
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bin=rampart=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
