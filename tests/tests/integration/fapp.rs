//! FAPP end to end: four `weft run` processes in a line over real QUIC on
//! 127.0.0.1, with the fapp plugin built by `cargo xtask plugins`, once as
//! wasm and once as native (the same assertions for both).
//!
//! ```text
//!   A (patient) -- B (relay) -- C (therapist, auto) -- D (therapist, manual + patient)
//! ```
//!
//! Full flow: C publishes five slots; A's anonymous query is answered by B
//! (from its store) and by C; A reserves, C accepts and withdraws the slot
//! with a newer announce, which replaces B's copy, so the slot is gone from
//! later results; D, holding the old results, is declined. Decline flow: A
//! reserves one of D's slots, D's operator declines with a note. Privacy:
//! B counted no query that named its sender, never opened a reservation, and
//! nothing under B's directory (store, log) holds the reservation's contact.
//!
//! The last test runs the flow with the B - C hop over a virtual LoRa link
//! (two RAK3172 modems of `weft-modem-sim` on pseudo-terminals, 255-byte
//! frames): the five-slot announce crosses it in one frame, unfragmented.
//!
//! The protocol's rules are unit-tested in `plugins/fapp` (relay rules,
//! filters, sizes, decoder fuzzing); this file proves the real mesh carries
//! them.

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;
use weft_modem_sim::{DeviceSpec, Sim, SimConfig};
use weft_tests::node::{NodeSpec, TestNode, weft};

const WAIT: Duration = Duration::from_secs(30);
/// The contact a patient leaves with its reservation: must never show up on the relay.
const MARKER: &str = "PATIENT-CONTACT-0170-4711";

/// The fapp `[[plugins]]` table with `config` as its `[plugins.config]`.
fn fapp(binding: Binding, config: &str) -> String {
    format!(
        "\n[[plugins]]\nfile = \"{}\"\npermissions = [\"flood\", \"sign\", \"seal\", \"storage\"]\n[plugins.config]\n{config}",
        weft_tests::plugin("fapp", binding).display()
    )
}

const PATIENT: &str = "roles = [\"patient\"]\n";
const RELAY: &str = "roles = [\"relay\"]\n";
const MUNICH: &str = "roles = [\"therapist\"]\n[plugins.config.therapist]\n\
    specialisms = [\"verhaltenstherapie\", \"trauma\"]\nmodalities = [\"hybrid\"]\npayers = [\"gkv\", \"pkv\"]\n\
    plz = \"80331\"\napprobation = \"BY-PP-2019-04711\"\n";
const BERLIN: &str = "roles = [\"therapist\", \"patient\"]\n[plugins.config.therapist]\n\
    specialisms = [\"systemisch\"]\nmodalities = [\"video\"]\npayers = [\"pkv\", \"selbstzahler\"]\n\
    plz = \"10115\"\napprobation = \"BE-PP-2021-00815\"\nconfirm = \"manual\"\n";

/// Runs `weft ctl --json call fapp COMMAND ARGS` with `"json": true` added;
/// returns the exit code and the plugin's JSON answer.
fn call(node: &TestNode, command: &str, mut args: Value) -> (i32, Value) {
    args["json"] = json!(true);
    let (code, wrapper, err) = node.ctl(&["call", "fapp", command, &args.to_string()]);
    let body = wrapper["result"]["body"].as_str().unwrap_or_default();
    let answer = serde_json::from_str(body).unwrap_or_else(|_| json!({ "raw": wrapper, "stderr": err }));
    (code, answer)
}

/// A command that must succeed.
fn ok(node: &TestNode, command: &str, args: Value) -> Value {
    let (code, answer) = call(node, command, args.clone());
    assert_eq!(code, 0, "{} `{command} {args}` failed: {answer}\n--- log ---\n{}", node.name, node.log());
    answer
}

fn slots(date: &str, count: u32) -> Value {
    let slots: Vec<Value> = (1..=count)
        .map(|d| json!({ "start": format!("{date}-0{d}T09:00Z"), "duration": 50, "type": "erstgespraech" }))
        .collect();
    json!({ "slots": slots })
}

fn ids(answer: &Value) -> Vec<String> {
    answer["slots"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str().map(String::from)).collect()
}

/// Waits (bounded) until `node`'s `command` answer satisfies `condition`; returns it.
fn wait_for(node: &TestNode, command: &str, args: Value, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = Value::Null;
    while start.elapsed() < WAIT {
        last = call(node, command, args.clone()).1;
        if condition(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{}: timed out waiting until {what}; last answer {last}\n--- log ---\n{}", node.name, node.log());
}

/// Every byte of every file under `dir`.
fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return hits };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hits.extend(files_contain(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)) {
            hits.push(path.display().to_string());
        }
    }
    hits
}

/// The order nodes start in decides what A's node learns from routing
/// announces: started first, it hears every later node's announce as the
/// line grows, so its host knows C's key and seals the reservation itself;
/// started last, it has heard only B, and the plugin seals to the key in
/// C's verified slot announce instead. Both are exercised.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    PatientFirst,
    PatientLast,
}

fn four_node_flows(binding: Binding, order: Order) {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut c, mut d) = (
        TestNode::new(root.path(), "a"),
        TestNode::new(root.path(), "b"),
        TestNode::new(root.path(), "c"),
        TestNode::new(root.path(), "d"),
    );
    let spec = |extra: String| NodeSpec { extra, ..NodeSpec::default() };
    match order {
        Order::PatientLast => {
            d.start(&spec(fapp(binding, BERLIN)));
            c.start(&spec(fapp(binding, MUNICH)).peer(&d));
            b.start(&spec(fapp(binding, RELAY)).peer(&c));
            a.start(&spec(fapp(binding, PATIENT)).peer(&b));
        }
        Order::PatientFirst => {
            a.start(&spec(fapp(binding, PATIENT)));
            b.start(&spec(fapp(binding, RELAY)).peer(&a));
            c.start(&spec(fapp(binding, MUNICH)).peer(&b));
            d.start(&spec(fapp(binding, BERLIN)).peer(&c));
        }
    }
    a.linked_with(&b, WAIT);
    b.linked_with(&c, WAIT);
    c.linked_with(&d, WAIT);

    // --- full flow -------------------------------------------------------
    let published = ok(&c, "publish", slots("2099-06", 5));
    assert_eq!(published["slots"], 5, "{published}");
    // 205 bytes + a 12-byte anonymous flood header + a 1-byte RNode header: one 255-byte LoRa frame.
    assert_eq!(published["payload_bytes"], 205, "{published}");
    // D publishes from a file, as an operator would: `weft ctl call fapp publish @slots.json`.
    let file = d.dir.join("slots.json");
    std::fs::write(&file, slots("2099-07", 3).to_string()).unwrap();
    let (code, answer, err) = d.ctl(&["call", "fapp", "publish", &format!("@{}", file.display())]);
    assert_eq!(code, 0, "publish @file failed: {err} {answer}");
    wait_for(&b, "stats", json!({}), "the relay stored both announces", |s| s["stored"] == 2);

    let found = ok(&a, "query", json!({ "specialism": "cbt", "plz": "80" }));
    let offered = ids(&found);
    assert_eq!(offered.len(), 5, "{found}");
    let responders = found["responders"].to_string();
    assert!(responders.contains(&b.address), "the relay answered from its store: {found}");
    assert!(responders.contains(&c.address), "the therapist answered: {found}");
    let seen_by_d = ids(&ok(&d, "query", json!({ "specialism": "cbt" })));
    assert!(seen_by_d.contains(&offered[0]), "d sees the slot too");

    let booked = ok(&a, "reserve", json!({ "slot": offered[0], "contact": MARKER }));
    assert_eq!(booked["status"], "accepted", "{booked}");
    eprintln!("{binding:?}, {order:?}: the reservation was sealed by the {}", booked["sealed_by"]);
    if order == Order::PatientFirst {
        assert_eq!(booked["sealed_by"], "host", "a's node heard c's routing announce: {booked}");
    } else {
        // Today "plugin"; it becomes "host" should the mesh ever share keys with a new neighbour.
        assert!(booked["sealed_by"] == "plugin" || booked["sealed_by"] == "host", "{booked}");
    }
    let therapist = ok(&c, "status", json!({}))["therapist"].clone();
    assert_eq!(therapist["bookings"][0]["contact"], MARKER, "only the therapist reads the contact");

    // The withdrawal reaches the relay: it stops offering the slot.
    wait_for(&b, "stats", json!({}), "the relay has the newer announce", |s| {
        s["therapists"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["therapist"] == c.address.as_str() && t["slots"] == 4)
    });
    let again = ids(&ok(&a, "query", json!({ "specialism": "cbt" })));
    assert_eq!(again.len(), 4, "{again:?}");
    assert!(!again.contains(&offered[0]), "the booked slot is gone");

    // D reserves from its older results: declined, and the command fails.
    let (code, declined) = call(&d, "reserve", json!({ "slot": offered[0] }));
    assert_eq!((code, declined["status"].as_str()), (1, Some("declined")), "{declined}");

    // --- decline flow (the operator of a manual practice declines) --------
    let berlin = ids(&ok(&a, "query", json!({ "specialism": "systemic", "modality": "video" })));
    assert_eq!(berlin.len(), 3, "{berlin:?}");
    let sent = ok(&a, "reserve", json!({ "slot": berlin[0], "contact": MARKER, "wait_ms": 0 }));
    assert_eq!(sent["status"], "pending");
    let pending = wait_for(&d, "pending", json!({}), "the reservation waits at d", |p| p["pending"][0].is_object());
    assert_eq!(pending["pending"][0]["contact"], MARKER);
    let number = pending["pending"][0]["number"].clone();
    ok(&d, "decline", json!({ "reservation": number, "note": "Praxis im Urlaub" }));
    let status = wait_for(&a, "status", json!({}), "a learns the decline", |s| {
        s["patient"]["reservations"][1]["status"] == "declined"
    });
    assert_eq!(status["patient"]["reservations"][1]["note"], "Praxis im Urlaub");
    assert_eq!(ok(&d, "status", json!({}))["therapist"]["offered"].as_array().unwrap().len(), 3, "still offered");

    // --- privacy on the relay -------------------------------------------
    let stats = ok(&b, "stats", json!({}));
    assert_eq!(stats["counters"]["queries_identified"].as_u64().unwrap_or(0), 0, "{stats}");
    assert!(stats["counters"]["queries"].as_u64().unwrap_or(0) >= 4, "{stats}");
    assert!(stats["counters"]["reserves_passed"].as_u64().unwrap_or(0) >= 3, "{stats}");
    assert_eq!(stats["counters"]["malformed"].as_u64().unwrap_or(0), 0, "{stats}");

    // --- scripts and people ----------------------------------------------
    let (code, answer) = call(&a, "reserve", json!({ "slot": "nonsense" }));
    assert_eq!(code, 1, "a failed command exits 1: {answer}");
    let socket = a.socket();
    let (code, text, _) =
        weft(&["ctl", "--socket", socket.to_str().unwrap(), "call", "fapp", "query", "{\"plz\": \"80\"}"]);
    assert_eq!(code, 0);
    assert!(text.contains("SLOT ID") && text.contains("2099-06-02T09:00Z"), "a table for people:\n{text}");

    for node in [&mut a, &mut b, &mut c, &mut d] {
        node.stop();
    }
    let leaks = files_contain(&b.dir, MARKER.as_bytes());
    assert!(leaks.is_empty(), "the relay kept the contact in {leaks:?}");
    assert!(!files_contain(&c.dir, MARKER.as_bytes()).is_empty(), "the check can find it (the therapist keeps it)");
}

#[test]
fn fapp_flows_wasm_patient_started_last() {
    four_node_flows(Binding::Wasm, Order::PatientLast);
}

#[test]
fn fapp_flows_wasm_patient_started_first() {
    four_node_flows(Binding::Wasm, Order::PatientFirst);
}

#[test]
fn fapp_flows_native_patient_started_last() {
    four_node_flows(Binding::Native, Order::PatientLast);
}

#[test]
fn fapp_flows_native_patient_started_first() {
    four_node_flows(Binding::Native, Order::PatientFirst);
}

/// The `[[radios]]` entry of a node on the virtual 869.525 MHz channel
/// (SF7 at 500 kHz keeps the test fast; frame sizes are the same at any setting).
///
/// An RNode on the emulated channel. Its firmware listens before it talks
/// (CSMA), so a periodic hello waits for a frame already on the air instead
/// of colliding with it: with RAK3172 modems (no carrier sense in P2P mode)
/// about one run in eight lost the therapist's unacknowledged answer or
/// withdrawal to a hello. The AT-modem path is covered by the radio tests.
fn radio(device: &Path) -> String {
    format!(
        "\n[[radios]]\nname = \"lora0\"\ndevice = \"{}\"\ndriver = \"{}\"\nhello_interval_s = 5\n\
         neighbour_timeout_s = 60\nreassembly_timeout_ms = 5000\n[radios.driver_config]\nfrequency_hz = 869525000\n\
         bandwidth_hz = 500000\nspreading_factor = 7\ncoding_rate = 5\ntx_power_dbm = 14\n",
        device.display(),
        weft_tests::plugin("rnode", Binding::Wasm).display()
    )
}

fn lora_row(node: &TestNode) -> Value {
    let (code, value, err) = node.ctl(&["links"]);
    assert_eq!(code, 0, "links failed: {err}");
    value["result"][0].clone()
}

#[test]
fn fapp_flow_across_a_lora_hop_with_one_frame_announces() {
    let root = tempfile::tempdir().unwrap();
    let devices = ["b", "c"].map(|n| {
        let mut d = DeviceSpec::rnode(n, None);
        d.link = Some(root.path().join(format!("tty-{n}")));
        d
    });
    let sim = Sim::start(SimConfig::default(), devices.to_vec()).expect("virtual modems");
    let (mut a, mut b, mut c) =
        (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"), TestNode::new(root.path(), "c"));
    let spec = |extra: String| NodeSpec { extra, ..NodeSpec::default() };
    // Radios first: `[[radios]]` tables must come before the plugin's config table.
    c.start(&spec(radio(&root.path().join("tty-c")) + &fapp(Binding::Wasm, MUNICH)));
    b.start(&spec(radio(&root.path().join("tty-b")) + &fapp(Binding::Wasm, RELAY)));
    a.start(&spec(fapp(Binding::Wasm, PATIENT)).peer(&b));
    a.linked_with(&b, WAIT);
    b.wait_until("b hears c over the radio", WAIT, |n| weft_tests::node::radio_hears(&lora_row(n), &c.address));
    c.wait_until("c hears b over the radio", WAIT, |n| weft_tests::node::radio_hears(&lora_row(n), &b.address));

    // A radio loses frames that collide (both ends transmitting at once, as
    // routing announces do when links come up), and floods are not
    // acknowledged: like a real therapist's node, publish again if the
    // relay did not get it (the next announce has a higher sequence).
    std::thread::sleep(Duration::from_secs(1));
    let before = lora_row(&b);
    let mut stored = false;
    for _ in 0..5 {
        let published = ok(&c, "publish", slots("2099-06", 5));
        assert_eq!(published["payload_bytes"], 205, "{published}");
        let start = Instant::now();
        while !stored && start.elapsed() < Duration::from_secs(3) {
            stored = call(&b, "stats", json!({})).1["stored"] == 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        if stored {
            break;
        }
    }
    assert!(stored, "b never stored c's announce\n--- b ---\n{}\n--- c ---\n{}", b.log(), c.log());
    let after = lora_row(&b);
    assert_eq!(
        after["reassembly"]["completed"], before["reassembly"]["completed"],
        "the announce arrived in one frame, not in fragments: {after}"
    );
    assert!(after["counters"]["packets_in"].as_u64() > before["counters"]["packets_in"].as_u64(), "{after}");

    let found = ok(&a, "query", json!({ "specialism": "trauma", "wait_ms": 3000 }));
    let offered = ids(&found);
    assert_eq!(offered.len(), 5, "{found}");
    let booked = ok(&a, "reserve", json!({ "slot": offered[2], "contact": MARKER, "wait_ms": 8000 }));
    assert_eq!(booked["status"], "accepted", "{booked}");
    wait_for(&b, "stats", json!({}), "the withdrawal crossed the radio", |s| s["slots"] == 4);
    for node in [&mut a, &mut b, &mut c] {
        node.stop();
    }
    sim.stop();
}
