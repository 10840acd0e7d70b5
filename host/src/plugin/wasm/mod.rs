//! The wasm binding: wasmtime core modules.
//!
//! Owns: reading the manifest section without compiling (`manifest_section`),
//! the shared engine with its epoch ticker (`runtime`), the on-disk compiled
//! module cache (`cache`), the in-memory memo of recently loaded modules
//! (`memo`), the `weft` host imports (`imports`) and the
//! per-instance store with its memory cap and deadline (`instance`).

mod cache;
mod epoch;
mod imports;
mod instance;
pub mod manifest_section;
mod memo;
mod runtime;

pub use cache::{CacheOutcome, ModuleCache, digest as module_digest};
pub use epoch::{EPOCH_TICK, Ticks};
pub use runtime::{WasmModule, WasmRuntime};
