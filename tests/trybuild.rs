//! Compile-time behaviour of `network!`: every feature compiles, and every mistake is a
//! compile error that points at the offending token (checked against `tests/ui/*.stderr`,
//! produced by rustc 1.95.0, the toolchain pinned in `rust-toolchain.toml`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
