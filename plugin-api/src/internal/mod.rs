//! Plumbing for hosts, test harnesses and the export macros. Plugin authors
//! never need anything here: [`crate::prelude`] has what a service uses,
//! [`crate::driver_prelude`] what a driver uses.
//!
//! Owns nothing of its own; it groups the modules that carry the ABI's bytes:
//! the CBOR codec (`codec`), the manifest's const encoding (`manifest_encoding`),
//! the guest runtime the export macros wire up (`guest`), the [`Host`] trait the
//! guest reaches the host through, and the deterministic generator (`rng`).
//! What is here follows the ABI version, not the author-facing API: it may
//! change shape in any minor release.

pub mod codec;
pub mod guest;
mod host;
pub mod manifest_encoding;
pub mod rng;

pub use crate::call::{Call, Outcome};
pub use crate::manifest::MANIFEST_SECTION;
pub use crate::version::ALLOC_ZERO_RELEASES_SINCE;
pub use host::Host;
