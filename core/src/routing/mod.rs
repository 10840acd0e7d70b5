//! Routing: signed announces, multi-hop delivery, path discovery,
//! store-and-forward and sealed delivery, as one sans-IO core.
//!
//! Owns: the routed packet format ([`wire`]), announces ([`announce`]), the
//! routing table ([`table`]), duplicate suppression and reverse paths
//! ([`seen`]), link ids ([`link_id`]), the per-link announce budget ([`budget`]), held packets
//! ([`pending`]) and the [`Router`] that ties them together. The node
//! runtime and the simulator ([`crate::sim`]) drive the router; nothing in
//! here does I/O or reads a clock.

pub mod announce;
pub mod budget;
pub mod fast_hash;
pub mod limits;
pub mod link_id;
pub mod pending;
pub mod router;
pub mod seen;
pub mod table;
pub mod wire;

pub use link_id::LinkId;
pub use router::{
    CAPABILITY_RELAY, CAPABILITY_STORE, Delivery, LinkParams, MAX_SEQUENCE_LEAD_MS, Outgoing, ReplyPath, RouteRow,
    Router, RouterConfig, RouterCounters, RouterOutput, Sent,
};
