//! The running node.
//!
//! Owns: the sans-IO [`core`] (ports, neighbours, replies, timers, actions
//! to outputs) and the tokio [`runtime`] that feeds it from links, timers and
//! the admin socket, calls plugins and executes outputs.

pub mod core;
pub mod plugin_host;
pub mod quota;
pub mod radio_host;
pub mod release;
pub mod reply_book;
pub mod runtime;
pub mod timers;

pub use runtime::{NodeHandle, RunningNode, StartError, start};
