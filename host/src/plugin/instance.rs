//! [`PluginInstance`]: the one interface the rest of the host uses to talk to
//! a plugin, whichever binding runs it.
//!
//! Owns: encoding calls and decoding outcomes, the instance lifecycle
//! (created -> running -> stopped, or failed after a fault), the action gate
//! and the single round of `ActionRefused` events. Must not execute actions:
//! that is the node runtime's job.

use super::binding::{Binding, BindingInstance};
use super::error::{Fault, PluginError};
use super::gate::ActionGate;
use super::info::PluginInfo;
use std::sync::Arc;
use std::time::Duration;
use weft_plugin_api::internal::{ALLOC_ZERO_RELEASES_SINCE, Call, Outcome, codec};
use weft_plugin_api::{Action, ActionRefused, Event, FailureKind, InitArgs, Manifest, ShutdownArgs, ShutdownReason};

/// Limits applied to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline for each event call.
    pub call_deadline: Duration,
    /// Deadline for `init` (which may rebuild state from a large blob).
    pub init_deadline: Duration,
    /// Cap on a wasm instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Largest hop limit a flood may ask for (`None`: any).
    pub max_flood_hops: Option<u8>,
    /// Where a native instance's calls run (wasm ignores it).
    pub native_calls: NativeCalls,
}

/// Where a native instance's calls run. Native code cannot be interrupted:
/// on a thread of its own a call past its deadline is abandoned and the node
/// carries on; inline, on the node's own thread, a call costs ~1 µs less
/// (docs/BENCHMARKS.md) but one that never returns hangs the node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeCalls {
    /// On the instance's own thread, abandoned at the deadline (the default).
    #[default]
    Thread,
    /// On the caller's thread: fastest, and a hung call hangs the node.
    Inline,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_deadline: Duration::from_millis(100),
            init_deadline: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            max_flood_hops: None,
            native_calls: NativeCalls::Thread,
        }
    }
}

/// The accepted result of one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dispatch {
    /// Actions the host should execute, in order.
    pub actions: Vec<Action>,
    /// Actions the host refused (the plugin was told with `ActionRefused`).
    pub refused: Vec<ActionRefused>,
}

/// What a shut-down instance left behind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stopped {
    /// The state blob for the next instance (empty for none).
    pub state: Vec<u8>,
    /// Final actions (goodbyes, last writes).
    pub dispatch: Dispatch,
}

/// What a hot swap's new instance should have ready before `init`, taken
/// from the instance it replaces ([`PluginInstance::prefault`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwapSizes {
    /// Linear memory the old instance held at the swap's peak (after its
    /// shutdown hook: the state, and the outcome buffer sized for it).
    pub memory: usize,
    /// Bytes of encoded state it handed over.
    pub state: usize,
}

/// How many times the handed-over state a swap holds at its peak beyond a
/// fresh instance: the `init` input, the decoded state, the hook's encoded
/// copy, and the allocator's slack (measured with `sequence` and a 1 MiB
/// state: 4.2 times).
pub const STATE_COPIES: usize = 4;

/// Bytes of an `init` call besides the state (the envelope and a config).
const CALL_OVERHEAD: usize = 4 << 10;

/// Memory [`PluginInstance::prefault`] leaves free below the cap. The guest
/// allocator rounds its growth up (64 KiB wasm pages and its bookkeeping), so
/// the instance ends a little above cap − headroom, never near the cap.
pub const PREFAULT_HEADROOM: usize = 1 << 20;

/// A wasm page: linear memory grows by whole pages.
const WASM_PAGE: usize = 64 << 10;

/// Room left in the pre-faulted pages for the guest allocator's own
/// headers, so that a request for them does not spill into one more page.
const GUEST_BOOKKEEPING: usize = 4 << 10;

/// Below this, pre-faulting is not worth a call.
const PREFAULT_MIN: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq)]
enum Lifecycle {
    Created,
    Running,
    Stopped,
    Failed(Fault),
}

/// A live plugin instance. Calls are serial: `&mut self` everywhere.
pub struct PluginInstance {
    info: Arc<PluginInfo>,
    /// The instance's name on this node (the manifest's unless the operator
    /// named it).
    name: Arc<str>,
    binding: Box<dyn BindingInstance>,
    gate: ActionGate,
    limits: Limits,
    lifecycle: Lifecycle,
    input: Vec<u8>,
}

impl PluginInstance {
    pub(crate) fn new(info: Arc<PluginInfo>, binding: Box<dyn BindingInstance>, limits: Limits, name: &str) -> Self {
        let gate = ActionGate::new(&info.manifest, limits.max_flood_hops);
        Self { info, name: name.into(), binding, gate, limits, lifecycle: Lifecycle::Created, input: Vec::new() }
    }

    /// The instance's name on this node.
    pub fn instance_name(&self) -> &str {
        &self.name
    }

    /// What was loaded: file, binding, manifest.
    pub fn info(&self) -> &Arc<PluginInfo> {
        &self.info
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.info.manifest
    }

    /// Wasm or native.
    pub fn binding(&self) -> Binding {
        self.info.binding
    }

    /// The fault that broke this instance, if any.
    pub fn fault(&self) -> Option<&Fault> {
        match &self.lifecycle {
            Lifecycle::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the instance has been initialised and not stopped or failed.
    pub fn is_running(&self) -> bool {
        self.lifecycle == Lifecycle::Running
    }

    /// Memory held by the instance, when the binding can tell.
    pub fn memory_bytes(&self) -> Option<usize> {
        self.binding.memory_bytes()
    }

    /// Before `init`: makes room for a hot swap's `init` in advance, so that
    /// it allocates from pages already there instead of faulting them in
    /// during the pause (measured: a swap into a pool slot never used before
    /// faulted ~1,000 pages, 2–3 ms). Two parts, from `sizes` (what the
    /// instance it replaces held):
    /// - the host's call buffer, which `init` encodes the state into, gets
    ///   room for `sizes.state` (both bindings);
    /// - a wasm instance's memory grows towards `sizes.memory`, but to no
    ///   more than [`STATE_COPIES`] times the state above what it holds now
    ///   (so a past spike of the old instance is not carried forward), and
    ///   stays [`PREFAULT_HEADROOM`] below the memory cap. Only for plugins
    ///   of ABI [`ALLOC_ZERO_RELEASES_SINCE`] or later, whose guest hands the
    ///   pages back to its allocator; native instances use the node's heap.
    ///
    /// Does nothing after `init`.
    pub fn prefault(&mut self, sizes: SwapSizes) -> Result<(), PluginError> {
        if self.lifecycle != Lifecycle::Created || sizes.state == 0 {
            return Ok(());
        }
        // Written, not just reserved, so that its pages are faulted in now.
        self.input.resize(sizes.state.saturating_add(CALL_OVERHEAD), 0);
        self.input.clear();
        let Some(current) = self.binding.memory_bytes() else { return Ok(()) };
        if !self.info.manifest.abi.includes(ALLOC_ZERO_RELEASES_SINCE) {
            return Ok(());
        }
        let room = self.limits.memory_bytes.saturating_sub(current).saturating_sub(PREFAULT_HEADROOM);
        let wanted = sizes.memory.saturating_sub(current).min(sizes.state.saturating_mul(STATE_COPIES));
        // Land on the target, never above it: the node sizes the next reload
        // from this instance's memory, so an overshoot would compound. The
        // guest allocator grows memory by whole wasm pages for a request plus
        // its few bytes of bookkeeping, so ask for the whole pages between
        // here and the target less [`GUEST_BOOKKEEPING`].
        let pages = wanted.min(room) / WASM_PAGE * WASM_PAGE;
        let bytes = pages.saturating_sub(GUEST_BOOKKEEPING);
        if bytes < PREFAULT_MIN {
            return Ok(());
        }
        self.binding.prefault(bytes, self.limits.init_deadline).map_err(|fault| self.fail(fault))
    }

    /// Starts the instance with its config and optional handed-over state.
    pub fn init(&mut self, args: &InitArgs) -> Result<Dispatch, PluginError> {
        self.input.clear();
        // Encoding our own types into a Vec cannot fail.
        let _ = Call::encode_init(args, &mut self.input);
        // The buffer keeps its capacity even after a state of megabytes:
        // freeing it lets the allocator return the pages to the kernel, and
        // the next swap's buffers then page-fault them back in (measured:
        // that doubled the swap pause).
        let outcome = self.round_trip(self.limits.init_deadline)?;
        self.lifecycle = Lifecycle::Running;
        Ok(self.accept(outcome.actions, false))
    }

    /// Delivers one event.
    pub fn handle(&mut self, event: &Event) -> Result<Dispatch, PluginError> {
        self.encode_event(event);
        let outcome = self.round_trip(self.limits.call_deadline)?;
        let is_refusal = matches!(event, Event::ActionRefused(_));
        Ok(self.accept(outcome.actions, is_refusal))
    }

    /// Asks the instance to stop and hand over its state. It has `deadline`
    /// to finish (wasm: interrupted there; native: abandoned there).
    pub fn shutdown(&mut self, reason: ShutdownReason, deadline: Duration) -> Result<Stopped, PluginError> {
        self.input.clear();
        let call = Call::Shutdown(ShutdownArgs { reason, deadline_ms: deadline.as_millis() as u64 });
        let _ = codec::encode_into(&call, &mut self.input);
        let outcome = self.round_trip(deadline)?;
        self.lifecycle = Lifecycle::Stopped;
        let dispatch = self.accept(outcome.actions, true);
        Ok(Stopped { state: outcome.state.unwrap_or_default(), dispatch })
    }

    fn encode_event(&mut self, event: &Event) {
        self.input.clear();
        let _ = Call::encode_event(event, &mut self.input);
    }

    fn name(&self) -> String {
        self.name.to_string()
    }

    fn fail(&mut self, fault: Fault) -> PluginError {
        self.lifecycle = Lifecycle::Failed(fault.clone());
        PluginError::Fault { plugin: self.name(), fault }
    }

    /// Sends `self.input`, returns the decoded outcome or the error.
    fn round_trip(&mut self, deadline: Duration) -> Result<Outcome, PluginError> {
        match &self.lifecycle {
            Lifecycle::Failed(fault) => return Err(PluginError::Failed { plugin: self.name(), fault: fault.clone() }),
            Lifecycle::Stopped => {
                return Err(PluginError::NotRunning { plugin: self.name(), message: "instance was shut down".into() });
            }
            Lifecycle::Created | Lifecycle::Running => {}
        }
        let decoded = match self.binding.call(&self.input, deadline) {
            Ok(bytes) => Outcome::decode(bytes).map_err(|e| Fault::BadOutput(e.to_string())),
            Err(fault) => Err(fault),
        };
        let outcome = match decoded {
            Ok(outcome) => outcome,
            Err(fault) => return Err(self.fail(fault)),
        };
        match outcome.failure {
            None => Ok(outcome),
            Some(failure) => Err(match failure.kind {
                FailureKind::InitRefused => PluginError::InitRefused { plugin: self.name(), message: failure.message },
                FailureKind::Panicked => self.fail(Fault::Panic(failure.message)),
                FailureKind::NotRunning | FailureKind::BadCall => {
                    PluginError::NotRunning { plugin: self.name(), message: failure.message }
                }
                FailureKind::Other => self.fail(Fault::BadOutput(format!("unknown failure: {}", failure.message))),
            }),
        }
    }

    /// Gates `actions`; refusals are reported to the plugin once (never for
    /// actions produced while handling a refusal, so a plugin cannot loop).
    fn accept(&mut self, actions: Vec<Action>, is_refusal_round: bool) -> Dispatch {
        let mut dispatch = Dispatch::default();
        self.gate_into(actions, &mut dispatch);
        if is_refusal_round || dispatch.refused.is_empty() || !self.is_running() {
            return dispatch;
        }
        let refusals = dispatch.refused.clone();
        for refusal in refusals {
            self.encode_event(&Event::ActionRefused(refusal));
            // A failure here is recorded on the instance; the batch so far stands.
            if let Ok(outcome) = self.round_trip(self.limits.call_deadline) {
                self.gate_into(outcome.actions, &mut dispatch);
            }
        }
        dispatch
    }

    fn gate_into(&self, actions: Vec<Action>, dispatch: &mut Dispatch) {
        // Common case: everything passes and nothing was accepted before, so
        // the batch becomes the dispatch as it is (no second vector).
        if dispatch.actions.is_empty() && actions.iter().all(|action| self.gate.check(action).is_ok()) {
            dispatch.actions = actions;
            return;
        }
        for (index, action) in actions.into_iter().enumerate() {
            match self.gate.check(&action) {
                Ok(()) => dispatch.actions.push(action),
                Err(refusal) => dispatch.refused.push(ActionRefused::of(&action, index as u32, refusal.to_string())),
            }
        }
    }
}
