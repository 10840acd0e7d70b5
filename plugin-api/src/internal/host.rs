//! The guest's view of the host: the [`Host`] trait.
//!
//! Owns: the trait the guest runtime uses to reach the host synchronously.
//! Implemented by the wasm imports, by the native host vtable, and by
//! [`crate::testing::TestHost`] for unit tests. Plugin code never uses it
//! directly; it goes through [`crate::Ctx`].

use crate::host_call::{HostCall, HostReply};

/// Synchronous access to the host from inside a call.
pub trait Host {
    /// Milliseconds since the Unix epoch, from the host's clock.
    fn now_ms(&mut self) -> u64;
    /// Fills `buf` with cryptographically secure random bytes.
    fn fill_random(&mut self, buf: &mut [u8]);
    /// Answers a [`HostCall`]. Never panics; failures are [`HostReply::Error`].
    fn call(&mut self, call: &HostCall) -> HostReply;
}
