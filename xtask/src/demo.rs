//! `cargo xtask demo [--duration SECS]`: a three-node mesh on one machine.
//!
//! Builds the plugins, the `weft` binary and the virtual modem, writes keys
//! and configs into a temporary folder, starts `weft-modem-sim` with two
//! virtual RNodes on pseudo-terminals, then nodes A, B and C as separate
//! `weft run` processes: A-B over QUIC on 127.0.0.1, B-C over LoRa through
//! the RNode driver plugin. It drives them with `weft ctl` exactly as an
//! operator would (so A -> C crosses QUIC then LoRa), prints airtime and
//! duty-cycle budget, plays FAPP end to end (C publishes slots, A queries
//! through B and reserves, C confirms), prints how to poke at the running
//! mesh, and stops everything cleanly on Ctrl-C or after `--duration` seconds.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Node {
    name: &'static str,
    dir: PathBuf,
    address: String,
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn socket(&self) -> PathBuf {
        self.dir.join("admin.sock")
    }
    fn config(&self) -> PathBuf {
        self.dir.join("node.toml")
    }
}

/// Runs the demo.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let duration = parse_duration(args)?;
    crate::plugins::build(root, &[])?;
    println!("xtask: building the weft binary");
    crate::run(crate::cargo().current_dir(root).args(["build", "--quiet", "-p", "weft-host", "--bin", "weft"]))?;
    crate::run(crate::cargo().current_dir(root).args(["build", "--quiet", "-p", "weft-modem-sim"]))?;
    let weft = root.join("target/debug/weft");
    let modem_sim = root.join("target/debug/weft-modem-sim");
    let work = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let cache = root.join("target/demo-module-cache");

    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir)?;
        let out = output(Command::new(&weft).args(["keygen", "--json", "--out"]).arg(dir.join("node.key")))?;
        let address = serde_json::from_str::<Value>(&out)?["address"].as_str().context("keygen address")?.to_string();
        nodes.push(Node { name, dir, address, port: free_port()?, child: None });
    }
    let echo = root.join("target/plugins/wasm/echo.wasm");
    let rnode = root.join("target/plugins/wasm/rnode.wasm");
    let (tty_b, tty_c) = (work.join("tty-b"), work.join("tty-c"));
    // A dials B over QUIC; B and C share a LoRa channel.
    let files = Files { echo, fapp: root.join("target/plugins/wasm/fapp.wasm"), cache };
    write_config(&nodes[0], Some((nodes[1].port, nodes[1].address.clone())), None, FAPP_PATIENT, &files)?;
    write_config(&nodes[1], None, Some((&tty_b, &rnode)), FAPP_RELAY, &files)?;
    write_config(&nodes[2], None, Some((&tty_c, &rnode)), FAPP_THERAPIST, &files)?;

    println!("\n== Weft demo: A - B over QUIC on 127.0.0.1, B - C over LoRa (virtual RNodes) ==\n");
    for node in &nodes {
        println!("  node {}  address {}  quic 127.0.0.1:{}", node.name.to_uppercase(), node.address, node.port);
    }
    println!("\nstarting the virtual modems: two RNodes on one channel ({RADIO_TEXT})");
    let mut modems = start_modems(&modem_sim, &[("b", &tty_b), ("c", &tty_c)])?;
    println!("\nstarting the nodes (the first start compiles echo.wasm once; later starts load it from the cache)");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("install the Ctrl-C handler")?;
    let result = drive(&weft, &mut nodes, duration, &stop);
    println!("\nstopping the nodes (SIGTERM: plugins' shutdown hooks run, links close)");
    for node in &mut nodes {
        if let Some(code) = stop_node(node) {
            println!("  node {} exited with status {code}", node.name.to_uppercase());
        }
    }
    let _ = Command::new("kill").args(["-TERM", &modems.id().to_string()]).status();
    let _ = modems.wait();
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&work);
        }
        Err(_) => println!("logs kept in {}", work.display()),
    }
    result
}

fn drive(weft: &Path, nodes: &mut [Node], duration: Option<Duration>, stop: &AtomicBool) -> Result<()> {
    for node in nodes.iter_mut().rev() {
        start(weft, node)?;
    }
    wait_for_links(weft, nodes)?;
    println!("\nlinks are up. What B sees over QUIC (`weft ctl peers`):\n");
    print!("{}", ctl_text(weft, &nodes[1], &["peers"])?);
    println!("\nand over LoRa (`weft ctl links`):\n");
    print!("{}", ctl_text(weft, &nodes[1], &["links"])?);

    let [a, b, c] = [&nodes[0], &nodes[1], &nodes[2]];
    step(weft, a, b, "A asks its echo to ping B; B's echo answers over the A-B QUIC link")?;
    step(weft, b, c, "B pings C over the B-C LoRa link (tens of milliseconds on air each way)")?;
    step(weft, a, c, "A pings C, two hops away: the ping crosses QUIC to B, then LoRa to C, and back")?;
    println!("\nB's radio link after the pings: airtime used against the duty-cycle budget (`weft ctl links`):\n");
    print!("{}", ctl_text(weft, b, &["links"])?);
    println!("\nthe route A took (`weft ctl trace C` on A):\n");
    print!("{}", ctl_text(weft, a, &["trace", &c.address])?);
    println!("\nA's routing table (`weft ctl routes`):\n");
    print!("{}", ctl_text(weft, a, &["routes"])?);
    println!("\nB's status (`weft ctl status`): B relayed for A and C\n");
    print!("{}", ctl_text(weft, b, &["status"])?);
    fapp(weft, a, b, c)?;

    println!("\n== the mesh keeps running; poke at it from another terminal ==\n");
    for node in nodes.iter() {
        println!("  export WEFT_{}={}", node.name.to_uppercase(), node.socket().display());
    }
    let w = weft.display();
    println!("  {w} ctl --socket $WEFT_B status");
    println!("  {w} ctl --socket $WEFT_A peers --json");
    println!("  {w} ctl --socket $WEFT_A routes");
    println!("  {w} ctl --socket $WEFT_A trace {}", c.address);
    println!("  {w} ctl --socket $WEFT_A call echo ping '{{\"to\": \"{}\", \"text\": \"hi\"}}'", b.address);
    println!("  {w} ctl --socket $WEFT_C links");
    println!("  {w} ctl --socket $WEFT_B link swap-driver lora0 target/plugins/native/rnode.so");
    println!("  logs: {}/<node>/node.log", nodes[0].dir.parent().map(|p| p.display().to_string()).unwrap_or_default());
    match duration {
        Some(d) => println!("\nrunning for {} s (or until Ctrl-C)", d.as_secs()),
        None => println!("\nrunning until Ctrl-C"),
    }
    let started = Instant::now();
    while !stop.load(Ordering::SeqCst) && duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        for node in nodes.iter_mut() {
            if let Some(child) = &mut node.child
                && let Ok(Some(status)) = child.try_wait()
            {
                node.child = None;
                bail!("node {} exited unexpectedly ({status}); see {}", node.name, node.dir.join("node.log").display());
            }
        }
    }
    Ok(())
}

/// FAPP across the mesh: C (a practice, on the LoRa side) publishes free
/// slots, A (a patient) queries anonymously through B and reserves one, C's
/// operator confirms, A sees the confirmation, B saw nothing it could read.
fn fapp(weft: &Path, a: &Node, b: &Node, c: &Node) -> Result<()> {
    println!("\n== FAPP: free psychotherapy appointments, found and booked across the mesh ==");
    let slots = c.dir.join("slots.toml");
    std::fs::write(
        &slots,
        "[[slots]]\nstart = \"2030-06-03T09:00Z\"\nduration = 50\ntype = \"erstgespraech\"\n\n\
         [[slots]]\nstart = \"2030-06-03T10:00Z\"\nduration = 50\ntype = \"erstgespraech\"\n\n\
         [[slots]]\nstart = \"2030-06-04T14:00Z\"\nduration = 50\ntype = \"therapie\"\n",
    )?;
    println!(
        "\n-- C (a practice behind the LoRa link) publishes three free slots from a file; the signed announce floods the mesh"
    );
    let publish = format!("@{}", slots.display());
    let stored = |_: &()| -> bool {
        ctl_json(weft, b, &["call", "fapp", "stats", "{\"json\": true}"])
            .ok()
            .and_then(|v| v["result"]["body"].as_str().and_then(|t| serde_json::from_str::<Value>(t).ok()))
            .is_some_and(|stats| stats["stored"].as_u64().unwrap_or(0) >= 1)
    };
    let mut relayed = false;
    for attempt in 0..4 {
        println!(
            "$ weft ctl call fapp publish @slots.toml   (on C{})",
            if attempt > 0 { ", again: LoRa floods are not acknowledged" } else { "" }
        );
        print!("{}", ctl_text(weft, c, &["call", "fapp", "publish", &publish])?);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) && !relayed {
            relayed = stored(&());
            std::thread::sleep(Duration::from_millis(200));
        }
        if relayed {
            break;
        }
    }
    if !relayed {
        bail!("relay B never stored C's announce");
    }
    println!(
        "\n-- B (a relay) verified the practice's signature and keeps the announce (`weft ctl call fapp stats` on B)"
    );
    print!("{}", ctl_text(weft, b, &["call", "fapp", "stats"])?);

    let query = "{\"specialism\": \"cbt\", \"plz\": \"80\", \"wait_ms\": 3000}";
    println!("\n-- A (a patient) asks, without saying who it is, for behavioural therapy near postal code 80xxx");
    println!("$ weft ctl call fapp query '{query}'   (on A)");
    print!("{}", ctl_text(weft, a, &["call", "fapp", "query", query])?);
    let found = ctl_json(
        weft,
        a,
        &["call", "fapp", "query", "{\"specialism\": \"cbt\", \"plz\": \"80\", \"wait_ms\": 3000, \"json\": true}"],
    )?;
    let body: Value = serde_json::from_str(found["result"]["body"].as_str().unwrap_or("{}"))?;
    let slot = body["slots"][0]["id"].as_str().context("the query found no slot")?.to_string();

    let reserve = format!("{{\"slot\": \"{slot}\", \"contact\": \"Erika M., 0170 1234567\", \"wait_ms\": 0}}");
    println!("\n-- A reserves slot {slot}: the request is sealed to the practice and carries a one-time reply key");
    println!("$ weft ctl call fapp reserve '{reserve}'   (on A)");
    print!("{}", ctl_text(weft, a, &["call", "fapp", "reserve", &reserve])?);

    println!("\n-- C's operator sees the request (only C can open it) and accepts it");
    let started = Instant::now();
    let mut pending = String::new();
    while started.elapsed() < Duration::from_secs(15) {
        pending = ctl_text(weft, c, &["call", "fapp", "pending"])?;
        if pending.contains("Erika") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    println!("$ weft ctl call fapp pending   (on C)");
    print!("{pending}");
    println!("$ weft ctl call fapp accept 1   (on C)");
    print!("{}", ctl_text(weft, c, &["call", "fapp", "accept", "1"])?);

    println!("\n-- A receives the confirmation, sealed to its reply key (`weft ctl call fapp status` on A)");
    let started = Instant::now();
    let mut status = String::new();
    while started.elapsed() < Duration::from_secs(15) {
        status = ctl_text(weft, a, &["call", "fapp", "status"])?;
        if status.contains("accepted") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    print!("{status}");
    println!(
        "\n-- B passed the reservation on without being able to read it; the booked slot is withdrawn (`stats` on B)"
    );
    print!("{}", ctl_text(weft, b, &["call", "fapp", "stats"])?);
    Ok(())
}

fn step(weft: &Path, from: &Node, to: &Node, narration: &str) -> Result<()> {
    println!("\n-- {narration}");
    let args = format!("{{\"to\": \"{}\", \"text\": \"hello {}, this is {}\"}}", to.address, to.name, from.name);
    println!("$ weft ctl call echo ping '{args}'   (on {})", from.name.to_uppercase());
    let out = Command::new(weft)
        .arg("ctl")
        .arg("--socket")
        .arg(from.socket())
        .args(["call", "echo", "ping", &args])
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    print!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// The demo's LoRa channel: EU868 g3 (10 % duty cycle), SF7, 250 kHz.
const RADIO_TOML: &str =
    "frequency_hz = 869525000\nbandwidth_hz = 250000\nspreading_factor = 7\ncoding_rate = 5\ntx_power_dbm = 14\n";
const RADIO_TEXT: &str = "869.525 MHz, SF7, 250 kHz, EU868 g3 with a 10 % duty cycle";

/// Starts `weft-modem-sim` with one RNode per `(name, link path)` and waits for its `ready` line.
fn start_modems(modem_sim: &Path, devices: &[(&str, &Path)]) -> Result<Child> {
    let mut cmd = Command::new(modem_sim);
    for (name, path) in devices {
        cmd.arg("--device").arg(format!("{name}:rnode:{}", path.display()));
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).process_group(0).spawn()?;
    let stdout = child.stdout.take().context("modem sim stdout")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    for line in lines.by_ref() {
        let line = line?;
        if line.trim() == "ready" {
            // Keep draining its stdout so it never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(child);
        }
        println!("  modem {line}");
    }
    bail!("weft-modem-sim exited before it was ready")
}

/// Plugin files and the module cache the demo's nodes share.
struct Files {
    echo: PathBuf,
    fapp: PathBuf,
    cache: PathBuf,
}

/// FAPP roles: A is a patient, B a relay, C a practice that confirms by hand.
const FAPP_PATIENT: &str = "roles = [\"patient\"]\n";
const FAPP_RELAY: &str = "roles = [\"relay\"]\n";
const FAPP_THERAPIST: &str = "roles = [\"therapist\"]\n[plugins.config.therapist]\n\
    specialisms = [\"verhaltenstherapie\", \"trauma\"]\nmodalities = [\"hybrid\"]\npayers = [\"gkv\", \"pkv\"]\n\
    plz = \"80331\"\napprobation = \"BY-PP-2019-04711\"\nconfirm = \"manual\"\n";

fn write_config(
    node: &Node,
    peer: Option<(u16, String)>,
    radio: Option<(&Path, &Path)>,
    fapp: &str,
    files: &Files,
) -> Result<()> {
    let (echo, cache) = (&files.echo, &files.cache);
    let mut toml = format!(
        "[node]\nname = \"{}\"\nidentity = \"node.key\"\ndata_dir = \"data\"\nmodule_cache = \"{}\"\n\n\
         [quic]\nlisten = \"127.0.0.1:{}\"\n\n[admin]\nsocket = \"admin.sock\"\n",
        node.name.to_uppercase(),
        cache.display(),
        node.port
    );
    if let Some((port, address)) = peer {
        toml.push_str(&format!("\n[[peers]]\naddress = \"127.0.0.1:{port}\"\nnode = \"{address}\"\n"));
    }
    toml.push_str(&format!("\n[[plugins]]\nfile = \"{}\"\npermissions = [\"send\"]\n", echo.display()));
    toml.push_str(&format!(
        "\n[[plugins]]\nfile = \"{}\"\npermissions = [\"flood\", \"sign\", \"seal\", \"storage\"]\n[plugins.config]\n{fapp}",
        files.fapp.display()
    ));
    if let Some((device, driver)) = radio {
        toml.push_str(&format!(
            "\n[[radios]]\nname = \"lora0\"\ndevice = \"{}\"\ndriver = \"{}\"\n[radios.driver_config]\n{RADIO_TOML}",
            device.display(),
            driver.display()
        ));
    }
    std::fs::write(node.config(), toml)?;
    Ok(())
}

fn start(weft: &Path, node: &mut Node) -> Result<()> {
    let log = std::fs::File::create(node.dir.join("node.log"))?;
    let child = Command::new(weft)
        .arg("run")
        .arg("--config")
        .arg(node.config())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0) // Ctrl-C reaches the demo, which stops the nodes in order
        .spawn()?;
    node.child = Some(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if ctl_json(weft, node, &["status"]).is_ok() {
            println!("  node {} is up", node.name.to_uppercase());
            return Ok(());
        }
        if let Some(child) = &mut node.child
            && let Ok(Some(status)) = child.try_wait()
        {
            let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
            bail!("node {} exited ({status}):\n{log}", node.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("node {} did not open its admin socket", node.name)
}

fn wait_for_links(weft: &Path, nodes: &[Node]) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let up =
            |n: &Node| ctl_json(weft, n, &["status"]).ok().and_then(|v| v["result"]["links_up"].as_u64()).unwrap_or(0);
        let hears = |n: &Node, other: &Node| {
            ctl_json(weft, n, &["links"]).ok().is_some_and(|v| {
                v["result"][0]["neighbours"]
                    .as_array()
                    .is_some_and(|list| list.iter().any(|x| x["address"] == other.address.as_str() && x["up"] == true))
            })
        };
        let lora = hears(&nodes[1], &nodes[2]) && hears(&nodes[2], &nodes[1]);
        if up(&nodes[0]) == 1 && up(&nodes[1]) == 1 && lora {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the links did not come up within 30 s (QUIC A-B and LoRa B-C)")
}

fn ctl_json(weft: &Path, node: &Node, args: &[&str]) -> Result<Value> {
    let out = Command::new(weft).arg("ctl").arg("--socket").arg(node.socket()).arg("--json").args(args).output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn ctl_text(weft: &Path, node: &Node, args: &[&str]) -> Result<String> {
    let out = Command::new(weft).arg("ctl").arg("--socket").arg(node.socket()).args(args).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn stop_node(node: &mut Node) -> Option<i32> {
    let mut child = node.child.take()?;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok().and_then(|s| s.code())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn parse_duration(args: &[String]) -> Result<Option<Duration>> {
    match args {
        [] => Ok(None),
        [flag, secs] if flag == "--duration" => {
            let secs: u64 = secs.parse().with_context(|| format!("--duration expects seconds, got {secs:?}"))?;
            Ok(Some(Duration::from_secs(secs)))
        }
        other => bail!("usage: cargo xtask demo [--duration SECS]; unexpected {other:?}"),
    }
}
