//! The review gates `cargo xtask test` runs before any test: formatting,
//! clippy with warnings as errors, rustdoc with warnings as errors, and the
//! fuzz targets (their own workspace, `fuzz/`) formatted and clippy-clean,
//! so they keep compiling (they are run by `cargo xtask fuzz`, not in CI).
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

/// Runs the four gates in order, stopping at the first that fails.
pub fn run(root: &Path) -> Result<()> {
    require_component(root, "fmt", "rustfmt")?;
    require_component(root, "clippy", "clippy")?;
    eprintln!("xtask: gate 1/4: cargo fmt --all --check");
    crate::run(crate::cargo().current_dir(root).args(["fmt", "--all", "--check"]))
        .context("formatting differs; run `cargo fmt --all`")?;
    eprintln!("xtask: gate 2/4: cargo clippy --workspace --all-targets -- -D warnings");
    crate::run(crate::cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .context("clippy found warnings")?;
    eprintln!("xtask: gate 3/4: cargo doc --no-deps --workspace (RUSTDOCFLAGS=-D warnings)");
    crate::run(crate::cargo().current_dir(root).env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--no-deps",
        "--workspace",
    ]))
    .context("rustdoc found warnings")?;
    eprintln!("xtask: gate 4/4: the fuzz targets: cargo fmt --check and cargo clippy --all-targets -D warnings");
    let fuzz = root.join("fuzz").join("Cargo.toml");
    crate::run(crate::cargo().current_dir(root).arg("fmt").arg("--manifest-path").arg(&fuzz).arg("--check"))
        .context("the fuzz targets' formatting differs; run `cargo fmt --manifest-path fuzz/Cargo.toml`")?;
    // Checked, not built: no sanitizer and no link, so libfuzzer-sys need not
    // compile libFuzzer's C++ (its build script links this path instead,
    // which a check never reads). The main target directory is shared.
    crate::run(
        crate::cargo()
            .current_dir(root)
            .env("CUSTOM_LIBFUZZER_PATH", root.join("target/no-libfuzzer/libfuzzer.a"))
            .env("CUSTOM_LIBFUZZER_STD_CXX", "none")
            .arg("clippy")
            .arg("--manifest-path")
            .arg(&fuzz)
            .arg("--target-dir")
            .arg(root.join("target"))
            .args(["--all-targets", "--", "-D", "warnings"]),
    )
    .context("the fuzz targets do not compile cleanly")?;
    Ok(())
}
