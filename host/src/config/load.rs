//! Reading a config file into a validated [`NodeConfig`].
//!
//! Order: TOML syntax and schema (with the key path of the first error, via
//! serde_path_to_error), then values that the schema cannot check (ranges,
//! duplicates, files that must exist). Relative paths are resolved against
//! the config file's directory, so a config works from any working directory.

use super::error::ConfigError;
use super::schema::{ConfigFile, DiscoverySection, PeerEntry, PluginEntry, QuicSection};
use crate::crypto::{NodeIdentity, key_file};
use crate::plugin::{Binding, Grants, binding_for};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use weft_plugin_api::{Address, codec};

/// A validated node configuration with absolute paths.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The file it was read from.
    pub file: PathBuf,
    /// Node name.
    pub name: String,
    /// Key file.
    pub identity_file: PathBuf,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Compiled wasm module cache.
    pub module_cache: PathBuf,
    /// QUIC settings.
    pub quic: QuicSection,
    /// Static neighbours.
    pub peers: Vec<PeerConfig>,
    /// LAN discovery.
    pub discovery: DiscoverySection,
    /// Admin socket path.
    pub admin_socket: PathBuf,
    /// Prometheus endpoint, if enabled.
    pub metrics_listen: Option<SocketAddr>,
    /// Plugins to load, in order.
    pub plugins: Vec<PluginConfig>,
}

/// A static neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// `host:port` to dial.
    pub address: String,
    /// The node address its key must hash to.
    pub node: Address,
}

/// A plugin to load.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Absolute path of the plugin file.
    pub file: PathBuf,
    /// Inferred from the extension.
    pub binding: Binding,
    /// Permissions and ports granted.
    pub grants: Grants,
    /// The `[plugins.config]` table encoded as CBOR, for `init`.
    pub config_cbor: Vec<u8>,
}

impl NodeConfig {
    /// Reads the node identity named by the config.
    pub fn read_identity(&self) -> Result<NodeIdentity, ConfigError> {
        key_file::read(&self.identity_file).map_err(|e| {
            ConfigError::at(&self.file, "node.identity", format!("{e} (create it with `weft keygen --out FILE`)"))
        })
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(path, "", format!("cannot read the config file: {e}")))?;
    parse(path, &text)
}

/// Validates `text` as the contents of the config file `path` (relative
/// paths inside it resolve against `path`'s directory).
pub fn parse(path: &Path, text: &str) -> Result<NodeConfig, ConfigError> {
    let file = syntax_and_schema(path, text)?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let err = |key: &str, message: String| ConfigError::at(path, key, message);

    if file.node.name.trim().is_empty() {
        return Err(err("node.name", "expected a non-empty name".into()));
    }
    let data_dir = resolve(&file.node.data_dir);
    check_quic(&file.quic).map_err(|(key, message)| err(&format!("quic.{key}"), message))?;
    let peers = check_peers(&file.peers).map_err(|(key, message)| err(&key, message))?;
    if file.discovery.enabled && !file.discovery.group.ip().is_multicast() {
        return Err(err("discovery.group", format!("{} is not an IPv4 multicast address", file.discovery.group)));
    }
    if file.discovery.interval_ms < 100 {
        return Err(err("discovery.interval_ms", "expected at least 100 ms".into()));
    }
    let admin_socket = file.admin.socket.as_deref().map(resolve).unwrap_or_else(|| data_dir.join("admin.sock"));
    // sun_path holds 108 bytes including the terminating NUL.
    if admin_socket.as_os_str().len() > 107 {
        return Err(err(
            "admin.socket",
            format!("{} is longer than the 107 bytes a Unix socket path may have", admin_socket.display()),
        ));
    }
    let plugins = file
        .plugins
        .iter()
        .enumerate()
        .map(|(i, entry)| check_plugin(entry, &resolve).map_err(|(key, m)| err(&format!("plugins[{i}].{key}"), m)))
        .collect::<Result<Vec<_>, _>>()?;
    let config = NodeConfig {
        file: path.to_path_buf(),
        name: file.node.name,
        identity_file: resolve(&file.node.identity),
        module_cache: file.node.module_cache.as_deref().map(resolve).unwrap_or_else(|| data_dir.join("module-cache")),
        data_dir,
        quic: file.quic,
        peers,
        discovery: file.discovery,
        admin_socket,
        metrics_listen: file.metrics.listen,
        plugins,
    };
    let own = config.read_identity()?.address();
    if let Some(i) = config.peers.iter().position(|p| p.node == own) {
        return Err(err(&format!("peers[{i}].node"), format!("{own} is this node's own address")));
    }
    Ok(config)
}

fn syntax_and_schema(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let position = |span: Option<std::ops::Range<usize>>| span.map(|s| line_column(text, s.start));
    let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        position: position(e.span()),
        key: String::new(),
        message: format!("invalid TOML: {}", e.message().trim()),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        ConfigError {
            file: path.to_path_buf(),
            position: position(inner.span()),
            key: if key == "." { String::new() } else { key },
            message: inner.message().trim().to_string(),
        }
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, column)
}

type KeyError = (String, String);

fn check_quic(quic: &QuicSection) -> Result<(), KeyError> {
    let bad = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
    if quic.keepalive_ms == 0 {
        return bad("keepalive_ms", "expected a positive number of milliseconds");
    }
    if quic.idle_timeout_ms <= quic.keepalive_ms {
        return bad("idle_timeout_ms", "expected more than keepalive_ms, or idle links would close between keepalives");
    }
    if !(512..=16 << 20).contains(&quic.max_frame_bytes) {
        return bad("max_frame_bytes", "expected between 512 and 16777216 bytes");
    }
    if quic.reconnect_min_ms == 0 || quic.reconnect_min_ms > quic.reconnect_max_ms {
        return bad("reconnect_min_ms", "expected a positive delay no larger than reconnect_max_ms");
    }
    Ok(())
}

fn check_peers(entries: &[PeerEntry]) -> Result<Vec<PeerConfig>, KeyError> {
    let mut seen = BTreeSet::new();
    let mut peers = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let valid_port = entry.address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0)
        });
        if !valid_port {
            return Err((
                format!("peers[{i}].address"),
                format!("expected HOST:PORT (e.g. 192.0.2.7:4433), found {:?}", entry.address),
            ));
        }
        if !seen.insert(entry.node) {
            return Err((format!("peers[{i}].node"), format!("{} is listed twice", entry.node)));
        }
        peers.push(PeerConfig { address: entry.address.clone(), node: entry.node });
    }
    Ok(peers)
}

fn check_plugin(entry: &PluginEntry, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<PluginConfig, KeyError> {
    let file = resolve(&entry.file);
    let binding = binding_for(&file).map_err(|_| {
        ("file".to_string(), format!("{}: expected a .wasm or .so plugin file", file.display()))
    })?;
    if !file.is_file() {
        let hint = "build plugins with `cargo xtask plugins`";
        return Err(("file".to_string(), format!("{}: no such file ({hint})", file.display())));
    }
    let ports = match &entry.ports {
        Some(ports) if ports.contains(&0) => return Err(("ports".to_string(), "port 0 is reserved".to_string())),
        Some(ports) => Some(ports.iter().copied().collect()),
        None => None,
    };
    let grants = Grants { permissions: entry.permissions.iter().copied().collect(), ports };
    let config_cbor = codec::encode(&entry.config).map_err(|e| ("config".to_string(), e.to_string()))?;
    Ok(PluginConfig { file, binding, grants, config_cbor })
}
