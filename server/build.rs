//! Link flags of the `rampart` binary.
//!
//! On Linux with glibc the position-independent executable's ~65,000 relative relocations are packed
//! (`DT_RELR`, glibc ≥ 2.36, GNU ld ≥ 2.38): 1.5 MB of `.rela.dyn` that the loader read at every start become
//! a few kilobytes, so the process starts with that much less memory mapped. Address-space randomisation
//! is unchanged (still PIE). `tests/it/binary.rs` checks the result.
//!
//! In release builds on x86_64 Linux, where Rust links with LLD, the functions the server runs
//! (`startup-order.txt`, written by `scripts/startup_order.sh`: a start's first, then those of signed-in page
//! loads, the keyed API and sign-ins) are placed together at the front of the code, in that order: the kernel
//! maps 64 KiB of a binary around each page a process first touches, and those functions, spread over some
//! forty crates, made a start map about 21 MB of the 41 MB of code and the bench's loads 37 MB. A name the
//! binary lacks (a function changed since the list was written) is skipped silently; the order changes nothing
//! else. `make test` fails when too few of the names are left (`scripts/startup_order_check.sh`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=startup-order.txt");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bin=rampart=-Wl,-z,pack-relative-relocs");
    }
    let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "x86_64");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if linux_gnu && x86_64 && release {
        // The list is copied next to this script's output and linked from there. The output of a run is reused
        // by every checkout sharing the target directory (CI's clones) until the list changes: a path into the
        // checkout that ran it (`CARGO_MANIFEST_DIR`) failed the link once that checkout was gone.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
        let out = std::env::var_os("OUT_DIR").unwrap_or_default();
        let list = std::path::Path::new(&out).join("startup-order.txt");
        if let Err(e) = std::fs::copy(std::path::Path::new(&dir).join("startup-order.txt"), &list) {
            println!("cargo:warning=no function order for the linker ({e}): the binary is linked without it");
            return;
        }
        println!("cargo:rustc-link-arg-bin=rampart=-Wl,--symbol-ordering-file={}", list.display());
        println!("cargo:rustc-link-arg-bin=rampart=-Wl,--no-warn-symbol-ordering");
    }
}
