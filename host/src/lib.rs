//! # weft-host: the Weft router node
//!
//! The host moves packets and keeps keys; everything else is a plugin. This
//! crate holds the plugin runtime ([`plugin`]), the node's crypto
//! ([`crypto`]), plugin key/value storage ([`kv`]) and the `weft` command line
//! ([`cli`]).

#![warn(missing_docs)]

pub mod admin;
pub mod binary;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod kv;
pub mod link;
pub mod metrics;
pub mod node;
pub mod plugin;
pub mod radio;
pub mod routing;
pub mod shutdown;
pub mod sim;
pub mod store;
