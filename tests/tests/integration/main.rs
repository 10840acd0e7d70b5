//! Weft's integration tests, in one test binary.
//!
//! Each module is one area, tested with real components: `weft run`
//! processes over QUIC on 127.0.0.1, plugins built by `cargo xtask plugins`
//! (wasm and native), serial through pseudo-terminals with the virtual modem.
//!
//! They share one binary on purpose: each test binary links wasmtime,
//! cranelift, quinn and the whole host, so ten binaries cost ten links and
//! ten copies on disk. Run one area with a filter, e.g.
//! `cargo test -p weft-tests --test integration fapp::` (after
//! `cargo xtask plugins` and `cargo build -p weft-host`, which builds the
//! `weft` binary the node tests start).

mod attack;
mod authoring;
mod crash;
mod fapp;
mod handoff;
mod hardening;
mod hostile;
mod loading;
mod mesh_routing;
mod node_links;
mod operations;
mod parity;
mod prefault;
mod radio;
mod refusals;
mod sessions;
