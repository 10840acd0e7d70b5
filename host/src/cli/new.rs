//! `weft new service|driver NAME [--path DIR] [--api PATH]`: a plugin crate
//! of its own, ready to build, test and load.
//!
//! Owns: the templates (`host/templates/`), filling them in, and finding the
//! `weft-plugin-api` the new crate depends on. The crate is a workspace of
//! its own and builds anywhere with `weft plugin build DIR`.

use std::path::{Path, PathBuf};

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A service: binds ports, answers messages and commands.
    Service,
    /// A radio modem driver: frames to serial bytes and back.
    Driver,
}

struct Template {
    cargo: &'static str,
    lib: &'static str,
    readme: &'static str,
    node: &'static str,
    gitignore: &'static str,
}

const SERVICE: Template = Template {
    cargo: include_str!("../../templates/service/Cargo.toml.in"),
    lib: include_str!("../../templates/service/lib.rs.in"),
    readme: include_str!("../../templates/service/README.md.in"),
    node: include_str!("../../templates/service/node.toml.in"),
    gitignore: include_str!("../../templates/service/gitignore.in"),
};

const DRIVER: Template = Template {
    cargo: include_str!("../../templates/driver/Cargo.toml.in"),
    lib: include_str!("../../templates/driver/lib.rs.in"),
    readme: include_str!("../../templates/driver/README.md.in"),
    node: include_str!("../../templates/driver/node.toml.in"),
    gitignore: include_str!("../../templates/driver/gitignore.in"),
};

/// The plugin-api of the source tree this `weft` was built from, if it is
/// still there.
fn built_from_api() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api");
    std::fs::canonicalize(path).ok().filter(|p| p.join("Cargo.toml").is_file())
}

/// Where the new crate finds `weft-plugin-api`: `--api`, else
/// `WEFT_PLUGIN_API`, else the source tree `weft` was built from.
fn api_path(given: Option<&Path>) -> Result<PathBuf, String> {
    let given = given.map(Path::to_path_buf).or_else(|| std::env::var_os("WEFT_PLUGIN_API").map(PathBuf::from));
    let Some(path) = given else {
        return built_from_api().ok_or_else(|| {
            "cannot find weft-plugin-api: pass --api PATH (the plugin-api directory of a Weft checkout) \
             or set WEFT_PLUGIN_API"
                .to_string()
        });
    };
    let path = std::fs::canonicalize(&path).map_err(|e| format!("--api {}: {e}", path.display()))?;
    let manifest = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"weft-plugin-api\"") {
        return Err(format!("--api {}: not the weft-plugin-api crate (no Cargo.toml naming it)", path.display()));
    }
    Ok(path)
}

/// A stable number in `range` from the plugin's name (ports differ between
/// plugins without the author choosing).
fn from_name(name: &str, range: std::ops::RangeInclusive<u16>) -> u16 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let span = u64::from(range.end() - range.start()) + 1;
    range.start() + (hash % span) as u16
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_string(), |text, (key, value)| text.replace(&format!("{{{{{key}}}}}"), value))
}

/// Creates the crate; returns its directory.
pub fn create(kind: Kind, name: &str, dir: Option<&Path>, api: Option<&Path>) -> Result<PathBuf, String> {
    weft_plugin_api::check_name(name).map_err(|e| e.to_string())?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("{name:?}: a plugin crate's name must start with a letter (cargo's rule)"));
    }
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(name));
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(format!("{} exists and is not empty; choose another --path", dir.display()));
    }
    let api = api_path(api)?;
    let lib = name.replace('-', "_");
    let values = [
        ("name", name.to_string()),
        ("lib", lib.clone()),
        ("api_path", api.display().to_string().replace('\\', "/")),
        ("port", from_name(name, 1024..=65535).to_string()),
        ("quic_port", from_name(name, 47000..=47999).to_string()),
    ];
    let template = match kind {
        Kind::Service => &SERVICE,
        Kind::Driver => &DRIVER,
    };
    let write = |relative: &str, text: &str| {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))
    };
    write("Cargo.toml", &fill(template.cargo, &values))?;
    write("src/lib.rs", &fill(template.lib, &values))?;
    write("README.md", &fill(template.readme, &values))?;
    write("node.toml", &fill(template.node, &values))?;
    write(".gitignore", template.gitignore)?;
    // The versions the SDK is tested with (cargo drops what the crate does not use).
    if let Some(lock) = api.parent().map(|root| root.join("Cargo.lock")).filter(|l| l.is_file()) {
        std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(|e| format!("copy {}: {e}", lock.display()))?;
    }
    Ok(dir)
}

/// `weft new`: creates the crate and says what to do next.
pub fn run(kind: Kind, name: &str, dir: Option<&Path>, api: Option<&Path>) -> Result<(), String> {
    let dir = create(kind, name, dir, api)?;
    println!("created {} ({kind:?} `{name}`)", dir.display());
    println!("next:\n  cd {}\n  cargo test\n  weft plugin build .\n  (see README.md)", dir.display());
    Ok(())
}

/// `weft plugin build DIR`: both artifacts of a plugin crate.
pub fn build(dir: &Path, target_dir: Option<&Path>, out: Option<&Path>, profile: &str) -> Result<(), String> {
    let mut build = weft_plugin_build::CrateBuild::new(dir);
    build.profile = profile.to_string();
    if let Some(target_dir) = target_dir {
        build.target_dir = std::path::absolute(target_dir).map_err(|e| e.to_string())?;
    }
    if let Some(out) = out {
        build.out = std::path::absolute(out).map_err(|e| e.to_string())?;
    }
    let artifacts = weft_plugin_build::build_crate(&build).map_err(|e| format!("{e:#}"))?;
    println!("wasm   {}", artifacts.wasm.display());
    println!("native {}", artifacts.native.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_names_are_checked() {
        let root = tempfile::tempdir().unwrap();
        for (kind, name) in [(Kind::Service, "mesh-notes"), (Kind::Driver, "my-modem")] {
            let dir = create(kind, name, Some(&root.path().join(name)), built_from_api().as_deref()).unwrap();
            for file in ["Cargo.toml", "src/lib.rs", "README.md", "node.toml", ".gitignore"] {
                let text = std::fs::read_to_string(dir.join(file)).unwrap();
                let placeholder = text.match_indices("{{").find(|(at, _)| {
                    let rest = &text[at + 2..];
                    let word = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_lowercase() || c == '_').len();
                    word > 0 && rest[word..].starts_with("}}")
                });
                assert!(placeholder.is_none(), "{file} of {kind:?} keeps a placeholder:\n{text}");
            }
            let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(cargo.contains(&format!("name = \"{name}\"")), "{cargo}");
            assert!(dir.join("Cargo.lock").is_file());
            let again = create(kind, name, Some(&dir), None).unwrap_err();
            assert!(again.contains("exists and is not empty"), "{again}");
        }
        for bad in ["Notes", "9lives", "a:b", ""] {
            assert!(create(Kind::Service, bad, Some(&root.path().join("x")), None).is_err(), "{bad}");
        }
        let port = from_name("mesh-notes", 1024..=65535);
        assert!((1024..=65535).contains(&port));
        assert_eq!(port, from_name("mesh-notes", 1024..=65535), "stable");
    }
}
