//! Loading native plugin libraries.

use super::call_thread::StuckCalls;
use super::instance::NativeBindingInstance;
use crate::plugin::NativeCalls;
use crate::plugin::error::{InstantiateError, NativeLoadError};
use crate::plugin::host_services::InstanceHostCalls;
use abi_stable::library::{LibraryError, lib_header_from_path};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use weft_plugin_api::internal::guest::native::NativePluginRef;

static COPY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A loaded native plugin library. Never unloaded: unloading Rust cdylibs is
/// unsound in practice (thread-local destructors, dlopen caching by path).
pub struct NativeLibrary {
    root: NativePluginRef,
    /// Calls of its instances that were abandoned and still run.
    stuck: StuckCalls,
}

/// Abandoned calls of one library that may still be running before no new
/// instance is made: each holds a thread (and perhaps a core) the node
/// cannot take back, so a plugin that hangs on every call must not be
/// restarted into a new stuck thread each time.
pub const MAX_STUCK_CALLS: usize = 2;

fn describe(e: LibraryError) -> String {
    match e {
        LibraryError::OpenError { .. } => format!("not a loadable shared library ({e})"),
        LibraryError::GetSymbolError { .. } => {
            "exports no Weft root module: not built with weft-plugin-api's export macro".to_string()
        }
        // abi_stable's report is a page of type layouts; the first line of
        // the report is kept and the rest goes to the debug log.
        LibraryError::AbiInstability(report) => {
            let report = report.to_string();
            tracing::debug!(%report, "native plugin layout check failed");
            "built against an incompatible weft-plugin-api (abi_stable's layout check failed): \
             rebuild the plugin against this host's weft-plugin-api"
                .to_string()
        }
        other => other.to_string(),
    }
}

impl NativeLibrary {
    /// Writes `bytes` (the library read from `path`, already checked by the
    /// caller) to a unique file in the private `copy_dir`, loads that copy
    /// and checks the root module's layout and version (abi_stable): what is
    /// loaded is exactly what was checked, whatever happens to `path`
    /// meanwhile. The copy is removed once mapped; the mapping stays valid.
    pub fn load(path: &Path, bytes: &[u8], copy_dir: &Path) -> Result<Self, NativeLoadError> {
        crate::files::private_dir(copy_dir)
            .map_err(|source| NativeLoadError::Copy { path: copy_dir.to_path_buf(), source })?;
        let copy = unique_copy_path(path, copy_dir);
        {
            let _private = crate::files::PrivateUmask::set();
            std::fs::write(&copy, bytes).map_err(|source| NativeLoadError::Copy { path: copy.clone(), source })?;
        }
        let loaded = lib_header_from_path(&copy).and_then(|header| header.init_root_module::<NativePluginRef>());
        let _ = std::fs::remove_file(&copy);
        let root = loaded.map_err(|e| NativeLoadError::Library(describe(e)))?;
        Ok(Self { root, stuck: StuckCalls::default() })
    }

    /// The manifest bytes the library exports.
    pub fn manifest_bytes(&self) -> Vec<u8> {
        // Both fields are in the root module's prefix, so they always exist.
        (self.root.manifest())().as_slice().to_vec()
    }

    /// Creates an instance bound to `host`, named `name`, whose calls run
    /// where `calls` says; refused while [`MAX_STUCK_CALLS`] of this
    /// library's calls are stuck.
    pub fn instantiate(
        &self,
        name: &str,
        host: InstanceHostCalls,
        calls: NativeCalls,
    ) -> Result<NativeBindingInstance, InstantiateError> {
        let stuck = self.stuck.count();
        if stuck >= MAX_STUCK_CALLS {
            return Err(InstantiateError::StuckCalls(stuck));
        }
        NativeBindingInstance::new(name, self.root.instantiate(), host, self.stuck.clone(), calls)
    }
}

fn unique_copy_path(path: &Path, copy_dir: &Path) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("so");
    let n = COPY_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    copy_dir.join(format!("{stem}-{}-{nanos}-{n}.{ext}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RBoxError;

    #[test]
    fn a_failed_layout_check_is_one_line_that_says_what_to_do() {
        let report = "Layout of expected type:\n".repeat(200);
        let error = LibraryError::AbiInstability(RBoxError::new(std::io::Error::other(report)));
        let text = describe(error);
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("incompatible weft-plugin-api") && text.contains("rebuild the plugin"), "{text}");
    }
}
