//! What can be asked of a running node, typed and grouped by what answers
//! it, so the node's dispatch is an exhaustive match with no fallback.
//!
//! Owns: [`Request`] and its three groups ([`Query`]: read-only answers;
//! [`Traffic`]: what goes through the core, plugins or drivers;
//! [`Lifecycle`]: plugins and drivers loaded, swapped and stopped, config
//! reloads, drain), their one JSON form on the admin socket (a flat object
//! tagged by `op`, the same as before the grouping), and how long a caller
//! waits for each. Must not: execute anything.

use serde::{Deserialize, Deserializer, Serialize};
use std::time::Duration;
use weft_plugin_api::Address;

/// How long a request that may compile a wasm module first (seconds for a
/// large one) may take.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a plugin's answer to `call` is awaited by default.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any other request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Anything the admin socket, `weft run` (SIGHUP) or the metrics endpoint
/// asks a node. On the wire it is one flat JSON object tagged by `op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Request {
    /// Read-only answers from the node's state.
    Query(Query),
    /// Messages, traces and commands that go through the core, a plugin or
    /// a driver.
    Traffic(Traffic),
    /// Loading, swapping and stopping plugins and drivers; config reload;
    /// drain.
    Lifecycle(Lifecycle),
}

/// Read-only requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Query {
    /// Node summary.
    Status,
    /// Neighbours, links and dial state.
    Peers,
    /// The routing table.
    Routes,
    /// Radio links: driver, neighbour, airtime, duty-cycle budget, queue.
    Links,
    /// Loaded plugins with state, restarts, memory and event rate.
    Plugins,
    /// The Prometheus text exposition (what `/metrics` serves).
    Metrics,
}

/// Requests that send something through the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Traffic {
    /// Send a message to a service port on a neighbour (or on this node),
    /// as the node itself rather than as a plugin.
    Send {
        /// Destination node.
        to: Address,
        /// Destination service port.
        port: u16,
        /// Payload text.
        payload: String,
    },
    /// Send several messages to one service port, in order, in one request
    /// (bulk sends from scripts: one round trip to the node instead of one
    /// per message). Stops at the first message that cannot go (a congested
    /// link, no route and nowhere to hold it); the answer says how many went.
    SendMany {
        /// Destination node.
        to: Address,
        /// Destination service port.
        port: u16,
        /// Payload texts, sent in this order.
        payloads: Vec<String>,
    },
    /// Trace the path to a node (asking the mesh for one first, if needed).
    Trace {
        /// The node.
        to: Address,
        /// How long to wait for the answer.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Invoke a plugin command.
    Call {
        /// Plugin name.
        plugin: String,
        /// Command name.
        command: String,
        /// JSON arguments (text; empty for none).
        #[serde(default)]
        args: String,
        /// How long to wait for the plugin's answer.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Invoke a radio driver's command.
    LinkCall {
        /// Radio link name.
        link: String,
        /// Command name.
        command: String,
        /// JSON arguments (text; empty for none).
        #[serde(default)]
        args: String,
    },
}

/// Requests that change what runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Lifecycle {
    /// Load a plugin file while the node runs.
    PluginLoad {
        /// Plugin file (absolute).
        file: String,
        /// The instance name (default: the manifest's name).
        #[serde(default)]
        name: Option<String>,
        /// Its config as JSON text (empty for none).
        #[serde(default)]
        config: String,
        /// Permissions granted.
        #[serde(default)]
        permissions: Vec<String>,
    },
    /// Stop a plugin (shutdown hook, state persisted) and remove it.
    PluginUnload {
        /// Plugin name.
        name: String,
    },
    /// Hot-swap a plugin to a new build (or the same file again), handing
    /// over its state; a new build that fails to start is rolled back.
    PluginReload {
        /// Plugin name.
        name: String,
        /// The new file (default: the one it was loaded from).
        #[serde(default)]
        file: Option<String>,
    },
    /// Stop a plugin (shutdown hook, state persisted), keeping it listed.
    PluginStop {
        /// Plugin name.
        name: String,
    },
    /// Hot-swap a radio link's driver plugin.
    SwapDriver {
        /// Radio link name.
        link: String,
        /// The new driver plugin file (absolute, or relative to the node's
        /// working directory).
        file: String,
    },
    /// Re-read the config file and apply the difference in plugins.
    Reload,
    /// Stop the node gracefully, as SIGTERM does.
    Drain,
}

impl Request {
    /// How long the node may take to answer: a plugin's or a trace's own
    /// timeout, longer for what may compile a module, five seconds else.
    pub fn timeout(&self) -> Duration {
        match self {
            Request::Traffic(
                Traffic::Call { timeout_ms: Some(ms), .. } | Traffic::Trace { timeout_ms: Some(ms), .. },
            ) => Duration::from_millis(*ms),
            Request::Traffic(Traffic::Call { .. }) => DEFAULT_CALL_TIMEOUT,
            Request::Lifecycle(
                Lifecycle::PluginLoad { .. }
                | Lifecycle::PluginReload { .. }
                | Lifecycle::Reload
                | Lifecycle::SwapDriver { .. },
            ) => LOAD_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        }
    }
}

impl From<Query> for Request {
    fn from(query: Query) -> Self {
        Request::Query(query)
    }
}

impl From<Traffic> for Request {
    fn from(traffic: Traffic) -> Self {
        Request::Traffic(traffic)
    }
}

impl From<Lifecycle> for Request {
    fn from(lifecycle: Lifecycle) -> Self {
        Request::Lifecycle(lifecycle)
    }
}

impl<'de> Deserialize<'de> for Request {
    /// The flat `op`-tagged object: the group that knows the `op` decodes
    /// it, so its errors (a missing or mistyped field) are the ones reported;
    /// an `op` no group knows is named as such.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        let unknown = |e: &serde_json::Error| e.to_string().starts_with("unknown variant");
        let query = match Query::deserialize(&value) {
            Ok(query) => return Ok(Request::Query(query)),
            Err(e) => e,
        };
        let traffic = match Traffic::deserialize(&value) {
            Ok(traffic) => return Ok(Request::Traffic(traffic)),
            Err(e) => e,
        };
        let lifecycle = match Lifecycle::deserialize(&value) {
            Ok(lifecycle) => return Ok(Request::Lifecycle(lifecycle)),
            Err(e) => e,
        };
        let known = [query, traffic, lifecycle].into_iter().find(|e| !unknown(e));
        Err(match (known, value.get("op")) {
            (Some(error), _) => D::Error::custom(error),
            (None, Some(op)) => D::Error::custom(format!("unknown op {op}")),
            (None, None) => D::Error::custom("missing field `op`"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_json_form() {
        let call: Request =
            Traffic::Call { plugin: "echo".into(), command: "ping".into(), args: "{}".into(), timeout_ms: None }.into();
        let text = serde_json::to_string(&call).unwrap();
        assert_eq!(text, r#"{"op":"call","plugin":"echo","command":"ping","args":"{}","timeout_ms":null}"#);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"call","plugin":"p","command":"c"}"#).unwrap(),
            Traffic::Call { plugin: "p".into(), command: "c".into(), args: String::new(), timeout_ms: None }.into()
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"reboot"}"#).is_err());
    }

    #[test]
    fn every_group_decodes_and_errors_name_the_problem() {
        assert_eq!(serde_json::from_str::<Request>(r#"{"op":"status"}"#).unwrap(), Query::Status.into());
        assert_eq!(serde_json::from_str::<Request>(r#"{"op":"drain"}"#).unwrap(), Lifecycle::Drain.into());
        assert_eq!(
            serde_json::to_string(&Request::from(Lifecycle::PluginStop { name: "x".into() })).unwrap(),
            r#"{"op":"plugin_stop","name":"x"}"#
        );
        let unknown = serde_json::from_str::<Request>(r#"{"op":"reboot"}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown op \"reboot\""), "{unknown}");
        let missing = serde_json::from_str::<Request>(r#"{"op":"plugin_stop"}"#).unwrap_err().to_string();
        assert!(missing.contains("missing field `name`"), "{missing}");
        let no_op = serde_json::from_str::<Request>(r#"{"name":"x"}"#).unwrap_err().to_string();
        assert!(no_op.contains("missing field `op`"), "{no_op}");
    }
}
