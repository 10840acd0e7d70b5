//! The native binding: abi_stable libraries.
//!
//! Owns: loading a library from a unique copy of its file (so a rebuilt
//! library at the same path loads as new code) and never unloading it
//! (`library`), the instance wrapper that passes bytes through the stable
//! trait objects (`instance`), and the thread each instance's calls run on,
//! so that a call past its deadline is abandoned instead of hanging the
//! node (`call_thread`). Native plugins are trusted code: they run in the
//! host's address space and cannot be interrupted.

mod call_thread;
mod instance;
mod library;

pub use library::NativeLibrary;
