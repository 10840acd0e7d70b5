//! Helpers shared by the node benchmarks: configs, starting nodes in
//! process, asking them things.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft_host::config;
use weft_host::control::{Answer, Query, Reply, Request, Traffic};
use weft_host::key_file;
use weft_host::node::{self, RunningNode};
use weft_plugin_api::Address;

pub fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/wasm")
}

pub fn write_node(dir: &Path, name: &str, peers: &[(u16, Address)], port: u16, plugins: &[(&str, &str)]) -> PathBuf {
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).unwrap();
    key_file::create(&node_dir.join("node.key"), true).unwrap();
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-module-cache");
    let mut toml = format!(
        "[node]\nname = \"{name}\"\nidentity = \"node.key\"\ndata_dir = \"data\"\nmodule_cache = \"{}\"\n\
         [quic]\nlisten = \"127.0.0.1:{port}\"\n",
        cache.display()
    );
    for (port, address) in peers {
        toml.push_str(&format!("[[peers]]\naddress = \"127.0.0.1:{port}\"\nnode = \"{address}\"\n"));
    }
    for (file, extra) in plugins {
        toml.push_str(&format!("[[plugins]]\nfile = \"{}\"\n{extra}\n", plugin_dir().join(file).display()));
    }
    let path = node_dir.join("node.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub async fn start(path: &Path) -> RunningNode {
    node::start(config::load(path).unwrap()).await.unwrap()
}

pub async fn request(node: &RunningNode, request: impl Into<Request>) -> Reply {
    node.handle.request(request).await
}

/// Waits until `node` has `links` links up.
pub async fn wait_links(node: &RunningNode, links: u64) {
    while !matches!(request(node, Query::Status).await, Ok(Answer::Status(s)) if s.links_up as u64 == links) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn counter_total(node: &RunningNode) -> u64 {
    let call = Traffic::Call { plugin: "counter".into(), command: "get".into(), args: String::new(), timeout_ms: None };
    let body = match request(node, call).await {
        Ok(Answer::Called(outcome)) => outcome.body,
        _ => String::new(),
    };
    serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["total"].as_u64()).unwrap_or(0)
}

/// Messages/s through two nodes: A's operator sends to B's counter plugin
/// (wasm, counting silently); done when the counter has seen them all.
pub async fn node_throughput(
    a: &RunningNode,
    b: &RunningNode,
    size: usize,
    base: u64,
    messages: usize,
    batch: usize,
) -> f64 {
    let payload = "x".repeat(size);
    let started = Instant::now();
    let senders = 8;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let handle = a.handle.clone();
        let payload = payload.clone();
        let to = b.address;
        tasks.push(tokio::spawn(async move {
            // `batch` messages per operator request: `send` for one (as
            // `weft ctl send TO PORT TEXT` makes), `send_many` for more (as
            // `weft ctl send TO PORT TEXT...` makes). A congested link
            // refuses; the rest is offered again once it has drained a little.
            let mut left = messages / senders;
            while left > 0 {
                let (accepted, stopped) = if batch == 1 {
                    match handle.request(Traffic::Send { to, port: 8, payload: payload.clone() }).await {
                        Ok(_) => (1, None),
                        Err(e) => (0, Some(e)),
                    }
                } else {
                    let payloads = vec![payload.clone(); left.min(batch)];
                    let Ok(Answer::SentMany(outcome)) =
                        handle.request(Traffic::SendMany { to, port: 8, payloads }).await
                    else {
                        panic!("send_many failed")
                    };
                    (outcome.accepted as usize, outcome.stopped)
                };
                left -= accepted;
                if let Some(why) = stopped {
                    assert!(why.contains("congested"), "{why}");
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    while counter_total(b).await < base + messages as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

/// Messages per operator request in the throughput benchmark.
pub const BATCH: usize = 32;

/// Round trips of `weft ctl call echo ping` (in process) from A to B's echo.
pub async fn echo_rtt(a: &RunningNode, b: &RunningNode, samples_wanted: usize) -> (Duration, Duration) {
    let args = serde_json::json!({ "to": b.address, "text": "ping" }).to_string();
    let mut samples = Vec::with_capacity(samples_wanted);
    for i in 0..samples_wanted + 200 {
        let call =
            Traffic::Call { plugin: "echo".into(), command: "ping".into(), args: args.clone(), timeout_ms: None };
        let started = Instant::now();
        let reply = request(a, call).await;
        let elapsed = started.elapsed();
        assert!(reply.is_ok(), "{reply:?}");
        if i >= 200 {
            samples.push(elapsed); // the first 200 warm up
        }
    }
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}
