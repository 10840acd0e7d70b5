//! Actions: everything a plugin asks the host to do.
//!
//! Owns: [`Action`] and its payload types. Service actions use tags 1-31,
//! driver actions 32-63. Actions are returned as a batch from each call and
//! executed by the host in order after the call returns; a host that does not
//! know an action (or does not permit it) refuses it with an
//! [`crate::Event::ActionRefused`] and runs the rest.

use crate::address::Address;
use crate::tagged::tagged_enum;
use serde::{Deserialize, Serialize};

/// Send a payload to one address's service port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Send {
    /// Destination node.
    pub to: Address,
    /// Destination service port.
    pub port: u16,
    /// Application payload.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Seal the payload to the destination's key so relays cannot read it.
    /// Since ABI 1.4 a host seals every addressed message whatever this says
    /// (kept so older plugins decode unchanged).
    #[serde(default)]
    pub sealed: bool,
    /// The plugin's own number for this message (0 when it expects no
    /// answer). A [`crate::Action::Reply`] to it arrives as a message whose
    /// `reply_to` is `Some(tag)`.
    #[serde(default)]
    pub tag: u64,
    /// Keep the sender's address out of the packet (since 1.1): the
    /// destination cannot tell who sent it and cannot answer by address.
    #[serde(default)]
    pub anonymous: bool,
}

/// Flood a payload to a service port on every node within `hops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flood {
    /// Service port on the receiving nodes.
    pub port: u16,
    /// Application payload.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// Hop limit.
    pub hops: u8,
    /// Keep the sender's address out of the packet (since 1.1); receivers
    /// can still answer, back along the path the flood took.
    #[serde(default)]
    pub anonymous: bool,
}

/// Answer a message received earlier, without needing to know its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The [`crate::Message::id`] being answered.
    pub message: u64,
    /// Application payload.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// Fire [`crate::Event::Timer`] with `id` after `after_ms` milliseconds.
/// Setting an id that is already pending re-arms it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTimer {
    /// Plugin-chosen id.
    pub id: u64,
    /// Delay in milliseconds.
    pub after_ms: u64,
}

/// Cancel a pending timer (no effect if it is not pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelTimer {
    /// The id given to [`SetTimer`].
    pub id: u64,
}

/// Write (or with `value: None`, delete) a key in the plugin's own key/value
/// namespace. Writes of one batch commit together, after the call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    /// Key bytes.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// New value, or `None` to delete.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// Severity of a [`Log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off but the plugin carries on.
    Warn,
    /// Something failed.
    Error,
}

/// A log line, shown under the plugin's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// Severity.
    pub level: LogLevel,
    /// Text.
    pub message: String,
}

/// How a [`Metric`] value is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Add `value` to a monotonically increasing counter.
    Counter,
    /// Set a gauge to `value`.
    Gauge,
}

/// A plugin-defined metric, exported under the plugin's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric name (`[a-z0-9_]`).
    pub name: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Increment (counter) or value (gauge).
    pub value: f64,
}

/// The answer to a [`crate::Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    /// The command id being answered.
    pub id: u64,
    /// Whether the command succeeded (drives the CLI's exit code).
    pub ok: bool,
    /// Output: JSON text for scripts, or plain text.
    pub body: String,
}

/// Driver: write bytes to the link's serial port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialWrite {
    /// Raw bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// Driver: a frame was received over the air.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameReceived {
    /// Frame bytes as they were on the air.
    #[serde(with = "serde_bytes")]
    pub frame: Vec<u8>,
    /// Received signal strength in dBm, when the modem reports it.
    pub rssi_dbm: Option<i16>,
    /// Signal-to-noise ratio in dB, when the modem reports it.
    pub snr_db: Option<f32>,
}

/// Driver: a [`crate::TransmitRequest`] finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransmitDone {
    /// The request id.
    pub id: u64,
    /// Whether the modem accepted and sent it.
    pub ok: bool,
}

/// Driver: the radio link is up (configured and ready) or down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// Ready to transmit.
    pub up: bool,
    /// Why, for operators.
    pub detail: String,
}

/// Driver: the radio's parameters, used by the host for fragmentation,
/// airtime and duty-cycle accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RadioInfo {
    /// Largest frame the modem sends in one transmission, in bytes.
    pub mtu: u16,
    /// Centre frequency in Hz.
    pub frequency_hz: u32,
    /// Bandwidth in Hz.
    pub bandwidth_hz: u32,
    /// Spreading factor (5-12).
    pub spreading_factor: u8,
    /// Coding rate denominator (5-8 for 4/5 .. 4/8).
    pub coding_rate: u8,
    /// Preamble length in symbols.
    pub preamble_symbols: u16,
    /// Transmit power in dBm.
    pub tx_power_dbm: i8,
}

tagged_enum! {
    /// Something a plugin asks the host to do.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Action {
        /// Send to an address's port.
        Send(Send) = 1,
        /// Flood to a port within a hop limit.
        Flood(Flood) = 2,
        /// Answer a received message.
        Reply(Reply) = 3,
        /// Arm a timer.
        SetTimer(SetTimer) = 4,
        /// Disarm a timer.
        CancelTimer(CancelTimer) = 5,
        /// Write or delete a stored value.
        Store(Store) = 6,
        /// Emit a log line.
        Log(Log) = 7,
        /// Update a metric.
        Metric(Metric) = 8,
        /// Answer an operator command.
        CommandReply(CommandReply) = 9,
        /// Driver: write serial bytes.
        SerialWrite(SerialWrite) = 32,
        /// Driver: deliver a received frame.
        FrameReceived(FrameReceived) = 33,
        /// Driver: a transmission finished.
        TransmitDone(TransmitDone) = 34,
        /// Driver: link up/down.
        LinkState(LinkState) = 35,
        /// Driver: radio parameters.
        RadioInfo(RadioInfo) = 36,
    }
}
