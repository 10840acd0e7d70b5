//! The node's loaded plugins.
//!
//! Owns: loading the configured plugins (through the foundation runtime,
//! with the config's grants), each plugin's instance and counters, and
//! calling a plugin with one event. A plugin that faults is marked failed
//! and receives nothing more; the node and the other plugins carry on
//! (restart policies belong to the operations layer).

use super::core::PluginId;
use crate::admin::protocol::{CommandRow, PluginRow};
use crate::config::NodeConfig;
use crate::plugin::{HostServices, Limits, PluginInstance, PluginRuntime, RuntimeOptions};
use std::sync::Arc;
use std::time::Duration;
use weft_plugin_api::{Action, Event, InitArgs, PluginKind, ShutdownReason};

/// One loaded plugin.
pub struct PluginSlot {
    /// Manifest name (also its storage namespace).
    pub name: String,
    instance: PluginInstance,
    failure: Option<String>,
    events: u64,
}

/// All plugins of the node, indexed by [`PluginId`].
pub struct PluginHost {
    slots: Vec<PluginSlot>,
}

/// A plugin could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{file}: key `plugins[{index}]`: {message}")]
pub struct PluginStartError {
    /// The config file.
    pub file: String,
    /// Index in `[[plugins]]`.
    pub index: usize,
    /// What went wrong (names the plugin file).
    pub message: String,
}

impl PluginHost {
    /// The plugin runtime a node uses (its module cache and native copies
    /// as the config says).
    pub fn runtime(config: &NodeConfig) -> Result<PluginRuntime, PluginStartError> {
        let options = RuntimeOptions {
            module_cache: Some(config.module_cache.clone()),
            native_copies: config.data_dir.join("native"),
        };
        PluginRuntime::new(options).map_err(|message| PluginStartError {
            file: config.file.display().to_string(),
            index: 0,
            message,
        })
    }

    /// Loads and initialises every plugin in `config`, in order.
    pub fn start(
        config: &NodeConfig,
        runtime: &PluginRuntime,
        services: &Arc<HostServices>,
    ) -> Result<Self, PluginStartError> {
        let error =
            |index, message: String| PluginStartError { file: config.file.display().to_string(), index, message };
        let mut slots: Vec<PluginSlot> = Vec::new();
        for (index, plugin) in config.plugins.iter().enumerate() {
            let loaded = runtime
                .load(&plugin.file, &plugin.grants, Limits::default())
                .map_err(|e| error(index, e.to_string()))?;
            let manifest = &loaded.info().manifest;
            if manifest.kind != PluginKind::Service {
                return Err(error(
                    index,
                    format!(
                        "{}: `{}` is a driver; drivers are attached to radio links, not loaded as services",
                        plugin.file.display(),
                        manifest.name
                    ),
                ));
            }
            if slots.iter().any(|s| s.name == manifest.name) {
                return Err(error(index, format!("a plugin named `{}` is already loaded", manifest.name)));
            }
            let mut instance = loaded.instantiate(services).map_err(|e| error(index, e.to_string()))?;
            let init = InitArgs { config: plugin.config_cbor.clone(), state: None };
            instance.init(&init).map_err(|e| error(index, e.to_string()))?;
            slots.push(PluginSlot { name: manifest.name.clone(), instance, failure: None, events: 0 });
        }
        Ok(Self { slots })
    }

    /// Plugin ids with the ports each binds.
    pub fn ports(&self) -> Vec<(PluginId, Vec<u16>)> {
        self.slots.iter().enumerate().map(|(id, s)| (id, s.instance.manifest().ports.clone())).collect()
    }

    /// The id of the plugin named `name`.
    pub fn find(&self, name: &str) -> Option<PluginId> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// The plugin's name.
    pub fn name(&self, id: PluginId) -> &str {
        self.slots.get(id).map_or("?", |s| s.name.as_str())
    }

    /// Why plugin `id` failed, if it did.
    pub fn failure(&self, id: PluginId) -> Option<&str> {
        self.slots.get(id).and_then(|s| s.failure.as_deref())
    }

    /// Whether `id` offers command `command`; the error lists what it offers.
    pub fn check_command(&self, id: PluginId, command: &str) -> Result<(), String> {
        let slot = self.slots.get(id).ok_or("no such plugin")?;
        if let Some(failure) = &slot.failure {
            return Err(format!("plugin `{}` has failed: {failure}", slot.name));
        }
        let commands = &slot.instance.manifest().commands;
        if commands.iter().any(|c| c.name == command) {
            return Ok(());
        }
        let offered: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
        Err(if offered.is_empty() {
            format!("plugin `{}` offers no commands", slot.name)
        } else {
            format!("plugin `{}` has no command `{command}`; it offers: {}", slot.name, offered.join(", "))
        })
    }

    /// Calls plugin `id` with `event`; returns the actions to execute. A
    /// fault marks the plugin failed (logged once) and yields no actions.
    pub fn call(&mut self, id: PluginId, event: &Event) -> Vec<Action> {
        let Some(slot) = self.slots.get_mut(id) else { return Vec::new() };
        if slot.failure.is_some() {
            return Vec::new();
        }
        slot.events += 1;
        match slot.instance.handle(event) {
            Ok(dispatch) => {
                for refused in &dispatch.refused {
                    tracing::debug!(plugin = %slot.name, "refused action {}: {}", refused.action, refused.reason);
                }
                dispatch.actions
            }
            Err(e) => {
                tracing::error!(plugin = %slot.name, "plugin failed and receives no more events: {e}");
                slot.failure = Some(e.to_string());
                Vec::new()
            }
        }
    }

    /// Shuts every running plugin down (reason: node), returning each
    /// plugin's final actions.
    pub fn shutdown_all(&mut self, deadline: Duration) -> Vec<(PluginId, Vec<Action>)> {
        let mut finals = Vec::new();
        for (id, slot) in self.slots.iter_mut().enumerate() {
            if slot.failure.is_some() || !slot.instance.is_running() {
                continue;
            }
            match slot.instance.shutdown(ShutdownReason::Node, deadline) {
                Ok(stopped) => finals.push((id, stopped.dispatch.actions)),
                Err(e) => tracing::warn!(plugin = %slot.name, "shutdown hook failed: {e}"),
            }
        }
        finals
    }

    /// Rows for `weft ctl status`.
    pub fn rows(&self) -> Vec<PluginRow> {
        self.slots
            .iter()
            .map(|slot| {
                let manifest = slot.instance.manifest();
                PluginRow {
                    name: slot.name.clone(),
                    version: manifest.version.clone(),
                    binding: slot.instance.binding().label().to_string(),
                    state: match &slot.failure {
                        Some(f) => format!("failed: {f}"),
                        None => "running".to_string(),
                    },
                    ports: manifest.ports.clone(),
                    commands: manifest
                        .commands
                        .iter()
                        .map(|c| CommandRow { name: c.name.clone(), help: c.help.clone() })
                        .collect(),
                    events: slot.events,
                }
            })
            .collect()
    }
}
