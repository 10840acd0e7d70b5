//! The running node: the runtime around `weft_core::node::NodeCore`.
//!
//! Its modules, each with what it owns:
//!
//! - [`runtime`]: the tokio actor that owns the core, plugins and links,
//!   node start and stop, and plugin load / reload / stop requests.
//! - [`supervisor`]: one plugin instance under supervision, service or
//!   driver: restarts with backoff, hot swaps with state handoff and
//!   rollback, stopping, releasing retired instances off the actor.
//! - [`plugin_host`]: service plugins: instances, restarts, hot swaps with
//!   state handoff and rollback, persisted states, operator rows.
//! - [`radio_host`]: radio links: driver plugin and serial port per link,
//!   driver hot swaps, the rows of `weft ctl links`.
//! - [`preflight`]: every check `weft run` makes before it creates
//!   anything, shared with `weft config check`.
//! - [`quota`]: each plugin's stored bytes against its storage grant.
//! - [`release`]: the thread that drops retired plugin instances.

pub mod plugin_host;
pub mod preflight;
pub mod quota;
pub mod radio_host;
pub mod release;
pub mod runtime;
pub mod supervisor;

pub use crate::control::NodeHandle;
pub use runtime::{RunningNode, StartError, start};
