//! The on-disk cache of compiled modules.
//!
//! Owns: where compiled artifacts live and when they may be reused. The key
//! is the wasmtime version plus the engine's compatibility hash (so a config
//! change or an upgrade never loads a stale artifact) and the SHA-256 of the
//! `.wasm` (which stays the source of truth, and whose bytes are the ones
//! whose signature was checked). Artifacts are native code, so the cache is
//! kept private: its directory is made 0700 and artifacts are written 0600,
//! and an artifact the node's user does not own, or that its group or others
//! may write, is ignored (logged) and rebuilt: whoever could have written it
//! could choose what the node executes. (The node's own user can always
//! change what the node runs; nothing here defends against that.)

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
        let path = self.dir.join(format!("{}.cwasm", weft_plugin_api::hex::encode_lower(digest)));
        // Read into memory rather than `deserialize_file`: a memory-mapped
        // artifact that someone truncates or rewrites in place would crash the
        // node with SIGBUS.
        if let Some(why) = untrusted_artifact(&path) {
            tracing::warn!(artifact = %path.display(), "ignoring a cached module: {why}; compiling the plugin again");
        } else if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: artifacts in this directory were written by `store` below
            // for this exact engine configuration (the directory name encodes
            // it); wasmtime still validates the header and refuses mismatches.
            if let Ok(module) = unsafe { Module::deserialize(engine, &artifact) } {
                return Ok((module, CacheOutcome::Hit));
            }
        }
        // A few seconds per module on a small machine, before the node answers
        // on its admin socket: say so, once per build of a plugin.
        tracing::info!(
            kib = wasm.len() / 1024,
            "compiling a wasm module that is not in the module cache yet (the admin socket opens when plugins are ready; later starts load it from the cache)"
        );
        let module = Module::new(engine, wasm)?;
        let outcome = match self.store(&module, &path) {
            Ok(()) => CacheOutcome::Compiled,
            Err(_) => CacheOutcome::CompiledUncached,
        };
        Ok((module, outcome))
    }

    fn store(&self, module: &Module, path: &Path) -> std::io::Result<()> {
        let bytes = module.serialize().map_err(std::io::Error::other)?;
        crate::files::private_dir(&self.dir)?;
        // Unique per writer (processes and threads may race on one key); the
        // rename is atomic, so readers see either nothing or a whole file.
        let tmp = path.with_extension(format!("tmp-{}-{:016x}", std::process::id(), rand::random::<u64>()));
        {
            let _private = crate::files::PrivateUmask::set();
            std::fs::write(&tmp, bytes)?;
        }
        crate::files::make_private(&tmp)?;
        std::fs::rename(&tmp, path)
    }
}

/// Why the artifact at `path` must not be executed, if it exists and is not
/// the node user's alone.
fn untrusted_artifact(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.file_type().is_file() {
        Some("it is not a regular file".into())
    } else if meta.uid() != me {
        Some(format!("it is owned by uid {}, not this node's user (uid {me})", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!("its mode {:o} lets others write it", meta.mode() & 0o777))
    } else {
        None
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
