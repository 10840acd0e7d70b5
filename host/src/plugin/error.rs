//! Errors of the plugin runtime.
//!
//! Owns: [`LoadError`] (a plugin file could not become a loaded plugin),
//! [`Fault`] (an instance broke the contract or the sandbox stopped it) and
//! [`PluginError`] (a call on an instance did not produce actions). Every
//! message names the plugin file or plugin so operators know where to look.

use std::path::PathBuf;
use weft_plugin_api::{AbiVersion, Permission};

/// Why a plugin file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Signatures are required and these bytes do not carry a trusted one
    /// (the message names the file and whether it is unsigned, tampered or
    /// untrusted).
    #[error(transparent)]
    Signature(#[from] super::signature::SignatureError),
    /// The file could not be read or copied.
    #[error("{path}: {action}: {source}")]
    Io {
        /// Plugin file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file extension names no binding.
    #[error(
        "{path}: unknown plugin file type (expected .wasm for a WebAssembly plugin or .so/.dylib/.dll for a native one)"
    )]
    UnknownFileType {
        /// Plugin file.
        path: PathBuf,
    },
    /// The file is not a WebAssembly module.
    #[error("{path}: not a WebAssembly module ({detail})")]
    NotWasm {
        /// Plugin file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The manifest is missing or unreadable.
    #[error("{path}: {detail}")]
    BadManifest {
        /// Plugin file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The plugin was built against an ABI this host cannot serve.
    #[error(
        "{path}: plugin `{plugin}` was built for ServiceRouter ABI {plugin_abi}, but this host implements ABI {host_abi}: {reason}"
    )]
    AbiMismatch {
        /// Plugin file.
        path: PathBuf,
        /// Plugin name.
        plugin: String,
        /// The plugin's ABI version.
        plugin_abi: AbiVersion,
        /// The host's ABI version.
        host_abi: AbiVersion,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The plugin asks for permissions or ports the config does not grant.
    #[error("{path}: plugin `{plugin}` asks for {what} that the node config does not grant: {missing}")]
    NotGranted {
        /// Plugin file.
        path: PathBuf,
        /// Plugin name.
        plugin: String,
        /// "permissions" or "service ports".
        what: &'static str,
        /// The missing items, comma-separated.
        missing: String,
    },
    /// A wasm module that does not fit the ABI (imports, exports).
    #[error("{path}: {source}")]
    Incompatible {
        /// Plugin file.
        path: PathBuf,
        /// What is wrong.
        source: ModuleError,
    },
    /// The native library could not be loaded or failed abi_stable's checks.
    #[error("{path}: cannot load native plugin: {source}")]
    Native {
        /// Plugin file.
        path: PathBuf,
        /// What failed.
        source: NativeLoadError,
    },
    /// Creating an instance failed.
    #[error("{path}: cannot instantiate: {source}")]
    Instantiate {
        /// Plugin file.
        path: PathBuf,
        /// What failed.
        source: InstantiateError,
    },
}

/// The wasm engine could not start (wasmtime's error chain).
#[derive(Debug, thiserror::Error)]
#[error("cannot start wasm engine: {0}")]
pub struct EngineError(pub String);

/// Why a wasm module does not fit the ABI.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// wasmtime could not compile it (the text is wasmtime's error chain).
    #[error("invalid wasm module: {0}")]
    Invalid(String),
    /// It imports a function this host does not provide.
    #[error("imports `{module}::{name}`, which ServiceRouter ABI {abi} does not provide")]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// The host's ABI.
        abi: AbiVersion,
    },
    /// An export the ABI needs has another signature.
    #[error("export `{0}` has the wrong type")]
    ExportType(&'static str),
    /// An export the ABI needs is missing.
    #[error("missing export `{0}`: not built with weft-plugin-api's export macro")]
    MissingExport(&'static str),
    /// The linker refused it (wasmtime's error chain).
    #[error("cannot link: {0}")]
    Link(String),
}

/// Why a native library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum NativeLoadError {
    /// The private copy could not be written.
    #[error("cannot write {path}: {source}")]
    Copy {
        /// The copy's path (or its directory).
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The library did not load or failed abi_stable's checks (the text
    /// says which and what to do).
    #[error("{0}")]
    Library(String),
}

/// Why an instance could not be created.
#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    /// wasmtime refused (its error chain).
    #[error("{0}")]
    Wasm(String),
    /// The module exports no memory.
    #[error("missing export `memory`")]
    NoMemory,
    /// Earlier calls of this native library never returned.
    #[error(
        "{0} calls of this native plugin never returned (abandoned at their deadline; their threads still run); \
         no new instance until they do: fix the plugin, or restart the node to reclaim them"
    )]
    StuckCalls(usize),
    /// The instance's call thread could not start.
    #[error("cannot start the instance's thread: {0}")]
    Thread(std::io::Error),
}

impl LoadError {
    /// Builds a [`LoadError::NotGranted`] listing permissions.
    pub(crate) fn permissions_not_granted(path: PathBuf, plugin: &str, missing: &[Permission]) -> Self {
        let missing = missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
        LoadError::NotGranted { path, plugin: plugin.to_string(), what: "permissions", missing }
    }
}

/// Something that broke an instance. After a fault the instance is failed:
/// every later call returns [`PluginError::Failed`] until it is replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A wasm trap (unreachable, bad memory access, stack overflow...).
    #[error("wasm trap: {0}")]
    Trap(String),
    /// The call ran past its deadline and was interrupted.
    #[error("interrupted after exceeding its {0} ms deadline")]
    Deadline(u64),
    /// A native call ran past its deadline: native code cannot be
    /// interrupted, so the call was given up and its thread left to finish
    /// (it has no host calls any more).
    #[error(
        "abandoned after exceeding its {0} ms deadline (native code cannot be interrupted; its thread is left to finish)"
    )]
    Abandoned(u64),
    /// The plugin tried to grow its memory past the cap.
    #[error("memory cap of {limit} bytes exceeded")]
    OutOfMemory {
        /// The cap in bytes.
        limit: usize,
    },
    /// The plugin panicked: caught at the boundary (native), or reported by
    /// the SDK's panic hook before the trap (wasm, ABI 1.3).
    #[error("panicked: {0}")]
    Panic(String),
    /// The plugin returned bytes that are not a valid outcome.
    #[error("returned an invalid outcome: {0}")]
    BadOutput(String),
}

/// A call on a plugin instance did not produce actions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// This call broke the instance.
    #[error("plugin `{plugin}` {fault}")]
    Fault {
        /// Plugin name.
        plugin: String,
        /// What happened.
        fault: Fault,
    },
    /// The instance broke earlier and has not been replaced.
    #[error("plugin `{plugin}` is failed ({fault}); it must be restarted")]
    Failed {
        /// Plugin name.
        plugin: String,
        /// The fault that broke it.
        fault: Fault,
    },
    /// `init` refused to start (bad config or state). The instance is unusable
    /// but nothing is wrong with the host or other plugins.
    #[error("plugin `{plugin}` refused to start: {message}")]
    InitRefused {
        /// Plugin name.
        plugin: String,
        /// The plugin's explanation.
        message: String,
    },
    /// The call does not fit the instance's lifecycle (event before init,
    /// anything after shutdown).
    #[error("plugin `{plugin}`: {message}")]
    NotRunning {
        /// Plugin name.
        plugin: String,
        /// Detail.
        message: String,
    },
}
