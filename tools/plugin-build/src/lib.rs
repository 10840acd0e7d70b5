//! Building Weft plugin crates to wasm32 and to a native library.
//!
//! Owns: finding (or installing) a toolchain that builds wasm
//! ([`toolchain`]), and building one plugin crate both ways into a directory
//! of artifacts ([`build_crate`]). `cargo xtask plugins` builds the
//! repository's plugins with the same toolchain logic; `weft plugin build DIR`
//! builds a crate anywhere (one made by `weft new`, say).
//!
//! Must not: know which plugins exist or how a node loads them.

pub mod toolchain;

mod crate_build;

pub use crate_build::{Artifacts, CrateBuild, build_crate, package_name};

use anyhow::{Result, bail};
use std::process::Command;

/// Runs a command, failing with its command line if it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().map_err(|e| anyhow::anyhow!("cannot run {cmd:?}: {e}"))?;
    if !status.success() {
        bail!("command failed ({status}): {cmd:?}");
    }
    Ok(())
}

/// The cargo that invoked us (`CARGO`), else `cargo` from `PATH`, for native
/// builds and tests.
///
/// Under CI (`CI` set) incremental compilation is off unless asked for: a
/// one-shot build gains nothing from it and its cache is ~1 GB of disk.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    if std::env::var_os("CI").is_some() && std::env::var_os("CARGO_INCREMENTAL").is_none() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}
