//! The plugin manifest: what a plugin is and what it asks for, readable
//! without running any of its code.
//!
//! Owns: [`Manifest`] (the decoded, owned form the host works with),
//! [`PluginKind`], [`Permission`], [`CommandSpec`], and [`ManifestDef`] (the
//! `const` form a plugin author writes). The byte encoding of a `ManifestDef`
//! lives in `manifest_encoding`.

use crate::version::AbiVersion;
use core::fmt;
use serde::{Deserialize, Serialize};

/// Name of the wasm custom section that carries the CBOR manifest.
pub const MANIFEST_SECTION: &str = "weft.manifest";

/// What kind of plugin this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Binds service ports; receives messages; sends, floods and replies.
    Service,
    /// Speaks a modem's serial protocol for a radio link.
    Driver,
}

impl PluginKind {
    /// The lowercase name used in manifests, configs and listings.
    pub const fn as_str(self) -> &'static str {
        match self {
            PluginKind::Service => "service",
            PluginKind::Driver => "driver",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability a plugin asks for in its manifest and an operator grants in
/// the node config. Everything not listed here (timers, logs, metrics, time,
/// randomness, own address, verify, replying to a message it received) is
/// always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Send to any address ([`crate::Action::Send`]).
    Send,
    /// Flood to all nodes within a hop limit ([`crate::Action::Flood`]).
    Flood,
    /// Keep values in the plugin's key/value namespace.
    Storage,
    /// Have the host sign with the node's key.
    Sign,
    /// Have the host seal to other nodes and open what was sealed to this one.
    Seal,
    /// Drive a serial port (drivers only).
    Serial,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 6] = [
        Permission::Send,
        Permission::Flood,
        Permission::Storage,
        Permission::Sign,
        Permission::Seal,
        Permission::Serial,
    ];

    /// The lowercase name used in manifests and configs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Send => "send",
            Permission::Flood => "flood",
            Permission::Storage => "storage",
            Permission::Sign => "sign",
            Permission::Seal => "seal",
            Permission::Serial => "serial",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A local command the plugin offers to operators (`weft ctl call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Command name.
    pub name: String,
    /// One-line help.
    pub help: String,
}

/// A decoded manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Plugin name, unique within a node.
    pub name: String,
    /// The plugin's own version (semver text).
    pub version: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Service or driver.
    pub kind: PluginKind,
    /// The ABI version the plugin was built against.
    pub abi: AbiVersion,
    /// Service ports the plugin binds.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Permissions the plugin asks for.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Local commands the plugin offers.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
}

/// Longest plugin name, bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a plugin name: 1 to [`MAX_NAME_LEN`] characters of lowercase
/// ASCII letters, digits, `-` and `_`, starting with a letter or digit.
///
/// A plugin's name keys its storage, its persisted state and its metrics, so
/// it must never reach into the host's own namespaces (`weft:state`,
/// `weft:routing`: a `:` is refused) or look like a path. The error says
/// what is wrong, for the load error that names the file.
pub fn check_name(name: &str) -> Result<(), BadName> {
    let bad = |why| Err(BadName { name: name.to_string(), why });
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad(NameFault::Length);
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return bad(NameFault::Character(c));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad(NameFault::Start);
    }
    Ok(())
}

/// A plugin name [`check_name`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin name {name:?} {why}")]
pub struct BadName {
    /// The name.
    pub name: String,
    /// What is wrong with it.
    pub why: NameFault,
}

/// What is wrong with a plugin name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameFault {
    /// Empty or longer than [`MAX_NAME_LEN`].
    #[error("must be 1 to {MAX_NAME_LEN} characters")]
    Length,
    /// A character outside the allowed set.
    #[error("contains {0:?}: names are lowercase letters, digits, '-' and '_' (names with ':' are the host's own)")]
    Character(char),
    /// Starts with `-` or `_`.
    #[error("must start with a letter or digit")]
    Start,
}

/// The smallest part of a manifest: enough to check the ABI version before
/// trusting the rest of the layout, which may belong to another major.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestHead {
    /// Plugin name.
    pub name: String,
    /// The ABI version the plugin was built against.
    pub abi: AbiVersion,
}

/// A command as written in a [`ManifestDef`].
#[derive(Debug, Clone, Copy)]
pub struct CommandDef {
    /// Command name.
    pub name: &'static str,
    /// One-line help.
    pub help: &'static str,
}

/// The manifest as a plugin author writes it, as a `const`. The export macro
/// adds the kind and the ABI version and encodes it at compile time.
///
/// ```
/// use weft_plugin_api::{ManifestDef, Permission};
/// const MANIFEST: ManifestDef = ManifestDef {
///     name: "echo",
///     version: "0.1.0",
///     description: "replies with what it receives",
///     ports: &[7],
///     permissions: &[],
///     commands: &[],
/// };
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ManifestDef {
    /// Plugin name, unique within a node.
    pub name: &'static str,
    /// Plugin version; `env!("CARGO_PKG_VERSION")` is the usual choice.
    pub version: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Service ports the plugin binds.
    pub ports: &'static [u16],
    /// Permissions the plugin asks for.
    pub permissions: &'static [Permission],
    /// Local commands offered to operators.
    pub commands: &'static [CommandDef],
}

impl ManifestDef {
    /// The owned manifest this definition encodes to, for a given kind and ABI.
    pub fn to_manifest(&self, kind: PluginKind, abi: AbiVersion) -> Manifest {
        Manifest {
            name: self.name.into(),
            version: self.version.into(),
            description: self.description.into(),
            kind,
            abi,
            ports: self.ports.to_vec(),
            permissions: self.permissions.to_vec(),
            commands: self.commands.iter().map(|c| CommandSpec { name: c.name.into(), help: c.help.into() }).collect(),
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::check_name;

    #[test]
    fn names_are_plain_and_never_the_hosts() {
        for good in ["echo", "fapp", "broken-driver", "a_b", "x1", &"n".repeat(64)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "weft:state", "weft:routing", "Echo", "-x", "_x", "a/b", "a b", &"n".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
