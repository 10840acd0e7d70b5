//! The crate boundary: `weft-core` stays free of I/O runtimes.
//!
//! Asks cargo for this crate's normal (shipped) dependency tree on this
//! platform and fails if any crate that does I/O (async runtime, QUIC,
//! plugin runtime, database, serial ports) is in it, so a stray dependency
//! cannot erode the sans-IO boundary unnoticed.

use std::process::Command;

/// Crates that must never be in weft-core's dependency tree.
const FORBIDDEN: [&str; 6] = ["tokio", "quinn", "quinn-proto", "wasmtime", "redb", "serialport"];

#[test]
fn weft_core_depends_on_no_io_runtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "-e", "normal", "--prefix", "none", "--format", "{p}", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert_eq!(crates.first(), Some(&"weft-core"), "the tree starts at weft-core: {tree}");
    assert!(crates.contains(&"snow"), "the tree lists dependencies (snow is one): {tree}");
    let found: Vec<&str> = FORBIDDEN.iter().copied().filter(|name| crates.contains(name)).collect();
    assert!(found.is_empty(), "weft-core reaches I/O crates {found:?}");
}
