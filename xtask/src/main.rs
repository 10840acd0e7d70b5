//! `cargo xtask`: build plugins, run tests and benchmarks.
//!
//! - `cargo xtask plugins [NAME...]`: build every plugin and driver (and the
//!   test plugins), or only those named (by directory, e.g. `echo`), to wasm
//!   and native into `target/plugins/{wasm,native}/`.
//! - `cargo xtask test [ARGS]`: the review gates (fmt, clippy, rustdoc; see
//!   `gates.rs`), then build plugins and run the whole test suite.
//! - `cargo xtask lint`: the review gates alone.
//! - `cargo xtask bench [ARGS]`: build plugins, then run the benchmarks.
//! - `cargo xtask bench-lora [goodput|swap]`: the LoRa benchmarks over the
//!   virtual modem, with a release `weft`.
//! - `cargo xtask bench-ops [reload|reload-new|reload-first|start|scrape|bulk-hold|attack|relay]`: the operations benchmarks.
//! - `cargo xtask demo [--duration SECS]`: build plugins and the node, then
//!   run a three-node mesh on 127.0.0.1 (see `demo.rs`).
//! - `cargo xtask fuzz [--seconds N] [TARGET...]`: run the cargo-fuzz
//!   targets in `fuzz/`; `cargo xtask fuzz --build` only builds them (see `fuzz.rs`).

mod demo;
mod fuzz;
mod gates;
mod plugins;

use anyhow::Result;
use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

pub use weft_plugin_build::{cargo, run};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("plugins") => plugins::build(&root, &args[1..]).map(|_| ()),
        Some("lint") => gates::run(&root),
        Some("test") => {
            gates::run(&root)?;
            plugins::build(&root, &[])?;
            run(cargo().current_dir(&root).args(["test", "--workspace"]).args(&args[1..]))
        }
        Some("demo") => demo::run(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("bench") => {
            plugins::build(&root, &[])?;
            run(cargo().current_dir(&root).args(["bench", "-p", "weft-core", "-p", "weft-host"]).args(&args[1..]))
        }
        Some(command @ ("bench-lora" | "bench-ops")) => {
            plugins::build(&root, &[])?;
            run(cargo().current_dir(&root).args(["build", "--release", "-p", "weft-host", "--bin", "weft"]))?;
            let weft = root.join("target/release/weft");
            let bench = command.trim_start_matches("bench-");
            run(cargo()
                .current_dir(&root)
                .env("WEFT_BIN", weft)
                .args(["bench", "-p", "weft-tests", "--bench", bench, "--"])
                .args(&args[1..]))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo [--duration SECS] | plugins [NAME...] | lint | test [cargo test args] | fuzz [--build] [--seconds N] [TARGET...] | bench [cargo bench args] | bench-lora [goodput|swap] | bench-ops [reload|reload-new|reload-first|start|scrape|bulk-hold|attack|relay]>"
            );
            std::process::exit(2);
        }
    }
}
