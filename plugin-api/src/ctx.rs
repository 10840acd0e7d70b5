//! [`Ctx`]: what a plugin holds while it handles one call.
//!
//! Owns: collecting the actions of one call and the typed wrappers around the
//! synchronous host calls. A `Ctx` lives for one call only, which is what makes
//! "actions run after the call returns" hold by construction.
//!
//! A context has a role: services get a [`ServiceCtx`], drivers a
//! [`DriverCtx`]. What both may do (timers, logs, metrics, commands, host
//! calls) is on every `Ctx`; what only one kind may do is on that kind's
//! context alone, so a service that asks for a driver action does not compile.
//! Each kind's own actions compile with the same imports:
//!
//! ```
//! use weft_plugin_api::driver_prelude::DriverCtx;
//! use weft_plugin_api::prelude::*;
//! fn service_floods(ctx: &mut ServiceCtx<'_>) {
//!     ctx.flood(7, b"hello".to_vec(), 3);
//! }
//! fn driver_writes_serial(ctx: &mut DriverCtx<'_>) {
//!     ctx.serial_write(b"AT\r\n".to_vec());
//! }
//! ```
//!
//! and the other kind's do not:
//!
//! ```compile_fail
//! use weft_plugin_api::prelude::*;
//! fn service_writes_serial(ctx: &mut ServiceCtx<'_>) {
//!     ctx.serial_write(b"AT\r\n".to_vec()); // no such method on a service's context
//! }
//! ```
//!
//! ```compile_fail
//! use weft_plugin_api::driver_prelude::*;
//! fn driver_floods(ctx: &mut DriverCtx<'_>) {
//!     ctx.flood(7, b"hello".to_vec(), 3); // no such method on a driver's context
//! }
//! ```

use crate::actions::*;
use crate::address::Address;
use crate::event::Message;
use crate::host_call::*;
use crate::internal::Host;
use core::marker::PhantomData;

/// Which kind of plugin a [`Ctx`] serves: [`ServiceRole`] or [`DriverRole`].
pub trait Role: sealed::Sealed + 'static {}

/// The role of a service's context (see [`ServiceCtx`]).
#[derive(Debug)]
pub enum ServiceRole {}
/// The role of a driver's context (see [`DriverCtx`]).
#[derive(Debug)]
pub enum DriverRole {}

impl Role for ServiceRole {}
impl Role for DriverRole {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ServiceRole {}
    impl Sealed for super::DriverRole {}
}

/// The plugin's handle on the host during one call. `R` says which kind of
/// plugin holds it; authors name it [`ServiceCtx`] or [`DriverCtx`].
pub struct Ctx<'h, R: Role = ServiceRole> {
    host: &'h mut dyn Host,
    actions: Vec<Action>,
    role: PhantomData<R>,
}

/// A service's context: sends, floods, replies, storage, and everything common.
pub type ServiceCtx<'h> = Ctx<'h, ServiceRole>;
/// A driver's context: serial writes, received frames, transmit results, link
/// state, and everything common.
pub type DriverCtx<'h> = Ctx<'h, DriverRole>;

fn unexpected(reply: HostReply) -> HostError {
    match reply {
        HostReply::Error(e) => e,
        other => {
            HostError::new(HostErrorCode::BadRequest, format!("host answered with an unexpected {}", other.kind_name()))
        }
    }
}

impl<'h, R: Role> Ctx<'h, R> {
    /// Creates a context over a host. Used by the guest runtime and test harnesses.
    pub fn new(host: &'h mut dyn Host) -> Self {
        Self { host, actions: Vec::new(), role: PhantomData }
    }

    /// Takes the actions collected so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        core::mem::take(&mut self.actions)
    }

    /// Adds an action as it is, for actions this SDK has no helper for
    /// (e.g. one added by a later ABI minor). The host still checks it: an
    /// action the plugin's kind or permissions do not allow is refused with
    /// [`crate::Event::ActionRefused`].
    pub fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    // ----- actions: every kind -----

    /// Arms timer `id` to fire after `after_ms` milliseconds.
    pub fn set_timer(&mut self, id: u64, after_ms: u64) {
        self.push(Action::SetTimer(SetTimer { id, after_ms }));
    }

    /// Disarms timer `id`.
    pub fn cancel_timer(&mut self, id: u64) {
        self.push(Action::CancelTimer(CancelTimer { id }));
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

    /// Stores `value` under `key` (permission `storage`). Commits after the call.
    pub fn store(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.push(Action::Store(Store { key: key.into(), value: Some(value.into()) }));
    }

    /// Deletes `key` (permission `storage`). Commits after the call.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.push(Action::Store(Store { key: key.into(), value: None }));
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

    /// The Ed25519 public key of node `address`, when this node knows it (from
    /// the node's signed announce; this node's own key too). `Ok(None)` when
    /// it does not. Pair it with [`Ctx::verify`] to check a signature by a
    /// message's sender. Since ABI 1.3; an older host answers `Unsupported`.
    pub fn known_key(&mut self, address: Address) -> Result<Option<Vec<u8>>, HostError> {
        match self.host.call(&HostCall::KnownKey(KnownKeyRequest { address })) {
            HostReply::PublicKey(k) => Ok(Some(k.into_vec())),
            HostReply::Error(e) if e.code == HostErrorCode::NotFound => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// Keys of the plugin's namespace that start with `prefix`, in byte order,
    /// at most `limit` (capped at [`KV_KEYS_PAGE_MAX`]) and after `after` when
    /// given: pass the last key of one page to get the next (permission
    /// `storage`, since ABI 1.3). Keys written in the current call are not
    /// listed yet.
    pub fn kv_keys(&mut self, prefix: &[u8], after: Option<&[u8]>, limit: u32) -> Result<Vec<Vec<u8>>, HostError> {
        let call = HostCall::KvKeys(KvKeysRequest {
            prefix: prefix.to_vec(),
            after: after.map(|a| serde_bytes::ByteBuf::from(a.to_vec())),
            limit,
        });
        match self.host.call(&call) {
            HostReply::Keys(keys) => Ok(keys.into_iter().map(|k| k.into_vec()).collect()),
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

impl<'h> Ctx<'h, ServiceRole> {
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
}

impl<'h> Ctx<'h, DriverRole> {
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
}
