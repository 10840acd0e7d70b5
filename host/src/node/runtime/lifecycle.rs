//! Plugin lifecycle on the node's actor: `weft ctl plugin load / unload /
//! reload / stop`, config reload (`weft ctl reload`, SIGHUP) and driver
//! swaps' loading.
//!
//! Owns: turning those requests into work off the actor (reading config
//! files, loading, verifying and compiling plugins on blocking threads) and
//! applying the results on the actor, where nothing else runs at the same
//! time: a reload is atomic with respect to events, and a config reload
//! applies all of its changes or none. Must not: touch plugin instances
//! directly (that is [`PluginHost`]'s) or bind ports (the core's).

use super::super::plugin_host::{prepare, same_file};
use super::super::radio_host::{Driver, load_driver};
use super::super::supervisor::Prepared;
use super::Actor;
use crate::config::{NodeConfig, PluginConfig, RestartPolicy};
use crate::control::{Answer, Lifecycle, LoadOutcome, ReloadReport, ReloadSummary, Reply, ReplyTo, StopOutcome};
use crate::plugin::{Grants, SwapSizes, binding_for};
use std::collections::HashMap;
use std::path::PathBuf;
use weft_core::node::PluginId;
use weft_plugin_api::internal::codec;
use weft_plugin_api::{Action, Permission, ShutdownReason};

/// Work finished off the actor.
pub(in crate::node) enum Background {
    /// A radio link's new driver is loaded (or failed to load).
    Driver { index: usize, driver: Result<Driver, String> },
    /// Plugins prepared for job `job`, in the order the job asked for them.
    Prepared { job: u64, prepared: Vec<Result<Prepared, String>> },
    /// The config file re-read for job `job`.
    ConfigRead { job: u64, config: Result<NodeConfig, String> },
}

enum Job {
    Load { reply: ReplyTo },
    Reload { id: PluginId, reply: ReplyTo },
    ConfigRead { reply: ReplyTo },
    ConfigApply { reply: ReplyTo, config: Box<NodeConfig>, plan: Plan },
}

/// Jobs waiting for their background half.
#[derive(Default)]
pub(in crate::node) struct Waiting {
    jobs: HashMap<u64, Job>,
    next: u64,
}

impl Waiting {
    fn add(&mut self, job: Job) -> u64 {
        self.next += 1;
        self.jobs.insert(self.next, job);
        self.next
    }
}

/// What a config reload changes.
#[derive(Debug, Default)]
struct Plan {
    removed: Vec<PluginId>,
    /// Loaded plugins whose spec changed, with the new spec (prepared in
    /// this order after the added ones).
    changed: Vec<(PluginId, PluginConfig)>,
    added: Vec<PluginConfig>,
    unchanged: usize,
}

fn spec_for_load(
    file: &str,
    name: Option<String>,
    config: &str,
    permissions: &[String],
) -> Result<PluginConfig, String> {
    if let Some(name) = &name {
        weft_plugin_api::check_name(name).map_err(|e| format!("--name: {e}"))?;
    }
    let file = PathBuf::from(file);
    let binding = binding_for(&file).map_err(|e| e.to_string())?;
    let permissions = permissions
        .iter()
        .map(|p| {
            serde_json::from_value::<Permission>(serde_json::Value::String(p.clone()))
                .map_err(|_| format!("unknown permission `{p}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config: serde_json::Value = if config.trim().is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(config).map_err(|e| format!("--config: {e}"))?
    };
    let config_cbor = codec::encode(&config).map_err(|e| e.to_string())?;
    Ok(PluginConfig {
        file,
        name,
        binding,
        grants: Grants::permissions(permissions),
        config_cbor,
        restart: RestartPolicy::default(),
        max_flood_hops: None,
        storage_quota_bytes: None,
        native_calls: crate::plugin::NativeCalls::default(),
    })
}

fn same_spec(a: &PluginConfig, b: &PluginConfig) -> bool {
    a.grants == b.grants
        && a.config_cbor == b.config_cbor
        && a.restart == b.restart
        && a.max_flood_hops == b.max_flood_hops
        && a.storage_quota_bytes == b.storage_quota_bytes
        && a.native_calls == b.native_calls
}

impl Actor {
    /// Prepares `specs` on a blocking thread; the result comes back as
    /// [`Background::Prepared`] for `job`. Each spec comes with the sizes of
    /// the instance it replaces (zero for a new plugin), see [`prepare`].
    fn prepare_off_actor(&self, job: u64, specs: Vec<(PluginConfig, SwapSizes)>) {
        let (runtime, services, trust, done) =
            (self.runtime.clone(), self.services.clone(), self.config.trust.clone(), self.background.clone());
        tokio::task::spawn_blocking(move || {
            let prepared =
                specs.into_iter().map(|(spec, sizes)| prepare(&runtime, &services, &trust, spec, sizes)).collect();
            let _ = done.blocking_send(Background::Prepared { job, prepared });
        });
    }

    /// Loads a new driver for radio link `index` on a blocking thread.
    pub(super) fn load_driver_off_actor(&self, index: usize, file: String) {
        let (runtime, services, trust, done) =
            (self.runtime.clone(), self.radios.services().clone(), self.config.trust.clone(), self.background.clone());
        let (config, sizes) = self.radios.swap_inputs(index).unwrap_or_default();
        tokio::task::spawn_blocking(move || {
            let driver = load_driver(&runtime, &services, &trust, PathBuf::from(file), config, sizes);
            let _ = done.blocking_send(Background::Driver { index, driver });
        });
    }

    /// Lifecycle requests; true when the node should stop (drain).
    pub(super) fn on_lifecycle_request(&mut self, request: Lifecycle, reply: ReplyTo) -> bool {
        match request {
            Lifecycle::PluginLoad { file, name, config, permissions } => {
                match spec_for_load(&file, name, &config, &permissions) {
                    Ok(spec) => {
                        let job = self.lifecycle.add(Job::Load { reply });
                        self.prepare_off_actor(job, vec![(spec, SwapSizes::default())]);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Lifecycle::PluginReload { name, file } => {
                let Some(id) = self.plugins.find(&name) else {
                    let _ = reply.send(Err(format!("no plugin named `{name}` is loaded")));
                    return false;
                };
                let Some(mut spec) = self.plugins.spec(id).cloned() else { return false };
                if let Some(file) = file {
                    spec.file = PathBuf::from(file);
                }
                let sizes = self.plugins.reload_sizes(id);
                let job = self.lifecycle.add(Job::Reload { id, reply });
                self.prepare_off_actor(job, vec![(spec, sizes)]);
            }
            Lifecycle::PluginStop { name } => {
                let _ = reply.send(self.stop_plugin(&name, ShutdownReason::Stop, false));
            }
            Lifecycle::PluginUnload { name } => {
                let _ = reply.send(self.stop_plugin(&name, ShutdownReason::Removed, true));
            }
            Lifecycle::SwapDriver { link, file } => {
                let Some(index) = self.radios.find(&link) else {
                    let known = self.radios.names().join(", ");
                    let _ = reply.send(Err(format!("no radio link named `{link}` (links: {known})")));
                    return false;
                };
                if self.swaps.contains_key(&index) {
                    let _ = reply.send(Err(format!("link `{link}` is already swapping its driver")));
                    return false;
                }
                self.swaps.insert(index, Some(reply));
                // Compiling the new driver must not stall the node: load it
                // on a blocking thread; the actor starts the swap when it is ready.
                self.load_driver_off_actor(index, file);
            }
            Lifecycle::Reload => self.start_config_reload(reply),
            Lifecycle::Drain => {
                tracing::info!("drain requested over the admin socket");
                let _ = reply.send(Ok(Answer::Draining("draining: shutdown hooks run, then the node stops".into())));
                self.draining = true;
                return true;
            }
        }
        false
    }

    /// Starts re-reading the config file (off the actor).
    pub(in crate::node) fn start_config_reload(&mut self, reply: ReplyTo) {
        let job = self.lifecycle.add(Job::ConfigRead { reply });
        let (file, done) = (self.config.file.clone(), self.background.clone());
        tokio::task::spawn_blocking(move || {
            let config = crate::config::load(&file).map_err(|e| e.to_string());
            let _ = done.blocking_send(Background::ConfigRead { job, config });
        });
    }

    /// Runs a plugin's shutdown hook and executes its final actions; with
    /// `remove`, also unbinds its ports and drops it.
    fn stop_plugin(&mut self, name: &str, reason: ShutdownReason, remove: bool) -> Reply {
        let Some(id) = self.plugins.find(name) else {
            return Err(format!("no plugin named `{name}` is loaded"));
        };
        let result = self.plugins.stop(id, reason, self.config.shutdown_deadline);
        if let Ok(actions) = &result {
            self.run_plugin_actions(id, actions.clone());
        }
        if remove {
            self.core.detach(id);
            self.plugins.remove(id);
        }
        match result {
            Ok(_) => Ok(Answer::Stopped(StopOutcome { plugin: name.to_string(), stopped: true, removed: remove })),
            Err(e) => Err(e),
        }
    }

    fn run_plugin_actions(&mut self, id: PluginId, actions: Vec<Action>) {
        if !actions.is_empty() {
            let outputs = self.core.actions(id, actions, self.now());
            self.execute(outputs, false);
        }
    }

    /// Installs a prepared plugin and binds its ports (undoing the install
    /// if a port is taken).
    fn install(&mut self, prepared: Prepared) -> Result<(PluginId, String, Vec<u16>), String> {
        let ports = prepared.ports();
        let (id, actions) = self.plugins.install(prepared, self.now())?;
        if let Err(e) = self.core.attach(id, &ports) {
            let name = self.plugins.name(id).to_string();
            let _ = self.plugins.stop(id, ShutdownReason::Removed, self.config.shutdown_deadline);
            self.plugins.remove(id);
            return Err(format!("plugin `{name}`: {e}"));
        }
        let name = self.plugins.name(id).to_string();
        self.run_plugin_actions(id, actions);
        Ok((id, name, ports))
    }

    /// Hot-swaps plugin `id` to `prepared`, moving its ports if the new
    /// manifest binds others; on any failure the old instance keeps running
    /// with its old ports.
    fn reload(&mut self, id: PluginId, prepared: Prepared) -> Result<ReloadReport, String> {
        let old_ports = self.plugins.ports().into_iter().find(|(p, _)| *p == id).map(|(_, ports)| ports);
        let new_ports = prepared.ports();
        self.core.detach(id);
        if let Err(e) = self.core.attach(id, &new_ports) {
            let _ = self.core.attach(id, old_ports.as_deref().unwrap_or_default());
            self.plugins.discard(prepared);
            return Err(format!("cannot reload `{}`: {e}", self.plugins.name(id)));
        }
        match self.plugins.reload(id, prepared, self.config.shutdown_deadline) {
            Ok((report, actions)) => {
                self.run_plugin_actions(id, actions);
                Ok(report)
            }
            Err((why, actions)) => {
                self.core.detach(id);
                let _ = self.core.attach(id, old_ports.as_deref().unwrap_or_default());
                self.run_plugin_actions(id, actions);
                Err(why)
            }
        }
    }

    /// Work done off the actor came back. Returns true when the node should
    /// stop (never, today; kept for symmetry with requests).
    pub(super) fn on_background(&mut self, done: Background) -> bool {
        match done {
            Background::Driver { index, driver } => {
                let now = self.now_micros();
                match self.radios.begin_swap(index, driver, now) {
                    Ok(items) => self.on_radio_work(items),
                    Err(e) => {
                        tracing::warn!("driver swap refused: {e}");
                        if let Some(Some(waiting)) = self.swaps.remove(&index) {
                            let _ = waiting.send(Err(e));
                        }
                    }
                }
            }
            Background::ConfigRead { job, config } => {
                let Some(Job::ConfigRead { reply }) = self.lifecycle.jobs.remove(&job) else { return false };
                match config {
                    Ok(config) => {
                        let plan = self.plan(&config);
                        let added = plan.added.iter().map(|s| (s.clone(), SwapSizes::default()));
                        let changed = plan.changed.iter().map(|(id, s)| (s.clone(), self.plugins.reload_sizes(*id)));
                        let specs: Vec<(PluginConfig, SwapSizes)> = added.chain(changed).collect();
                        let job = self.lifecycle.add(Job::ConfigApply { reply, config: Box::new(config), plan });
                        self.prepare_off_actor(job, specs);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("the new config is invalid, nothing changed: {e}")));
                    }
                }
            }
            Background::Prepared { job, prepared } => match self.lifecycle.jobs.remove(&job) {
                Some(Job::Load { reply }) => {
                    let response = match prepared.into_iter().next() {
                        Some(Ok(p)) => {
                            self.install(p).map(|(_, plugin, ports)| Answer::Loaded(LoadOutcome { plugin, ports }))
                        }
                        Some(Err(e)) => Err(e),
                        None => Err("nothing was prepared".into()),
                    };
                    let _ = reply.send(response);
                }
                Some(Job::Reload { id, reply }) => {
                    let response = match prepared.into_iter().next() {
                        Some(Ok(p)) => self.reload(id, p).map(Answer::Reloaded),
                        Some(Err(e)) => Err(format!("{e}; the running instance is untouched")),
                        None => Err("nothing was prepared".into()),
                    };
                    let _ = reply.send(response);
                }
                Some(Job::ConfigApply { reply, config, plan }) => {
                    let response = self.apply(*config, plan, prepared);
                    let _ = reply.send(response);
                }
                Some(Job::ConfigRead { reply }) => {
                    let _ = reply.send(Err("internal: config job out of order".into()));
                }
                None => {}
            },
        }
        false
    }

    /// The difference between the running plugins and `config`'s, matched
    /// by plugin file.
    fn plan(&self, config: &NodeConfig) -> Plan {
        let running = self.plugins.specs();
        let mut plan = Plan::default();
        let mut matched = Vec::new();
        for spec in &config.plugins {
            match running.iter().find(|(id, old)| !matched.contains(id) && same_file(&old.file, &spec.file)) {
                Some((id, old)) => {
                    matched.push(*id);
                    if same_spec(old, spec) {
                        plan.unchanged += 1;
                    } else {
                        plan.changed.push((*id, spec.clone()));
                    }
                }
                None => plan.added.push(spec.clone()),
            }
        }
        plan.removed = running.iter().map(|(id, _)| *id).filter(|id| !matched.contains(id)).collect();
        plan
    }

    /// Applies a config reload whose plugins are all prepared, or nothing
    /// when any failed.
    fn apply(&mut self, config: NodeConfig, plan: Plan, prepared: Vec<Result<Prepared, String>>) -> Reply {
        let failures: Vec<String> = prepared.iter().filter_map(|p| p.as_ref().err().cloned()).collect();
        if !failures.is_empty() {
            for p in prepared.into_iter().flatten() {
                self.plugins.discard(p);
            }
            return Err(format!("the new config cannot be applied, nothing changed: {}", failures.join("; ")));
        }
        let mut prepared = prepared.into_iter().flatten();
        let mut summary = ReloadSummary { unchanged: plan.unchanged, ..ReloadSummary::default() };
        let mut errors = Vec::new();
        for id in plan.removed {
            let name = self.plugins.name(id).to_string();
            match self.plugins.stop(id, ShutdownReason::Removed, config.shutdown_deadline) {
                Ok(actions) => self.run_plugin_actions(id, actions),
                Err(e) => errors.push(e),
            }
            self.core.detach(id);
            self.plugins.remove(id);
            summary.removed.push(name);
        }
        let added: Vec<Prepared> = prepared.by_ref().take(plan.added.len()).collect();
        for (id, _) in plan.changed {
            let Some(p) = prepared.next() else { break };
            let name = self.plugins.name(id).to_string();
            match self.reload(id, p) {
                Ok(_) => summary.reloaded.push(name),
                Err(e) => errors.push(e),
            }
        }
        for p in added {
            match self.install(p) {
                Ok((_, name, _)) => summary.added.push(name),
                Err(e) => errors.push(e),
            }
        }
        summary.drivers_swapping = self.swap_changed_drivers(&config);
        summary.not_applied = changed_sections(&self.config, &config);
        let trust_changed = self.config.trust != config.trust;
        let mut radios = self.config.radios.clone();
        for radio in &mut radios {
            if let Some(new) = config.radios.iter().find(|r| r.name == radio.name) {
                radio.driver.clone_from(&new.driver);
                radio.driver_config_cbor.clone_from(&new.driver_config_cbor);
            }
        }
        self.config = NodeConfig { plugins: config.plugins, trust: config.trust, radios, ..self.config.clone() };
        if trust_changed {
            tracing::info!("trust settings reloaded: they apply to plugins loaded from now on");
        }
        tracing::info!(
            added = summary.added.len(),
            removed = summary.removed.len(),
            reloaded = summary.reloaded.len(),
            "config reloaded"
        );
        if errors.is_empty() {
            Ok(Answer::ConfigReloaded(summary))
        } else {
            Err(format!("config reloaded with errors: {}", errors.join("; ")))
        }
    }
}

impl Actor {
    /// Radio links of the new config whose driver file or driver settings
    /// changed are swapped to it (the serial port and queue stay); returns
    /// their names.
    fn swap_changed_drivers(&mut self, config: &NodeConfig) -> Vec<String> {
        let mut swapping = Vec::new();
        for new in &config.radios {
            let Some(old) = self.config.radios.iter().find(|r| r.name == new.name) else { continue };
            if old.driver == new.driver && old.driver_config_cbor == new.driver_config_cbor {
                continue;
            }
            let Some(index) = self.radios.find(&new.name) else { continue };
            if self.swaps.contains_key(&index) {
                continue;
            }
            self.radios.set_driver_config(index, new.driver_config_cbor.clone());
            // Nobody waits on this swap's answer: the outcome is logged.
            self.swaps.insert(index, None);
            self.load_driver_off_actor(index, new.driver.display().to_string());
            swapping.push(new.name.clone());
        }
        swapping
    }
}

/// Sections that differ between two configs but only apply at start
/// (radio links: everything but the driver and its settings).
fn changed_sections(old: &NodeConfig, new: &NodeConfig) -> Vec<String> {
    let mut changed = Vec::new();
    let differs = |a: String, b: String| a != b;
    if differs(format!("{:?}", old.quic), format!("{:?}", new.quic)) {
        changed.push("quic".into());
    }
    if old.peers != new.peers {
        changed.push("peers".into());
    }
    if differs(format!("{:?}", old.routing), format!("{:?}", new.routing)) {
        changed.push("routing".into());
    }
    let link_only = |radios: &[crate::config::RadioConfig]| -> Vec<String> {
        radios.iter().map(|r| format!("{} {:?} {} {:?} {:?}", r.name, r.device, r.baud, r.cost, r.settings)).collect()
    };
    if link_only(&old.radios) != link_only(&new.radios) {
        changed.push("radios".into());
    }
    if old.metrics_listen != new.metrics_listen {
        changed.push("metrics".into());
    }
    changed
}
