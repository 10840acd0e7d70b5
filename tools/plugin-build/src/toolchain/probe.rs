//! What makes Debian's wasm toolchain usable, and which packages are missing.
//!
//! Debian ships a wasm-capable rustc as `rustc-web`; building plugins with it
//! needs five packages, each for one file or link:
//!
//! | needed                                  | file                                   | package        |
//! |-----------------------------------------|----------------------------------------|----------------|
//! | a rustc that targets wasm32             | `/usr/bin/rustc`                       | `rustc-web`    |
//! | cargo                                   | `/usr/bin/cargo`                       | `cargo-web`    |
//! | std sources for `-Zbuild-std`           | `/usr/lib/rustlib/src/rust/library/std`| `rust-web-src` |
//! | the linker the wasm target names        | `/usr/bin/rust-lld` (a symlink)        | `rust-web-llvm`|
//! | what that symlink points to             | `/usr/bin/lld-22`                      | `lld-22`       |
//!
//! `rust-web-llvm` does not depend on `lld-22`, and `rustc-web` only
//! *recommends* `rust-web-llvm`, so an install with `--no-install-recommends`
//! (or a machine that has `lld-22` alone) leaves rustc unable to link wasm:
//! `error: linker 'rust-lld' not found`. The probe therefore does not trust a
//! package list: it asks rustc which linker its wasm target invokes, finds
//! that program where rustc will look (the sysroot's tool directory, then
//! `PATH`), and runs it.
//!
//! This module only observes and decides; installing is `super`'s job.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Packages that make up Debian's wasm toolchain, in install order.
pub const DEBIAN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "rust-web-llvm", "lld-22"];

/// The linker rustc's wasm target names, as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linker {
    /// rustc is missing or cannot target wasm, so there is no linker to ask about.
    Unknown,
    /// rustc names `name`, but no such program exists where rustc looks
    /// (a dangling symlink counts as missing).
    NotFound {
        /// The program rustc invokes, e.g. `rust-lld`.
        name: String,
    },
    /// The program exists but does not run as a wasm linker.
    Broken {
        /// Where it was found.
        path: PathBuf,
        /// What running it said.
        error: String,
    },
    /// The program runs; `version` is what it printed.
    Runs {
        /// Where it was found.
        path: PathBuf,
        /// Its `--version` line.
        version: String,
    },
}

/// The facts about a Debian wasm toolchain on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianProbe {
    /// `/usr/bin/rustc` runs and lists `wasm32-unknown-unknown`.
    pub rustc_targets_wasm: bool,
    /// `/usr/bin/cargo` exists.
    pub cargo: bool,
    /// The std sources `-Zbuild-std` compiles exist.
    pub std_sources: bool,
    /// The linker the wasm target invokes.
    pub linker: Linker,
}

impl DebianProbe {
    /// Looks at this machine.
    pub fn run() -> DebianProbe {
        let rustc = Path::new("/usr/bin/rustc");
        let rustc_targets_wasm = rustc_output(rustc, &["--print", "target-list"])
            .is_some_and(|list| list.lines().any(|l| l.trim() == "wasm32-unknown-unknown"));
        let linker = if rustc_targets_wasm { probe_linker(rustc) } else { Linker::Unknown };
        DebianProbe {
            rustc_targets_wasm,
            cargo: Path::new("/usr/bin/cargo").exists(),
            std_sources: Path::new("/usr/lib/rustlib/src/rust/library/std").is_dir(),
            linker,
        }
    }

    /// The packages whose absence explains what is missing, in install order;
    /// empty when the toolchain is usable.
    pub fn missing_packages(&self) -> Vec<&'static str> {
        let linker_runs = matches!(self.linker, Linker::Runs { .. });
        // Which of rust-web-llvm (the `rust-lld` link) and lld-22 (its
        // target) is absent cannot be told without guessing at Debian's
        // layout; both are named and apt skips the installed one.
        let needed = |package: &str| match package {
            "rustc-web" => !self.rustc_targets_wasm,
            "cargo-web" => !self.cargo,
            "rust-web-src" => !self.std_sources,
            _ => !linker_runs,
        };
        DEBIAN_PACKAGES.iter().copied().filter(|package| needed(package)).collect()
    }

    /// One line per problem, for an error message.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.rustc_targets_wasm {
            problems.push("/usr/bin/rustc is missing or cannot target wasm32-unknown-unknown".to_string());
        }
        if !self.cargo {
            problems.push("/usr/bin/cargo is missing".to_string());
        }
        if !self.std_sources {
            problems.push("the std sources (/usr/lib/rustlib/src/rust/library/std) are missing".to_string());
        }
        match &self.linker {
            Linker::Unknown | Linker::Runs { .. } => {}
            Linker::NotFound { name } => {
                problems.push(format!("rustc links wasm with `{name}`, which is not installed (or is a dangling link)"))
            }
            Linker::Broken { path, error } => {
                problems.push(format!("rustc links wasm with {}, which does not run: {error}", path.display()))
            }
        }
        problems
    }
}

/// Runs rustc with `args` (unstable options allowed), its stdout if it succeeded.
fn rustc_output(rustc: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(rustc).args(args).env("RUSTC_BOOTSTRAP", "1").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Asks rustc which linker its wasm target invokes, finds it and runs it.
fn probe_linker(rustc: &Path) -> Linker {
    let spec = rustc_output(
        rustc,
        &["-Z", "unstable-options", "--print", "target-spec-json", "--target", "wasm32-unknown-unknown"],
    );
    let name = spec.as_deref().and_then(linker_in_spec).unwrap_or_else(|| "rust-lld".to_string());
    let sysroot = rustc_output(rustc, &["--print", "sysroot"]).map(|s| PathBuf::from(s.trim()));
    let host = rustc_output(rustc, &["-vV"])
        .and_then(|v| v.lines().find_map(|l| l.strip_prefix("host: ").map(|h| h.trim().to_string())));
    let tools_dir = match (sysroot, host) {
        (Some(sysroot), Some(host)) => Some(sysroot.join("lib/rustlib").join(host).join("bin")),
        _ => None,
    };
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = tools_dir.into_iter().chain(std::env::split_paths(&path_var)).collect();
    let Some(path) = find_program(&name, &dirs) else { return Linker::NotFound { name } };
    match Command::new(&path).args(["-flavor", "wasm", "--version"]).output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string();
            Linker::Runs { path, version }
        }
        Ok(out) => Linker::Broken { path, error: String::from_utf8_lossy(&out.stderr).trim().to_string() },
        Err(e) => Linker::Broken { path, error: e.to_string() },
    }
}

/// The `linker` a target spec names (`rust-lld` for wasm32 today).
pub fn linker_in_spec(spec_json: &str) -> Option<String> {
    let spec: serde_json::Value = serde_json::from_str(spec_json).ok()?;
    spec.get("linker")?.as_str().map(str::to_string)
}

/// The first `dirs/name` that exists and is a file (symlinks followed, so a
/// dangling one does not count) — where rustc's process spawn would find it.
pub fn find_program(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    dirs.iter().map(|dir| dir.join(name)).find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> DebianProbe {
        DebianProbe {
            rustc_targets_wasm: true,
            cargo: true,
            std_sources: true,
            linker: Linker::Runs { path: "/usr/bin/rust-lld".into(), version: "LLD 22.1.8".into() },
        }
    }

    #[test]
    fn a_complete_toolchain_needs_nothing() {
        assert!(complete().missing_packages().is_empty());
        assert!(complete().problems().is_empty());
    }

    #[test]
    fn nothing_installed_needs_all_five_packages() {
        let probe =
            DebianProbe { rustc_targets_wasm: false, cargo: false, std_sources: false, linker: Linker::Unknown };
        assert_eq!(probe.missing_packages(), DEBIAN_PACKAGES);
    }

    /// The defect of issue 15: `lld-22` installed but not `rust-web-llvm`, so
    /// `/usr/bin/rust-lld` does not exist and the old check said "usable".
    #[test]
    fn lld_without_the_rust_lld_link_is_not_usable() {
        let probe = DebianProbe { linker: Linker::NotFound { name: "rust-lld".into() }, ..complete() };
        assert_eq!(probe.missing_packages(), ["rust-web-llvm", "lld-22"]);
        assert!(probe.problems()[0].contains("rust-lld"), "{:?}", probe.problems());
    }

    #[test]
    fn a_linker_that_does_not_run_is_not_usable() {
        let probe = DebianProbe {
            linker: Linker::Broken { path: "/usr/bin/rust-lld".into(), error: "exec format error".into() },
            ..complete()
        };
        assert_eq!(probe.missing_packages(), ["rust-web-llvm", "lld-22"]);
    }

    #[test]
    fn each_missing_piece_names_its_package() {
        assert_eq!(DebianProbe { cargo: false, ..complete() }.missing_packages(), ["cargo-web"]);
        assert_eq!(DebianProbe { std_sources: false, ..complete() }.missing_packages(), ["rust-web-src"]);
        let no_rustc = DebianProbe { rustc_targets_wasm: false, linker: Linker::Unknown, ..complete() };
        assert_eq!(no_rustc.missing_packages(), ["rustc-web", "rust-web-llvm", "lld-22"]);
    }

    #[test]
    fn the_linker_name_comes_from_the_target_spec() {
        let spec = r#"{"arch": "wasm32", "linker": "rust-lld", "linker-flavor": "wasm-lld"}"#;
        assert_eq!(linker_in_spec(spec).as_deref(), Some("rust-lld"));
        assert_eq!(linker_in_spec(r#"{"arch": "wasm32"}"#), None);
        assert_eq!(linker_in_spec("not json"), None);
    }

    /// The file layout Debian leaves when only some packages are installed:
    /// `rust-lld -> lld-22` without `lld-22` is a dangling link, not a linker.
    #[test]
    fn a_dangling_link_is_not_a_program() {
        let dir = std::env::temp_dir().join(format!("xtask-probe-{}", std::process::id()));
        let (tools, bin) = (dir.join("rustlib-bin"), dir.join("bin"));
        std::fs::create_dir_all(&tools).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(bin.join("lld-22"), bin.join("rust-lld")).unwrap();
        let dirs = [tools.clone(), bin.clone()];
        assert_eq!(find_program("rust-lld", &dirs), None, "rust-lld -> missing lld-22");

        std::fs::write(bin.join("lld-22"), "#!/bin/sh\n").unwrap();
        assert_eq!(find_program("rust-lld", &dirs), Some(bin.join("rust-lld")), "link target installed");

        std::fs::write(tools.join("rust-lld"), "#!/bin/sh\n").unwrap();
        assert_eq!(find_program("rust-lld", &dirs), Some(tools.join("rust-lld")), "sysroot tools come first");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
