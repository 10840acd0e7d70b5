//! The node's service plugins.
//!
//! Owns: the list of loaded services (each a [`Supervisor`] plus what only
//! a service has: the events held for it while it restarts, its counters,
//! dispatch samples and reported metrics), the state blobs persisted when a
//! plugin stops (restored on the next start), and the rows and metrics
//! operators see. Restarts, hot swaps with rollback and stopping are the
//! supervisor's, shared with radio drivers.
//!
//! Plugin ids are slots: unloading leaves a hole a later load may fill;
//! the core forgets a detached plugin's ports and replies. Must not: bind
//! ports or route (the core does), or execute actions (the runtime does).

use super::release::Releaser;
use super::supervisor::{Handled, Prepared, Supervisor};
use crate::config::{NodeConfig, PluginConfig, TrustConfig};
use crate::control::{CommandRow, PluginRow, PluginState, ReloadReport};
use crate::kv::KvStore;
use crate::plugin::{HostServices, PluginInstance, PluginRuntime, RuntimeOptions, SwapSizes};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_core::node::PluginId;
use weft_core::time::Millis;
use weft_plugin_api::{Action, Event, PluginKind, ShutdownReason};

/// Storage namespace for state blobs persisted at node stop (plugin names
/// cannot contain `:`, so no plugin can read or write it). A blob stays
/// until the plugin's next stop replaces (or, with an empty state, removes)
/// it, so a crash between two stops restores the last one.
const STATE_NAMESPACE: &str = "weft:state";

/// Actions returned by plugins, each batch with the plugin that returned it.
pub type PluginActions = Vec<(PluginId, Vec<Action>)>;

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

/// Loads a service for `spec` off the node's thread: see
/// [`super::supervisor::prepare`].
pub fn prepare(
    runtime: &PluginRuntime,
    services: &Arc<HostServices>,
    trust: &TrustConfig,
    spec: PluginConfig,
    sizes: SwapSizes,
) -> Result<Prepared, String> {
    super::supervisor::prepare(runtime, services, trust, PluginKind::Service, spec, sizes)
}

/// One loaded service.
struct PluginSlot {
    name: String,
    /// The instance, its code, life, restarts and swaps.
    plugin: Supervisor,
    /// What the plugin reported with `ctx.count` / `ctx.gauge`.
    metrics: crate::plugin::metrics::PluginMetrics,
    /// Events held while it restarts, for the restarted instance.
    backlog: VecDeque<Event>,
    dropped: u64,
    events: u64,
    actions: u64,
    refused: u64,
    /// Events at the last rate sample, and when it was taken.
    rate_mark: (u64, Instant),
    events_per_s: f64,
    dispatch_ns: Vec<u64>,
}

/// Dispatch latencies kept per plugin for the metrics histogram.
const DISPATCH_SAMPLES: usize = 4096;
/// One call in this many is timed for the histogram.
const DISPATCH_SAMPLE_EVERY: u64 = 16;

/// All service plugins of the node, indexed by [`PluginId`].
pub struct PluginHost {
    slots: Vec<Option<PluginSlot>>,
    /// The node clock's zero (restart times are ms since then).
    epoch: Instant,
    services: Arc<HostServices>,
    kv: Arc<dyn KvStore>,
    /// Drops instances retired by a hot swap, off the node's thread.
    retired: Releaser<PluginInstance>,
}

impl PluginHost {
    /// The plugin runtime a node uses (its module cache and native copies
    /// as the config says).
    pub fn runtime(config: &NodeConfig) -> Result<PluginRuntime, PluginStartError> {
        let options = RuntimeOptions {
            module_cache: Some(config.module_cache.clone()),
            native_copies: config.data_dir.join("native"),
        };
        PluginRuntime::new(options).map_err(|e| PluginStartError {
            file: config.file.display().to_string(),
            index: 0,
            message: e.to_string(),
        })
    }

    /// Loads and initialises every plugin in `config`, in order, each with
    /// the state it persisted when the node last stopped. Returns the
    /// plugins' `init` actions for the runtime to execute.
    pub fn start(
        config: &NodeConfig,
        runtime: &PluginRuntime,
        services: &Arc<HostServices>,
        kv: Arc<dyn KvStore>,
        epoch: Instant,
    ) -> Result<(Self, PluginActions), PluginStartError> {
        let error =
            |index, message: String| PluginStartError { file: config.file.display().to_string(), index, message };
        let mut host =
            Self { slots: Vec::new(), epoch, services: services.clone(), kv, retired: Releaser::start("weft-release") };
        let mut actions = Vec::new();
        for (index, spec) in config.plugins.iter().enumerate() {
            let prepared = prepare(runtime, services, &config.trust, spec.clone(), SwapSizes::default())
                .map_err(|e| error(index, e))?;
            let (id, init) = host.install(prepared, Millis::ZERO).map_err(|e| error(index, e))?;
            actions.push((id, init));
        }
        Ok((host, actions))
    }

    /// Initialises a prepared plugin in a new slot (with its persisted state,
    /// if any); returns its id and `init` actions.
    pub fn install(&mut self, prepared: Prepared, now: Millis) -> Result<(PluginId, Vec<Action>), String> {
        let name = prepared.name().to_string();
        if let Some(taken) = self.find(&name).and_then(|id| self.spec(id)) {
            let why = format!(
                "a plugin named `{name}` is already loaded (from {}); {} was not loaded (give it another name)",
                taken.file.display(),
                prepared.spec().file.display()
            );
            self.discard(prepared);
            return Err(why);
        }
        let state = self.kv.get(STATE_NAMESPACE, name.as_bytes()).ok().flatten();
        let restored = state.as_ref().map_or(0, Vec::len);
        let (plugin, actions) = Supervisor::start(prepared, state, now, self.retired.clone())?;
        // The blob stays until the next stop replaces it: a crash after this
        // start (no hook runs) must not lose it (issue 17, finding 4).
        if restored > 0 {
            tracing::info!(plugin = %name, bytes = restored, "state restored from the last run");
        }
        tracing::info!(
            plugin = %name,
            version = %plugin.instance().manifest().version,
            binding = plugin.instance().binding().label(),
            "plugin started"
        );
        let slot = PluginSlot {
            name,
            plugin,
            metrics: Default::default(),
            backlog: VecDeque::new(),
            dropped: 0,
            events: 0,
            actions: actions.len() as u64,
            refused: 0,
            rate_mark: (0, Instant::now()),
            events_per_s: 0.0,
            dispatch_ns: Vec::new(),
        };
        let id = match self.slots.iter().position(Option::is_none) {
            Some(hole) => {
                self.slots[hole] = Some(slot);
                PluginId::from_index(hole)
            }
            None => {
                self.slots.push(Some(slot));
                PluginId::from_index(self.slots.len() - 1)
            }
        };
        Ok((id, actions))
    }

    /// The release thread, shared with radio drivers.
    pub fn releaser(&self) -> Releaser<PluginInstance> {
        self.retired.clone()
    }

    /// Plugin ids with the ports each binds.
    pub fn ports(&self) -> Vec<(PluginId, Vec<u16>)> {
        self.iter().map(|(id, s)| (id, s.plugin.instance().manifest().ports.clone())).collect()
    }

    fn iter(&self) -> impl Iterator<Item = (PluginId, &PluginSlot)> {
        self.slots.iter().enumerate().filter_map(|(index, s)| s.as_ref().map(|s| (PluginId::from_index(index), s)))
    }

    fn slot(&mut self, id: PluginId) -> Option<&mut PluginSlot> {
        self.slots.get_mut(id.index()).and_then(Option::as_mut)
    }

    /// The id of the plugin named `name`.
    pub fn find(&self, name: &str) -> Option<PluginId> {
        self.iter().find(|(_, s)| s.name == name).map(|(id, _)| id)
    }

    /// The plugin's name.
    pub fn name(&self, id: PluginId) -> &str {
        self.slots.get(id.index()).and_then(Option::as_ref).map_or("?", |s| s.name.as_str())
    }

    /// The spec a plugin was loaded with.
    pub fn spec(&self, id: PluginId) -> Option<&PluginConfig> {
        self.slots.get(id.index()).and_then(Option::as_ref).map(|s| s.plugin.spec())
    }

    /// Drops a prepared plugin that will not be installed (a failed reload
    /// or config apply) off the node's thread: its instance may hold
    /// megabytes of pre-faulted memory, and releasing its pool slot resets
    /// them.
    pub fn discard(&self, prepared: Prepared) {
        self.retired.release(prepared.into_instance());
    }

    /// What a reload of plugin `id` readies in the new instance, off the
    /// node's thread ([`prepare`]): see [`Supervisor::swap_sizes`].
    pub fn reload_sizes(&self, id: PluginId) -> SwapSizes {
        self.slots.get(id.index()).and_then(Option::as_ref).map_or_else(SwapSizes::default, |s| s.plugin.swap_sizes())
    }

    /// Ids and specs of every loaded plugin.
    pub fn specs(&self) -> Vec<(PluginId, PluginConfig)> {
        self.iter().map(|(id, s)| (id, s.plugin.spec().clone())).collect()
    }

    /// Why plugin `id` cannot take events now, if it cannot.
    pub fn failure(&self, id: PluginId) -> Option<String> {
        let slot = self.slots.get(id.index()).and_then(Option::as_ref)?;
        match slot.plugin.state() {
            PluginState::Running => None,
            PluginState::Restarting { fault } => Some(format!("restarting after: {fault}")),
            PluginState::Stopped { why } => Some(format!("stopped: {why}")),
        }
    }

    /// Whether `id` offers command `command`; the error lists what it offers.
    pub fn check_command(&self, id: PluginId, command: &str) -> Result<(), String> {
        let slot = self.slots.get(id.index()).and_then(Option::as_ref).ok_or("no such plugin")?;
        if let PluginState::Stopped { why } = slot.plugin.state() {
            return Err(format!("plugin `{}` is stopped: {why}", slot.name));
        }
        let commands = &slot.plugin.instance().manifest().commands;
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
    /// restarting plugin's events wait in its backlog (bounded; overflow is
    /// counted); a stopped plugin's are dropped. A fault applies the
    /// plugin's restart policy.
    pub fn call(&mut self, id: PluginId, event: &Event) -> Vec<Action> {
        let epoch = self.epoch;
        let now = move || Millis::from_ms(epoch.elapsed().as_millis() as u64);
        let Some(slot) = self.slot(id) else { return Vec::new() };
        // Time one call in DISPATCH_SAMPLE_EVERY for the latency histogram:
        // two clock reads on every call would cost ~10 % of a native dispatch.
        let sample =
            slot.events.wrapping_add(1) % DISPATCH_SAMPLE_EVERY == 0 && slot.dispatch_ns.len() < DISPATCH_SAMPLES;
        let started = sample.then(Instant::now);
        match slot.plugin.handle(event, now) {
            Handled::Ran(dispatch) => {
                slot.events += 1;
                if let Some(started) = started {
                    slot.dispatch_ns.push(started.elapsed().as_nanos() as u64);
                }
                for refused in &dispatch.refused {
                    tracing::debug!(plugin = %slot.name, "refused action {}: {}", refused.action, refused.reason);
                }
                slot.refused += dispatch.refused.len() as u64;
                slot.actions += dispatch.actions.len() as u64;
                dispatch.actions
            }
            Handled::Faulted => {
                slot.events += 1;
                Vec::new()
            }
            Handled::Restarting => {
                if slot.backlog.len() < slot.plugin.spec().restart.backlog_events {
                    slot.backlog.push_back(event.clone());
                } else {
                    slot.dropped += 1;
                }
                Vec::new()
            }
            Handled::Stopped => {
                slot.dropped += 1;
                Vec::new()
            }
        }
    }

    /// Restarts that are due: each restarted plugin's `init` actions, then
    /// the actions of the events it missed, in order.
    pub fn poll(&mut self, now: Millis) -> PluginActions {
        let services = self.services.clone();
        let mut out = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(slot) = slot else { continue };
            let Some(mut actions) = slot.plugin.restart_if_due(&services, now) else { continue };
            slot.replay_backlog(now, &mut actions);
            out.push((PluginId::from_index(index), actions));
        }
        out
    }

    /// When the next restart is due (node clock).
    pub fn next_deadline(&self) -> Option<Millis> {
        self.iter().filter_map(|(_, s)| s.plugin.restart_due()).min()
    }

    /// Hot swap: the running instance hands its state to `prepared`, which
    /// replaces it (see [`Supervisor::swap`]); events held while it was
    /// restarting go to the new instance, in order. If the new one fails to
    /// start, the old code runs again with the same state and the error is
    /// returned. Either way, the actions to execute come back.
    pub fn reload(
        &mut self,
        id: PluginId,
        prepared: Prepared,
        deadline: Duration,
    ) -> Result<(ReloadReport, Vec<Action>), (String, Vec<Action>)> {
        let services = self.services.clone();
        let now = self.epoch.elapsed().as_millis() as u64;
        let Some(slot) = self.slots.get_mut(id.index()).and_then(Option::as_mut) else {
            self.discard(prepared);
            return Err(("no such plugin".into(), Vec::new()));
        };
        if prepared.name() != slot.name {
            let why = format!("the new file is plugin `{}`, not `{}`", prepared.name(), slot.name);
            self.discard(prepared);
            return Err((why, Vec::new()));
        }
        let mut actions = Vec::new();
        match slot.plugin.swap(prepared, deadline, &services, &mut actions) {
            Ok(swapped) => {
                slot.replay_backlog(Millis::from_ms(now), &mut actions);
                let report = ReloadReport {
                    plugin: slot.name.clone(),
                    from: swapped.from_version,
                    to: swapped.to_version,
                    state_bytes: swapped.state_bytes,
                    pause_us: swapped.pause_us,
                    hook_us: swapped.hook_us,
                };
                Ok((report, actions))
            }
            Err(refused) => Err((refused.why, actions)),
        }
    }

    /// Runs plugin `id`'s shutdown hook with `reason` and marks it stopped;
    /// returns its final actions. The state blob is persisted, so a later
    /// start (or `plugin load`) resumes from it.
    pub fn stop(&mut self, id: PluginId, reason: ShutdownReason, deadline: Duration) -> Result<Vec<Action>, String> {
        let kv = self.kv.clone();
        let slot = self.slot(id).ok_or("no such plugin")?;
        let was_running = slot.plugin.is_running();
        let (state, actions) = slot.plugin.stop(reason, deadline)?;
        if was_running {
            persist(&*kv, &slot.name, &state);
        }
        Ok(actions)
    }

    /// Counts an action of plugin `id` refused after its call (a link that
    /// could not take a packet, a storage quota).
    pub fn count_refused(&mut self, id: PluginId) {
        if let Some(slot) = self.slot(id) {
            slot.refused += 1;
        }
    }

    /// Removes a (stopped) plugin's slot.
    pub fn remove(&mut self, id: PluginId) {
        if let Some(slot) = self.slots.get_mut(id.index()) {
            *slot = None;
        }
    }

    /// Shuts every running plugin down (reason: node), persisting each
    /// state blob, and returns each plugin's final actions. A hook that
    /// overruns `deadline` is cut off (wasm: epoch interruption) and reported.
    pub fn shutdown_all(&mut self, deadline: Duration) -> PluginActions {
        let mut finals = Vec::new();
        let ids: Vec<PluginId> = self.iter().map(|(id, _)| id).collect();
        for id in ids {
            match self.stop(id, ShutdownReason::Node, deadline) {
                Ok(actions) => finals.push((id, actions)),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        finals
    }

    /// Rows for `weft ctl status` / `weft ctl plugins`.
    pub fn rows(&mut self) -> Vec<PluginRow> {
        let now = Instant::now();
        self.slots
            .iter_mut()
            .flatten()
            .map(|slot| {
                let (count, at) = slot.rate_mark;
                let elapsed = now.duration_since(at).as_secs_f64();
                if elapsed >= 1.0 {
                    slot.events_per_s = (slot.events - count) as f64 / elapsed;
                    slot.rate_mark = (slot.events, now);
                }
                let instance = slot.plugin.instance();
                let manifest = instance.manifest();
                PluginRow {
                    name: slot.name.clone(),
                    version: manifest.version.clone(),
                    binding: instance.binding().label().to_string(),
                    state: slot.plugin.state(),
                    ports: manifest.ports.clone(),
                    commands: manifest
                        .commands
                        .iter()
                        .map(|c| CommandRow { name: c.name.clone(), help: c.help.clone() })
                        .collect(),
                    events: slot.events,
                    file: slot.plugin.file().display().to_string(),
                    restarts: slot.plugin.restarts(),
                    faults: slot.plugin.faults(),
                    last_fault: slot.plugin.last_fault().map(String::from),
                    dropped: slot.dropped,
                    backlog: slot.backlog.len(),
                    memory_bytes: instance.memory_bytes().map(|b| b as u64),
                    events_per_s: slot.events_per_s,
                    actions: slot.actions,
                    refused: slot.refused,
                    metrics: slot.metrics.clone(),
                }
            })
            .collect()
    }

    /// Records a metric plugin `id` reported; a refused one is logged (at
    /// debug: a plugin must not flood the log) and counted.
    pub fn record_metric(&mut self, id: PluginId, metric: &weft_plugin_api::actions::Metric) {
        let Some(slot) = self.slots.get_mut(id.index()).and_then(Option::as_mut) else { return };
        if let Err(why) = slot.metrics.record(metric) {
            tracing::debug!(plugin = %slot.name, "metric refused: {why}");
        }
    }

    /// Dispatch latencies recorded since the last call, per plugin name (ns).
    pub fn take_dispatch_samples(&mut self) -> Vec<(String, Vec<u64>)> {
        self.slots.iter_mut().flatten().map(|s| (s.name.clone(), std::mem::take(&mut s.dispatch_ns))).collect()
    }
}

impl PluginSlot {
    /// Hands the events held while the plugin restarted to the instance that
    /// now runs, in order, adding their actions to `actions`; stops at a
    /// fault (the rest wait for the next restart).
    fn replay_backlog(&mut self, now: Millis, actions: &mut Vec<Action>) {
        while let Some(event) = self.backlog.pop_front() {
            self.events += 1;
            match self.plugin.handle(&event, || now) {
                Handled::Ran(dispatch) => {
                    self.actions += dispatch.actions.len() as u64;
                    actions.extend(dispatch.actions);
                }
                Handled::Faulted | Handled::Restarting | Handled::Stopped => break,
            }
        }
    }
}

fn persist(kv: &dyn KvStore, name: &str, state: &[u8]) {
    let value = (!state.is_empty()).then(|| state.to_vec());
    if let Err(e) = kv.commit(STATE_NAMESPACE, &[(name.as_bytes().to_vec(), value)]) {
        tracing::error!(plugin = %name, "could not persist its state: {e}");
    }
}

/// Whether `path` is the file of a loaded plugin spec.
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || (a.canonicalize().ok().is_some() && a.canonicalize().ok() == b.canonicalize().ok())
}
