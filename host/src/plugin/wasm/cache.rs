//! The on-disk cache of compiled modules.
//!
//! Owns: where compiled artifacts live and when they may be reused. The key
//! is the wasmtime version plus the engine's compatibility hash (so a config
//! change or an upgrade never loads a stale artifact) and the SHA-256 of the
//! `.wasm` (which stays the source of truth). Artifacts are native code: the
//! cache directory must be writable only by the node's user.

use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// A directory of serialized modules for one engine configuration.
pub struct ModuleCache {
    dir: PathBuf,
}

/// Where a module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artifact.
    Hit,
    /// Compiled and stored the artifact.
    Compiled,
    /// Compiled; the cache could not be written (reason logged by the caller).
    CompiledUncached,
    /// Already in memory: this runtime loaded the same build before.
    InMemory,
}

impl CacheOutcome {
    /// Whether loading skipped compilation.
    pub fn was_cached(self) -> bool {
        matches!(self, CacheOutcome::Hit | CacheOutcome::InMemory)
    }
}

impl ModuleCache {
    /// A cache under `root`, in a subdirectory specific to this engine.
    pub fn new(root: &Path, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join(format!("wasmtime-{}-{:016x}", wasmtime_version(), hasher.finish()));
        Self { dir }
    }

    /// The directory artifacts are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the compiled form of `wasm`, compiling (and storing) it on a miss.
    /// `digest` is the SHA-256 of `wasm` (see `digest` in this module).
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &[u8; 32],
    ) -> wasmtime::Result<(Module, CacheOutcome)> {
        let path = self.dir.join(format!("{}.cwasm", hex(digest)));
        // Read into memory rather than `deserialize_file`: a memory-mapped
        // artifact that someone truncates or rewrites in place would crash the
        // node with SIGBUS.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: artifacts in this directory were written by `store` below
            // for this exact engine configuration (the directory name encodes
            // it); wasmtime still validates the header and refuses mismatches.
            if let Ok(module) = unsafe { Module::deserialize(engine, &artifact) } {
                return Ok((module, CacheOutcome::Hit));
            }
        }
        let module = Module::new(engine, wasm)?;
        let outcome = match self.store(&module, &path) {
            Ok(()) => CacheOutcome::Compiled,
            Err(_) => CacheOutcome::CompiledUncached,
        };
        Ok((module, outcome))
    }

    fn store(&self, module: &Module, path: &Path) -> std::io::Result<()> {
        let bytes = module.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        // Unique per writer (processes and threads may race on one key); the
        // rename is atomic, so readers see either nothing or a whole file.
        let tmp = path.with_extension(format!("tmp-{}-{:016x}", std::process::id(), rand::random::<u64>()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// The SHA-256 of a `.wasm`: the key of both module caches.
pub fn digest(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

fn wasmtime_version() -> &'static str {
    // The crate version we build against, pinned in Cargo.lock.
    env!("WEFT_WASMTIME_VERSION")
}

pub(crate) use crate::binary::hex;
