//! The host's own integration tests, in one test binary (one link of the
//! host instead of one per file). Run one area with a filter, e.g.
//! `cargo test -p weft-host --test integration cli_inspect::`. The router,
//! session and simulator tests are `weft-core`'s.

mod cli_inspect;
