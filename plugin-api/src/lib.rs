//! # weft-plugin-api: the ServiceRouter ABI v1 and the guest SDK
//!
//! This crate is the whole contract between the Weft host and its plugins.
//! A plugin author implements [`Service`] (or [`Driver`]), calls
//! [`export_service!`] (or [`export_driver!`]) once, and the same source builds
//! to `wasm32-unknown-unknown` (sandboxed) or to a native `cdylib` (trusted).
//!
//! ```
//! use weft_plugin_api::prelude::*;
//!
//! struct Echo;
//! impl Service for Echo {
//!     const MANIFEST: ManifestDef = ManifestDef {
//!         name: "echo", version: env!("CARGO_PKG_VERSION"),
//!         description: "replies with what it receives",
//!         ports: &[7], permissions: &[], commands: &[],
//!     };
//!     fn init(_: &mut ServiceCtx<'_>, _: InitArgs) -> Result<Self, String> { Ok(Echo) }
//!     fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, msg: Message) {
//!         ctx.reply(&msg, msg.payload.clone());
//!     }
//! }
//! export_service!(Echo);
//! # fn main() {}
//! ```
//!
//! Where to find things:
//! - [`prelude`]: everything a service author needs (`use weft_plugin_api::prelude::*`);
//!   [`driver_prelude`] the same for a modem driver;
//! - [`actions`]: the payload types of [`Action`], for authors who build actions by hand;
//! - [`host_call`]: the synchronous host calls behind [`Ctx`]'s methods;
//! - [`signing`]: the bytes the host signs for a plugin;
//! - [`hex`]: hexadecimal text, the codec every Weft crate uses;
//! - [`testing`]: [`testing::ServiceHarness`] and [`testing::TestHost`] for unit tests;
//! - [`guide`]: writing a service, from nothing to a service on two nodes;
//! - [`internal`]: plumbing for hosts and the export macros.
//!
//! The model: the host calls a plugin with one [`Event`] at a time and gets
//! back a list of [`Action`]s; a few synchronous host calls (time, randomness,
//! own address, sign/verify, seal/open, key/value get) are available through
//! [`Ctx`]. Everything crossing the boundary is CBOR ([`internal::codec`], byte-identical
//! to ciborium's encoding), the same bytes for both bindings. `docs/ABI.md` in the repository is the full reference.

#![warn(missing_docs)]

pub mod actions;
mod address;
mod call;
mod call_codec;
pub mod cbor;
pub mod config_table;
mod ctx;
mod driver;
mod event;
pub mod export;
#[doc = include_str!("../../docs/writing-a-service.md")]
pub mod guide {}
pub mod hex;
pub mod host_call;
mod hot_path;
pub mod internal;
mod manifest;
pub mod radio;
mod service;
pub mod signing;
mod state_blob;
mod tagged;
pub mod testing;
mod version;

// The crate's own modules reach the plumbing by its old short paths.
use internal::{codec, guest, rng};

pub use actions::{Action, LogLevel, MetricKind};
pub use address::{Address, AddressParseError};
pub use call::{Failure, FailureKind, InitArgs, ShutdownArgs, ShutdownReason};
pub use ctx::{Ctx, DriverCtx, DriverRole, Role, ServiceCtx, ServiceRole};
pub use driver::Driver;
pub use event::*;
pub use host_call::{HostError, HostErrorCode, KV_KEYS_PAGE_MAX, Opened};
pub use manifest::{
    BadName, CommandDef, CommandSpec, MAX_NAME_LEN, Manifest, ManifestDef, ManifestHead, NameFault, Permission,
    PluginKind, check_name,
};
pub use service::Service;
pub use state_blob::StateBlob;
pub use version::{ABI_VERSION, AbiMismatch, AbiVersion};

/// What a service author needs: `use weft_plugin_api::prelude::*;`.
///
/// The [`Service`] trait and its context, the events a service receives, the
/// manifest types, addresses, host-call errors, state blobs and the export
/// macro. Nothing here shadows a name of the standard prelude.
pub mod prelude {
    pub use crate::{
        ActionRefused, Address, Command, CommandDef, HostError, HostErrorCode, InitArgs, LogLevel, ManifestDef,
        Message, Opened, Permission, Service, ServiceCtx, ShutdownArgs, ShutdownReason, StateBlob, cbor,
        export_service,
    };
}

/// What a modem driver author needs: `use weft_plugin_api::driver_prelude::*;`.
pub mod driver_prelude {
    pub use crate::actions::RadioInfo;
    pub use crate::{
        ActionRefused, Command, CommandDef, Driver, DriverCtx, HostError, HostErrorCode, InitArgs, LogLevel,
        ManifestDef, Permission, SerialStatus, ShutdownArgs, ShutdownReason, StateBlob, cbor, export_driver,
    };
}

/// Re-exports used by the export macros. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(not(target_arch = "wasm32"))]
    pub use abi_stable;
}
