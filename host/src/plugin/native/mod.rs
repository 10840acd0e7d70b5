//! The native binding: abi_stable libraries.
//!
//! Owns: loading a library from a unique copy of its file (so a rebuilt
//! library at the same path loads as new code) and never unloading it
//! (`library`), and the instance wrapper that passes bytes through the stable
//! trait objects and reports deadline overruns (`instance`). Native plugins are
//! trusted code: they run in the host's address space.

mod instance;
mod library;

pub use library::NativeLibrary;
