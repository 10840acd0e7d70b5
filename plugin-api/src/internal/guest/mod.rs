//! The guest runtime: what runs inside a plugin, between the boundary and the
//! author's [`crate::Service`] or [`crate::Driver`].
//!
//! Owns: decoding each [`crate::internal::Call`], dispatching it to the typed callbacks,
//! catching panics, and encoding the [`crate::internal::Outcome`] (`runner`); the
//! panic hook that keeps a panic's message and location (`panic_hook`); the wasm
//! exports and imports (`wasm`, wasm32 only); the abi_stable root module and
//! host vtable (`native`, other targets). Authors never touch this module
//! directly: the export macros wire it up.

mod adapter;
pub mod panic_hook;
mod runner;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use adapter::{AsDriver, AsService, GuestPlugin};
pub use runner::Runner;
