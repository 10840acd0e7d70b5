//! What the operator grants a plugin, and the check against its manifest.
//!
//! Owns: [`Grants`] and [`Grants::check`]. Loading refuses a plugin whose
//! manifest asks for more than the grants allow, so a running instance never
//! holds a permission the operator did not give.

use super::error::LoadError;
use std::collections::BTreeSet;
use std::path::Path;
use weft_plugin_api::{Manifest, Permission};

/// Permissions and ports granted to one plugin by the node config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Granted permissions.
    pub permissions: BTreeSet<Permission>,
    /// Service ports the plugin may bind; `None` allows any port the manifest
    /// declares (ports are still unique per node, enforced by the node).
    pub ports: Option<BTreeSet<u16>>,
}

impl Grants {
    /// Grants exactly these permissions, any declared port.
    pub fn permissions(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self { permissions: permissions.into_iter().collect(), ports: None }
    }

    /// Grants everything (for tools and tests that load trusted plugins).
    pub fn all() -> Self {
        Self::permissions(Permission::ALL)
    }

    /// Refuses `manifest` if it asks for anything not granted.
    pub fn check(&self, path: &Path, manifest: &Manifest) -> Result<(), LoadError> {
        let missing: Vec<Permission> =
            manifest.permissions.iter().filter(|p| !self.permissions.contains(p)).copied().collect();
        if !missing.is_empty() {
            return Err(LoadError::permissions_not_granted(path.to_path_buf(), &manifest.name, &missing));
        }
        if let Some(ports) = &self.ports {
            let missing: Vec<String> =
                manifest.ports.iter().filter(|p| !ports.contains(p)).map(|p| p.to_string()).collect();
            if !missing.is_empty() {
                return Err(LoadError::NotGranted {
                    path: path.to_path_buf(),
                    plugin: manifest.name.clone(),
                    what: "service ports",
                    missing: missing.join(", "),
                });
            }
        }
        Ok(())
    }
}
