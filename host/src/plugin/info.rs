//! What is known about a plugin file once it is loaded or inspected.
//!
//! Owns: [`PluginInfo`] (path, binding, manifest, size, digest). Shared by
//! the loader, which makes it, and instances, which keep it.

use super::binding::Binding;
use std::path::PathBuf;
use weft_plugin_api::Manifest;

/// What is known about a loaded (or inspected) plugin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Wasm or native.
    pub binding: Binding,
    /// The decoded manifest.
    pub manifest: Manifest,
    /// File size in bytes.
    pub file_size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}
