//! One supervised plugin instance, the same for services and radio drivers.
//!
//! Owns: a plugin's running instance and the code it was made from, its
//! life (running, restarting after a fault with a growing delay, stopped),
//! restarts when due, hot swaps with state handoff and rollback, stopping,
//! releasing retired instances on the release thread, and the fault and
//! restart counts operators see. What the instance's actions mean, where
//! events come from and what waits while it restarts are the caller's
//! (`plugin_host` for services, `radio_host` for drivers).
//!
//! Must not: execute actions, persist state, or know whether it supervises
//! a service or a driver.

use super::release::Releaser;
use crate::config::schema::RestartMode;
use crate::config::{PluginConfig, RestartPolicy, TrustConfig};
use crate::control::PluginState;
use crate::plugin::{Dispatch, HostServices, Limits, LoadedPlugin, PluginInstance, PluginRuntime, SwapSizes};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_core::time::Millis;
use weft_plugin_api::{Action, Event, InitArgs, PluginKind, ShutdownReason};

/// Before a plugin's first swap, the most of its memory taken as the size of
/// the state it will hand over. The host's call buffer is readied for it and
/// keeps its capacity, so a guess that is too high holds at most this much
/// host memory in vain.
pub const FIRST_SWAP_STATE_GUESS: usize = 4 << 20;

/// Plugin code loaded, verified and instantiated (and its memory readied
/// for the state it will take over), not yet initialised. Made off the
/// node's actor by [`prepare`]: compiling wasm takes time.
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

    /// Its spec.
    pub fn spec(&self) -> &PluginConfig {
        &self.spec
    }

    /// `name version (binding)`, for logs and rows.
    pub fn label(&self) -> String {
        label(&self.instance)
    }

    /// Replaces the config its `init` will receive.
    pub fn set_config(&mut self, config_cbor: Vec<u8>) {
        self.spec.config_cbor = config_cbor;
    }

    /// The instance, to release (a prepared plugin that will not run).
    pub fn into_instance(self) -> PluginInstance {
        self.instance
    }
}

/// Loads `spec.file` (checking its signature under `trust`), checks it is a
/// plugin of `kind` within its grants, and instantiates it. `sizes` are
/// those of the instance it will replace (zero for a new plugin): the new
/// one has that much faulted in now, off the node's thread, rather than
/// during the swap ([`PluginInstance::prefault`]).
pub fn prepare(
    runtime: &PluginRuntime,
    services: &Arc<HostServices>,
    trust: &TrustConfig,
    kind: PluginKind,
    spec: PluginConfig,
    sizes: SwapSizes,
) -> Result<Prepared, String> {
    let limits = Limits { max_flood_hops: spec.max_flood_hops, native_calls: spec.native_calls, ..Limits::default() };
    let loaded = runtime.load_checked(&spec.file, trust, &spec.grants, limits).map_err(|e| e.to_string())?;
    let manifest = &loaded.info().manifest;
    if manifest.kind != kind {
        return Err(match kind {
            PluginKind::Driver => format!(
                "{}: `{}` is a service, not a driver; services go in [[plugins]]",
                spec.file.display(),
                manifest.name
            ),
            _ => format!(
                "{}: `{}` is a driver; drivers are attached to radio links ([[radios]]), not loaded as services",
                spec.file.display(),
                manifest.name
            ),
        });
    }
    let name = spec.name.clone().unwrap_or_else(|| manifest.name.clone());
    let mut instance = loaded.instantiate_as(services, &name).map_err(|e| e.to_string())?;
    instance.prefault(sizes).map_err(|e| format!("{}: preparing its memory: {e}", spec.file.display()))?;
    Ok(Prepared { loaded, instance, spec })
}

/// `name version (binding)` of an instance.
fn label(instance: &PluginInstance) -> String {
    let manifest = instance.manifest();
    format!("{} {} ({})", manifest.name, manifest.version, instance.binding().label())
}

/// Where a plugin is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Life {
    Running,
    /// Faulted; starts again at `at` (node clock).
    Restarting {
        at: Millis,
        fault: String,
    },
    /// Stopped by the operator, by policy `stop` after a fault, or because
    /// neither a new build nor the old one would start.
    Stopped {
        why: String,
    },
}

/// What became of an event handed to [`Supervisor::handle`].
pub enum Handled {
    /// The instance ran it.
    Ran(Dispatch),
    /// The instance is restarting: the caller may keep the event for it.
    Restarting,
    /// The instance is stopped: the event is dropped.
    Stopped,
    /// The instance faulted on it (its restart policy applied).
    Faulted,
}

/// A completed hot swap.
#[derive(Debug)]
pub struct Swapped {
    /// The old instance's label (`name version (binding)`).
    pub from: String,
    /// The new instance's label.
    pub to: String,
    /// The old instance's version.
    pub from_version: String,
    /// The new instance's version.
    pub to_version: String,
    /// Bytes of state handed over.
    pub state_bytes: usize,
    /// Time without an instance taking events: old hook + new init, µs.
    pub pause_us: u64,
    /// Of which the old instance's shutdown hook, µs.
    pub hook_us: u64,
}

/// Why a hot swap did not happen; the actions the old instance (or its
/// restart) returned must still be executed.
#[derive(Debug)]
pub struct SwapRefused {
    /// What went wrong, and whether the old code runs again.
    pub why: String,
    /// Whether the old code runs again (false: the plugin is stopped).
    pub rolled_back: bool,
}

/// One plugin instance under supervision.
pub struct Supervisor {
    /// The instance name, for logs.
    name: String,
    loaded: LoadedPlugin,
    instance: PluginInstance,
    spec: PluginConfig,
    life: Life,
    restarts: u32,
    backoff_ms: u64,
    running_since: Millis,
    faults: u64,
    last_fault: Option<String>,
    /// What the last swapped-out instance held at the swap (memory after
    /// its hook, state handed over): the next swap readies this much.
    last_swap: Option<SwapSizes>,
    /// Drops retired instances off the node's thread.
    retired: Releaser<PluginInstance>,
}

impl Supervisor {
    /// Starts `prepared` with `state` (a persisted blob, or none); returns
    /// the supervisor and what `init` asked for.
    pub fn start(
        prepared: Prepared,
        state: Option<Vec<u8>>,
        now: Millis,
        retired: Releaser<PluginInstance>,
    ) -> Result<(Self, Vec<Action>), String> {
        let Prepared { loaded, mut instance, spec } = prepared;
        let name = instance.instance_name().to_string();
        let init = InitArgs { config: spec.config_cbor.clone(), state };
        match instance.init(&init) {
            Ok(dispatch) => {
                let backoff_ms = spec.restart.backoff_ms;
                let supervisor = Supervisor {
                    name,
                    loaded,
                    instance,
                    spec,
                    life: Life::Running,
                    restarts: 0,
                    backoff_ms,
                    running_since: now,
                    faults: 0,
                    last_fault: None,
                    last_swap: None,
                    retired,
                };
                Ok((supervisor, dispatch.actions))
            }
            Err(e) => {
                retired.release(instance);
                Err(e.to_string())
            }
        }
    }

    /// The running instance (or the one that faulted, until its restart).
    pub fn instance(&self) -> &PluginInstance {
        &self.instance
    }

    /// The spec it runs with.
    pub fn spec(&self) -> &PluginConfig {
        &self.spec
    }

    /// Replaces the config the next `init` (restart or swap) receives.
    pub fn set_config(&mut self, config_cbor: Vec<u8>) {
        self.spec.config_cbor = config_cbor;
    }

    /// `name version (binding)`.
    pub fn label(&self) -> String {
        label(&self.instance)
    }

    /// Its state, for rows.
    pub fn state(&self) -> PluginState {
        match &self.life {
            Life::Running => PluginState::Running,
            Life::Restarting { fault, .. } => PluginState::Restarting { fault: fault.clone() },
            Life::Stopped { why } => PluginState::Stopped { why: why.clone() },
        }
    }

    /// Whether it takes events.
    pub fn is_running(&self) -> bool {
        matches!(self.life, Life::Running) && self.instance.is_running()
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Faults so far.
    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// The last fault.
    pub fn last_fault(&self) -> Option<&str> {
        self.last_fault.as_deref()
    }

    /// Counts a fault that was not a call's (a failed shutdown hook).
    fn count_fault(&mut self, fault: String) {
        self.faults += 1;
        self.last_fault = Some(fault);
    }

    /// Hands `event` to the instance if it runs; a fault applies the
    /// restart policy at the time `now` gives (read only then: a clock
    /// read on every call would cost a tenth of a native dispatch).
    pub fn handle(&mut self, event: &Event, now: impl FnOnce() -> Millis) -> Handled {
        match self.life {
            Life::Running => {}
            Life::Restarting { .. } => return Handled::Restarting,
            Life::Stopped { .. } => return Handled::Stopped,
        }
        match self.instance.handle(event) {
            Ok(dispatch) => Handled::Ran(dispatch),
            Err(e) => {
                self.faulted(e.to_string(), now());
                Handled::Faulted
            }
        }
    }

    /// A call broke the instance: restart later (growing delay) or stop,
    /// as the policy says.
    fn faulted(&mut self, fault: String, now: Millis) {
        self.count_fault(fault.clone());
        let policy: RestartPolicy = self.spec.restart;
        if now.ms_since(self.running_since) >= policy.healthy_after_ms {
            self.backoff_ms = policy.backoff_ms;
        }
        match policy.mode {
            RestartMode::Reload => {
                let delay = self.backoff_ms;
                self.backoff_ms = (self.backoff_ms.saturating_mul(2)).min(policy.backoff_max_ms);
                tracing::error!(plugin = %self.name, delay_ms = delay, "plugin faulted, restarting: {fault}");
                self.life = Life::Restarting { at: now.after_ms(delay), fault };
            }
            RestartMode::Stop => {
                tracing::error!(plugin = %self.name, "plugin faulted and stays stopped (restart = \"stop\"): {fault}");
                self.life = Life::Stopped { why: format!("faulted: {fault}") };
            }
        }
    }

    /// When its restart is due (node clock, ms), if it is restarting.
    pub fn restart_due(&self) -> Option<Millis> {
        match self.life {
            Life::Restarting { at, .. } => Some(at),
            _ => None,
        }
    }

    /// Restarts the instance from its code if the restart is due: `Some`
    /// with what `init` asked for once it runs again, `None` when nothing
    /// was due or the restart failed (and was counted as a fault).
    pub fn restart_if_due(&mut self, services: &Arc<HostServices>, now: Millis) -> Option<Vec<Action>> {
        if self.restart_due().is_none_or(|at| at > now) {
            return None;
        }
        let init = InitArgs { config: self.spec.config_cbor.clone(), state: None };
        match self.fresh_instance(services, &init) {
            Ok((instance, dispatch)) => {
                let faulted = std::mem::replace(&mut self.instance, instance);
                self.retired.release(faulted);
                self.life = Life::Running;
                self.restarts += 1;
                self.running_since = now;
                tracing::info!(plugin = %self.name, restarts = self.restarts, "plugin restarted");
                Some(dispatch.actions)
            }
            Err(e) => {
                self.faulted(format!("restart failed: {e}"), now);
                None
            }
        }
    }

    /// A new instance of the code it runs, initialised with `init`.
    fn fresh_instance(
        &self,
        services: &Arc<HostServices>,
        init: &InitArgs,
    ) -> Result<(PluginInstance, Dispatch), String> {
        let mut instance = self.loaded.instantiate_as(services, &self.name).map_err(|e| e.to_string())?;
        let dispatch = instance.init(init).map_err(|e| e.to_string())?;
        Ok((instance, dispatch))
    }

    /// The sizes the next swap's new instance should be readied for:
    /// those of the last swap, else a guess from the current instance.
    pub fn swap_sizes(&self) -> SwapSizes {
        if let Some(sizes) = self.last_swap {
            return sizes;
        }
        let now = self.instance.memory_bytes().unwrap_or(0);
        SwapSizes { memory: now + now / 2, state: (now / 2).min(FIRST_SWAP_STATE_GUESS) }
    }

    /// Hot swap: the running instance's shutdown hook hands its state to
    /// `prepared`, which replaces it (whatever its name: the caller decides
    /// what may replace what). If the new one fails to start, the old
    /// code runs again with the same state. Either way `actions` gets what
    /// the instances asked for, in order (the old hook's, then an `init`'s).
    /// The caller must let nothing else call the plugin in between (the
    /// node's actor is single-threaded), so no event slips past either
    /// instance.
    pub fn swap(
        &mut self,
        prepared: Prepared,
        deadline: Duration,
        services: &Arc<HostServices>,
        actions: &mut Vec<Action>,
    ) -> Result<Swapped, SwapRefused> {
        let started = Instant::now();
        let from = self.label();
        let from_version = self.instance.manifest().version.clone();
        let state = if self.is_running() {
            match self.instance.shutdown(ShutdownReason::Swap, deadline) {
                Ok(stopped) => {
                    let memory = self.instance.memory_bytes().unwrap_or(0);
                    self.last_swap = Some(SwapSizes { memory, state: stopped.state.len() });
                    actions.extend(stopped.dispatch.actions);
                    stopped.state
                }
                Err(e) => {
                    tracing::warn!(plugin = %self.name, "shutdown hook failed during a swap: {e}; the new instance starts without state");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let hook_us = started.elapsed().as_micros() as u64;
        let state_bytes = state.len();
        let Prepared { loaded, mut instance, spec } = prepared;
        let init = InitArgs { config: spec.config_cbor.clone(), state: Some(state) };
        match instance.init(&init) {
            Ok(dispatch) => {
                actions.extend(dispatch.actions);
                let to = label(&instance);
                let to_version = instance.manifest().version.clone();
                let old = std::mem::replace(&mut self.instance, instance);
                // A driver may be swapped for another driver (another name).
                self.name = self.instance.instance_name().to_string();
                self.loaded = loaded;
                self.spec = spec;
                self.life = Life::Running;
                self.backoff_ms = self.spec.restart.backoff_ms;
                // Releasing an instance resets its memory slot (a memset of
                // the resident pages): done off the node's thread.
                self.retired.release(old);
                let pause_us = started.elapsed().as_micros() as u64;
                tracing::info!(plugin = %self.name, %from, %to, pause_us, "plugin swapped");
                Ok(Swapped { from, to, from_version, to_version, state_bytes, pause_us, hook_us })
            }
            Err(e) => {
                let why = format!("the new instance failed to start: {e}");
                self.retired.release(instance);
                // The old code starts again with the state the new one refused.
                let init = InitArgs { config: self.spec.config_cbor.clone(), state: init.state };
                match self.fresh_instance(services, &init) {
                    Ok((old, dispatch)) => {
                        let stopped = std::mem::replace(&mut self.instance, old);
                        self.retired.release(stopped);
                        self.life = Life::Running;
                        actions.extend(dispatch.actions);
                        tracing::warn!(plugin = %self.name, "swap rolled back: {why}");
                        Err(SwapRefused { why: format!("{why}; rolled back: {from} keeps running"), rolled_back: true })
                    }
                    Err(again) => {
                        self.count_fault(again.clone());
                        self.life =
                            Life::Stopped { why: format!("swap failed and the old code did not restart: {again}") };
                        Err(SwapRefused {
                            why: format!("{why}; restarting the old version failed too: {again}"),
                            rolled_back: false,
                        })
                    }
                }
            }
        }
    }

    /// Runs the shutdown hook with `reason` (if the instance runs) and marks
    /// it stopped; returns its state and final actions. A hook that fails
    /// (or overruns `deadline`) is counted as a fault.
    pub fn stop(&mut self, reason: ShutdownReason, deadline: Duration) -> Result<(Vec<u8>, Vec<Action>), String> {
        if !self.is_running() {
            self.life = Life::Stopped { why: format!("{reason:?}").to_lowercase() };
            return Ok((Vec::new(), Vec::new()));
        }
        let result = self.instance.shutdown(reason, deadline);
        self.life = Life::Stopped { why: format!("{reason:?} by the operator").to_lowercase() };
        match result {
            Ok(stopped) => Ok((stopped.state, stopped.dispatch.actions)),
            Err(e) => {
                let failure = format!("shutdown hook of `{}` failed: {e}", self.name);
                self.count_fault(failure.clone());
                Err(failure)
            }
        }
    }

    /// The file it runs from.
    pub fn file(&self) -> &Path {
        &self.spec.file
    }
}

/// The spec of a radio link's driver: its file and settings, the default
/// restart policy, serial access only.
pub fn driver_spec(file: PathBuf, config_cbor: Vec<u8>) -> PluginConfig {
    PluginConfig {
        binding: crate::plugin::binding_for(&file).unwrap_or(crate::plugin::Binding::Wasm),
        file,
        name: None,
        grants: crate::plugin::Grants::permissions([weft_plugin_api::Permission::Serial]),
        config_cbor,
        restart: RestartPolicy::default(),
        max_flood_hops: None,
        storage_quota_bytes: None,
        native_calls: crate::plugin::NativeCalls::default(),
    }
}
