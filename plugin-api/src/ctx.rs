//! [`Ctx`]: what a plugin holds while it handles one call.
//!
//! Owns: collecting the actions of one call and the typed wrappers around the
//! synchronous host calls. A `Ctx` lives for one call only, which is what makes
//! "actions run after the call returns" hold by construction.

use crate::action::*;
use crate::address::Address;
use crate::event::Message;
use crate::host::Host;
use crate::host_call::*;

/// The plugin's handle on the host during one call.
pub struct Ctx<'h> {
    host: &'h mut dyn Host,
    actions: Vec<Action>,
}

fn unexpected(reply: HostReply) -> HostError {
    match reply {
        HostReply::Error(e) => e,
        other => {
            HostError::new(HostErrorCode::BadRequest, format!("host answered with an unexpected {}", other.kind_name()))
        }
    }
}

impl<'h> Ctx<'h> {
    /// Creates a context over a host. Used by the guest runtime and test harnesses.
    pub fn new(host: &'h mut dyn Host) -> Self {
        Self { host, actions: Vec::new() }
    }

    /// Takes the actions collected so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        core::mem::take(&mut self.actions)
    }

    /// Adds any action (the typed helpers below cover the common ones).
    pub fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    // ----- actions: services -----

    /// Sends `payload` to `port` on node `to` (permission `send`).
    pub fn send(&mut self, to: Address, port: u16, payload: impl Into<Vec<u8>>) {
        self.push(Action::Send(Send { to, port, payload: payload.into(), sealed: false, tag: 0, anonymous: false }));
    }

    /// Like [`Ctx::send`], expecting an answer: the reply arrives as a
    /// [`Message`] with `reply_to == Some(tag)` (permission `send`).
    pub fn request(&mut self, to: Address, port: u16, payload: impl Into<Vec<u8>>, tag: u64) {
        self.push(Action::Send(Send { to, port, payload: payload.into(), sealed: false, tag, anonymous: false }));
    }

    /// Like [`Ctx::send`], sealed so only `to` can read it (permissions `send`, `seal`).
    pub fn send_sealed(&mut self, to: Address, port: u16, payload: impl Into<Vec<u8>>) {
        self.push(Action::Send(Send { to, port, payload: payload.into(), sealed: true, tag: 0, anonymous: false }));
    }

    /// Floods `payload` to `port` on every node within `hops` (permission `flood`).
    pub fn flood(&mut self, port: u16, payload: impl Into<Vec<u8>>, hops: u8) {
        self.push(Action::Flood(Flood { port, payload: payload.into(), hops, anonymous: false }));
    }

    /// Floods `payload` without the sender's address (permission `flood`):
    /// receivers answer back along the flood's path without learning who asked.
    pub fn flood_anonymous(&mut self, port: u16, payload: impl Into<Vec<u8>>, hops: u8) {
        self.push(Action::Flood(Flood { port, payload: payload.into(), hops, anonymous: true }));
    }

    /// Answers `message` (always allowed).
    pub fn reply(&mut self, message: &Message, payload: impl Into<Vec<u8>>) {
        self.push(Action::Reply(Reply { message: message.id, payload: payload.into() }));
    }

    /// Arms timer `id` to fire after `after_ms` milliseconds.
    pub fn set_timer(&mut self, id: u64, after_ms: u64) {
        self.push(Action::SetTimer(SetTimer { id, after_ms }));
    }

    /// Disarms timer `id`.
    pub fn cancel_timer(&mut self, id: u64) {
        self.push(Action::CancelTimer(CancelTimer { id }));
    }

    /// Stores `value` under `key` (permission `storage`). Commits after the call.
    pub fn store(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.push(Action::Store(Store { key: key.into(), value: Some(value.into()) }));
    }

    /// Deletes `key` (permission `storage`). Commits after the call.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.push(Action::Store(Store { key: key.into(), value: None }));
    }

    /// Logs a line under the plugin's name.
    pub fn log(&mut self, level: LogLevel, message: impl Into<String>) {
        self.push(Action::Log(Log { level, message: message.into() }));
    }

    /// Adds `by` to counter `name`.
    pub fn count(&mut self, name: impl Into<String>, by: f64) {
        self.push(Action::Metric(Metric { name: name.into(), kind: MetricKind::Counter, value: by }));
    }

    /// Sets gauge `name`.
    pub fn gauge(&mut self, name: impl Into<String>, value: f64) {
        self.push(Action::Metric(Metric { name: name.into(), kind: MetricKind::Gauge, value }));
    }

    /// Answers operator command `id`.
    pub fn command_reply(&mut self, id: u64, ok: bool, body: impl Into<String>) {
        self.push(Action::CommandReply(CommandReply { id, ok, body: body.into() }));
    }

    // ----- actions: drivers -----

    /// Writes bytes to the serial port (permission `serial`).
    pub fn serial_write(&mut self, bytes: impl Into<Vec<u8>>) {
        self.push(Action::SerialWrite(SerialWrite { bytes: bytes.into() }));
    }

    /// Delivers a frame received over the air.
    pub fn frame_received(&mut self, frame: Vec<u8>, rssi_dbm: Option<i16>, snr_db: Option<f32>) {
        self.push(Action::FrameReceived(FrameReceived { frame, rssi_dbm, snr_db }));
    }

    /// Reports that transmit request `id` finished.
    pub fn transmit_done(&mut self, id: u64, ok: bool) {
        self.push(Action::TransmitDone(TransmitDone { id, ok }));
    }

    /// Reports the link up or down.
    pub fn link_state(&mut self, up: bool, detail: impl Into<String>) {
        self.push(Action::LinkState(LinkState { up, detail: detail.into() }));
    }

    /// Reports the radio's parameters.
    pub fn radio_info(&mut self, info: RadioInfo) {
        self.push(Action::RadioInfo(info));
    }

    // ----- synchronous host calls -----

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&mut self) -> u64 {
        self.host.now_ms()
    }

    /// Fills `buf` with secure random bytes.
    pub fn fill_random(&mut self, buf: &mut [u8]) {
        self.host.fill_random(buf)
    }

    /// A secure random `u64`.
    pub fn random_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.host.fill_random(&mut b);
        u64::from_le_bytes(b)
    }

    /// This node's address.
    pub fn own_address(&mut self) -> Result<Address, HostError> {
        match self.host.call(&HostCall::OwnAddress(NoArgs {})) {
            HostReply::Address(a) => Ok(a),
            other => Err(unexpected(other)),
        }
    }

    /// This node's Ed25519 public key.
    pub fn public_key(&mut self) -> Result<Vec<u8>, HostError> {
        match self.host.call(&HostCall::PublicKey(NoArgs {})) {
            HostReply::PublicKey(k) => Ok(k.into_vec()),
            other => Err(unexpected(other)),
        }
    }

    /// Signs `message` with the node key (permission `sign`).
    pub fn sign(&mut self, message: &[u8]) -> Result<Vec<u8>, HostError> {
        match self.host.call(&HostCall::Sign(SignRequest { message: message.to_vec() })) {
            HostReply::Signature(s) => Ok(s.into_vec()),
            other => Err(unexpected(other)),
        }
    }

    /// Verifies an Ed25519 signature.
    pub fn verify(&mut self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<bool, HostError> {
        let call = HostCall::Verify(VerifyRequest {
            public_key: public_key.to_vec(),
            message: message.to_vec(),
            signature: signature.to_vec(),
        });
        match self.host.call(&call) {
            HostReply::Verified(ok) => Ok(ok),
            other => Err(unexpected(other)),
        }
    }

    /// Seals `plaintext` so only node `to` can open it (permission `seal`).
    pub fn seal(&mut self, to: Address, plaintext: &[u8]) -> Result<Vec<u8>, HostError> {
        match self.host.call(&HostCall::Seal(SealRequest { to, plaintext: plaintext.to_vec() })) {
            HostReply::Sealed(s) => Ok(s.into_vec()),
            other => Err(unexpected(other)),
        }
    }

    /// Opens bytes sealed to this node (permission `seal`).
    pub fn open(&mut self, sealed: &[u8]) -> Result<Opened, HostError> {
        match self.host.call(&HostCall::Open(OpenRequest { sealed: sealed.to_vec() })) {
            HostReply::Opened(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    /// Reads `key` from the plugin's namespace (permission `storage`). Values
    /// written by [`Ctx::store`] in the current call are not visible yet.
    pub fn kv_get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        match self.host.call(&HostCall::KvGet(KvGetRequest { key: key.to_vec() })) {
            HostReply::Value(v) => Ok(v.map(|b| b.into_vec())),
            other => Err(unexpected(other)),
        }
    }
}
