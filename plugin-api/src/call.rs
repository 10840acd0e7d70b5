//! The call envelope: the single request/response pair every plugin call uses.
//!
//! Owns: [`Call`] (host -> plugin), [`Outcome`] (plugin -> host) and the
//! lifecycle payloads ([`InitArgs`], [`ShutdownArgs`], [`ShutdownReason`]).
//! Both bindings carry exactly these bytes; only the transport differs.

use crate::actions::Action;
use crate::event::Event;
use crate::tagged::tagged_enum;
use serde::{Deserialize, Serialize};

/// Arguments of the first call an instance receives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InitArgs {
    /// The plugin's config table from the node config, as CBOR
    /// (an empty map when the operator gave none).
    #[serde(with = "serde_bytes")]
    pub config: Vec<u8>,
    /// State handed over by the previous instance's shutdown (hot swap or
    /// restart with persisted state), if any.
    #[serde(with = "serde_bytes")]
    pub state: Option<Vec<u8>>,
}

/// Why an instance is being shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownReason {
    /// Replaced by a new instance, which will receive the returned state.
    Swap,
    /// The operator stopped or unloaded the plugin.
    Stop,
    /// The whole node is shutting down; the state is persisted.
    Node,
    /// A config reload removed the plugin.
    Removed,
    /// A reason added by a later ABI minor.
    #[serde(other)]
    Other,
}

/// Arguments of the last call an instance receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownArgs {
    /// Why.
    pub reason: ShutdownReason,
    /// Time the plugin has, in milliseconds, before it is interrupted.
    pub deadline_ms: u64,
}

tagged_enum! {
    /// What the host asks of a plugin in one call.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Call {
        /// Create the plugin's state. Always the first call.
        Init(InitArgs) = 1,
        /// Handle one event.
        Event(Event) = 2,
        /// Stop: flush, say goodbye, and return a state blob.
        Shutdown(ShutdownArgs) = 3,
    }
}

/// Why a call did not complete normally, as reported by the guest side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `init` refused the config or state. The instance never started; the
    /// host reports the message and keeps whatever ran before.
    InitRefused,
    /// The plugin panicked. The instance is unusable from now on.
    Panicked,
    /// A call arrived after a panic, or before/without a successful init.
    NotRunning,
    /// The call bytes could not be decoded (host bug or version skew).
    BadCall,
    /// A kind of failure added by a later ABI minor.
    #[serde(other)]
    Other,
}

/// A failed call, as reported by the guest side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// Detail for operators.
    pub message: String,
}

/// What a call produced. Every call returns exactly one `Outcome`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// Actions to execute, in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// The state blob returned by `on_shutdown` (only for [`Call::Shutdown`]).
    #[serde(default, with = "serde_bytes")]
    pub state: Option<Vec<u8>>,
    /// Set when the call failed; `actions` is then empty.
    #[serde(default)]
    pub failure: Option<Failure>,
}

impl InitArgs {
    /// Decodes the plugin's config table into the plugin's own config type.
    /// An absent config (no bytes, or CBOR null) decodes as an empty table, so
    /// `#[serde(default)]` fields work as expected.
    pub fn config_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::codec::CodecError> {
        if self.config.is_empty() || self.config == [0xf6] {
            crate::codec::decode(&[0xa0])
        } else {
            crate::codec::decode(&self.config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::event::TimerFired;

    #[test]
    fn encode_event_matches_the_derived_encoding() {
        let event = Event::Timer(TimerFired { id: 42 });
        let mut fast = Vec::new();
        Call::encode_event(&event, &mut fast).unwrap();
        assert_eq!(fast, codec::encode(&Call::Event(event)).unwrap());
    }

    #[test]
    fn encode_init_matches_the_derived_encoding() {
        let args = InitArgs { config: vec![0xa0], state: Some(vec![7; 300]) };
        let mut fast = Vec::new();
        Call::encode_init(&args, &mut fast).unwrap();
        assert_eq!(fast, codec::encode(&Call::Init(args)).unwrap());
    }

    #[test]
    fn unknown_tags_decode_as_unknown_and_skip_their_body() {
        // [2, [99, {"big": h'00...'}]]: an event from a later minor with a body
        // larger than the decoder's scratch buffer.
        let mut bytes = vec![0x82, 0x02, 0x82, 0x18, 99, 0xa1, 0x63, b'b', b'i', b'g', 0x59, 0x04, 0x00];
        bytes.extend(std::iter::repeat_n(0u8, 1024));
        let call: Call = codec::decode(&bytes).unwrap();
        assert_eq!(call, Call::Event(Event::Unknown(99)));
    }

    #[test]
    fn unknown_shutdown_reason_decodes_as_other() {
        #[derive(serde::Serialize)]
        struct Raw {
            reason: &'static str,
            deadline_ms: u64,
        }
        let bytes = codec::encode(&Raw { reason: "meteor", deadline_ms: 5 }).unwrap();
        let args: ShutdownArgs = codec::decode(&bytes).unwrap();
        assert_eq!(args.reason, ShutdownReason::Other);
    }
}
