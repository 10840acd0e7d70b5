//! The node core: the sans-IO glue between the router and the plugins.
//!
//! Its modules, each with what it owns:
//!
//! - [`core`]: ports, peer events, the way back for replies, plugin
//!   actions turned into router calls and outputs.
//! - [`plugin_id`]: the id of a loaded service plugin.
//! - [`reply_book`]: the ring of delivered messages a `Reply` answers.
//! - [`timers`]: plugin timers in virtual time.
//!
//! Must not: call a plugin, touch a socket or read a clock; the runtime in
//! `weft-host` executes the core's outputs.

pub mod core;
pub mod plugin_id;
pub mod reply_book;
pub mod timers;

pub use self::core::{CoreCounters, NoSuchPort, NodeCore, Output, PluginId, PortTaken};
