//! The running node: the runtime around `weft_core::node::NodeCore`.
//!
//! Its modules, each with what it owns (all but `runtime` are internal to
//! the crate: the node's API is [`start`], [`RunningNode`] and [`NodeHandle`];
//! their errors end as operator text in admin replies):
//!
//! - [`runtime`]: the tokio actor that owns the core, plugins and links,
//!   node start and stop, and plugin load / reload / stop requests.
//! - `supervisor`: one plugin instance under supervision, service or
//!   driver: restarts with backoff, hot swaps with state handoff and
//!   rollback, stopping, releasing retired instances off the actor.
//! - `plugin_host`: service plugins: instances, restarts, hot swaps with
//!   state handoff and rollback, persisted states, operator rows.
//! - `radio_host`: radio links: driver plugin and serial port per link,
//!   driver hot swaps, the rows of `weft ctl links`.
//! - `preflight`: every check `weft run` makes before it creates
//!   anything, shared with `weft config check`.
//! - `quota`: each plugin's stored bytes against its storage grant.
//! - `release`: the thread that drops retired plugin instances.

pub(crate) mod plugin_host;
pub(crate) mod preflight;
pub(crate) mod quota;
pub(crate) mod radio_host;
pub(crate) mod release;
pub mod runtime;
pub(crate) mod supervisor;

pub use crate::control::NodeHandle;
pub use runtime::{RunningNode, StartError, start};
