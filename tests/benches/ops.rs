//! Operations benchmarks (run with `cargo xtask bench-ops`), on `weft run`
//! processes with real plugin builds:
//!
//! - **reload pause**: a wasm service whose state is 1 MiB is hot-swapped
//!   1,000 times (`weft ctl plugin reload`); the node reports each pause (old
//!   instance's shutdown hook + new instance's init with the state) and we
//!   take p50 / p99 / max. Then 100 swaps, each to a build the node has never
//!   loaded (the same plugin with a unique custom section appended, so a new
//!   module with no warm pool slot). Then 20 fresh nodes, each swapped once
//!   to a new build: the first swap to a new release on a node that has
//!   been running, with nothing warm and no earlier swap to learn from.
//! - **start to ready**: `weft run` with N wasm plugins and a warm module
//!   cache, from process spawn until the admin socket lists every plugin
//!   running (median of 5 starts), for N = 1, for every service plugin
//!   built here, and for those plus two radio drivers (wasm) on virtual
//!   modems, ready once both modems are configured.
//! - **scrape**: 200 `GET /metrics` over HTTP, p50 / p99 / max.
//! - **bulk-hold**: one `weft ctl send` of 100,000 payloads to a node nobody
//!   knows (every message is held, the caps push the oldest out) while
//!   `status` is asked every 10 ms over the admin socket: the worst and
//!   p99 status latency, and how long the bulk send took (issue 17,
//!   finding 6; target: status under 50 ms).
//! - **attack**: a hostile neighbour over real QUIC floods a node for ten
//!   seconds (garbage frames, packets for random destinations, path
//!   requests, announces from fresh keys; `weft_tests::hostile_peer`) while
//!   `status` is asked every 10 ms: worst and p99 status latency, the node's
//!   resident memory before and at its peak, and what it refused.
//! - **relay**: A -> B -> C as three `weft run` processes linked by QUIC on
//!   127.0.0.1; A sends 20,000 messages of 100 bytes to C (sealed in a
//!   session with the sender verified: the default), to a port C has no
//!   service on (C counts them): messages delivered per second at C, and the
//!   relay's CPU per message. Then Reticulum in the same shape (three
//!   `RNS` instances, TCP on 127.0.0.1, `tests/benches/reticulum_relay.py`)
//!   when `python3` can import `RNS`; otherwise it says how to install it.
//!
//! `docs/BENCHMARKS.md` records the results with this command.

use std::path::Path;
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;
use weft_modem_sim::{DeviceSpec, Sim, SimConfig};
use weft_tests::node::{NodeSpec, TestNode};

fn plugin_toml(name: &str, permissions: &[&str], config: &str) -> String {
    let perms: Vec<String> = permissions.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "\n[[plugins]]\nfile = \"{}\"\npermissions = [{}]\n[plugins.config]\n{config}",
        weft_tests::plugin(name, Binding::Wasm).display(),
        perms.join(", ")
    )
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

/// Reloads measured: enough that p99 is the 10th-worst, not the 2nd.
const RELOADS: usize = 1000;

/// Swaps measured to builds never loaded before (each is compiled first,
/// off the node's thread, which takes a while).
const NEW_BUILDS: usize = 100;

/// Fresh nodes, each swapped once to a new build.
const FIRST_SWAPS: usize = 20;

/// `wasm` with a custom section appended that makes it a distinct module.
fn distinct_build(wasm: &[u8], nonce: usize) -> Vec<u8> {
    let name = b"weft-bench-nonce";
    let payload = nonce.to_le_bytes();
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push((1 + name.len() + payload.len()) as u8); // size (one LEB128 byte)
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    out
}

/// Which swaps `reload_pause` measures.
#[derive(Clone, Copy, PartialEq)]
enum Swaps {
    /// `RELOADS` swaps of one node to the build it runs.
    SameBuild,
    /// `NEW_BUILDS` swaps of one node, each to a build never loaded before.
    NewBuilds,
    /// `FIRST_SWAPS` fresh nodes, each swapped once to a new build: what an
    /// operator sees when releasing a new version to a node that has been
    /// running (no warm pool slot, no earlier swap to size memory from).
    FirstAfterStart,
}

/// Hot-swaps `sequence` with a 1 MiB state and prints the pauses the node
/// reports.
fn reload_pause(root: &Path, swaps: Swaps) {
    let (label, rounds, what) = match swaps {
        Swaps::SameBuild => ("reload", RELOADS, "reloads to the same build"),
        Swaps::NewBuilds => ("reload-new", NEW_BUILDS, "reloads each to a build never loaded before"),
        Swaps::FirstAfterStart => ("reload-first", FIRST_SWAPS, "fresh nodes, each swapped once to a new build"),
    };
    let spec =
        NodeSpec { extra: plugin_toml("sequence", &["send"], "ballast_bytes = 1048576\n"), ..NodeSpec::default() };
    let wasm = std::fs::read(weft_tests::plugin("sequence", Binding::Wasm)).expect("sequence.wasm");
    let build = |i: usize| {
        let path = root.join(format!("sequence-{label}-{i}.wasm"));
        std::fs::write(&path, distinct_build(&wasm, i)).expect("write build");
        path.display().to_string()
    };
    let swap = |n: &mut TestNode, file: Option<&str>| {
        let mut args = vec!["plugin", "reload", "sequence"];
        args.extend(file);
        let (code, value, err) = n.ctl(&args);
        assert_eq!(code, 0, "reload failed: {err} {value}");
        let state = value["result"]["state_bytes"].as_u64().unwrap_or(0);
        assert!(state > 1 << 20, "the state handed over is over 1 MiB ({state} bytes)");
        let ms = |key: &str| value["result"][key].as_f64().unwrap_or(f64::MAX) / 1000.0;
        (ms("pause_us"), ms("hook_us"))
    };
    let mut measured = Vec::new();
    if swaps == Swaps::FirstAfterStart {
        for round in 0..rounds {
            let mut n = TestNode::new(root, &format!("{label}-{round}"));
            n.start(&spec);
            // Some traffic first, as on a node that has been running.
            for _ in 0..3 {
                let (code, _, err) = n.ctl(&["call", "sequence", "stats"]);
                assert_eq!(code, 0, "{err}");
            }
            measured.push(swap(&mut n, Some(&build(round))));
            n.stop();
        }
    } else {
        let mut n = TestNode::new(root, label);
        n.start(&spec);
        let files: Vec<String> = if swaps == Swaps::NewBuilds { (0..rounds).map(build).collect() } else { Vec::new() };
        for round in 0..rounds {
            measured.push(swap(&mut n, files.get(round).map(String::as_str)));
        }
        n.stop();
    }
    let (p50, p99, max) = percentiles(measured.iter().map(|m| m.0).collect());
    let (h50, h99, _) = percentiles(measured.iter().map(|m| m.1).collect());
    println!(
        "reload pause, wasm service with a 1 MiB state, {rounds} {what}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms \
         (old instance's hook: p50 {h50:.2} ms, p99 {h99:.2} ms; the rest is the new instance's init)"
    );
}

/// A `[[radios]]` section: `driver` (a wasm driver plugin) on `device`.
fn radio_toml(name: &str, device: &Path, driver: &str) -> String {
    format!(
        "\n[[radios]]\nname = \"{name}\"\ndevice = \"{}\"\ndriver = \"{}\"\n[radios.driver_config]\n\
         frequency_hz = 868100000\nbandwidth_hz = 125000\nspreading_factor = 7\ncoding_rate = 5\ntx_power_dbm = 14\n",
        device.display(),
        weft_tests::plugin(driver, Binding::Wasm).display()
    )
}

/// Spawn to ready, median of 5 starts after one that warms the module
/// cache. With `radios`, the node also drives two virtual modems (an RNode
/// and a RAK3172, each with its wasm driver), and ready includes both
/// drivers having detected and configured their modem.
fn start_to_ready(root: &Path, plugins: &[(&str, &[&str])], radios: bool) {
    let sim_dir = root.join(format!("start-sim-{}", plugins.len()));
    let device = |name: &str| sim_dir.join(format!("tty-{name}"));
    let sim = radios.then(|| {
        std::fs::create_dir_all(&sim_dir).expect("sim dir");
        Sim::start(
            SimConfig::default(),
            vec![DeviceSpec::rnode("r0", Some(device("r0"))), DeviceSpec::rak3172("r1", Some(device("r1")))],
        )
        .expect("virtual modems")
    });
    let mut extra: String = plugins.iter().map(|(name, perms)| plugin_toml(name, perms, "")).collect();
    let drivers = if radios { vec!["rnode", "atmodem"] } else { Vec::new() };
    for (i, driver) in drivers.iter().enumerate() {
        extra.push_str(&radio_toml(&format!("lora{i}"), &device(&format!("r{i}")), driver));
    }
    let mut times = Vec::new();
    for round in 0..6 {
        let mut n = TestNode::new(root, &format!("start-{}-{}-{round}", plugins.len(), drivers.len()));
        n.write_config(&NodeSpec { extra: extra.clone(), ..NodeSpec::default() });
        let started = Instant::now();
        n.launch();
        n.wait_until("all plugins running", Duration::from_secs(30), |n| {
            let (_, value, _) = n.ctl(&["plugins"]);
            let rows = value["result"].as_array().cloned().unwrap_or_default();
            let services = rows.len() == plugins.len() && rows.iter().all(|r| r["state"] == "running");
            let (_, value, _) = n.ctl(&["links"]);
            let links = value["result"].as_array().cloned().unwrap_or_default();
            let radios = links.len() == drivers.len() && links.iter().all(|l| l["driver_up"] == true);
            services && radios
        });
        if round > 0 {
            // Round 0 warms the module cache.
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        n.stop();
    }
    if let Some(sim) = sim {
        sim.stop();
    }
    let (p50, _, max) = percentiles(times);
    let mut names: Vec<&str> = plugins.iter().map(|(n, _)| *n).collect();
    let driver_names: Vec<String> = drivers.iter().map(|d| format!("{d} driver")).collect();
    names.extend(driver_names.iter().map(String::as_str));
    println!(
        "start to ready with {} wasm plugins ({}), warm cache: median {p50:.0} ms, max {max:.0} ms (process spawn to admin socket listing all running{})",
        names.len(),
        names.join(", "),
        if radios { ", both modems configured" } else { "" }
    );
}

fn scrape(root: &Path) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut n = TestNode::new(root, "scrape");
    let extra = format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n{}", plugin_toml("counter", &["storage"], ""));
    n.start(&NodeSpec { extra, ..NodeSpec::echo() });
    for _ in 0..50 {
        let _ = n.ping(&n, "some traffic");
    }
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..200 {
        let started = Instant::now();
        size = get_metrics(port).len();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99, max) = percentiles(times);
    println!("metrics scrape over HTTP ({size} bytes): p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");
    n.stop();
}

fn bulk_hold(root: &Path) {
    use weft_host::control::{Query, Request, Traffic};
    const PAYLOADS: usize = 100_000;
    let mut n = TestNode::new(root, "bulk");
    n.start(&NodeSpec::default());
    let socket = n.socket();
    let unknown: weft_plugin_api::Address = "00112233445566778899aabbccddeeff".parse().expect("address");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let status: Request = Query::Status.into();
    let ask = |rt: &tokio::runtime::Runtime| {
        let started = Instant::now();
        let response =
            rt.block_on(weft_host::admin::client::request(&socket, &status, Duration::from_secs(60))).expect("status");
        (started.elapsed().as_secs_f64() * 1000.0, response)
    };
    let idle: Vec<f64> = (0..20).map(|_| ask(&rt).0).collect();
    let sender = {
        let socket = socket.clone();
        let payloads: Vec<String> = (1..=PAYLOADS).map(|i| i.to_string()).collect();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let started = Instant::now();
            let request: Request = Traffic::SendMany { to: unknown, port: 9, payloads }.into();
            let response = rt
                .block_on(weft_host::admin::client::request(&socket, &request, Duration::from_secs(300)))
                .expect("bulk send answered");
            (started.elapsed(), response)
        })
    };
    let mut busy = Vec::new();
    while !sender.is_finished() {
        busy.push(ask(&rt).0);
        std::thread::sleep(Duration::from_millis(10));
    }
    let (took, response) = sender.join().expect("sender");
    assert!(response.ok, "{:?}", response.error);
    let hold = ask(&rt).1.result.map(|r| r["hold"].clone()).unwrap_or_default();
    let (i50, _, imax) = percentiles(idle);
    let asked = busy.len();
    let (p50, p99, max) = percentiles(busy);
    println!(
        "bulk send of {PAYLOADS} payloads to an unknown node: {:.2} s; status on the idle node p50 {i50:.2} ms (worst {imax:.2}); asked {asked} times during the send: p50 {p50:.2} ms, p99 {p99:.2} ms, worst {max:.2} ms; hold counters {hold}",
        took.as_secs_f64()
    );
    n.stop();
}

fn attack(root: &Path) {
    use weft_host::control::{Query, Request};
    let mut v = TestNode::new(root, "victim");
    v.start(&NodeSpec::default());
    let socket = v.socket();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let status: Request = Query::Status.into();
    let ask = |rt: &tokio::runtime::Runtime| {
        let started = Instant::now();
        let response =
            rt.block_on(weft_host::admin::client::request(&socket, &status, Duration::from_secs(60))).expect("status");
        (started.elapsed().as_secs_f64() * 1000.0, response)
    };
    let rss_before = v.rss_bytes().unwrap_or(0);
    let victim = v.address.parse().expect("address");
    let at = format!("127.0.0.1:{}", v.port).parse().expect("socket address");
    let attacker = std::thread::spawn(move || weft_tests::hostile_peer::attack(at, victim, Duration::from_secs(10)));
    let (mut times, mut peak) = (Vec::new(), rss_before);
    while !attacker.is_finished() {
        times.push(ask(&rt).0);
        peak = peak.max(v.rss_bytes().unwrap_or(0));
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = attacker.join().expect("attacker").expect("attack ran");
    let result = ask(&rt).1.result.unwrap_or_default();
    let routing = &result["routing"];
    let asked = times.len();
    let (p50, p99, max) = percentiles(times);
    println!(
        "hostile neighbour for 10 s ({sent:?}): status asked {asked} times: p50 {p50:.2} ms, p99 {p99:.2} ms, worst {max:.2} ms; RSS {} MiB -> peak {} MiB; nodes known {}; refused: undecodable {}, announces rate-limited {}, path requests rate-limited {}, unknown destinations rate-limited {}, searches refused {}, own path requests deferred {}",
        rss_before >> 20,
        peak >> 20,
        result["nodes_known"],
        routing["undecodable"],
        routing["announces_rate_limited"],
        routing["path_requests_rate_limited"],
        routing["unknown_rate_limited"],
        routing["searches_refused"],
        routing["path_requests_deferred"],
    );
    v.stop();
}

fn get_metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let root = tempfile::tempdir().expect("temp dir");
    if wants("reload") {
        reload_pause(root.path(), Swaps::SameBuild);
    }
    if wants("reload-new") {
        reload_pause(root.path(), Swaps::NewBuilds);
    }
    if wants("reload-first") {
        reload_pause(root.path(), Swaps::FirstAfterStart);
    }
    if wants("start") {
        start_to_ready(root.path(), &[("echo", &["send"])], false);
        let mut all: Vec<(&str, &[&str])> =
            vec![("echo", &["send"]), ("counter", &["storage"]), ("sequence", &["send"])];
        if weft_tests::plugin_dir().join("wasm/fapp.wasm").exists() {
            all.push(("fapp", &["send", "flood", "storage", "sign", "seal"]));
        }
        start_to_ready(root.path(), &all, false);
        start_to_ready(root.path(), &all, true);
    }
    if wants("scrape") {
        scrape(root.path());
    }
    if wants("bulk-hold") {
        bulk_hold(root.path());
    }
    if wants("attack") {
        attack(root.path());
    }
    if wants("relay") {
        relay(root.path());
    }
}

/// Messages in the relay benchmark, and their payload size.
const RELAY_MESSAGES: usize = 20_000;
const RELAY_PAYLOAD: usize = 100;
/// Rounds of the weft relay benchmark.
const RELAY_ROUNDS: usize = 5;

fn relay(root: &Path) {
    use weft_host::control::{Query, Request, Traffic};
    let (mut a, mut b, mut c) = (TestNode::new(root, "ra"), TestNode::new(root, "rb"), TestNode::new(root, "rc"));
    b.start(&NodeSpec::default());
    a.start(&NodeSpec::default().peer(&b));
    c.start(&NodeSpec::default().peer(&b));
    a.linked_with(&b, Duration::from_secs(10));
    c.linked_with(&b, Duration::from_secs(10));
    a.wait_until("a route to c", Duration::from_secs(15), |a| {
        let (_, routes, _) = a.ctl(&["routes"]);
        routes["result"].as_array().into_iter().flatten().any(|r| r["destination"] == c.address.as_str())
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ask = |node: &TestNode, request: Request| {
        rt.block_on(weft_host::admin::client::request(&node.socket(), &request, Duration::from_secs(60)))
            .expect("the node answers")
            .result
            .unwrap_or_default()
    };
    let arrived = |c: &TestNode| ask(c, Query::Status.into())["counters"]["no_service"].as_u64().unwrap_or(0);
    let to: weft_plugin_api::Address = c.address.parse().expect("address");
    // One message first: the session's handshake is not what is measured.
    ask(&a, Traffic::SendMany { to, port: 33, payloads: vec!["warm-up".into()] }.into());
    c.wait_until("the first message", Duration::from_secs(10), |c| arrived(c) >= 1);
    let payloads: Vec<String> = (0..RELAY_MESSAGES).map(|i| format!("{i:0width$}", width = RELAY_PAYLOAD)).collect();
    // A round lasts a fraction of a second: several rounds on the same
    // nodes, each reported, and their median.
    let mut rates = Vec::new();
    for round in 0..RELAY_ROUNDS {
        let arrived_before = arrived(&c);
        let (cpu_before, started) = (b.cpu_seconds().unwrap_or(0.0), Instant::now());
        let mut next = 0;
        while next < payloads.len() {
            // A session takes what fits its queue; the rest is offered again.
            let chunk = payloads[next..(next + 4_000).min(payloads.len())].to_vec();
            let outcome = ask(&a, Traffic::SendMany { to, port: 33, payloads: chunk }.into());
            let accepted = outcome["accepted"].as_u64().unwrap_or(0) as usize;
            next += accepted;
            if accepted == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while arrived(&c) < arrived_before + RELAY_MESSAGES as u64 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (elapsed, got) = (started.elapsed().as_secs_f64(), arrived(&c) - arrived_before);
        let relay_cpu = b.cpu_seconds().unwrap_or(0.0) - cpu_before;
        let rate = got as f64 / elapsed;
        rates.push(rate);
        println!(
            "relay A -> B -> C, three weft processes, QUIC on 127.0.0.1, round {}: {got} of {RELAY_MESSAGES} sealed, \
             sender-verified {RELAY_PAYLOAD}-byte messages in {elapsed:.2} s = {rate:.0} msgs/s delivered; relay CPU \
             {:.1} µs/msg",
            round + 1,
            relay_cpu * 1e6 / got.max(1) as f64
        );
    }
    rates.sort_by(f64::total_cmp);
    println!("relay A -> B -> C, weft: median of {RELAY_ROUNDS} rounds {:.0} msgs/s", rates[rates.len() / 2]);
    for node in [&mut a, &mut b, &mut c] {
        node.stop();
    }
    reticulum_relay(root);
}

/// The same shape on Reticulum, side by side, when `python3` has `RNS`.
fn reticulum_relay(root: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reticulum_relay.py");
    let python = std::env::var("RETICULUM_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_rns = std::process::Command::new(&python)
        .args(["-c", "import RNS"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_rns {
        println!(
            "reticulum: not run ({python} cannot import RNS). To compare side by side: \
             python3 -m venv target/rns && target/rns/bin/pip install rns && \
             RETICULUM_PYTHON=$PWD/target/rns/bin/python cargo xtask bench-ops relay"
        );
        return;
    }
    let dir = root.join("reticulum");
    let status = std::process::Command::new(&python)
        .arg(&script)
        .args(["--dir", &dir.display().to_string(), "--messages", &RELAY_MESSAGES.to_string()])
        .args(["--payload", &RELAY_PAYLOAD.to_string()])
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("reticulum: the comparison run failed (see above)");
    }
}
