//! Building every plugin to wasm and native.
//!
//! Plugins are discovered, not listed: every crate under `plugins/`,
//! `transports/` and `tests/plugins/` whose manifest declares a `cdylib`.
//! Test plugins may also be built with extra feature sets (see `VARIANTS`),
//! each copied under its own name.

use crate::toolchain;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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
            found.push(PluginCrate { dir_name, package });
        }
    }
    Ok(found)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copy {} -> {}", from.display(), to.display()))?;
    Ok(())
}

/// Builds everything; returns the output directory (`target/plugins`).
pub fn build_all(root: &Path) -> Result<PathBuf> {
    let crates = discover(root)?;
    let out = root.join("target/plugins");
    let (wasm_out, native_out) = (out.join("wasm"), out.join("native"));
    std::fs::create_dir_all(&wasm_out)?;
    std::fs::create_dir_all(&native_out)?;
    let native_lib_dir = root.join("target").join(PROFILE);
    let ext = std::env::consts::DLL_EXTENSION;

    let wasm = toolchain::find()?;
    eprintln!("xtask: building {} plugins; wasm toolchain: {}", crates.len(), wasm.describe());
    let wasm_lib_dir = wasm.out_dir(root, PROFILE);

    let packages: Vec<String> = crates.iter().flat_map(|c| ["-p".to_string(), c.package.clone()]).collect();
    crate::run(crate::cargo().current_dir(root).args(["build", "--profile", PROFILE]).args(&packages))?;
    crate::run(wasm.cargo_build(root).args(["--profile", PROFILE]).args(&packages))?;
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
        crate::run(wasm.cargo_build(root).args(args))?;
        copy(&wasm_lib_dir.join(format!("{}.wasm", c.lib_stem())), &wasm_out.join(format!("{out_name}.wasm")))?;
    }
    eprintln!("xtask: plugins are in {}", out.display());
    Ok(out)
}
