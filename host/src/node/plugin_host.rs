//! The node's service plugins and their lifecycle.
//!
//! Owns: each plugin's instance, the code it was made from (for restarts and
//! rollbacks), its spec (file, grants, config, restart policy), its
//! lifecycle (running, restarting after a fault with a growing delay,
//! stopped, failed), the events held for it while it restarts, hot swaps
//! with state handoff and rollback, stopping and unloading, the state blobs
//! persisted when the node stops (restored on the next start), and the rows
//! and metrics operators see.
//!
//! Plugin ids are stable slots: unloading leaves a hole, so ids held by the
//! core or by pending commands never point at another plugin. Must not: bind
//! ports or route (the core does), or execute actions (the runtime does).

use super::release::Releaser;
use crate::config::schema::RestartMode;
use crate::config::{NodeConfig, PluginConfig, RestartPolicy, TrustConfig};
use crate::control::{CommandRow, PluginRow, ReloadReport};
use crate::kv::KvStore;
use crate::plugin::{HostServices, Limits, LoadedPlugin, PluginInstance, PluginRuntime, RuntimeOptions, SwapSizes};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_core::node::PluginId;
use weft_plugin_api::{Action, Event, InitArgs, PluginKind, ShutdownReason};

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

/// Before a plugin's first swap, the most of its memory taken as the size of
/// the state it will hand over. The host's call buffer is readied for it and
/// keeps its capacity, so a guess that is too high holds at most this much
/// host memory in vain.
pub const FIRST_SWAP_STATE_GUESS: usize = 4 << 20;

/// Plugin code loaded, verified and instantiated, not yet initialised.
/// Made off the node's actor by [`prepare`] (compiling wasm takes time).
pub struct Prepared {
    loaded: LoadedPlugin,
    instance: PluginInstance,
    spec: PluginConfig,
}

impl Prepared {
    /// The instance name (the operator's, else the manifest's).
    pub fn name(&self) -> &str {
        self.instance.instance_name()
    }

    /// The ports its manifest binds.
    pub fn ports(&self) -> Vec<u16> {
        self.instance.manifest().ports.clone()
    }
}

/// Loads `spec.file` (checking its signature under `trust`), verifies it is
/// a service within its grants, and instantiates it. For a reload, `sizes`
/// are those of the instance it will replace: the new one has that much
/// faulted in now, off the node's thread, rather than during the swap
/// ([`PluginInstance::prefault`]); zero for a new plugin.
pub fn prepare(
    runtime: &PluginRuntime,
    services: &Arc<HostServices>,
    trust: &TrustConfig,
    spec: PluginConfig,
    sizes: SwapSizes,
) -> Result<Prepared, String> {
    let limits = Limits { max_flood_hops: spec.max_flood_hops, native_calls: spec.native_calls, ..Limits::default() };
    let loaded = runtime.load_checked(&spec.file, trust, &spec.grants, limits).map_err(|e| e.to_string())?;
    let manifest = &loaded.info().manifest;
    if manifest.kind != PluginKind::Service {
        return Err(format!(
            "{}: `{}` is a driver; drivers are attached to radio links ([[radios]]), not loaded as services",
            spec.file.display(),
            manifest.name
        ));
    }
    let name = spec.name.clone().unwrap_or_else(|| manifest.name.clone());
    let mut instance = loaded.instantiate_as(services, &name).map_err(|e| e.to_string())?;
    instance.prefault(sizes).map_err(|e| format!("{}: preparing its memory: {e}", spec.file.display()))?;
    Ok(Prepared { loaded, instance, spec })
}

/// Where a plugin is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Life {
    Running,
    /// Faulted; starts again at `at_ms` (node clock).
    Restarting {
        at_ms: u64,
        fault: String,
    },
    /// Stopped by the operator (or by policy `stop` after a fault).
    Stopped {
        why: String,
    },
}

/// One loaded plugin.
struct PluginSlot {
    name: String,
    /// What the plugin reported with `ctx.count` / `ctx.gauge`.
    metrics: crate::plugin::metrics::PluginMetrics,
    spec: PluginConfig,
    loaded: LoadedPlugin,
    instance: PluginInstance,
    life: Life,
    restarts: u32,
    backoff_ms: u64,
    running_since_ms: u64,
    backlog: VecDeque<Event>,
    dropped: u64,
    events: u64,
    actions: u64,
    faults: u64,
    /// The last fault, for `weft ctl plugins`.
    last_fault: Option<String>,
    refused: u64,
    /// Events at the last rate sample, and when it was taken.
    rate_mark: (u64, Instant),
    events_per_s: f64,
    dispatch_ns: Vec<u64>,
    /// What the last swapped-out instance held at the swap (memory after
    /// its hook, state handed over): the next reload readies this much in
    /// the new instance.
    last_swap: Option<SwapSizes>,
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
        PluginRuntime::new(options).map_err(|message| PluginStartError {
            file: config.file.display().to_string(),
            index: 0,
            message,
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
            let (id, init) = host.install(prepared, 0).map_err(|e| error(index, e))?;
            actions.push((id, init));
        }
        Ok((host, actions))
    }

    /// Initialises a prepared plugin in a new slot (with its persisted state,
    /// if any); returns its id and `init` actions.
    pub fn install(&mut self, prepared: Prepared, now_ms: u64) -> Result<(PluginId, Vec<Action>), String> {
        let Prepared { loaded, mut instance, spec } = prepared;
        let name = instance.instance_name().to_string();
        if let Some(taken) = self.find(&name).and_then(|id| self.spec(id)) {
            return Err(format!(
                "a plugin named `{name}` is already loaded (from {}); {} was not loaded (give it another name)",
                taken.file.display(),
                spec.file.display()
            ));
        }
        let state = self.kv.get(STATE_NAMESPACE, name.as_bytes()).ok().flatten();
        let restored = state.as_ref().map_or(0, Vec::len);
        let init = InitArgs { config: spec.config_cbor.clone(), state };
        let dispatch = instance.init(&init).map_err(|e| e.to_string())?;
        // The blob stays until the next stop replaces it: a crash after this
        // start (no hook runs) must not lose it (issue 17, finding 4).
        if restored > 0 {
            tracing::info!(plugin = %name, bytes = restored, "state restored from the last run");
        }
        tracing::info!(
            plugin = %name,
            version = %instance.manifest().version,
            binding = instance.binding().label(),
            "plugin started"
        );
        let slot = PluginSlot {
            name,
            metrics: Default::default(),
            backoff_ms: spec.restart.backoff_ms,
            spec,
            loaded,
            instance,
            life: Life::Running,
            restarts: 0,
            running_since_ms: now_ms,
            backlog: VecDeque::new(),
            dropped: 0,
            events: 0,
            actions: dispatch.actions.len() as u64,
            faults: 0,
            last_fault: None,
            refused: 0,
            rate_mark: (0, Instant::now()),
            events_per_s: 0.0,
            dispatch_ns: Vec::new(),
            last_swap: None,
        };
        let id = match self.slots.iter().position(Option::is_none) {
            Some(hole) => {
                self.slots[hole] = Some(slot);
                hole
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        Ok((id, dispatch.actions))
    }

    /// Plugin ids with the ports each binds.
    pub fn ports(&self) -> Vec<(PluginId, Vec<u16>)> {
        self.iter().map(|(id, s)| (id, s.instance.manifest().ports.clone())).collect()
    }

    fn iter(&self) -> impl Iterator<Item = (PluginId, &PluginSlot)> {
        self.slots.iter().enumerate().filter_map(|(id, s)| s.as_ref().map(|s| (id, s)))
    }

    fn slot(&mut self, id: PluginId) -> Option<&mut PluginSlot> {
        self.slots.get_mut(id).and_then(Option::as_mut)
    }

    /// The id of the plugin named `name`.
    pub fn find(&self, name: &str) -> Option<PluginId> {
        self.iter().find(|(_, s)| s.name == name).map(|(id, _)| id)
    }

    /// The plugin's name.
    pub fn name(&self, id: PluginId) -> &str {
        self.slots.get(id).and_then(Option::as_ref).map_or("?", |s| s.name.as_str())
    }

    /// The spec a plugin was loaded with.
    pub fn spec(&self, id: PluginId) -> Option<&PluginConfig> {
        self.slots.get(id).and_then(Option::as_ref).map(|s| &s.spec)
    }

    /// Drops a prepared plugin that will not be installed (a failed reload
    /// or config apply) off the node's thread: its instance may hold
    /// megabytes of pre-faulted memory, and releasing its pool slot resets
    /// them.
    pub fn discard(&self, prepared: Prepared) {
        self.retired.release(prepared.instance);
    }

    /// What a reload of plugin `id` readies in the new instance, off the
    /// node's thread ([`prepare`]): what the last instance swapped out with
    /// a successful hook held, its memory after the hook (the swap's peak,
    /// or an earlier high-water mark: wasm memory never shrinks) and the
    /// state it handed over. [`PluginInstance::prefault`] bounds the memory
    /// by the state, so a one-off spike is not carried forward. Sizing from
    /// the last swap rather than from the instance's current memory keeps
    /// it from growing across reloads (the pre-faulted memory counts as the
    /// new instance's). Before the first swap there is no such figure: the
    /// running instance's memory plus half as much again, and half its
    /// memory (at most [`FIRST_SWAP_STATE_GUESS`]) for the state.
    pub fn reload_sizes(&self, id: PluginId) -> SwapSizes {
        let Some(slot) = self.slots.get(id).and_then(Option::as_ref) else { return SwapSizes::default() };
        if let Some(last) = slot.last_swap {
            return last;
        }
        let now = slot.instance.memory_bytes().unwrap_or(0);
        SwapSizes { memory: now + now / 2, state: (now / 2).min(FIRST_SWAP_STATE_GUESS) }
    }

    /// Ids and specs of every loaded plugin.
    pub fn specs(&self) -> Vec<(PluginId, PluginConfig)> {
        self.iter().map(|(id, s)| (id, s.spec.clone())).collect()
    }

    /// Why plugin `id` cannot take events now, if it cannot.
    pub fn failure(&self, id: PluginId) -> Option<String> {
        let slot = self.slots.get(id).and_then(Option::as_ref)?;
        match &slot.life {
            Life::Running => None,
            Life::Restarting { fault, .. } => Some(format!("restarting after: {fault}")),
            Life::Stopped { why } => Some(format!("stopped: {why}")),
        }
    }

    /// Whether `id` offers command `command`; the error lists what it offers.
    pub fn check_command(&self, id: PluginId, command: &str) -> Result<(), String> {
        let slot = self.slots.get(id).and_then(Option::as_ref).ok_or("no such plugin")?;
        if let Life::Stopped { why } = &slot.life {
            return Err(format!("plugin `{}` is stopped: {why}", slot.name));
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
    /// restarting plugin's events wait in its backlog (bounded; overflow is
    /// counted); a stopped plugin's are dropped. A fault applies the
    /// plugin's restart policy.
    pub fn call(&mut self, id: PluginId, event: &Event) -> Vec<Action> {
        let epoch = self.epoch;
        let Some(slot) = self.slot(id) else { return Vec::new() };
        match slot.life {
            Life::Running => {}
            Life::Restarting { .. } => {
                if slot.backlog.len() < slot.spec.restart.backlog_events {
                    slot.backlog.push_back(event.clone());
                } else {
                    slot.dropped += 1;
                }
                return Vec::new();
            }
            Life::Stopped { .. } => {
                slot.dropped += 1;
                return Vec::new();
            }
        }
        slot.events += 1;
        // Time one call in DISPATCH_SAMPLE_EVERY for the latency histogram:
        // two clock reads on every call would cost ~10 % of a native dispatch.
        let result = if slot.events % DISPATCH_SAMPLE_EVERY == 0 && slot.dispatch_ns.len() < DISPATCH_SAMPLES {
            let started = Instant::now();
            let result = slot.instance.handle(event);
            slot.dispatch_ns.push(started.elapsed().as_nanos() as u64);
            result
        } else {
            slot.instance.handle(event)
        };
        match result {
            Ok(dispatch) => {
                for refused in &dispatch.refused {
                    tracing::debug!(plugin = %slot.name, "refused action {}: {}", refused.action, refused.reason);
                }
                slot.refused += dispatch.refused.len() as u64;
                slot.actions += dispatch.actions.len() as u64;
                dispatch.actions
            }
            Err(e) => {
                slot.faulted(e.to_string(), epoch.elapsed().as_millis() as u64);
                Vec::new()
            }
        }
    }

    /// Restarts that are due: each restarted plugin's `init` actions, then
    /// the actions of the events it missed, in order.
    pub fn poll(&mut self, now_ms: u64) -> PluginActions {
        let services = self.services.clone();
        let mut out = Vec::new();
        for (id, slot) in self.slots.iter_mut().enumerate() {
            let Some(slot) = slot else { continue };
            let Life::Restarting { at_ms, .. } = slot.life else { continue };
            if at_ms > now_ms {
                continue;
            }
            let init = InitArgs { config: slot.spec.config_cbor.clone(), state: None };
            let started = slot
                .loaded
                .instantiate(&services)
                .map_err(|e| e.to_string())
                .and_then(|mut instance| instance.init(&init).map(|d| (instance, d)).map_err(|e| e.to_string()));
            match started {
                Ok((instance, dispatch)) => {
                    slot.instance = instance;
                    slot.life = Life::Running;
                    slot.restarts += 1;
                    slot.running_since_ms = now_ms;
                    tracing::info!(plugin = %slot.name, restarts = slot.restarts, "plugin restarted");
                    let mut actions = dispatch.actions;
                    while let Some(event) = slot.backlog.pop_front() {
                        slot.events += 1;
                        match slot.instance.handle(&event) {
                            Ok(d) => actions.extend(d.actions),
                            Err(e) => {
                                slot.faulted(e.to_string(), now_ms);
                                break;
                            }
                        }
                    }
                    out.push((id, actions));
                }
                Err(e) => slot.faulted(format!("restart failed: {e}"), now_ms),
            }
        }
        out
    }

    /// When the next restart is due (node clock, ms).
    pub fn next_deadline(&self) -> Option<u64> {
        self.iter()
            .filter_map(|(_, s)| match s.life {
                Life::Restarting { at_ms, .. } => Some(at_ms),
                _ => None,
            })
            .min()
    }

    /// Hot swap: the running instance hands its state to `prepared`, which
    /// replaces it. If the new one fails to start, the old code runs again
    /// with the same state and the error is returned. Nothing else runs in
    /// between (the node's actor is single-threaded), so no event can slip
    /// past either instance and order is kept.
    pub fn reload(
        &mut self,
        id: PluginId,
        prepared: Prepared,
        deadline: Duration,
    ) -> Result<(ReloadReport, Vec<Action>), (String, Vec<Action>)> {
        let services = self.services.clone();
        // The slot is borrowed by field, so that retired instances can go to
        // `self.retired` while it is held.
        let Some(slot) = self.slots.get_mut(id).and_then(Option::as_mut) else {
            self.retired.release(prepared.instance);
            return Err(("no such plugin".into(), Vec::new()));
        };
        if prepared.name() != slot.name {
            let why = format!("the new file is plugin `{}`, not `{}`", prepared.name(), slot.name);
            self.retired.release(prepared.instance);
            return Err((why, Vec::new()));
        }
        let started = Instant::now();
        let from = slot.instance.manifest().version.clone();
        let (state, mut actions) = match (&slot.life, slot.instance.is_running()) {
            (Life::Running, true) => match slot.instance.shutdown(ShutdownReason::Swap, deadline) {
                Ok(stopped) => {
                    let memory = slot.instance.memory_bytes().unwrap_or(0);
                    slot.last_swap = Some(SwapSizes { memory, state: stopped.state.len() });
                    (stopped.state, stopped.dispatch.actions)
                }
                Err(e) => {
                    tracing::warn!(plugin = %slot.name, "shutdown hook failed during reload: {e}; the new instance starts without state");
                    (Vec::new(), Vec::new())
                }
            },
            _ => (Vec::new(), Vec::new()),
        };
        let hook_us = started.elapsed().as_micros() as u64;
        let state_bytes = state.len();
        let init = InitArgs { config: prepared.spec.config_cbor.clone(), state: Some(state) };
        let Prepared { loaded, mut instance, spec } = prepared;
        match instance.init(&init) {
            Ok(dispatch) => {
                actions.extend(dispatch.actions);
                let to = instance.manifest().version.clone();
                let old = std::mem::replace(&mut slot.instance, instance);
                slot.loaded = loaded;
                slot.spec = spec;
                slot.life = Life::Running;
                slot.backoff_ms = slot.spec.restart.backoff_ms;
                // Events held while it was restarting go to the new instance, in order.
                while let Some(event) = slot.backlog.pop_front() {
                    slot.events += 1;
                    match slot.instance.handle(&event) {
                        Ok(d) => actions.extend(d.actions),
                        Err(e) => {
                            slot.faulted(e.to_string(), 0);
                            break;
                        }
                    }
                }
                let pause_us = started.elapsed().as_micros() as u64;
                let report = ReloadReport { plugin: slot.name.clone(), from, to, state_bytes, pause_us, hook_us };
                tracing::info!(plugin = %slot.name, from = %report.from, to = %report.to, pause_us, "plugin reloaded");
                // Releasing an instance resets its memory slot (a memset of
                // the resident pages): done off the node's thread.
                self.retired.release(old);
                Ok((report, actions))
            }
            Err(e) => {
                let why = format!("the new instance failed to start: {e}");
                self.retired.release(instance);
                // The old code starts again with the state the new one refused.
                let init = InitArgs { config: slot.spec.config_cbor.clone(), state: init.state };
                let restarted = slot
                    .loaded
                    .instantiate(&services)
                    .map_err(|e| e.to_string())
                    .and_then(|mut old| old.init(&init).map(|d| (old, d)).map_err(|e| e.to_string()));
                match restarted {
                    Ok((old, dispatch)) => {
                        let stopped = std::mem::replace(&mut slot.instance, old);
                        self.retired.release(stopped);
                        slot.life = Life::Running;
                        actions.extend(dispatch.actions);
                        tracing::warn!(plugin = %slot.name, "reload rolled back: {why}");
                        Err((format!("{why}; rolled back: `{}` {from} keeps running", slot.name), actions))
                    }
                    Err(again) => {
                        slot.life =
                            Life::Stopped { why: format!("reload failed and the old code did not restart: {again}") };
                        Err((format!("{why}; restarting the old version failed too: {again}"), actions))
                    }
                }
            }
        }
    }

    /// Runs plugin `id`'s shutdown hook with `reason` and marks it stopped;
    /// returns its final actions. The state blob is persisted, so a later
    /// start (or `plugin load`) resumes from it.
    pub fn stop(&mut self, id: PluginId, reason: ShutdownReason, deadline: Duration) -> Result<Vec<Action>, String> {
        let kv = self.kv.clone();
        let slot = self.slot(id).ok_or("no such plugin")?;
        if !matches!(slot.life, Life::Running) || !slot.instance.is_running() {
            slot.life = Life::Stopped { why: format!("{reason:?}").to_lowercase() };
            return Ok(Vec::new());
        }
        let result = slot.instance.shutdown(reason, deadline);
        slot.life = Life::Stopped { why: format!("{reason:?} by the operator").to_lowercase() };
        match result {
            Ok(stopped) => {
                persist(&*kv, &slot.name, &stopped.state);
                Ok(stopped.dispatch.actions)
            }
            Err(e) => {
                slot.faults += 1;
                let failure = format!("shutdown hook of `{}` failed: {e}", slot.name);
                slot.last_fault = Some(failure.clone());
                Err(failure)
            }
        }
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
        if let Some(slot) = self.slots.get_mut(id) {
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
                let manifest = slot.instance.manifest();
                PluginRow {
                    name: slot.name.clone(),
                    version: manifest.version.clone(),
                    binding: slot.instance.binding().label().to_string(),
                    state: match &slot.life {
                        Life::Running => "running".to_string(),
                        Life::Restarting { fault, .. } => format!("restarting: {fault}"),
                        Life::Stopped { why } => format!("stopped: {why}"),
                    },
                    ports: manifest.ports.clone(),
                    commands: manifest
                        .commands
                        .iter()
                        .map(|c| CommandRow { name: c.name.clone(), help: c.help.clone() })
                        .collect(),
                    events: slot.events,
                    file: slot.spec.file.display().to_string(),
                    restarts: slot.restarts,
                    faults: slot.faults,
                    last_fault: slot.last_fault.clone(),
                    dropped: slot.dropped,
                    backlog: slot.backlog.len(),
                    memory_bytes: slot.instance.memory_bytes().map(|b| b as u64),
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
        let Some(slot) = self.slots.get_mut(id).and_then(Option::as_mut) else { return };
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
    /// A call broke the instance: restart later (growing delay) or stop,
    /// as the policy says.
    fn faulted(&mut self, fault: String, now_ms: u64) {
        self.faults += 1;
        self.last_fault = Some(fault.clone());
        let policy: RestartPolicy = self.spec.restart;
        if now_ms.saturating_sub(self.running_since_ms) >= policy.healthy_after_ms {
            self.backoff_ms = policy.backoff_ms;
        }
        match policy.mode {
            RestartMode::Reload => {
                let delay = self.backoff_ms;
                self.backoff_ms = (self.backoff_ms.saturating_mul(2)).min(policy.backoff_max_ms);
                tracing::error!(plugin = %self.name, delay_ms = delay, "plugin faulted, restarting: {fault}");
                self.life = Life::Restarting { at_ms: now_ms + delay, fault };
            }
            RestartMode::Stop => {
                tracing::error!(plugin = %self.name, "plugin faulted and stays stopped (restart = \"stop\"): {fault}");
                self.life = Life::Stopped { why: format!("faulted: {fault}") };
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
