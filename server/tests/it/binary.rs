//! The `rampart` binary as built: still position-independent (its addresses randomised at every start), with
//! its relative relocations packed (`DT_RELR`, `server/build.rs`) instead of a 1.5 MB table the loader reads at
//! every start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_binary_is_position_independent_with_packed_relocations() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let out = std::process::Command::new("readelf")
        .args(["--dynamic", "--wide", env!("CARGO_BIN_EXE_rampart")])
        .output()
        .expect("readelf (binutils, which also links the binary) runs");
    assert!(out.status.success(), "readelf: {}", String::from_utf8_lossy(&out.stderr));
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let entry = |tag: &str| dynamic.lines().find(|l| l.contains(&format!("({tag})"))).map(str::to_owned);
    assert!(entry("FLAGS_1").is_some_and(|l| l.contains("PIE")), "still a PIE:\n{dynamic}");
    assert!(entry("RELR").is_some() && entry("RELRSZ").is_some(), "relative relocations packed:\n{dynamic}");
    // What stays in RELA: the few relocations that are not relative (none of the ~65,000 the table held).
    let rela_relative: u64 =
        entry("RELACOUNT").and_then(|l| l.split_whitespace().last().and_then(|n| n.parse().ok())).unwrap_or(0);
    assert!(rela_relative < 1_000, "{rela_relative} relative relocations left in RELA:\n{dynamic}");
}
