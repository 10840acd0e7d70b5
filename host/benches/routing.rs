//! Routing benchmarks (issue 4): relayed throughput and latency across real
//! nodes over QUIC on 127.0.0.1, header and sealing overhead. The simulator
//! figures are `weft-core`'s `simulator` bench.
//!
//! Run with `cargo xtask bench --bench routing` (plugins must be built).
//! Results go to docs/BENCHMARKS.md.

use std::time::Duration;
use weft_core::crypto::{NodeIdentity, SEAL_OVERHEAD};
use weft_core::routing::announce::Announce;
use weft_core::routing::wire::{Body, Hops, Inner, Packet};

mod support;
use support::{echo_rtt, free_port, node_throughput, start, wait_links, write_node};

const MESSAGES: usize = 200_000;
const RTT_SAMPLES: usize = 2_000;
const COUNTER: (&str, &str) =
    ("counter.wasm", "permissions = [\"storage\"]\n[plugins.config]\nreply = false\nflush_interval_ms = 60000");
const ECHO: (&str, &str) = ("echo.wasm", "permissions = [\"send\"]");

fn overhead() {
    let to = NodeIdentity::generate().address();
    let payload = [0u8; 100];
    let plain =
        Packet { hops: Hops::fresh(32), body: Body::Data { destination: to, port: 7, flags: 0, inner: &payload } };
    let inner = Inner { source: None, tag: 0, reply_to: None, payload: &payload };
    let announce = Announce::create(&NodeIdentity::generate(), 0, 1).to_body();
    let announce = Packet { hops: Hops::fresh(32), body: Body::Announce { request: None, body: &announce, cost: 0 } };
    println!("header and sealing overhead:");
    println!("| what | bytes |\n|---|---|");
    println!("| routed unicast header (port < 128, sender hidden) | {} |", plain.encode().len() - payload.len());
    println!("| + revealed sender | {} |", inner.encode().len() - payload.len() + 16);
    println!("| sealing overhead | {SEAL_OVERHEAD} |");
    println!("| announce | {} |", announce.encode().len());
}

fn main() {
    overhead();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        // A - B - C - D, each dialing the next.
        let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
        let d = start(&write_node(dir.path(), "d", &[], ports[3], &[ECHO])).await;
        let c = start(&write_node(dir.path(), "c", &[(ports[3], d.address)], ports[2], &[COUNTER, ECHO])).await;
        let b = start(&write_node(dir.path(), "b", &[(ports[2], c.address)], ports[1], &[ECHO])).await;
        let a = start(&write_node(dir.path(), "a", &[(ports[1], b.address)], ports[0], &[ECHO])).await;
        wait_links(&a, 1).await;
        wait_links(&b, 2).await;
        wait_links(&c, 2).await;
        // Routes: one round trip to each far node finds the path.
        let (p50_2, _) = echo_rtt(&a, &c, 10).await;
        let (p50_3, _) = echo_rtt(&a, &d, 10).await;
        assert!(p50_2 < Duration::from_secs(1) && p50_3 < Duration::from_secs(1));

        let through = node_throughput(&a, &c, 100, 0, MESSAGES, 1).await;
        println!("\nrelayed throughput A -> B -> C, 100-byte payloads, {MESSAGES} messages: {through:.0} msgs/s");
        let (p50, p99) = echo_rtt(&a, &d, RTT_SAMPLES).await;
        println!(
            "3 hops A -> B -> C -> D's echo -> back ({RTT_SAMPLES} samples): round trip p50 {} us, p99 {} us; one way (half) p50 {} us, p99 {} us",
            p50.as_micros(),
            p99.as_micros(),
            p50.as_micros() / 2,
            p99.as_micros() / 2
        );
        for node in [a, b, c, d] {
            node.stop().await;
        }
    });
}
