//! Shared helpers for Weft's integration tests.
//!
//! Owns: finding the plugins built by `cargo xtask plugins`, and building a
//! plugin runtime and host services in a temporary directory. Tests load real
//! plugin files; a missing file is a hard failure naming the command to run,
//! never a skip.

pub mod hostile_peer;
pub mod node;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft_core::crypto::NodeIdentity;
use weft_host::kv::MemoryKv;
use weft_host::plugin::{Binding, HostServices, PluginRuntime, RuntimeOptions};

/// Directory holding `wasm/` and `native/` plugin builds.
pub fn plugin_dir() -> PathBuf {
    match std::env::var_os("WEFT_PLUGIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"),
    }
}

/// The built plugin `name` for `binding`. Panics (failing the test) with the
/// command to run when it has not been built.
pub fn plugin(name: &str, binding: Binding) -> PathBuf {
    let path = match binding {
        Binding::Wasm => plugin_dir().join("wasm").join(format!("{name}.wasm")),
        Binding::Native => plugin_dir().join("native").join(format!("{name}.{}", std::env::consts::DLL_EXTENSION)),
    };
    assert!(
        path.exists(),
        "plugin {} is not built; run `cargo xtask plugins` (or `cargo xtask test`, which builds them first)",
        path.display()
    );
    path
}

/// Both bindings, for tests that must hold for each.
pub const BINDINGS: [Binding; 2] = [Binding::Wasm, Binding::Native];

/// A runtime whose cache and native copies live in a fresh temporary directory.
pub struct TestRuntime {
    /// The runtime.
    pub runtime: PluginRuntime,
    /// Services backed by a fixed identity and an in-memory store.
    pub services: Arc<HostServices>,
    /// The store behind `services`.
    pub kv: Arc<MemoryKv>,
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl TestRuntime {
    /// Creates a runtime in a new temporary directory. The compiled-module
    /// cache is shared by all tests (under `target/`), so each plugin is
    /// compiled once per build rather than once per test.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = RuntimeOptions {
            module_cache: Some(plugin_dir().join("../test-module-cache")),
            native_copies: dir.path().join("native"),
        };
        let runtime = PluginRuntime::new(options).expect("plugin runtime");
        let kv = Arc::new(MemoryKv::default());
        let services = Arc::new(HostServices::new(NodeIdentity::from_secret([42; 32]), kv.clone()));
        Self { runtime, services, kv, dir }
    }
}

impl Default for TestRuntime {
    fn default() -> Self {
        Self::new()
    }
}

/// A manifest for hand-written (WAT) test plugins.
pub fn test_manifest(name: &str) -> weft_plugin_api::Manifest {
    weft_plugin_api::Manifest {
        name: name.into(),
        version: "0.0.1".into(),
        description: "hand-written test module".into(),
        kind: weft_plugin_api::PluginKind::Service,
        abi: weft_plugin_api::ABI_VERSION,
        ports: vec![99],
        permissions: vec![],
        commands: vec![],
    }
}

/// Escapes bytes for a WAT string literal.
pub fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// Writes a wasm module assembled from `wat` into `dir/name.wasm`.
pub fn write_wat(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let wasm = wat::parse_str(wat).expect("test WAT assembles");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wasm).expect("write test module");
    path
}

/// A WAT plugin whose `weft_call` returns the bytes in `output` as its
/// outcome, with a manifest section holding `manifest_bytes` (or none).
pub fn wat_plugin_returning(manifest_bytes: Option<&[u8]>, output: &[u8], output_ptr_offset: u64) -> String {
    let section =
        manifest_bytes.map(|m| format!("(@custom \"weft.manifest\" \"{}\")", wat_bytes(m))).unwrap_or_default();
    let packed = ((1024 + output_ptr_offset) << 32) | output.len() as u64;
    format!(
        r#"(module
  {section}
  (memory (export "memory") 1)
  (data (i32.const 1024) "{data}")
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "weft_call") (param i32) (result i64) (i64.const {packed})))"#,
        data = wat_bytes(output),
    )
}
