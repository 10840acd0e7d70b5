//! Reading a config file into a validated [`NodeConfig`].
//!
//! Order: TOML syntax and schema (with the key path of the first error, via
//! serde_path_to_error), then values that the schema cannot check (ranges,
//! duplicates, files that must exist). Relative paths are resolved against
//! the config file's directory, so a config works from any working directory.

use super::error::ConfigError;
use super::schema::{
    ConfigFile, DiscoverySection, PeerEntry, PluginEntry, QuicSection, RadioEntry, RestartMode, RoutingSection,
    TrustSection,
};
use crate::plugin::{Binding, Grants, binding_for};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use weft_plugin_api::Address;
use weft_plugin_api::internal::codec;
use {crate::key_file, weft_core::crypto::NodeIdentity};

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
    /// Routing settings.
    pub routing: RoutingSection,
    /// Plugins to load, in order.
    pub plugins: Vec<PluginConfig>,
    /// Radio links.
    pub radios: Vec<RadioConfig>,
    /// Signed-plugin policy.
    pub trust: TrustConfig,
    /// Deadline of each plugin's shutdown hook.
    pub shutdown_deadline: std::time::Duration,
}

/// A radio link to bring up.
#[derive(Debug, Clone)]
pub struct RadioConfig {
    /// Link name.
    pub name: String,
    /// Serial device path (absolute, or as given for `/dev/...`).
    pub device: PathBuf,
    /// Serial speed.
    pub baud: u32,
    /// Driver plugin file.
    pub driver: PathBuf,
    /// The `[radios.driver_config]` table encoded as CBOR, for the driver's `init`.
    pub driver_config_cbor: Vec<u8>,
    /// Routing cost set by the operator; `None`: the link's airtime.
    pub cost: Option<u32>,
    /// The link's settings.
    pub settings: weft_core::radio::link::RadioSettings,
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
    /// The instance name the operator gave (`None`: the manifest's name).
    pub name: Option<String>,
    /// Inferred from the extension.
    pub binding: Binding,
    /// Permissions and ports granted.
    pub grants: Grants,
    /// The `[plugins.config]` table encoded as CBOR, for `init`.
    pub config_cbor: Vec<u8>,
    /// What happens when it faults.
    pub restart: RestartPolicy,
    /// Largest flood hop limit granted.
    pub max_flood_hops: Option<u8>,
    /// Storage quota, bytes.
    pub storage_quota_bytes: Option<u64>,
    /// Where a native instance's calls run.
    pub native_calls: crate::plugin::NativeCalls,
}

/// A plugin's restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restart or stay stopped.
    pub mode: RestartMode,
    /// First delay, ms.
    pub backoff_ms: u64,
    /// Delay cap, ms.
    pub backoff_max_ms: u64,
    /// Fault-free time that resets the delay, ms.
    pub healthy_after_ms: u64,
    /// Events held while restarting.
    pub backlog_events: usize,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            mode: RestartMode::Reload,
            backoff_ms: 100,
            backoff_max_ms: 30_000,
            healthy_after_ms: 60_000,
            backlog_events: 1024,
        }
    }
}

/// Which plugin files the node accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustConfig {
    /// Refuse unsigned plugins.
    pub require_signed: bool,
    /// Trusted publisher keys.
    pub publishers: Vec<[u8; 32]>,
}

impl NodeConfig {
    /// Reads the node identity named by the config and checks it against the
    /// peer list (a node must not list itself).
    pub fn read_identity(&self) -> Result<NodeIdentity, ConfigError> {
        let identity = key_file::read(&self.identity_file).map_err(|e| {
            ConfigError::at(&self.file, "node.identity", format!("{e} (create it with `weft keygen --out FILE`)"))
        })?;
        let own = identity.address();
        if let Some(i) = self.peers.iter().position(|p| p.node == own) {
            let message = format!("{own} is this node's own address");
            return Err(ConfigError::at(&self.file, format!("peers[{i}].node"), message));
        }
        Ok(identity)
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at(path, "", format!("cannot read the config file: {e}")))?;
    parse(path, &text)
}

/// Validates `text` as the contents of the config file `path` (relative
/// paths inside it resolve against `path`'s directory). The key file is read
/// later, by [`NodeConfig::read_identity`].
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
    if !(10..=600_000).contains(&file.node.shutdown_deadline_ms) {
        return Err(err("node.shutdown_deadline_ms", "expected 10 to 600000 ms".into()));
    }
    check_quic(&file.quic).map_err(|(key, message)| err(&format!("quic.{key}"), message))?;
    let peers = check_peers(&file.peers).map_err(|(key, message)| err(&key, message))?;
    if file.discovery.enabled && !file.discovery.group.ip().is_multicast() {
        return Err(err("discovery.group", format!("{} is not an IPv4 multicast address", file.discovery.group)));
    }
    if file.discovery.interval_ms < 100 {
        return Err(err("discovery.interval_ms", "expected at least 100 ms".into()));
    }
    check_routing(&file.routing).map_err(|(key, message)| err(&format!("routing.{key}"), message))?;
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
    let trust = check_trust(&file.trust).map_err(|(key, m)| err(&format!("trust.{key}"), m))?;
    let mut radios = Vec::with_capacity(file.radios.len());
    for (i, entry) in file.radios.iter().enumerate() {
        let radio = check_radio(entry, &resolve).map_err(|(key, m)| err(&format!("radios[{i}].{key}"), m))?;
        if radios.iter().any(|r: &RadioConfig| r.name == radio.name) {
            return Err(err(&format!("radios[{i}].name"), format!("`{}` names two radio links", radio.name)));
        }
        radios.push(radio);
    }
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
        routing: file.routing,
        plugins,
        radios,
        trust,
        shutdown_deadline: std::time::Duration::from_millis(file.node.shutdown_deadline_ms),
    };
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

/// Longest `routing.hold_ttl_s`: 30 days.
pub const MAX_HOLD_TTL_S: u64 = 30 * 24 * 3600;
/// Longest `routing.announce_interval_s`: a day.
pub const MAX_INTERVAL_S: u64 = 24 * 3600;
/// Longest `routing.route_ttl_s`: a week.
pub const MAX_ROUTE_TTL_S: u64 = 7 * 24 * 3600;

fn check_routing(routing: &RoutingSection) -> Result<(), KeyError> {
    let fail = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
    if !(1..=64).contains(&routing.max_hops) {
        return fail("max_hops", "expected 1 to 64");
    }
    // Finding 7 of issue 17: a huge hold_ttl_s overflowed into "expire at
    // once" (or "until the next start"), and 0 expired everything at once.
    if !(1..=MAX_HOLD_TTL_S).contains(&routing.hold_ttl_s) {
        return fail("hold_ttl_s", &format!("expected 1 to {MAX_HOLD_TTL_S} seconds (30 days)"));
    }
    if routing.announce_interval_s > MAX_INTERVAL_S {
        return fail("announce_interval_s", &format!("expected 1 to {MAX_INTERVAL_S} seconds (a day)"));
    }
    if routing.route_ttl_s > MAX_ROUTE_TTL_S {
        return fail("route_ttl_s", &format!("expected at most {MAX_ROUTE_TTL_S} seconds (a week)"));
    }
    if !(1..=MAX_INTERVAL_S).contains(&routing.persist_interval_s) {
        return fail("persist_interval_s", &format!("expected 1 to {MAX_INTERVAL_S} seconds (a day)"));
    }
    if routing.announce_interval_s == 0 {
        return fail("announce_interval_s", "expected at least 1 second");
    }
    if routing.route_ttl_s <= routing.announce_interval_s {
        return fail("route_ttl_s", "expected more than announce_interval_s, or routes lapse between announces");
    }
    if !(routing.announce_share > 0.0 && routing.announce_share <= 1.0) {
        return fail("announce_share", "expected a share above 0 and at most 1");
    }
    if routing.path_request_interval_ms < 10 {
        return fail("path_request_interval_ms", "expected at least 10 ms");
    }
    if routing.hold_per_destination == 0 || routing.hold_total < routing.hold_per_destination {
        return fail("hold_total", "expected hold_per_destination >= 1 and hold_total >= hold_per_destination");
    }
    if routing.hold_per_source == 0 || routing.hold_per_source > routing.hold_total {
        return fail("hold_per_source", "expected at least 1 and at most hold_total");
    }
    if routing.quic_link_bandwidth_bps < 1000 {
        return fail("quic_link_bandwidth_bps", "expected at least 1000 bits/s");
    }
    if routing.max_nodes < 16 {
        return fail("max_nodes", "expected at least 16");
    }
    if routing.max_searches == 0 {
        return fail("max_searches", "expected at least 1");
    }
    if routing.path_request_tries == 0 {
        return fail("path_request_tries", "expected at least 1");
    }
    for (key, rate) in [
        ("announces_per_link_per_s", routing.announces_per_link_per_s),
        ("path_requests_per_link_per_s", routing.path_requests_per_link_per_s),
        ("unknown_per_link_per_s", routing.unknown_per_link_per_s),
        ("announces_per_origin_per_min", routing.announces_per_origin_per_min),
        ("path_requests_out_per_s", routing.path_requests_out_per_s),
    ] {
        if !(rate.is_finite() && rate >= 1.0) {
            return fail(key, "expected a rate of at least 1");
        }
    }
    Ok(())
}

fn check_quic(quic: &QuicSection) -> Result<(), KeyError> {
    let bad = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
    if quic.keepalive_ms == 0 {
        return bad("keepalive_ms", "expected a positive number of milliseconds");
    }
    if quic.idle_timeout_ms > MAX_INTERVAL_S * 1000 {
        return bad("idle_timeout_ms", "expected at most 86400000 ms (a day), above keepalive_ms");
    }
    if quic.keepalive_ms > MAX_INTERVAL_S * 1000 {
        return bad("keepalive_ms", "expected 1 to 86400000 ms (a day)");
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
        let valid_port = entry
            .address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0));
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
    let binding = binding_for(&file)
        .map_err(|_| ("file".to_string(), format!("{}: expected a .wasm or .so plugin file", file.display())))?;
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
    if entry.restart_backoff_ms == 0 || entry.restart_backoff_max_ms < entry.restart_backoff_ms {
        return Err((
            "restart_backoff_max_ms".to_string(),
            "expected restart_backoff_ms >= 1 and restart_backoff_max_ms >= restart_backoff_ms".to_string(),
        ));
    }
    let restart = RestartPolicy {
        mode: entry.restart,
        backoff_ms: entry.restart_backoff_ms,
        backoff_max_ms: entry.restart_backoff_max_ms,
        healthy_after_ms: entry.healthy_after_s.saturating_mul(1000),
        backlog_events: entry.backlog_events,
    };
    if entry.max_flood_hops == Some(0) {
        return Err((
            "max_flood_hops".to_string(),
            "expected at least 1 (to forbid floods, do not grant `flood`)".to_string(),
        ));
    }
    if let Some(name) = &entry.name {
        weft_plugin_api::check_name(name).map_err(|e| ("name".to_string(), e.to_string()))?;
    }
    if entry.native_calls.is_some() && binding != Binding::Native {
        return Err((
            "native_calls".to_string(),
            "applies to native plugins (.so) only; a wasm plugin's calls are interrupted at their deadline".to_string(),
        ));
    }
    Ok(PluginConfig {
        file,
        name: entry.name.clone(),
        binding,
        grants,
        config_cbor,
        restart,
        max_flood_hops: entry.max_flood_hops,
        storage_quota_bytes: entry.storage_quota_bytes,
        native_calls: entry.native_calls.unwrap_or_default(),
    })
}

fn check_trust(trust: &TrustSection) -> Result<TrustConfig, KeyError> {
    let mut publishers = Vec::with_capacity(trust.publishers.len());
    for (i, text) in trust.publishers.iter().enumerate() {
        let key = weft_plugin_api::hex::decode_array::<32>(text)
            .ok_or_else(|| (format!("publishers[{i}]"), format!("expected 64 hexadecimal digits, found {text:?}")))?;
        publishers.push(key);
    }
    if trust.require_signed && publishers.is_empty() {
        return Err((
            "publishers".to_string(),
            "require_signed = true needs at least one trusted publisher key".to_string(),
        ));
    }
    Ok(TrustConfig { require_signed: trust.require_signed, publishers })
}

fn check_radio(entry: &RadioEntry, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<RadioConfig, KeyError> {
    let fail = |key: &str, message: String| Err((key.to_string(), message));
    let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if entry.name.is_empty() || !entry.name.chars().all(valid_name) {
        return fail("name", format!("expected letters, digits, `-` or `_`, found {:?}", entry.name));
    }
    let driver = resolve(&entry.driver);
    if binding_for(&driver).is_err() {
        return fail("driver", format!("{}: expected a .wasm or .so driver plugin", driver.display()));
    }
    if !driver.is_file() {
        return fail(
            "driver",
            format!("{}: no such file (build plugins with `cargo xtask plugins`)", driver.display()),
        );
    }
    if !(1_200..=4_000_000).contains(&entry.baud) {
        return fail("baud", format!("expected 1200 to 4000000, found {}", entry.baud));
    }
    if let Some(percent) = entry.duty_cycle_percent
        && !(percent > 0.0 && percent <= 100.0)
    {
        return fail("duty_cycle_percent", format!("expected a share above 0 and at most 100, found {percent}"));
    }
    if entry.queue_limit_bytes < 1024 {
        return fail("queue_limit_bytes", "expected at least 1024 bytes".into());
    }
    if entry.hello_interval_s > MAX_INTERVAL_S {
        return fail("hello_interval_s", format!("expected 1 to {MAX_INTERVAL_S} seconds (a day)"));
    }
    if entry.neighbour_timeout_s > MAX_ROUTE_TTL_S {
        return fail("neighbour_timeout_s", format!("expected at most {MAX_ROUTE_TTL_S} seconds (a week)"));
    }
    if entry.reassembly_timeout_ms > 3_600_000 {
        return fail("reassembly_timeout_ms", "expected 100 to 3600000 ms (an hour)".into());
    }
    if entry.hello_interval_s == 0 || entry.neighbour_timeout_s <= entry.hello_interval_s {
        return fail(
            "neighbour_timeout_s",
            "expected hello_interval_s >= 1 and neighbour_timeout_s above it, or neighbours lapse between hellos"
                .into(),
        );
    }
    if entry.reassembly_timeout_ms < 100 {
        return fail("reassembly_timeout_ms", "expected at least 100 ms".into());
    }
    if !(1..=1024).contains(&entry.max_neighbours) {
        return fail("max_neighbours", format!("expected 1 to 1024, found {}", entry.max_neighbours));
    }
    if !(10..=MAX_INTERVAL_S).contains(&u64::from(entry.hello_max_clock_skew_s)) {
        return fail(
            "hello_max_clock_skew_s",
            format!("expected 10 to {MAX_INTERVAL_S} seconds, found {}", entry.hello_max_clock_skew_s),
        );
    }
    if entry.flood_suppress_copies > 64 {
        return fail(
            "flood_suppress_copies",
            format!("expected 0 (relay every flood) to 64, found {}", entry.flood_suppress_copies),
        );
    }
    let driver_config_cbor =
        codec::encode(&entry.driver_config).map_err(|e| ("driver_config".to_string(), e.to_string()))?;
    let settings = weft_core::radio::link::RadioSettings {
        queue_limit_bytes: entry.queue_limit_bytes,
        reassembly_timeout_us: entry.reassembly_timeout_ms.saturating_mul(1000),
        hello_interval_us: entry.hello_interval_s.saturating_mul(1_000_000),
        neighbour_timeout_us: entry.neighbour_timeout_s.saturating_mul(1_000_000),
        duty_cycle_percent: entry.duty_cycle_percent,
        peer: entry.peer,
        max_neighbours: entry.max_neighbours,
        hello_max_clock_skew_s: entry.hello_max_clock_skew_s,
        flood_suppress_copies: entry.flood_suppress_copies,
        ..Default::default()
    };
    Ok(RadioConfig {
        name: entry.name.clone(),
        device: resolve(&entry.device),
        baud: entry.baud,
        driver,
        driver_config_cbor,
        cost: entry.cost.map(|cost| cost.max(1)),
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[node]
name = "a"
identity = "a.key"
data_dir = "data"

[quic]
listen = "127.0.0.1:7401"

[[peers]]
address = "127.0.0.1:7402"
node = "0123456789abcdef0123456789abcdef"

[[plugins]]
file = "echo.wasm"
permissions = ["send"]
[plugins.config]
greeting = "hi"
"#;

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("echo.wasm"), b"\0asm").unwrap();
        dir
    }

    fn error(text: &str) -> String {
        let dir = dir();
        parse(&dir.path().join("node.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_config_resolves_paths_against_its_directory() {
        let dir = dir();
        let config = parse(&dir.path().join("node.toml"), GOOD).unwrap();
        assert_eq!(config.identity_file, dir.path().join("a.key"));
        assert_eq!(config.admin_socket, dir.path().join("data/admin.sock"));
        assert_eq!(config.plugins[0].binding, Binding::Wasm);
        assert!(config.plugins[0].grants.permissions.contains(&weft_plugin_api::Permission::Send));
        let table: toml::Table = ciborium_free_decode(&config.plugins[0].config_cbor);
        assert_eq!(table["greeting"].as_str(), Some("hi"));
        assert_eq!(config.quic.keepalive_ms, QuicSection::default().keepalive_ms);
        // The key file is read separately, with its own error.
        let err = config.read_identity().unwrap_err().to_string();
        assert!(err.contains("node.identity") && err.contains("weft keygen"), "{err}");
    }

    fn ciborium_free_decode(bytes: &[u8]) -> toml::Table {
        codec::decode(bytes).unwrap()
    }

    #[test]
    fn each_error_names_the_file_the_key_and_what_was_expected() {
        let cases: &[(&str, &str, &str)] = &[
            ("[node\nname = 1", "node.toml:1:", "invalid TOML"),
            (&GOOD.replace("data_dir", "data_dri"), "key `node.data_dri`", "unknown field `data_dri`"),
            (&GOOD.replace("127.0.0.1:7401", "localhost"), "key `quic.listen`", "expected IP:PORT"),
            (&GOOD.replace("127.0.0.1:7401", "127.0.0.1:70000"), "key `quic.listen`", "PORT 0 to 65535"),
            (&GOOD.replace("127.0.0.1:7402", "nowhere"), "key `peers[0].address`", "expected HOST:PORT"),
            (&GOOD.replace("0123456789abcdef0123456789abcdef", "xyz"), "key `peers[0].node`", "32 hexadecimal"),
            (&GOOD.replace("echo.wasm", "missing.wasm"), "key `plugins[0].file`", "no such file"),
            (&GOOD.replace("echo.wasm", "echo.txt"), "key `plugins[0].file`", "expected a .wasm or .so"),
            (&GOOD.replace("\"send\"", "\"teleport\""), "key `plugins[0].permissions[0]`", "unknown variant"),
            (&GOOD.replace("name = \"a\"", "name = \"\""), "key `node.name`", "non-empty"),
            (&format!("{GOOD}\n[quic2]\n"), "node.toml", "unknown field `quic2`"),
        ];
        for (text, key, expected) in cases {
            let err = error(text);
            assert!(err.contains("node.toml"), "names the file: {err}");
            assert!(err.contains(key), "names {key}: {err}");
            assert!(err.contains(expected), "says {expected}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load(Path::new("/nonexistent/node.toml")).unwrap_err().to_string();
        assert!(err.starts_with("/nonexistent/node.toml: cannot read"), "{err}");
    }

    #[test]
    fn duplicate_peers_bad_ranges_and_self_listing_are_refused() {
        let dup = GOOD.replace(
            "[[plugins]]",
            "[[peers]]\naddress = \"127.0.0.1:9\"\nnode = \"0123456789abcdef0123456789abcdef\"\n\n[[plugins]]",
        );
        assert!(error(&dup).contains("peers[1].node") && error(&dup).contains("listed twice"));
        let idle = GOOD.replace("[quic]", "[quic]\nidle_timeout_ms = 10");
        assert!(error(&idle).contains("quic.idle_timeout_ms"), "{}", error(&idle));
        for (setting, key) in [
            ("hold_ttl_s = 0", "routing.hold_ttl_s"),
            ("hold_ttl_s = 18446744073709551", "routing.hold_ttl_s"),
            ("hold_ttl_s = 18446744073709552", "routing.hold_ttl_s"),
            ("announce_interval_s = 18446744073709551", "routing.announce_interval_s"),
            ("route_ttl_s = 18446744073709551615", "routing.route_ttl_s"),
        ] {
            let err = error(&format!("{GOOD}\n[routing]\n{setting}\n"));
            assert!(err.contains(key) && err.contains("expected"), "{setting}: {err}");
        }
        let dir = dir();
        let path = dir.path().join("node.toml");
        let key = crate::key_file::create(&dir.path().join("a.key"), false).unwrap();
        let own = GOOD.replace("0123456789abcdef0123456789abcdef", &key.address().to_string());
        let err = parse(&path, &own).unwrap().read_identity().unwrap_err().to_string();
        assert!(err.contains("peers[0].node") && err.contains("own address"), "{err}");
    }
}
