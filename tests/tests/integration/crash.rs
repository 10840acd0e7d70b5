//! A neighbour killed with -9 and restarted at once (issue 17, finding 5):
//! real `weft run` processes on 127.0.0.1.
//!
//! - The restarted node's neighbours learn at once that the old QUIC
//!   connection is gone (a stateless reset: the restarted endpoint
//!   recognises the old connection ids and signs the reset with the same
//!   key), instead of sending into it until the idle timeout.
//! - A relay crash in the middle of a blast loses nothing: what the dead
//!   link swallowed is sent again end to end (session acknowledgements) and
//!   the receiving plugin sees every message exactly once.

use serde_json::Value;
use std::time::{Duration, Instant};
use weft_host::plugin::Binding;
use weft_tests::node::{NodeSpec, TestNode};

/// Keepalive as in the field, and an idle timeout far longer than any wait
/// below: whatever tears the dead link down early, it is not the timeout.
const SLOW_IDLE: &str =
    "keepalive_ms = 500\nidle_timeout_ms = 60000\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\n";

fn sequence_toml() -> String {
    format!(
        "\n[[plugins]]\nfile = \"{}\"\npermissions = [\"send\"]\n",
        weft_tests::plugin("sequence", Binding::Wasm).display()
    )
}

fn spec(extra: String) -> NodeSpec {
    NodeSpec { extra, quic: Some(SLOW_IDLE.into()), ..NodeSpec::default() }
}

fn stats(node: &TestNode, sender: &TestNode) -> Value {
    let (code, value, err) = node.ctl(&["call", "sequence", "stats"]);
    assert_eq!(code, 0, "stats failed: {err} {value}");
    let body: Value = serde_json::from_str(value["result"]["body"].as_str().unwrap_or("{}")).expect("stats JSON");
    body[sender.address.as_str()].clone()
}

fn links_down(node: &TestNode) -> usize {
    node.log().matches("link down").count()
}

#[test]
fn a_neighbour_killed_and_restarted_resets_the_old_connection_at_once() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    b.start(&spec(String::new()));
    // A dials B: A's packets go to connection ids B issued, which B's next
    // run must still recognise to answer with a reset.
    a.start(&spec(String::new()).peer(&b));
    a.linked_with(&b, Duration::from_secs(10));
    let before = links_down(&a);

    b.kill();
    b.launch();
    let restarted = Instant::now();
    // A's keepalives (every 500 ms) reach B's new run, which resets them.
    a.wait_until("the old link to b is seen down", Duration::from_secs(5), |a| links_down(a) > before);
    let seen_after = restarted.elapsed();
    a.wait_until("linked to b's new run", Duration::from_secs(10), |a| a.linked_to(&b));
    let log = a.log();
    assert!(log.contains("reset"), "the link ended with a stateless reset, not a timeout:\n{log}");
    assert!(seen_after < Duration::from_secs(5), "{seen_after:?}");
}

#[test]
fn a_relay_killed_mid_blast_and_restarted_loses_nothing_and_duplicates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut c) =
        (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"), TestNode::new(root.path(), "c"));
    b.start(&spec(String::new()));
    a.start(&spec(sequence_toml()).peer(&b));
    c.start(&spec(sequence_toml()).peer(&b));
    a.linked_with(&b, Duration::from_secs(10));
    c.linked_with(&b, Duration::from_secs(10));
    a.wait_until("a route to c", Duration::from_secs(15), |a| has_route(a, &c));

    // 3,000 numbered messages over about three seconds; B dies after one.
    let total = 3_000u64;
    let args = format!("{{\"to\": \"{}\", \"count\": {total}, \"per_tick\": 10, \"tick_ms\": 10}}", c.address);
    let (code, value, err) = a.ctl(&["call", "sequence", "blast", &args]);
    assert_eq!(code, 0, "blast failed: {err} {value}");
    c.wait_until("the blast is under way", Duration::from_secs(10), |c| {
        stats(c, &a)["received"].as_u64().is_some_and(|n| n >= 800)
    });
    b.kill();
    b.launch();

    let deadline = Instant::now() + Duration::from_secs(60);
    while stats(&c, &a)["distinct"].as_u64() != Some(total) {
        if Instant::now() > deadline {
            let status = |n: &TestNode| n.ctl(&["status"]).1["result"].clone();
            panic!(
                "not every message arrived: {}\nA: {}\nB: {}\nC: {}",
                stats(&c, &a),
                status(&a),
                status(&b),
                status(&c)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let s = stats(&c, &a);
    assert_eq!(s["distinct"].as_u64(), Some(total), "{s}");
    assert_eq!(s["repeats"].as_u64(), Some(0), "no message reached the plugin twice: {s}");
    assert_eq!(s["received"].as_u64(), Some(total), "{s}");
    assert_eq!(s["malformed"].as_u64(), Some(0), "{s}");
    let (_, status, _) = a.ctl(&["status"]);
    let sessions = &status["result"]["sessions"];
    // What went into the dead connection before A heard of the restart was
    // sent again when no acknowledgement came.
    assert!(sessions["retransmitted"].as_u64() >= Some(1), "{sessions}");
    assert_eq!(sessions["given_up"].as_u64(), Some(0), "{sessions}");
}

fn has_route(node: &TestNode, to: &TestNode) -> bool {
    let (_, value, _) = node.ctl(&["routes"]);
    value["result"].as_array().into_iter().flatten().any(|r| r["destination"] == to.address.as_str())
}

/// A relay holding packets for an offline node is killed with -9, once in
/// the middle of a burst and once while holding, and restarted each time;
/// then the node comes online and its plugin gets every message exactly
/// once. What the relay had committed comes back from its store; what died
/// with it in memory is sent again by the sender's session.
#[test]
fn a_relay_killed_while_holding_for_an_offline_node_delivers_everything_once() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut c) =
        (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"), TestNode::new(root.path(), "c"));
    // Fast idle timeouts here: C goes away for good, and B must notice.
    let with_echo = |extra: String| NodeSpec { plugins: NodeSpec::echo().plugins, extra, ..NodeSpec::default() };
    b.start(&NodeSpec::default());
    a.start(&with_echo(sequence_toml()).peer(&b));
    c.start(&with_echo(sequence_toml()).peer(&b));
    a.linked_with(&b, Duration::from_secs(10));
    c.linked_with(&b, Duration::from_secs(10));
    a.wait_until("a route to c", Duration::from_secs(15), |a| has_route(a, &c));
    // A and C hold a session before C goes away.
    let (code, value, err) = a.ping(&c, "hello");
    assert_eq!(code, 0, "{err} {value}");

    c.kill();
    b.wait_until("b sees c gone", Duration::from_secs(10), |b| !b.linked_to(&c));
    // 200 numbered messages over two seconds. A still routes to C through B
    // (nobody withdraws a route), so B holds them; B is killed in the middle
    // of the burst, holding some, and restarted at once.
    let total = 200u64;
    let args = format!("{{\"to\": \"{}\", \"count\": {total}, \"per_tick\": 1, \"tick_ms\": 10}}", c.address);
    let (code, value, err) = a.ctl(&["call", "sequence", "blast", &args]);
    assert_eq!(code, 0, "blast failed: {err} {value}");
    b.wait_until("b holds for c", Duration::from_secs(10), |b| status(b)["held"].as_u64() >= Some(50));
    b.kill();
    b.launch();
    let restored = status(&b)["held"].as_u64().unwrap_or(0);
    assert!(restored >= 50, "what B held came back from its store: {}", status(&b));
    c.launch();
    let deadline = Instant::now() + Duration::from_secs(90);
    while stats(&c, &a)["distinct"].as_u64() != Some(total) {
        assert!(
            Instant::now() < deadline,
            "not every message arrived: {}\nA: {}\nB: {}\nC: {}",
            stats(&c, &a),
            status(&a),
            status(&b),
            status(&c)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let s = stats(&c, &a);
    assert_eq!(s["distinct"].as_u64(), Some(total), "{s}");
    assert_eq!(s["repeats"].as_u64(), Some(0), "nothing reached the plugin twice: {s}");
}

fn status(node: &TestNode) -> Value {
    let (code, value, err) = node.ctl(&["status"]);
    assert_eq!(code, 0, "status: {err} {value}");
    value["result"].clone()
}
