//! Link benchmarks (issue 3): two nodes in one process over real QUIC on
//! 127.0.0.1, compared with raw quinn in the same run, plus the echo
//! round-trip time and the idle memory of a `weft run` process.
//!
//! Run with `cargo xtask bench --bench link` (plugins must be built). Results
//! go to docs/BENCHMARKS.md.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_core::crypto::NodeIdentity;
use weft_core::routing::wire::{Body, Hops, Packet};
use weft_host::link::endpoint::{self, LinkSettings};
use weft_host::link::frame::{FrameReader, LinkFrame, ReadItem, encode_prefixed};

const SIZES: [usize; 2] = [100, 1200];
const MESSAGES: usize = 200_000;
const RTT_SAMPLES: usize = 2_000;
/// Raw and through-the-nodes runs alternate this many times per size; the
/// median ratio is the figure (single runs on a shared 2-core machine vary).
const ROUNDS: usize = 5;

mod support;
use support::{BATCH, echo_rtt, free_port, node_throughput, start, wait_links, write_node};

/// Messages/s over raw quinn with the same TLS and transport settings: one
/// stream, each message written as a length-prefixed service frame.
async fn raw_quinn_throughput(size: usize) -> f64 {
    let settings = LinkSettings::from(&weft_host::config::schema::QuicSection::default());
    let server_id = NodeIdentity::generate();
    let server_address = server_id.address();
    let server = endpoint::create(&server_id, "127.0.0.1:0".parse().unwrap(), &settings).unwrap();
    let target = server.local_addr().unwrap();
    let client_id = NodeIdentity::generate();
    let client = endpoint::create(&client_id, "127.0.0.1:0".parse().unwrap(), &settings).unwrap();
    let receiver = tokio::spawn(async move {
        let connection = server.accept().await.unwrap().await.unwrap();
        let mut stream = connection.accept_uni().await.unwrap();
        let mut reader = FrameReader::new(65536);
        let mut count = 0;
        while count < MESSAGES {
            let chunk = stream.read_chunk(64 * 1024, true).await.unwrap().unwrap();
            reader.push(&chunk.bytes);
            while let Some(ReadItem::Frame(body)) = reader.next_item() {
                std::hint::black_box(LinkFrame::decode(body).unwrap());
                count += 1;
            }
        }
        connection
    });
    let config = endpoint::client_config(&client_id, server_address, &settings).unwrap();
    let connection = client.connect_with(config, target, "weft").unwrap().await.unwrap();
    let mut stream = connection.open_uni().await.unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    for _ in 0..MESSAGES {
        buffer.clear();
        let payload = vec![b'x'; size];
        let packet = Packet {
            hops: Hops::fresh(32),
            body: Body::Data { destination: server_address, port: 8, flags: 0, inner: &payload },
        };
        encode_prefixed(&LinkFrame::Packet(packet.encode()), &mut buffer);
        stream.write_all(&buffer).await.unwrap();
    }
    let _ = receiver.await.unwrap();
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

/// RSS of an idle `weft run` process with two wasm plugins.
fn idle_rss(dir: &Path) -> u64 {
    let config = write_node(
        dir,
        "idle",
        &[],
        free_port(),
        &[("echo.wasm", "permissions = [\"send\"]"), ("counter.wasm", "permissions = [\"storage\"]")],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; criterion-style filters are not used here.
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let b_port = free_port();
        let b_path = write_node(
            dir.path(),
            "b",
            &[],
            b_port,
            &[
                (
                    "counter.wasm",
                    "permissions = [\"storage\"]\n[plugins.config]\nreply = false\nflush_interval_ms = 60000",
                ),
                ("echo.wasm", "permissions = [\"send\"]"),
            ],
        );
        let b = start(&b_path).await;
        let a_path = write_node(
            dir.path(),
            "a",
            &[(b_port, b.address)],
            free_port(),
            &[("echo.wasm", "permissions = [\"send\"]")],
        );
        let a = start(&a_path).await;
        wait_links(&a, 1).await;
        println!("link throughput, {MESSAGES} messages one way, 127.0.0.1 (same run, {ROUNDS} alternating rounds):");
        println!("| size | round | raw quinn msgs/s | raw MB/s | through the nodes msgs/s | MB/s | ratio |");
        println!("|---|---|---|---|---|---|---|");
        let mut base = 0;
        for size in SIZES {
            let mut ratios = Vec::new();
            for round in 1..=ROUNDS {
                let raw = raw_quinn_throughput(size).await;
                let through = node_throughput(&a, &b, size, base, MESSAGES, BATCH).await;
                base += MESSAGES as u64;
                let mb = |r: f64| r * size as f64 / 1e6;
                ratios.push(through / raw);
                println!(
                    "| {size} B | {round} | {raw:.0} | {:.1} | {through:.0} | {:.1} | {:.0} % |",
                    mb(raw),
                    mb(through),
                    100.0 * through / raw
                );
            }
            ratios.sort_by(f64::total_cmp);
            println!("| {size} B | median ratio | | | | | **{:.0} %** |", 100.0 * ratios[ratios.len() / 2]);
        }
        // The operator path with one request per message, for comparison:
        // each message then waits for its own answer from the node.
        let mut ratios = Vec::new();
        for round in 1..=ROUNDS {
            let raw = raw_quinn_throughput(100).await;
            let through = node_throughput(&a, &b, 100, base, MESSAGES, 1).await;
            base += MESSAGES as u64;
            ratios.push(through / raw);
            println!(
                "| 100 B, one request per message | {round} | {raw:.0} | {:.1} | {through:.0} | {:.1} | {:.0} % |",
                raw * 100.0 / 1e6,
                through * 100.0 / 1e6,
                100.0 * through / raw
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "| 100 B, one request per message | median ratio | | | | | **{:.0} %** |",
            100.0 * ratios[ratios.len() / 2]
        );
        let (p50, p99) = echo_rtt(&a, &b, RTT_SAMPLES).await;
        println!(
            "\necho round trip A -> B's echo -> A ({RTT_SAMPLES} samples): p50 {} us, p99 {} us",
            p50.as_micros(),
            p99.as_micros()
        );
        a.stop().await;
        b.stop().await;
    });
    println!("\nidle `weft run` with echo.wasm + counter.wasm: RSS {} MB", idle_rss(dir.path()) / 1024);
}
