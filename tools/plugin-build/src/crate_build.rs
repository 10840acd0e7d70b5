//! Building one plugin crate, wherever it lives, to both artifacts.
//!
//! Owns: reading the crate's package and library names from `cargo
//! metadata`, the two cargo builds (native `cdylib`, wasm32 with whatever
//! toolchain [`crate::toolchain::find`] proved), and copying the artifacts
//! to one directory under stable names.

use crate::toolchain;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// One plugin crate to build.
#[derive(Debug, Clone)]
pub struct CrateBuild {
    /// The crate's directory (holding its `Cargo.toml`).
    pub dir: PathBuf,
    /// Cargo's target directory (default for a crate: `DIR/target`).
    pub target_dir: PathBuf,
    /// The cargo profile (`release` for a crate of its own).
    pub profile: String,
    /// Where the two artifacts are copied.
    pub out: PathBuf,
}

impl CrateBuild {
    /// The usual build of a crate of its own: release profile, its own
    /// target directory, artifacts in `DIR/target/weft/`.
    pub fn new(dir: &Path) -> Self {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Self { target_dir: dir.join("target"), out: dir.join("target/weft"), profile: "release".into(), dir }
    }
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// The wasm module (sandboxed).
    pub wasm: PathBuf,
    /// The native library (trusted code).
    pub native: PathBuf,
}

/// The package name and library name of the crate in `dir`, from `cargo
/// metadata`. Fails, saying what to add, when the crate builds no `cdylib`.
pub fn package_name(dir: &Path) -> Result<(String, String)> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{}: no Cargo.toml here (is this a plugin crate's directory?)", dir.display());
    }
    let output = crate::cargo()
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed for {}:\n{}", manifest.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("cargo metadata output")?;
    let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let package = packages
        .iter()
        .find(|p| p["manifest_path"].as_str().map(PathBuf::from).as_deref() == Some(manifest.as_path()))
        .with_context(|| format!("{}: cargo metadata does not list this package", manifest.display()))?;
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let targets = package["targets"].as_array().cloned().unwrap_or_default();
    let lib = targets.iter().find(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")));
    let Some(lib) = lib else {
        bail!(
            "{}: package `{name}` builds no cdylib; a plugin crate needs\n  [lib]\n  crate-type = [\"cdylib\", \"rlib\"]",
            manifest.display()
        );
    };
    Ok((name, lib["name"].as_str().unwrap_or_default().replace('-', "_")))
}

fn profile_dir(profile: &str) -> &str {
    if profile == "dev" { "debug" } else { profile }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copy {} -> {}", from.display(), to.display()))?;
    Ok(())
}

/// Builds the crate natively and to wasm32 and copies both artifacts to
/// `build.out` as `<lib name>.wasm` and `<lib name>.<so|dylib|dll>`.
pub fn build_crate(build: &CrateBuild) -> Result<Artifacts> {
    let (package, lib) = package_name(&build.dir)?;
    let wasm = toolchain::find()?;
    eprintln!("plugin build: {package}: native, then wasm32 ({})", wasm.describe());
    let args = ["--lib", "--profile", build.profile.as_str()];
    crate::run(
        crate::cargo().current_dir(&build.dir).env("CARGO_TARGET_DIR", &build.target_dir).arg("build").args(args),
    )?;
    crate::run(wasm.cargo_build(&build.dir, &build.target_dir).args(args))?;
    std::fs::create_dir_all(&build.out).with_context(|| format!("create {}", build.out.display()))?;
    let ext = std::env::consts::DLL_EXTENSION;
    let prefix = std::env::consts::DLL_PREFIX;
    let artifacts =
        Artifacts { wasm: build.out.join(format!("{lib}.wasm")), native: build.out.join(format!("{lib}.{ext}")) };
    copy(&build.target_dir.join(profile_dir(&build.profile)).join(format!("{prefix}{lib}.{ext}")), &artifacts.native)?;
    copy(&wasm.out_dir(&build.target_dir, profile_dir(&build.profile)).join(format!("{lib}.wasm")), &artifacts.wasm)?;
    Ok(artifacts)
}
