//! # weft-host: the Weft router node
//!
//! The host moves packets and keeps keys; everything else is a plugin. The
//! decisions (routing, sessions, radio links, the node core, the simulator)
//! are `weft_core`'s sans-IO state machines; this crate is the runtime that
//! drives them with tokio, QUIC, wasmtime, redb and serial ports. Its
//! modules, each with what it owns:
//!
//! - [`admin`]: the admin socket: JSON-lines protocol, server, `weft ctl` client.
//! - [`cli`]: the `weft` command line, one file per subcommand.
//! - [`config`]: the node's TOML file: schema, loading, validation, errors.
//! - [`control`]: what a running node can be asked and answers, typed (JSON only at the admin socket).
//! - [`discovery`]: LAN discovery with UDP multicast beacons.
//! - [`files`]: files the node writes are private (0700 directory, 0600 files, umask).
//! - [`key_file`]: the node key file (the identity on disk, mode 0600).
//! - [`kv`]: plugin key/value storage as plugins see it (the `KvStore` trait).
//! - [`link`]: QUIC links to neighbours: frames, TLS, dialing, accepting.
//! - [`metrics`]: Prometheus metric families and their HTTP endpoint.
//! - [`node`]: the running node: the tokio runtime, plugin and radio hosts.
//! - [`plugin`]: the plugin runtime: loading, wasm and native bindings, the gate.
//! - [`serial`]: the serial port of a radio link (reader and writer threads).
//! - [`shutdown`]: the node-wide stop signal.
//! - [`store`]: the redb database in the data directory (plugin data, held packets).
//!
//! The `weft` binary (`src/main.rs`) is only a call into [`cli`].

#![warn(missing_docs)]

pub mod admin;
pub mod cli;
pub mod config;
pub mod control;
pub mod discovery;
pub mod files;
pub mod key_file;
pub mod kv;
pub mod link;
pub mod metrics;
pub mod node;
pub mod plugin;
pub mod serial;
pub mod shutdown;
pub mod store;
