//! What a plugin is doing, as `weft ctl plugins` and `status` report it.
//!
//! Owns: [`PluginState`] and its text form, which is also its JSON form
//! (`running`, `restarting: <fault>`, `stopped: <why>`), so scripts reading
//! `--json` see the same strings as before the type existed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A loaded plugin's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginState {
    /// Taking events.
    Running,
    /// Faulted; it starts again after its backoff.
    Restarting {
        /// The fault.
        fault: String,
    },
    /// Stopped by the operator, or by the `stop` restart policy after a fault.
    Stopped {
        /// Why.
        why: String,
    },
}

impl PluginState {
    /// The state's one-word name: `running`, `restarting` or `stopped`.
    pub fn label(&self) -> &'static str {
        match self {
            PluginState::Running => "running",
            PluginState::Restarting { .. } => "restarting",
            PluginState::Stopped { .. } => "stopped",
        }
    }

    /// The fault or reason, for the states that have one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            PluginState::Running => None,
            PluginState::Restarting { fault: detail } | PluginState::Stopped { why: detail } => Some(detail),
        }
    }

    /// Whether it takes events.
    pub fn is_running(&self) -> bool {
        matches!(self, PluginState::Running)
    }
}

impl fmt::Display for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            None => f.write_str(self.label()),
            Some(detail) => write!(f, "{}: {detail}", self.label()),
        }
    }
}

impl Serialize for PluginState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PluginState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (label, detail) = match text.split_once(": ") {
            Some((label, detail)) => (label, detail.to_string()),
            None => (text.as_str(), String::new()),
        };
        match label {
            "running" => Ok(PluginState::Running),
            "restarting" => Ok(PluginState::Restarting { fault: detail }),
            "stopped" => Ok(PluginState::Stopped { why: detail }),
            other => Err(serde::de::Error::custom(format!("unknown plugin state `{other}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_form_is_the_text_form_and_reads_back() {
        for (state, text) in [
            (PluginState::Running, "\"running\""),
            (PluginState::Restarting { fault: "trap: unreachable".into() }, "\"restarting: trap: unreachable\""),
            (PluginState::Stopped { why: "operator".into() }, "\"stopped: operator\""),
        ] {
            assert_eq!(serde_json::to_string(&state).unwrap(), text);
            assert_eq!(serde_json::from_str::<PluginState>(text).unwrap(), state);
        }
        assert!(serde_json::from_str::<PluginState>("\"dancing\"").is_err());
    }
}
