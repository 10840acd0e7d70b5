//! The seam between the one plugin interface and the two bindings.
//!
//! Owns: [`Binding`] (which one) and [`BindingInstance`], the byte pipe each
//! binding implements. Encoding, permission checks and failure bookkeeping
//! live above this seam in `instance`, once for both bindings.

use super::error::Fault;
use std::fmt;
use std::time::Duration;

/// How a plugin is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// A WebAssembly core module run by wasmtime: sandboxed.
    Wasm,
    /// A native library loaded through abi_stable: trusted code.
    Native,
}

impl Binding {
    /// `wasm` or `native (trusted)`, as shown in every listing.
    pub fn label(self) -> &'static str {
        match self {
            Binding::Wasm => "wasm",
            Binding::Native => "native (trusted)",
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One live instance, as seen through its binding: encoded call in, encoded
/// outcome out.
pub trait BindingInstance: Send {
    /// Runs one encoded call and returns the encoded outcome, borrowed from
    /// the binding until the next call (wasm: the guest's own memory, so
    /// nothing is copied; native: the buffer the plugin returned). Wasm
    /// interrupts a call at `deadline`; native code cannot be interrupted,
    /// so a native call is abandoned there (its thread left to finish).
    fn call(&mut self, input: &[u8], deadline: Duration) -> Result<&[u8], Fault>;

    /// Bytes of memory the instance holds, when the binding can tell.
    fn memory_bytes(&self) -> Option<usize>;

    /// Faults `bytes` of fresh memory in before `init` and hands them back
    /// to the guest's allocator (wasm: `weft_alloc(bytes)`, a write to each
    /// page, `weft_alloc(0)`; docs/ABI.md §6). Native instances share the
    /// node's heap, so there is nothing to do.
    fn prefault(&mut self, _bytes: usize, _deadline: Duration) -> Result<(), Fault> {
        Ok(())
    }
}
