//! # weft-host: the Weft router node
//!
//! The host moves packets and keeps keys; everything else is a plugin. Its
//! modules, each with what it owns:
//!
//! - [`admin`]: the admin socket: JSON-lines protocol, server, `weft ctl` client.
//! - [`binary`]: binary helpers for headers: LEB128 varints, slice reader, hex.
//! - [`cli`]: the `weft` command line, one file per subcommand.
//! - [`config`]: the node's TOML file: schema, loading, validation, errors.
//! - [`crypto`]: the node identity (Ed25519, derived X25519, address), sealing.
//! - [`discovery`]: LAN discovery with UDP multicast beacons.
//! - [`files`]: files the node writes are private (0700 directory, 0600 files, umask).
//! - [`kv`]: plugin key/value storage as plugins see it (the `KvStore` trait).
//! - [`link`]: QUIC links to neighbours: frames, TLS, dialing, accepting.
//! - [`metrics`]: Prometheus metric families and their HTTP endpoint.
//! - [`node`]: the running node: sans-IO core, tokio runtime, plugin and radio hosts.
//! - [`plugin`]: the plugin runtime: loading, wasm and native bindings, the gate.
//! - [`radio`]: LoRa links: the sans-IO link, duty cycle, fragments, serial port.
//! - [`routing`]: the sans-IO router: packets, announces, table, store-and-forward.
//! - [`shutdown`]: the node-wide stop signal.
//! - [`sim`]: the simulator: router cores over a virtual topology in virtual time.
//! - [`store`]: the redb database in the data directory (plugin data, held packets).
//!
//! The `weft` binary (`src/main.rs`) is only a call into [`cli`].

#![warn(missing_docs)]

pub mod admin;
pub mod binary;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod files;
pub mod kv;
pub mod link;
pub mod metrics;
pub mod node;
pub mod plugin;
pub mod radio;
pub mod routing;
pub mod session;
pub mod shutdown;
pub mod sim;
pub mod store;
