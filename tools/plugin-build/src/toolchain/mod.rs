//! Finding (or installing) a toolchain that builds `wasm32-unknown-unknown`.
//!
//! Order (ARCHITECTURE section 9): the rustup target if installed; else
//! Debian's rustc-web toolchain with `-Zbuild-std` when `probe` finds every
//! piece of it (linker included, run for real); else, when running as root
//! on a system with apt, install the missing packages and probe again; else
//! print the one command that fixes it. Whatever is chosen is proved before
//! a plugin is built: its wasm linker is run.

mod probe;

use anyhow::{Result, bail};
use probe::{DebianProbe, Linker};
use std::path::Path;
use std::process::Command;

/// A way to build wasm.
pub enum WasmToolchain {
    /// `rustup target add wasm32-unknown-unknown` is installed.
    Rustup,
    /// Debian's rustc-web with `-Zbuild-std`.
    DebianBuildStd,
}

impl WasmToolchain {
    /// A `cargo build` command for wasm32 with this toolchain, run in `dir`
    /// with its artifacts under `target_dir` (see [`WasmToolchain::out_dir`]).
    pub fn cargo_build(&self, dir: &Path, target_dir: &Path) -> Command {
        match self {
            WasmToolchain::Rustup => {
                let mut cmd = crate::cargo();
                cmd.current_dir(dir).env("CARGO_TARGET_DIR", target_dir).args([
                    "build",
                    "--target",
                    "wasm32-unknown-unknown",
                ]);
                cmd
            }
            WasmToolchain::DebianBuildStd => {
                let mut cmd = Command::new("/usr/bin/cargo");
                cmd.current_dir(dir)
                    .env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("CARGO_TARGET_DIR", target_dir.join("wasm-debian"))
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTC_WRAPPER")
                    .env_remove("RUSTC_WORKSPACE_WRAPPER")
                    .args(["build", "--target", "wasm32-unknown-unknown", "-Zbuild-std=std,panic_abort"]);
                cmd
            }
        }
    }

    /// Where this toolchain's wasm artifacts land, for `profile`, when cargo
    /// was given `target_dir`.
    pub fn out_dir(&self, target_dir: &Path, profile: &str) -> std::path::PathBuf {
        let target = match self {
            WasmToolchain::Rustup => target_dir.to_path_buf(),
            WasmToolchain::DebianBuildStd => target_dir.join("wasm-debian"),
        };
        target.join("wasm32-unknown-unknown").join(profile)
    }

    /// For the build log.
    pub fn describe(&self) -> &'static str {
        match self {
            WasmToolchain::Rustup => "rustup target wasm32-unknown-unknown",
            WasmToolchain::DebianBuildStd => {
                "Debian rustc-web + rust-web-src + lld with -Zbuild-std (RUSTC_BOOTSTRAP=1)"
            }
        }
    }
}

fn rustup_has_wasm_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn install_debian_packages(packages: &[&str]) -> Result<()> {
    eprintln!("plugin build: installing {} with apt-get (running as root)", packages.join(" "));
    crate::run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    crate::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// The Debian toolchain, proved: every piece present and its linker runs.
fn proved_debian(probe: &DebianProbe) -> Option<WasmToolchain> {
    match &probe.linker {
        Linker::Runs { path, version } if probe.missing_packages().is_empty() => {
            eprintln!("plugin build: wasm linker {} runs ({version})", path.display());
            Some(WasmToolchain::DebianBuildStd)
        }
        _ => None,
    }
}

fn cannot_build_wasm(probe: &DebianProbe) -> anyhow::Error {
    anyhow::anyhow!(
        "no toolchain can build wasm32-unknown-unknown plugins:\n  {}\nFix it with ONE of:\n  \
         rustup target add wasm32-unknown-unknown\n  \
         sudo apt-get install -y {}",
        probe.problems().join("\n  "),
        probe.missing_packages().join(" ")
    )
}

/// Finds a wasm toolchain, installing Debian's missing packages when allowed.
/// `WEFT_WASM_TOOLCHAIN=rustup|debian` forces one (to test both paths).
pub fn find() -> Result<WasmToolchain> {
    let forced = std::env::var("WEFT_WASM_TOOLCHAIN").unwrap_or_default();
    if forced == "rustup" || (forced != "debian" && rustup_has_wasm_target()) {
        return Ok(WasmToolchain::Rustup);
    }
    let probe = DebianProbe::run();
    if let Some(toolchain) = proved_debian(&probe) {
        return Ok(toolchain);
    }
    if !(is_root() && Path::new("/usr/bin/apt-get").exists()) {
        return Err(cannot_build_wasm(&probe));
    }
    let missing = probe.missing_packages();
    eprintln!("plugin build: Debian's wasm toolchain is incomplete:\n  {}", probe.problems().join("\n  "));
    install_debian_packages(&missing)?;
    let probe = DebianProbe::run();
    if let Some(toolchain) = proved_debian(&probe) {
        return Ok(toolchain);
    }
    bail!("installed {} but the toolchain is still unusable: {}", missing.join(" "), cannot_build_wasm(&probe))
}
