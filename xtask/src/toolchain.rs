//! Finding (or installing) a toolchain that builds `wasm32-unknown-unknown`.
//!
//! Order (ARCHITECTURE section 9): the rustup target if installed; else
//! Debian's rustc-web + rust-web-src + lld-22 with `-Zbuild-std`; else, when
//! running as root on a system with apt, install those packages; else print
//! the exact command that fixes it.

use anyhow::{Result, bail};
use std::path::Path;
use std::process::Command;

/// Debian packages that provide a wasm-capable rustc and the std sources.
const DEBIAN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld-22"];

/// A way to build wasm.
pub enum WasmToolchain {
    /// `rustup target add wasm32-unknown-unknown` is installed.
    Rustup,
    /// Debian's rustc-web with `-Zbuild-std`.
    DebianBuildStd,
}

impl WasmToolchain {
    /// A `cargo build` command for wasm32 with this toolchain.
    pub fn cargo_build(&self, root: &Path) -> Command {
        match self {
            WasmToolchain::Rustup => {
                let mut cmd = crate::cargo();
                cmd.current_dir(root).args(["build", "--target", "wasm32-unknown-unknown"]);
                cmd
            }
            WasmToolchain::DebianBuildStd => {
                let mut cmd = Command::new("/usr/bin/cargo");
                cmd.current_dir(root)
                    .env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("CARGO_TARGET_DIR", root.join("target/wasm-debian"))
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTC_WRAPPER")
                    .env_remove("RUSTC_WORKSPACE_WRAPPER")
                    .args(["build", "--target", "wasm32-unknown-unknown", "-Zbuild-std=std,panic_abort"]);
                cmd
            }
        }
    }

    /// Where this toolchain's wasm artifacts land, for `profile`.
    pub fn out_dir(&self, root: &Path, profile: &str) -> std::path::PathBuf {
        let target = match self {
            WasmToolchain::Rustup => root.join("target"),
            WasmToolchain::DebianBuildStd => root.join("target/wasm-debian"),
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

fn debian_toolchain_present() -> bool {
    Path::new("/usr/bin/rustc").exists()
        && Path::new("/usr/bin/cargo").exists()
        && Path::new("/usr/lib/rustlib/src/rust/library/std").exists()
        && (Path::new("/usr/bin/rust-lld").exists() || Path::new("/usr/bin/lld-22").exists())
        && Command::new("/usr/bin/rustc")
            .args(["--print", "target-list"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l == "wasm32-unknown-unknown"))
            .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn install_debian_packages() -> Result<()> {
    eprintln!("xtask: installing {} with apt-get (running as root)", DEBIAN_PACKAGES.join(" "));
    crate::run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    crate::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(DEBIAN_PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Finds a wasm toolchain, installing Debian's when allowed.
/// `WEFT_WASM_TOOLCHAIN=rustup|debian` forces one (to test both paths).
pub fn find() -> Result<WasmToolchain> {
    let forced = std::env::var("WEFT_WASM_TOOLCHAIN").unwrap_or_default();
    if forced == "rustup" {
        return Ok(WasmToolchain::Rustup);
    }
    if forced != "debian" && rustup_has_wasm_target() {
        return Ok(WasmToolchain::Rustup);
    }
    if debian_toolchain_present() {
        return Ok(WasmToolchain::DebianBuildStd);
    }
    if is_root() && Path::new("/usr/bin/apt-get").exists() {
        install_debian_packages()?;
        if debian_toolchain_present() {
            return Ok(WasmToolchain::DebianBuildStd);
        }
        bail!("installed {} but /usr/bin/rustc still cannot target wasm32-unknown-unknown", DEBIAN_PACKAGES.join(" "));
    }
    bail!(
        "no toolchain can build wasm32-unknown-unknown plugins. Fix it with ONE of:\n  \
         rustup target add wasm32-unknown-unknown\n  \
         sudo apt-get install -y {}",
        DEBIAN_PACKAGES.join(" ")
    )
}
