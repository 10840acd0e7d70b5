//! # weft-plugin-api: the ServiceRouter ABI v1 and the guest SDK
//!
//! This crate is the whole contract between the Weft host and its plugins.
//! A plugin author implements [`Service`] (or [`Driver`]), calls
//! [`export_service!`] (or [`export_driver!`]) once, and the same source builds
//! to `wasm32-unknown-unknown` (sandboxed) or to a native `cdylib` (trusted).
//!
//! ```ignore
//! use weft_plugin_api::*;
//!
//! struct Echo;
//! impl Service for Echo {
//!     const MANIFEST: ManifestDef = ManifestDef {
//!         name: "echo", version: env!("CARGO_PKG_VERSION"),
//!         description: "replies with what it receives",
//!         ports: &[7], permissions: &[], commands: &[],
//!     };
//!     fn init(_: &mut Ctx<'_>, _: InitArgs) -> Result<Self, String> { Ok(Echo) }
//!     fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Message) {
//!         ctx.reply(&msg, msg.payload.clone());
//!     }
//! }
//! export_service!(Echo);
//! ```
//!
//! The model: the host calls a plugin with one [`Event`] at a time and gets
//! back a list of [`Action`]s; a few synchronous host calls (time, randomness,
//! own address, sign/verify, seal/open, key/value get) are available through
//! [`Ctx`]. Everything crossing the boundary is CBOR ([`codec`], byte-identical
//! to ciborium's encoding), the same bytes for both bindings. `docs/ABI.md` in the repository is the full reference.

#![warn(missing_docs)]

mod action;
mod address;
mod call;
pub mod codec;
pub mod config_table;
mod ctx;
mod driver;
mod event;
pub mod export;
pub mod guest;
mod host;
mod host_call;
mod hot_path;
mod manifest;
pub mod manifest_encoding;
pub mod radio;
pub mod rng;
mod service;
mod state_blob;
mod tagged;
pub mod testing;
mod version;

pub use action::*;
pub use address::{Address, AddressParseError};
pub use call::{Call, Failure, FailureKind, InitArgs, Outcome, ShutdownArgs, ShutdownReason};
pub use ctx::Ctx;
pub use driver::Driver;
pub use event::*;
pub use host::Host;
pub use host_call::*;
pub use manifest::{
    CommandDef, CommandSpec, MANIFEST_SECTION, MAX_NAME_LEN, Manifest, ManifestDef, ManifestHead, Permission,
    PluginKind, check_name,
};
pub use service::Service;
pub use state_blob::StateBlob;
pub use version::{ABI_VERSION, ALLOC_ZERO_RELEASES_SINCE, AbiMismatch, AbiVersion};

/// Re-exports used by the export macros. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(not(target_arch = "wasm32"))]
    pub use abi_stable;
}
