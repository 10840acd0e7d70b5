//! Building every plugin to wasm and native.
//!
//! Plugins are discovered, not listed: every crate under `plugins/`,
//! `transports/` and `tests/plugins/` whose manifest declares a `cdylib`.
//! Test plugins may also be built with extra feature sets (see `VARIANTS`),
//! each copied under its own name. A plugin directory that is not a member
//! of the workspace is refused with the line to add, before cargo runs.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use weft_plugin_build::toolchain;

const PROFILE: &str = "plugin";
const PLUGIN_DIRS: &[&str] = &["plugins", "transports", "tests/plugins"];

/// Extra builds: (plugin directory name, feature, output name).
const VARIANTS: &[(&str, &str, &str)] = &[
    ("hostile", "abi-next-major", "hostile-abi-next-major"),
    ("hostile", "abi-next-minor", "hostile-abi-next-minor"),
    // A second build of the RNode driver for the hot-swap tests (v1 -> v2).
    ("rnode", "v2", "rnode-v2"),
    // A build of the sequence service whose init fails (reload rollback tests).
    ("sequence", "broken-init", "sequence-broken"),
];

struct PluginCrate {
    dir_name: String,
    /// Relative to the workspace root, e.g. `plugins/echo`.
    path: String,
    package: String,
}

impl PluginCrate {
    fn lib_stem(&self) -> String {
        self.package.replace('-', "_")
    }
}

fn discover(root: &Path) -> Result<Vec<PluginCrate>> {
    let mut found = Vec::new();
    for parent in PLUGIN_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else { continue };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for dir in dirs {
            let manifest = dir.join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
            if !text.contains("cdylib") {
                continue;
            }
            let package = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = \"").map(|n| n.trim_end_matches('"').to_string()))
                .with_context(|| format!("{}: no package name", manifest.display()))?;
            let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            found.push(PluginCrate { path: format!("{parent}/{dir_name}"), dir_name, package });
        }
    }
    Ok(found)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copy {} -> {}", from.display(), to.display()))?;
    Ok(())
}

/// Fails, naming the line to add, when a discovered plugin crate is not a
/// workspace member (cargo's own error would be buried under its backtrace).
fn check_members(root: &Path, crates: &[PluginCrate]) -> Result<()> {
    let output = crate::cargo()
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        anyhow::bail!("cargo metadata failed:\n{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("cargo metadata output")?;
    let members: Vec<&str> =
        metadata["packages"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    let outside: Vec<&PluginCrate> = crates.iter().filter(|c| !members.contains(&c.package.as_str())).collect();
    if outside.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = outside.iter().map(|c| format!("    \"{}\",", c.path)).collect();
    anyhow::bail!(
        "{} not in the workspace; add to `[workspace] members` in {}:\n{}\n(or build a crate of its own \
         with `weft plugin build DIR`)",
        outside.iter().map(|c| format!("{} ({})", c.package, c.path)).collect::<Vec<_>>().join(", "),
        root.join("Cargo.toml").display(),
        lines.join("\n")
    )
}

/// Builds everything, or only the plugins whose directory is named in
/// `only`; returns the output directory (`target/plugins`).
pub fn build(root: &Path, only: &[String]) -> Result<PathBuf> {
    let mut crates = discover(root)?;
    if !only.is_empty() {
        let unknown: Vec<&String> = only.iter().filter(|n| !crates.iter().any(|c| &c.dir_name == *n)).collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = crates.iter().map(|c| c.dir_name.as_str()).collect();
            anyhow::bail!("no plugin named {unknown:?}; plugins: {}", known.join(", "));
        }
        crates.retain(|c| only.contains(&c.dir_name));
    }
    check_members(root, &crates)?;
    let out = root.join("target/plugins");
    let (wasm_out, native_out) = (out.join("wasm"), out.join("native"));
    std::fs::create_dir_all(&wasm_out)?;
    std::fs::create_dir_all(&native_out)?;
    let native_lib_dir = root.join("target").join(PROFILE);
    let ext = std::env::consts::DLL_EXTENSION;

    let wasm = toolchain::find()?;
    eprintln!("xtask: building {} plugins; wasm toolchain: {}", crates.len(), wasm.describe());
    let target_dir = root.join("target");
    let wasm_lib_dir = wasm.out_dir(&target_dir, PROFILE);

    let packages: Vec<String> = crates.iter().flat_map(|c| ["-p".to_string(), c.package.clone()]).collect();
    crate::run(crate::cargo().current_dir(root).args(["build", "--profile", PROFILE]).args(&packages))?;
    crate::run(wasm.cargo_build(root, &target_dir).args(["--profile", PROFILE]).args(&packages))?;
    for c in &crates {
        copy(
            &native_lib_dir.join(format!("lib{}.{ext}", c.lib_stem())),
            &native_out.join(format!("{}.{ext}", c.dir_name)),
        )?;
        copy(&wasm_lib_dir.join(format!("{}.wasm", c.lib_stem())), &wasm_out.join(format!("{}.wasm", c.dir_name)))?;
    }

    for (dir_name, feature, out_name) in VARIANTS {
        let Some(c) = crates.iter().find(|c| c.dir_name == *dir_name) else { continue };
        let args = ["--profile", PROFILE, "-p", c.package.as_str(), "--features", feature];
        crate::run(crate::cargo().current_dir(root).arg("build").args(args))?;
        copy(
            &native_lib_dir.join(format!("lib{}.{ext}", c.lib_stem())),
            &native_out.join(format!("{out_name}.{ext}")),
        )?;
        crate::run(wasm.cargo_build(root, &target_dir).args(args))?;
        copy(&wasm_lib_dir.join(format!("{}.wasm", c.lib_stem())), &wasm_out.join(format!("{out_name}.wasm")))?;
    }
    eprintln!("xtask: plugins are in {}", out.display());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Issue 21: a plugin folder that is not a workspace member used to get
    /// as far as cargo, whose error sat under ~25 backtrace frames.
    #[test]
    fn a_plugin_outside_the_workspace_members_is_named_with_the_line_to_add() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(&root.join("Cargo.toml"), "[workspace]\nresolver = \"3\"\nmembers = [\"plugins/inside\"]\n");
        for name in ["inside", "outside"] {
            let manifest = format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n"
            );
            write(&root.join(format!("plugins/{name}/Cargo.toml")), &manifest);
            write(&root.join(format!("plugins/{name}/src/lib.rs")), "");
        }
        let crates = discover(root).unwrap();
        assert_eq!(crates.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["plugins/inside", "plugins/outside"]);
        let err = format!("{:#}", check_members(root, &crates).unwrap_err());
        assert!(err.contains("outside (plugins/outside) not in the workspace"), "{err}");
        assert!(err.contains("    \"plugins/outside\","), "{err}");
        assert!(!err.contains("plugins/inside\""), "{err}");
        check_members(root, &crates[..1]).unwrap();
    }
}
