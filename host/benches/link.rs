//! Link benchmarks (issue 3): two nodes in one process over real QUIC on
//! 127.0.0.1, compared with raw quinn in the same run, plus the echo
//! round-trip time and the idle memory of a `weft run` process.
//!
//! Run with `cargo xtask bench --bench link` (plugins must be built). Results
//! go to docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_host::admin::protocol::{Request, Response};
use weft_host::config;
use weft_host::crypto::{NodeIdentity, key_file};
use weft_host::link::endpoint::{self, LinkSettings};
use weft_host::link::frame::{FrameReader, LinkFrame, ReadItem, encode_prefixed};
use weft_host::routing::wire::{Body, Hops, Packet};
use weft_host::node::{self, RunningNode};
use weft_plugin_api::Address;

const SIZES: [usize; 2] = [100, 1200];
const MESSAGES: usize = 200_000;
const RTT_SAMPLES: usize = 2_000;

fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/wasm")
}

fn write_node(dir: &Path, name: &str, peer: Option<(u16, Address)>, port: u16, plugins: &[(&str, &str)]) -> PathBuf {
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).unwrap();
    key_file::create(&node_dir.join("node.key"), true).unwrap();
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-module-cache");
    let mut toml = format!(
        "[node]\nname = \"{name}\"\nidentity = \"node.key\"\ndata_dir = \"data\"\nmodule_cache = \"{}\"\n\
         [quic]\nlisten = \"127.0.0.1:{port}\"\n",
        cache.display()
    );
    if let Some((port, address)) = peer {
        toml.push_str(&format!("[[peers]]\naddress = \"127.0.0.1:{port}\"\nnode = \"{address}\"\n"));
    }
    for (file, extra) in plugins {
        toml.push_str(&format!("[[plugins]]\nfile = \"{}\"\n{extra}\n", plugin_dir().join(file).display()));
    }
    let path = node_dir.join("node.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(path: &Path) -> RunningNode {
    node::start(config::load(path).unwrap()).await.unwrap()
}

async fn request(node: &RunningNode, request: Request) -> Response {
    node.handle.request(request).await
}

async fn counter_total(node: &RunningNode) -> u64 {
    let call = Request::Call { plugin: "counter".into(), command: "get".into(), args: String::new(), timeout_ms: None };
    let response = request(node, call).await;
    let body = response.result.and_then(|r| r["body"].as_str().map(String::from)).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["total"].as_u64()).unwrap_or(0)
}

/// Messages/s through two nodes: A's operator sends to B's counter plugin
/// (wasm, counting silently); done when the counter has seen them all.
async fn node_throughput(a: &RunningNode, b: &RunningNode, size: usize, base: u64) -> f64 {
    let payload = "x".repeat(size);
    let started = Instant::now();
    let senders = 8;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let handle = a.handle.clone();
        let payload = payload.clone();
        let to = b.address;
        tasks.push(tokio::spawn(async move {
            for _ in 0..MESSAGES / senders {
                // A full link refuses as "congested": wait for it to drain, as a real sender would.
                loop {
                    let response = handle.request(Request::Send { to, port: 8, payload: payload.clone() }).await;
                    if response.ok {
                        break;
                    }
                    assert!(response.error.as_deref().is_some_and(|e| e.contains("congested")), "{response:?}");
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    while counter_total(b).await < base + MESSAGES as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

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

/// Round trips of `weft ctl call echo ping` (in process) from A to B's echo.
async fn echo_rtt(a: &RunningNode, b: &RunningNode) -> (Duration, Duration) {
    let args = serde_json::json!({ "to": b.address, "text": "ping" }).to_string();
    let mut samples = Vec::with_capacity(RTT_SAMPLES);
    for i in 0..RTT_SAMPLES + 200 {
        let call =
            Request::Call { plugin: "echo".into(), command: "ping".into(), args: args.clone(), timeout_ms: None };
        let started = Instant::now();
        let response = request(a, call).await;
        let elapsed = started.elapsed();
        assert!(response.ok, "{response:?}");
        if i >= 200 {
            samples.push(elapsed); // the first 200 warm up
        }
    }
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// RSS of an idle `weft run` process with two wasm plugins.
fn idle_rss(dir: &Path) -> u64 {
    let config = write_node(
        dir,
        "idle",
        None,
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
            None,
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
            Some((b_port, b.address)),
            free_port(),
            &[("echo.wasm", "permissions = [\"send\"]")],
        );
        let a = start(&a_path).await;
        while request(&a, Request::Status).await.result.and_then(|r| r["links_up"].as_u64()) != Some(1) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("link throughput, {MESSAGES} messages one way, 127.0.0.1 (same run):");
        println!("| size | raw quinn msgs/s | raw MB/s | through the nodes msgs/s | MB/s | ratio |");
        println!("|---|---|---|---|---|---|");
        let mut base = 0;
        for size in SIZES {
            let raw = raw_quinn_throughput(size).await;
            let through = node_throughput(&a, &b, size, base).await;
            base += MESSAGES as u64;
            let mb = |r: f64| r * size as f64 / 1e6;
            println!(
                "| {size} B | {raw:.0} | {:.1} | {through:.0} | {:.1} | {:.0} % |",
                mb(raw),
                mb(through),
                100.0 * through / raw
            );
        }
        let (p50, p99) = echo_rtt(&a, &b).await;
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
