//! # weft-core: Weft's state machines, without I/O
//!
//! Everything that decides what the node does, written as plain state
//! machines in the style of quinn-proto: inputs are method calls with the
//! current time, outputs are values the caller executes. Nothing in this
//! crate opens a socket or a port, reads a clock, starts a thread, takes a
//! lock or draws from the operating system's random source; randomness
//! comes in as seeds. The runtime (`weft-host`: tokio, QUIC, wasmtime, redb,
//! serial ports) drives it; the simulator drives it in virtual time, and a
//! simulation is reproducible bit for bit from its seed.
//!
//! Its modules, each with what it owns:
//!
//! - [`binary`]: LEB128 varints, the field-naming slice reader, hex text.
//! - [`crypto`]: the node identity (Ed25519, derived X25519, address) and the
//!   anonymous one-shot sealed box; the caller supplies the randomness.
//! - [`routing`]: the router: packets, announces, the table, store-and-forward.
//! - [`session`]: end-to-end sessions (Noise KK) between two nodes.
//! - [`radio`]: LoRa links: hellos, duty cycle, fragments, the transmit queue.
//! - [`node`]: the node core between the router and the plugins: ports, peer
//!   events, replies, plugin timers.
//! - [`sim`]: the simulator: routers over a virtual topology in virtual time.
//! - [`time`]: points in time typed by clock and unit.
//!
//! Must not: depend on tokio, quinn, wasmtime, redb or serialport.

#![warn(missing_docs)]

pub mod binary;
pub mod crypto;
pub mod node;
pub mod radio;
pub mod routing;
pub mod session;
pub mod sim;
pub mod time;
