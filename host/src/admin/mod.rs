//! The admin socket: how operators (and `weft ctl`) steer a running node.
//!
//! Owns: the JSON-lines transport of [`crate::control`]'s requests and
//! replies: the server ([`server`]) and the client ([`client`]). It only reads and steers through the node's
//! handle; it never reaches into plugin memory or link state directly.

pub mod client;
pub mod server;
