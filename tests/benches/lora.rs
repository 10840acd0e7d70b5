//! LoRa benchmarks over the virtual modem (run with `cargo xtask bench-lora`):
//!
//! - **goodput**: two `weft run` nodes linked by virtual RNodes at SF7 /
//!   125 kHz (duty cycle lifted to 100 % so airtime is the only limit) carry
//!   N messages of P payload bytes; goodput is payload bytes delivered per
//!   second from the first send to the last delivery, compared with the
//!   airtime-limited maximum for the same payloads: P bytes per
//!   time-on-air of a P-byte frame.
//! - **hot-swap stall**: under continuous traffic the driver is swapped 20
//!   times (wasm v1 <-> wasm v2 build); the host measures each stall from
//!   the old driver stopping to the new one reporting the modem re-synced,
//!   and every message must still arrive exactly once, in order.
//!
//! Results go to stdout; `docs/BENCHMARKS.md` records them with this command.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;
use weft_modem_sim::{DeviceSpec, Sim, SimConfig};
use weft_plugin_api::radio::LoraParams;
use weft_tests::node::{NodeSpec, TestNode};

fn radio(device: &Path, extra: &str) -> String {
    format!(
        "\n[[radios]]\nname = \"lora0\"\ndevice = \"{}\"\ndriver = \"{}\"\nduty_cycle_percent = 100.0\n\
         hello_interval_s = 600\nneighbour_timeout_s = 3600\n{extra}[radios.driver_config]\nfrequency_hz = 868100000\n\
         bandwidth_hz = 125000\nspreading_factor = 7\ncoding_rate = 5\ntx_power_dbm = 14\n",
        device.display(),
        weft_tests::plugin("rnode", Binding::Wasm).display()
    )
}

fn links(node: &TestNode) -> Value {
    node.ctl(&["links"]).1["result"][0].clone()
}

fn last_number(sink: &TestNode, sender: &TestNode) -> Value {
    let (_, value, _) = sink.ctl(&["call", "sequence", "stats"]);
    let body: Value = serde_json::from_str(value["result"]["body"].as_str().unwrap_or("{}")).unwrap_or(Value::Null);
    body[sender.address.as_str()].clone()
}

struct Pair {
    a: TestNode,
    b: TestNode,
    sim: Option<Sim>,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let device = |name: &str| -> PathBuf { dir.path().join(format!("tty-{name}")) };
        let sim = Sim::start(
            SimConfig::default(),
            vec![DeviceSpec::rnode("a", Some(device("a"))), DeviceSpec::rnode("b", Some(device("b")))],
        )
        .expect("virtual modems");
        let (mut a, mut b) = (TestNode::new(dir.path(), "a"), TestNode::new(dir.path(), "b"));
        a.start(&NodeSpec { extra: radio(&device("a"), extra), ..NodeSpec::default() });
        let sink = vec![("sequence", Binding::Wasm, &["send"] as &[&str])];
        b.start(&NodeSpec { extra: radio(&device("b"), extra), plugins: sink, ..NodeSpec::default() });
        for (x, y) in [(&a, &b), (&b, &a)] {
            x.wait_until("neighbour heard", Duration::from_secs(30), |n| {
                weft_tests::node::radio_hears(&links(n), &y.address)
            });
        }
        // Let the announces of the link's first seconds pass.
        std::thread::sleep(Duration::from_secs(3));
        Self { a, b, sim: Some(sim), _dir: dir }
    }

    fn send(&self, n: u64, width: usize) {
        let text = format!("{n:0width$}");
        let (code, _, err) = self.a.ctl(&["send", &self.b.address, "9", &text]);
        assert_eq!(code, 0, "send failed: {err}");
    }

    fn wait_last(&self, last: u64, limit: Duration) -> Value {
        self.b.wait_until("all delivered", limit, |b| last_number(b, &self.a)["last"].as_u64() == Some(last));
        last_number(&self.b, &self.a)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.a.stop();
        self.b.stop();
        if let Some(sim) = self.sim.take() {
            sim.stop();
        }
    }
}

fn goodput(payload: usize, count: u64) {
    let pair = Pair::start("");
    let started = Instant::now();
    for n in 1..=count {
        pair.send(n, payload);
    }
    let stats = pair.wait_last(count, Duration::from_secs(600));
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(stats["received"].as_u64(), Some(count), "{stats}");
    // The link's goodput: from the first message's frame going on air (its
    // arrival minus one frame time) to the last arrival, as the sink saw it.
    let params = LoraParams::default();
    let frame = params.time_on_air_us(payload + LAST_HOP_OVERHEAD) as f64 / 1e6;
    let span = (stats["latest_ms"].as_f64().unwrap_or(0.0) - stats["first_ms"].as_f64().unwrap_or(0.0)) / 1e3 + frame;
    let max = payload as f64 / (params.time_on_air_us(payload) as f64 / 1e6);
    let got = (payload as u64 * count) as f64 / span;
    let row = links(&pair.a);
    println!(
        "goodput SF7/125kHz payload {payload} B x {count}: {got:.0} B/s of {max:.0} B/s airtime-limited = {:.1} % \
         (link busy {span:.2} s; wall clock from the first send {wall:.1} s; frames out {}, airtime {:.1} s)",
        100.0 * got / max,
        row["counters"]["frames_out"],
        row["used_us"].as_f64().unwrap_or(0.0) / 1e6
    );
}

/// Bytes on air beyond the payload of a sealed, sender-verified message on
/// its last hop: the compact session frame and the RNode's header byte
/// (docs/WIRE.md, "Per-packet overhead on LoRa").
const LAST_HOP_OVERHEAD: usize = 35;

fn swap_stall(swaps: usize) {
    let pair = Pair::start("");
    let drivers = [weft_tests::plugin("rnode-v2", Binding::Wasm), weft_tests::plugin("rnode", Binding::Wasm)];
    let mut stalls = Vec::new();
    let mut sent = 0;
    for i in 0..swaps {
        // Keep frames queued: a few messages before every swap.
        for _ in 0..3 {
            sent += 1;
            pair.send(sent, 1);
        }
        let file = drivers[i % 2].to_str().expect("utf-8").to_string();
        let (code, value, err) = pair.a.ctl(&["link", "swap-driver", "lora0", &file]);
        assert_eq!(code, 0, "swap failed: {err} {value}");
        let before = links(&pair.a)["counters"]["swaps"].as_u64().unwrap_or(0);
        pair.a.wait_until("the new driver is up", Duration::from_secs(10), |a| {
            let row = links(a);
            row["driver_up"] == true && row["counters"]["swaps"].as_u64() == Some(before)
        });
        stalls.push(links(&pair.a)["last_swap_stall_us"].as_u64().unwrap_or(u64::MAX));
    }
    let stats = pair.wait_last(sent, Duration::from_secs(120));
    assert_eq!(
        (stats["received"].as_u64(), stats["duplicates"].as_u64(), stats["gaps"].as_u64()),
        (Some(sent), Some(0), Some(0))
    );
    println!("stalls in order, µs: {stalls:?}");
    stalls.sort_unstable();
    let pct = |p: f64| stalls[((stalls.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    println!(
        "hot-swap stall over {swaps} swaps under traffic: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms; {sent} messages, 0 lost, 0 duplicated, in order",
        pct(0.5),
        pct(0.9),
        pct(1.0)
    );
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wants("goodput") {
        goodput(200, 40);
        goodput(50, 60);
    }
    if wants("swap") {
        swap_stall(20);
    }
}
