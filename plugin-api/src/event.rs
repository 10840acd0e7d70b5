//! Events: everything the host tells a plugin.
//!
//! Owns: [`Event`] and its payload types. Service events come first (tags
//! 1-31), driver events after (tags 32-63). Adding an event in a later ABI
//! minor means a new variant with a new tag; plugins built earlier decode it as
//! [`Event::Unknown`] and ignore it.

use crate::address::Address;
use crate::tagged::tagged_enum;
use serde::{Deserialize, Serialize};

/// A message that arrived for one of the plugin's service ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Host-assigned id; pass it to [`crate::Action::Reply`] to answer.
    pub id: u64,
    /// The sender, **verified** by the host: `Some` only when the message
    /// came in an end-to-end session with that node (or from this node
    /// itself), so a reply goes to whoever really sent it. `None` means
    /// anonymous: the sender hid itself, or claimed an address the host
    /// could not verify (a plaintext packet from a host older than ABI 1.4).
    /// Exception: a flood, or an answer to one (`Flood`, `Reply` to a flood),
    /// is never sealed and names its source unless it hid: a host that knows
    /// that node's key delivers it only if that node signed it; from a node
    /// the host does not know yet it is a claim. Check signed content with
    /// `known_key` where it matters (FAPP's slot announces do).
    /// Before 1.4 an addressed message also named its claimed source.
    pub from: Option<Address>,
    /// The service port the message was addressed to.
    pub port: u16,
    /// The application payload, opaque to the host.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// When this message answers one the plugin sent: the `tag` it gave that
    /// [`crate::Action::Send`]. `None` for a fresh message (which is what a
    /// service should answer; answering replies makes two services ping-pong).
    #[serde(default)]
    pub reply_to: Option<u64>,
    /// Whether it travelled sealed to this node, unreadable and unalterable
    /// by relays (since 1.1). Since 1.4 every addressed message a node sends
    /// is sealed: in a session when `from` is `Some`, in an anonymous
    /// one-shot box otherwise.
    #[serde(default)]
    pub sealed: bool,
}

/// A timer the plugin set with [`crate::Action::SetTimer`] has fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFired {
    /// The id the plugin chose when setting the timer.
    pub id: u64,
}

/// A neighbour link came up or went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerChange {
    /// The neighbour's address.
    pub peer: Address,
}

/// An operator invoked one of the plugin's local commands (`weft ctl call`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Host-assigned id; answer with [`crate::Action::CommandReply`].
    pub id: u64,
    /// The command name, one of those in the manifest.
    pub name: String,
    /// Arguments as JSON text (empty when none were given).
    pub args: String,
}

impl Command {
    /// Parses the JSON arguments into `T` (no arguments parse as JSON `null`,
    /// so `Option<_>` and `()` accept them). The error is meant for the operator.
    pub fn args_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, BadArguments> {
        let text = if self.args.trim().is_empty() { "null" } else { self.args.as_str() };
        serde_json::from_str(text).map_err(|e| BadArguments { command: self.name.clone(), detail: e.to_string() })
    }
}

/// A command's arguments did not parse as the type it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad arguments for `{command}`: {detail}")]
pub struct BadArguments {
    /// The command.
    pub command: String,
    /// What the JSON parser said.
    pub detail: String,
}

/// The host refused an action the plugin returned (unknown to this host,
/// not permitted, or malformed). The other actions of the same batch ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRefused {
    /// Wire tag of the refused action.
    pub action: u32,
    /// Position of the refused action in the batch.
    pub index: u32,
    /// Human-readable reason.
    pub reason: String,
    /// For a refused [`crate::Action::Send`], the `tag` the plugin gave it
    /// (0 otherwise), so a plugin can tell which request failed.
    #[serde(default)]
    pub tag: u64,
}

impl ActionRefused {
    /// A refusal of `action` at position `index` in its batch.
    pub fn of(action: &crate::Action, index: u32, reason: impl Into<String>) -> Self {
        let tag = match action {
            crate::Action::Send(send) => send.tag,
            _ => 0,
        };
        Self { action: action.tag(), index, reason: reason.into(), tag }
    }
}

/// Bytes read from the serial port the driver's link owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialRx {
    /// Raw bytes, in order, exactly as read.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// The host asks the driver to put a frame on the air.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransmitRequest {
    /// Host-assigned id; report completion with [`crate::Action::TransmitDone`].
    pub id: u64,
    /// The frame, at most the MTU the driver reported.
    #[serde(with = "serde_bytes")]
    pub frame: Vec<u8>,
}

/// The serial port opened or closed underneath the driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialStatus {
    /// Whether the port is open now.
    pub open: bool,
    /// What happened, for logs.
    pub detail: String,
}

tagged_enum! {
    /// Something the host tells a plugin. Delivered one at a time per instance.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Event {
        /// A message for one of the plugin's ports.
        Message(Message) = 1,
        /// A timer set by the plugin fired.
        Timer(TimerFired) = 2,
        /// A neighbour link came up.
        PeerUp(PeerChange) = 3,
        /// A neighbour link went down.
        PeerDown(PeerChange) = 4,
        /// An operator invoked a local command.
        Command(Command) = 5,
        /// The host refused one of the plugin's actions.
        ActionRefused(ActionRefused) = 6,
        /// Driver: bytes from the serial port.
        SerialRx(SerialRx) = 32,
        /// Driver: a frame to transmit.
        Transmit(TransmitRequest) = 33,
        /// Driver: the serial port opened or closed.
        SerialStatus(SerialStatus) = 34,
    }
}
