//! `weft-core`'s integration tests, in one test binary: the router,
//! sessions and the simulator driven from outside, as the runtime does. Run
//! one area with a filter, e.g.
//! `cargo test -p weft-core --test integration routing_sim::`.

mod airtime_routes;
mod boundary;
mod determinism;
mod radio_channel;
mod routing_hostile;
mod routing_sim;
mod sessions;
mod signed_floods;
