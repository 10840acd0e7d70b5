//! The plugin runtime: everything between a plugin file and a running instance.
//!
//! The rest of the host sees three things: [`PluginRuntime`] loads a file into
//! a [`LoadedPlugin`] (after checking its manifest, ABI version and grants),
//! which instantiates [`PluginInstance`]s; an instance takes events and
//! returns gated actions. Whether wasm or native runs underneath is visible
//! only as [`Binding`], for listings.
//!
//! Must not: execute actions, own sockets, or know about routing.

mod binding;
mod error;
mod gate;
mod grants;
mod host_services;
mod info;
mod instance;
mod loader;
pub mod log;
pub mod metrics;
mod native;
pub mod signature;
pub mod wasm;

pub use binding::Binding;
pub use error::{EngineError, Fault, InstantiateError, LoadError, ModuleError, NativeLoadError, PluginError};
pub use gate::ActionGate;
pub use grants::Grants;
pub use host_services::{HostServices, InstanceHostCalls};
pub use info::PluginInfo;
pub use instance::{
    Dispatch, Limits, NativeCalls, PREFAULT_HEADROOM, PluginInstance, STATE_COPIES, Stopped, SwapSizes,
};
pub use loader::{LoadedPlugin, PluginRuntime, RuntimeOptions, binding_for, decode_manifest};
