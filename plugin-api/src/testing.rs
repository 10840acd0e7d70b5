//! Unit-testing plugins without a host.
//!
//! Owns: [`TestHost`], a deterministic in-process [`Host`] (settable clock,
//! seeded randomness, in-memory key/value store, pluggable crypto answers), and
//! [`Harness`], which drives a plugin through the same encoded calls and the
//! same guest runner a real host uses, applying `Store` actions to the
//! `TestHost`'s store the way the host commits them. `driver` has the
//! helpers for testing drivers.

use crate::call::{Call, Failure, InitArgs, Outcome, ShutdownArgs, ShutdownReason};
use crate::codec;
use crate::guest::{AsDriver, AsService, GuestPlugin, Runner};
use crate::host::Host;
use crate::host_call::{HostCall, HostError, HostErrorCode, HostReply};
use crate::rng::SplitMix64;
use crate::{Action, Address, Event};
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

pub mod driver;

/// Answers host calls the [`TestHost`] does not answer itself (crypto).
pub type CallHandler = Box<dyn FnMut(&HostCall) -> HostReply + Send>;

/// A deterministic host for unit tests.
pub struct TestHost {
    /// What `now_ms` returns.
    pub now_ms: u64,
    /// What `own_address` returns.
    pub address: Address,
    /// The plugin's key/value namespace.
    pub kv: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Answers the remaining host calls; without one they fail as unsupported.
    pub handler: Option<CallHandler>,
    rng: SplitMix64,
}

impl Default for TestHost {
    fn default() -> Self {
        Self {
            now_ms: 1_700_000_000_000,
            address: Address([1; 16]),
            kv: BTreeMap::new(),
            handler: None,
            rng: SplitMix64::new(0x9e37_79b9_7f4a_7c15),
        }
    }
}

impl Host for TestHost {
    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn fill_random(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = (self.rng.next_u64() >> 56) as u8;
        }
    }

    fn call(&mut self, call: &HostCall) -> HostReply {
        match call {
            HostCall::OwnAddress(_) => HostReply::Address(self.address),
            HostCall::KvGet(req) => HostReply::Value(self.kv.get(&req.key).cloned().map(ByteBuf::from)),
            other => match &mut self.handler {
                Some(handler) => handler(other),
                None => HostReply::Error(HostError::new(
                    HostErrorCode::Unsupported,
                    format!("TestHost has no handler for {}", other.kind_name()),
                )),
            },
        }
    }
}

/// Drives one plugin instance through encoded calls, like a host would.
pub struct Harness<P> {
    runner: Runner<P>,
    /// The host the plugin sees.
    pub host: TestHost,
}

/// A harness for a [`crate::Service`].
pub type ServiceHarness<T> = Harness<AsService<T>>;
/// A harness for a [`crate::Driver`].
pub type DriverHarness<T> = Harness<AsDriver<T>>;

impl<P: GuestPlugin> Harness<P> {
    /// Initialises a new instance with a config (any serde value, encoded as
    /// CBOR like the host encodes the TOML table) and optional handed-over state.
    pub fn init<C: serde::Serialize>(
        host: TestHost,
        config: &C,
        state: Option<Vec<u8>>,
    ) -> Result<(Self, Vec<Action>), Failure> {
        let mut harness = Self { runner: Runner::new(), host };
        let config =
            codec::encode(config).map_err(|e| Failure { kind: crate::FailureKind::BadCall, message: e.to_string() })?;
        let actions = harness.call(Call::Init(InitArgs { config, state }))?.actions;
        Ok((harness, actions))
    }

    /// Delivers one event and returns the actions (after committing `Store`s).
    pub fn event(&mut self, event: Event) -> Result<Vec<Action>, Failure> {
        Ok(self.call(Call::Event(event))?.actions)
    }

    /// Shuts the instance down, returning its state blob and final actions.
    pub fn shutdown(&mut self, reason: ShutdownReason) -> Result<(Vec<u8>, Vec<Action>), Failure> {
        let outcome = self.call(Call::Shutdown(ShutdownArgs { reason, deadline_ms: 1_000 }))?;
        Ok((outcome.state.unwrap_or_default(), outcome.actions))
    }

    fn call(&mut self, call: Call) -> Result<Outcome, Failure> {
        let input =
            codec::encode(&call).map_err(|e| Failure { kind: crate::FailureKind::BadCall, message: e.to_string() })?;
        let mut out = Vec::new();
        self.runner.handle(&input, &mut self.host, &mut out);
        let outcome: Outcome =
            codec::decode(&out).map_err(|e| Failure { kind: crate::FailureKind::BadCall, message: e.to_string() })?;
        if let Some(failure) = outcome.failure {
            return Err(failure);
        }
        for action in &outcome.actions {
            if let Action::Store(store) = action {
                match &store.value {
                    Some(v) => self.host.kv.insert(store.key.clone(), v.clone()),
                    None => self.host.kv.remove(&store.key),
                };
            }
        }
        Ok(outcome)
    }
}
