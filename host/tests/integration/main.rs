//! The host's own integration tests, in one test binary (one link of the
//! host instead of one per file). Run one area with a filter, e.g.
//! `cargo test -p weft-host --test integration routing_sim::`.

mod cli_inspect;
mod routing_hostile;
mod routing_sim;
mod sessions;
