//! Unit-testing plugins without a host.
//!
//! Owns: [`TestHost`], a deterministic in-process [`Host`] (settable clock,
//! seeded randomness, in-memory key/value store, the host's real crypto once
//! given an identity ([`TestHost::node`]), a handler for anything else), and
//! [`Harness`], which drives a plugin through the same encoded calls and the
//! same guest runner a real host uses, applying `Store` actions to the
//! `TestHost`'s store the way the host commits them. `driver` has the
//! helpers for testing drivers.

use crate::call::{Call, Failure, InitArgs, Outcome, ShutdownArgs, ShutdownReason};
use crate::codec;
use crate::guest::{AsDriver, AsService, GuestPlugin, Runner};
use crate::host_call::{HostCall, HostError, HostErrorCode, HostReply};
use crate::internal::Host;
use crate::rng::SplitMix64;
use crate::{Action, Address, Event};
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

#[cfg(not(target_arch = "wasm32"))]
pub mod crypto;
pub mod driver;

#[cfg(not(target_arch = "wasm32"))]
pub use crypto::{KeyDirectory, TestIdentity};

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
    /// The node's key: sign, verify, seal, open and known-key calls are
    /// answered with real crypto, as the host answers them.
    #[cfg(not(target_arch = "wasm32"))]
    pub identity: Option<TestIdentity>,
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
            #[cfg(not(target_arch = "wasm32"))]
            identity: None,
            handler: None,
            rng: SplitMix64::new(0x9e37_79b9_7f4a_7c15),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl TestHost {
    /// A host for the plugin instance named `plugin` on the node with secret
    /// key `seed`: its address is derived from the key, its key joins
    /// `directory` (so the other nodes of the test can seal to it), and the
    /// crypto host calls are answered with the host's own formats. Each seed
    /// also gets its own random sequence.
    pub fn node(seed: [u8; 32], plugin: &str, directory: &KeyDirectory) -> Self {
        let identity = TestIdentity::new(seed, plugin, directory);
        let rng_seed =
            seed.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
        Self {
            address: identity.address(),
            identity: Some(identity),
            rng: SplitMix64::new(rng_seed),
            ..Self::default()
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
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(identity) = &self.identity {
            let rng = &mut self.rng;
            let ephemeral = || {
                let mut secret = [0u8; 32];
                secret.chunks_mut(8).for_each(|c| c.copy_from_slice(&rng.next_u64().to_le_bytes()));
                secret
            };
            if let Some(reply) = identity.answer(call, ephemeral) {
                return reply;
            }
        }
        match call {
            HostCall::OwnAddress(_) => HostReply::Address(self.address),
            HostCall::KvGet(req) => HostReply::Value(self.kv.get(&req.key).cloned().map(ByteBuf::from)),
            HostCall::KvKeys(req) => {
                let after = req.after.as_ref().map(|a| a.to_vec());
                let limit = req.limit.min(crate::KV_KEYS_PAGE_MAX) as usize;
                let keys = self
                    .kv
                    .keys()
                    .filter(|k| k.starts_with(&req.prefix) && after.as_ref().is_none_or(|a| *k > a))
                    .take(limit)
                    .map(|k| ByteBuf::from(k.clone()))
                    .collect();
                HostReply::Keys(keys)
            }
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
