//! The review gates `cargo xtask test` runs before any test: formatting,
//! clippy with warnings as errors, and rustdoc with warnings as errors.
//!
//! CI runs `cargo xtask test` and nothing else (`.ci/run`), so what review
//! would refuse fails CI too. Each gate is the exact command a reviewer runs.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// Checks that `cargo fmt` and `cargo clippy` exist, naming the fix if not.
fn require_component(root: &Path, subcommand: &str, component: &str) -> Result<()> {
    let found = crate::cargo()
        .current_dir(root)
        .args([subcommand, "--version"])
        .output()
        .with_context(|| format!("cannot run cargo {subcommand}"))?;
    if !found.status.success() {
        bail!("`cargo {subcommand}` is not installed; fix it with: rustup component add {component}");
    }
    Ok(())
}

/// Runs the three gates in order, stopping at the first that fails.
pub fn run(root: &Path) -> Result<()> {
    require_component(root, "fmt", "rustfmt")?;
    require_component(root, "clippy", "clippy")?;
    eprintln!("xtask: gate 1/3: cargo fmt --all --check");
    crate::run(crate::cargo().current_dir(root).args(["fmt", "--all", "--check"]))
        .context("formatting differs; run `cargo fmt --all`")?;
    eprintln!("xtask: gate 2/3: cargo clippy --workspace --all-targets -- -D warnings");
    crate::run(crate::cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .context("clippy found warnings")?;
    eprintln!("xtask: gate 3/3: cargo doc --no-deps --workspace (RUSTDOCFLAGS=-D warnings)");
    crate::run(crate::cargo().current_dir(root).env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--no-deps",
        "--workspace",
    ]))
    .context("rustdoc found warnings")?;
    Ok(())
}
