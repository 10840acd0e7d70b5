//! Every check `weft run` makes before it creates anything, shared with
//! `weft config check`, so a config that passes the check starts and a
//! refused run leaves nothing behind (no data directory, no database).
//!
//! Owns: [`preflight`]: the key file; each plugin file's signature (when
//! required), manifest, kind, grants and name (unique per node, naming both
//! files); ports claimed twice; each radio driver's signature, manifest and
//! kind. Plugin code is neither compiled nor run: wasm manifests are read
//! from their custom section; a native library's manifest needs the library
//! loaded (it is trusted code by definition), from a copy in a temporary
//! directory that is removed afterwards. Must not: open the store, bind a
//! socket, or create anything in the data directory.

use super::plugin_host::PluginStartError;
use super::radio_host::RadioStartError;
use super::runtime::StartError;
use crate::config::NodeConfig;
use crate::plugin::{Grants, PluginRuntime, RuntimeOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use weft_core::crypto::NodeIdentity;
use weft_plugin_api::{Permission, PluginKind};

/// Removes the temporary directory for native copies when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks `config` as `weft run` will use it; returns the node identity.
pub fn preflight(config: &NodeConfig) -> Result<NodeIdentity, StartError> {
    let identity = config.read_identity()?;
    let file = config.file.display().to_string();
    let scratch = Scratch(std::env::temp_dir().join(format!("weft-preflight-{}", std::process::id())));
    let plugin_error = |index, message: String| PluginStartError { file: file.clone(), index, message };
    let runtime = PluginRuntime::new(RuntimeOptions { module_cache: None, native_copies: scratch.0.clone() })
        .map_err(|e| plugin_error(0, e.to_string()))?;

    let mut names: HashMap<String, PathBuf> = HashMap::new();
    let mut ports: HashMap<u16, String> = HashMap::new();
    for (index, spec) in config.plugins.iter().enumerate() {
        let fail = |message: String| StartError::from(plugin_error(index, message));
        let info = runtime.inspect_checked(&spec.file, &config.trust).map_err(|e| fail(e.to_string()))?;
        let manifest = &info.manifest;
        if manifest.kind != PluginKind::Service {
            return Err(fail(format!(
                "{}: `{}` is a driver; drivers are attached to radio links ([[radios]]), not loaded as services",
                spec.file.display(),
                manifest.name
            )));
        }
        spec.grants.check(&spec.file, manifest).map_err(|e| fail(e.to_string()))?;
        let name = spec.name.clone().unwrap_or_else(|| manifest.name.clone());
        if let Some(first) = names.insert(name.clone(), spec.file.clone()) {
            return Err(fail(format!(
                "a plugin named `{name}` is loaded twice: {} and {} (name one of them with `name = ...`)",
                first.display(),
                spec.file.display()
            )));
        }
        for &port in &manifest.ports {
            if let Some(owner) = ports.insert(port, name.clone()) {
                return Err(fail(format!("port {port} of `{name}` is already bound by `{owner}`")));
            }
        }
    }
    for (index, radio) in config.radios.iter().enumerate() {
        let fail = |message: String| StartError::from(RadioStartError { file: file.clone(), index, message });
        let info = runtime.inspect_checked(&radio.driver, &config.trust).map_err(|e| fail(e.to_string()))?;
        if info.manifest.kind != PluginKind::Driver {
            return Err(fail(format!(
                "{}: `{}` is a service, not a driver; services go in [[plugins]]",
                radio.driver.display(),
                info.manifest.name
            )));
        }
        Grants::permissions([Permission::Serial])
            .check(&radio.driver, &info.manifest)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(identity)
}
