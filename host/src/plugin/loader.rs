//! Loading plugin files: binding detection, manifest, version negotiation,
//! grants, compilation.
//!
//! Owns: [`PluginRuntime`] (the wasm engine and where native copies go),
//! [`LoadedPlugin`] (verified code that can be instantiated many times, e.g.
//! for a hot swap) and [`PluginInfo`]. The order is fixed: read the manifest
//! (for wasm without compiling), check the ABI version, decode the rest,
//! check grants, and only then compile or link.

use super::binding::{Binding, BindingInstance};
use super::error::{EngineError, LoadError};
use super::grants::Grants;
use super::host_services::{HostServices, InstanceHostCalls};
use super::info::PluginInfo;
use super::instance::{Limits, PluginInstance};
use super::native::NativeLibrary;
use super::signature;
use super::wasm::manifest_section::{SectionError, read_manifest_section};
use super::wasm::{WasmModule, WasmRuntime};
use crate::config::TrustConfig;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft_plugin_api::internal::codec;
use weft_plugin_api::{ABI_VERSION, AbiMismatch, Manifest, ManifestHead};

/// Where the runtime keeps its files.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Compiled wasm module cache; `None` disables caching.
    pub module_cache: Option<PathBuf>,
    /// Directory for the unique copies native libraries are loaded from.
    pub native_copies: PathBuf,
}

impl RuntimeOptions {
    /// Cache and copies under one directory (the node's data directory).
    pub fn under(dir: &Path) -> Self {
        Self { module_cache: Some(dir.join("module-cache")), native_copies: dir.join("native") }
    }
}

/// The plugin runtime: loads plugin files of either binding.
pub struct PluginRuntime {
    wasm: WasmRuntime,
    native_copies: PathBuf,
}

enum Code {
    Wasm(WasmModule),
    Native(NativeLibrary),
}

/// Verified plugin code, ready to instantiate.
pub struct LoadedPlugin {
    info: Arc<PluginInfo>,
    code: Code,
    limits: Limits,
}

/// Which binding a file name implies.
pub fn binding_for(path: &Path) -> Result<Binding, LoadError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("wasm") => Ok(Binding::Wasm),
        Some("so" | "dylib" | "dll") => Ok(Binding::Native),
        _ => Err(LoadError::UnknownFileType { path: path.to_path_buf() }),
    }
}

/// Decodes manifest bytes: the version first, then the rest.
pub fn decode_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, LoadError> {
    let bad = |detail: String| LoadError::BadManifest { path: path.to_path_buf(), detail };
    let head: ManifestHead =
        codec::decode(bytes).map_err(|e| bad(format!("manifest is garbled ({e}); rebuild the plugin")))?;
    if let Err(mismatch) = ABI_VERSION.check_plugin(head.abi) {
        return Err(LoadError::AbiMismatch {
            path: path.to_path_buf(),
            plugin: head.name,
            plugin_abi: head.abi,
            host_abi: ABI_VERSION,
            reason: match mismatch {
                AbiMismatch::Major => {
                    "the major versions differ; rebuild the plugin against this host's weft-plugin-api"
                }
                AbiMismatch::NewerMinor => {
                    "the plugin needs a newer host; upgrade weft or rebuild the plugin against this host's weft-plugin-api"
                }
            },
        });
    }
    let manifest: Manifest =
        codec::decode(bytes).map_err(|e| bad(format!("manifest is garbled ({e}); rebuild the plugin")))?;
    // The name keys storage, state and metrics: never one of the host's.
    weft_plugin_api::check_name(&manifest.name).map_err(|e| bad(e.to_string()))?;
    Ok(manifest)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        action: "cannot read plugin file",
        source,
    })
}

fn info(path: &Path, binding: Binding, manifest: Manifest, bytes: &[u8]) -> PluginInfo {
    PluginInfo {
        path: path.to_path_buf(),
        binding,
        manifest,
        file_size: bytes.len() as u64,
        sha256: weft_plugin_api::hex::encode_lower(&Sha256::digest(bytes)),
    }
}

fn wasm_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, LoadError> {
    match read_manifest_section(bytes) {
        Ok(section) => decode_manifest(path, section),
        Err(SectionError::NotWasm(detail)) => Err(LoadError::NotWasm { path: path.to_path_buf(), detail }),
        Err(SectionError::Manifest(detail)) => Err(LoadError::BadManifest { path: path.to_path_buf(), detail }),
    }
}

impl PluginRuntime {
    /// Creates the runtime (starts the wasm engine and its epoch thread).
    pub fn new(options: RuntimeOptions) -> Result<Self, EngineError> {
        let wasm = WasmRuntime::new(options.module_cache.as_deref()).map_err(|e| EngineError(format!("{e:#}")))?;
        Ok(Self { wasm, native_copies: options.native_copies })
    }

    /// The wasm engine.
    pub fn wasm(&self) -> &WasmRuntime {
        &self.wasm
    }

    /// Loads a native library from `bytes` (through a private copy) and
    /// decodes its manifest.
    fn load_native(&self, path: &Path, bytes: &[u8]) -> Result<(NativeLibrary, Manifest), LoadError> {
        let lib = NativeLibrary::load(path, bytes, &self.native_copies)
            .map_err(|source| LoadError::Native { path: path.to_path_buf(), source })?;
        let manifest = decode_manifest(path, &lib.manifest_bytes())?;
        Ok((lib, manifest))
    }

    /// Reads a plugin's manifest and file facts, accepting any file. See
    /// [`PluginRuntime::inspect_checked`].
    pub fn inspect(&self, path: &Path) -> Result<PluginInfo, LoadError> {
        self.inspect_checked(path, &TrustConfig::default())
    }

    /// Reads a plugin's manifest and file facts, the file read once and its
    /// signature checked under `trust` on those bytes. Wasm code is neither
    /// compiled nor run; a native library is loaded (it is trusted code by
    /// definition). The ABI version is checked, grants are not.
    pub fn inspect_checked(&self, path: &Path, trust: &TrustConfig) -> Result<PluginInfo, LoadError> {
        let binding = binding_for(path)?;
        let bytes = read(path)?;
        signature::check_bytes(trust, path, &bytes).map_err(LoadError::Signature)?;
        let manifest = match binding {
            Binding::Wasm => wasm_manifest(path, &bytes)?,
            Binding::Native => self.load_native(path, &bytes)?.1,
        };
        Ok(info(path, binding, manifest, &bytes))
    }

    /// Loads a plugin file, accepting any file. See [`PluginRuntime::load_checked`].
    pub fn load(&self, path: &Path, grants: &Grants, limits: Limits) -> Result<LoadedPlugin, LoadError> {
        self.load_checked(path, &TrustConfig::default(), grants, limits)
    }

    /// Loads a plugin file: read once; signature (under `trust`), manifest,
    /// ABI version, grants, then code, all from those same bytes, so a file
    /// swapped after the check is not what runs.
    pub fn load_checked(
        &self,
        path: &Path,
        trust: &TrustConfig,
        grants: &Grants,
        limits: Limits,
    ) -> Result<LoadedPlugin, LoadError> {
        let binding = binding_for(path)?;
        let bytes = read(path)?;
        signature::check_bytes(trust, path, &bytes).map_err(LoadError::Signature)?;
        let (manifest, code) = match binding {
            Binding::Wasm => {
                let manifest = wasm_manifest(path, &bytes)?;
                grants.check(path, &manifest)?;
                let module = self
                    .wasm
                    .prepare(&bytes)
                    .map_err(|source| LoadError::Incompatible { path: path.to_path_buf(), source })?;
                (manifest, Code::Wasm(module))
            }
            Binding::Native => {
                let (lib, manifest) = self.load_native(path, &bytes)?;
                grants.check(path, &manifest)?;
                (manifest, Code::Native(lib))
            }
        };
        Ok(LoadedPlugin { info: Arc::new(info(path, binding, manifest, &bytes)), code, limits })
    }
}

impl LoadedPlugin {
    /// File, binding and manifest.
    pub fn info(&self) -> &Arc<PluginInfo> {
        &self.info
    }

    /// For wasm: whether the compiled code came from a cache (the on-disk
    /// module cache, or this runtime's memory of builds it loaded before)
    /// instead of being compiled.
    pub fn from_module_cache(&self) -> bool {
        matches!(&self.code, Code::Wasm(m) if m.cache.was_cached())
    }

    /// Limits every instance of this plugin gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Creates a new, uninitialised instance. Call
    /// [`PluginInstance::init`] next.
    pub fn instantiate(&self, services: &Arc<HostServices>) -> Result<PluginInstance, LoadError> {
        self.instantiate_as(services, &self.info.manifest.name)
    }

    /// An instance named `name` on this node: its storage namespace,
    /// signing context and every report use that name, not the manifest's.
    pub fn instantiate_as(&self, services: &Arc<HostServices>, name: &str) -> Result<PluginInstance, LoadError> {
        let manifest = &self.info.manifest;
        let host = InstanceHostCalls::new(services.clone(), name, manifest.permissions.iter().copied().collect());
        let binding: Box<dyn BindingInstance> = match &self.code {
            Code::Wasm(module) => Box::new(
                module
                    .instantiate(host, self.limits)
                    .map_err(|source| LoadError::Instantiate { path: self.info.path.clone(), source })?,
            ),
            Code::Native(lib) => Box::new(
                lib.instantiate(name, host, self.limits.native_calls)
                    .map_err(|source| LoadError::Instantiate { path: self.info.path.clone(), source })?,
            ),
        };
        Ok(PluginInstance::new(self.info.clone(), binding, self.limits, name))
    }
}
