//! Links to neighbours over QUIC.
//!
//! Owns: the link frame format ([`frame`]), TLS derived from the node key
//! ([`tls`]), the endpoint ([`endpoint`]), running one connection
//! ([`connection`]), choosing between duplicate connections ([`table`]),
//! dialing with backoff ([`dialer`]) and accepting ([`listener`]).
//!
//! Must not: interpret service payloads, route, or call plugins. Frames go
//! up to the node as [`LinkEvent`]s; the node sends through [`Link::send`].

pub mod backoff;
pub mod connection;
pub mod counters;
pub mod dialer;
pub mod endpoint;
pub mod frame;
pub mod listener;
pub mod table;
pub mod tls;

pub use connection::{Direction, Link, LinkEvent, SendError};
pub use frame::LinkFrame;
