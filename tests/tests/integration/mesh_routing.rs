//! Multi-hop routing between real `weft run` processes over real QUIC on
//! 127.0.0.1: delivery across relays, the routing table and traces,
//! rerouting when a relay dies, and store-and-forward across a restart of
//! the node holding the packet.

use serde_json::Value;
use std::time::Duration;
use weft_tests::node::{NodeSpec, TestNode};

const WAIT: Duration = Duration::from_secs(30);

fn linked(a: &TestNode, b: &TestNode) {
    a.linked_with(b, WAIT);
}

/// Pings until the echo answers (routes may still be forming); returns the body.
fn ping_until_ok(from: &TestNode, to: &TestNode, text: &str) -> String {
    let mut last = Value::Null;
    for _ in 0..60 {
        let (code, json, _) = from.ping(to, text);
        if code == 0 {
            return json["result"]["body"].as_str().unwrap_or_default().to_string();
        }
        last = json;
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{} never reached {}: {last}\n--- log ---\n{}", from.name, to.name, from.log());
}

fn trace(from: &TestNode, to: &TestNode) -> Vec<String> {
    let (code, json, err) = from.ctl(&["trace", &to.address]);
    assert_eq!(code, 0, "trace failed: {err} {json}");
    json["result"]["path"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn status(node: &TestNode) -> Value {
    node.ctl(&["status"]).1["result"].clone()
}

#[test]
fn a_line_of_three_routes_through_the_middle_and_shows_the_route() {
    let root = tempfile::tempdir().unwrap();
    let mut c = TestNode::new(root.path(), "c");
    let mut b = TestNode::new(root.path(), "b");
    let mut a = TestNode::new(root.path(), "a");
    c.start(&NodeSpec::echo());
    b.start(&NodeSpec::echo().peer(&c));
    a.start(&NodeSpec::echo().peer(&b));
    linked(&a, &b);
    linked(&b, &c);
    let body = ping_until_ok(&a, &c, "a to c");
    assert!(body.contains(&format!("\"a to c\" echoed by {}", c.address)), "{body}");
    assert_eq!(trace(&a, &c), vec![b.address.clone(), c.address.clone()]);
    let (_, routes, _) = a.ctl(&["routes"]);
    let row = routes["result"].as_array().unwrap().iter().find(|r| r["destination"] == c.address.as_str()).cloned();
    let row = row.expect("a route to c");
    assert_eq!((row["hops"].as_u64(), row["next_hop"].as_str()), (Some(2), Some(b.address.as_str())), "{row}");
    assert!(status(&b)["routing"]["forwarded"].as_u64().unwrap() >= 2, "b relayed the ping and its answer");
    // The operator reaches any node too.
    let (code, json, err) = a.ctl(&["send", &c.address, "7", "from the operator"]);
    assert_eq!((code, json["result"].as_str()), (0, Some("sent")), "{err}");
    c.wait_until("c delivered the operator's message", WAIT, |n| {
        status(n)["counters"]["delivered"].as_u64().unwrap_or(0) >= 2
    });
}

#[test]
fn a_five_node_mesh_reroutes_when_a_relay_is_killed() {
    // A - B - E and A - C - D - E.
    let root = tempfile::tempdir().unwrap();
    let mut e = TestNode::new(root.path(), "e");
    let mut d = TestNode::new(root.path(), "d");
    let mut b = TestNode::new(root.path(), "b");
    let mut c = TestNode::new(root.path(), "c");
    let mut a = TestNode::new(root.path(), "a");
    e.start(&NodeSpec::echo());
    d.start(&NodeSpec::echo().peer(&e));
    b.start(&NodeSpec::echo().peer(&e));
    c.start(&NodeSpec::echo().peer(&d));
    a.start(&NodeSpec::echo().peer(&b).peer(&c));
    linked(&a, &b);
    linked(&a, &c);
    linked(&b, &e);
    linked(&c, &d);
    linked(&d, &e);
    ping_until_ok(&a, &e, "via b");
    assert_eq!(trace(&a, &e), vec![b.address.clone(), e.address.clone()], "the short path first");
    b.kill();
    a.wait_until("the link to b is down", WAIT, |n| !n.linked_to(&b));
    let body = ping_until_ok(&a, &e, "without b");
    assert!(body.contains("without b"), "{body}");
    assert_eq!(trace(&a, &e), vec![c.address.clone(), d.address.clone(), e.address.clone()]);
}

#[test]
fn a_message_for_an_offline_node_waits_even_across_a_restart_of_the_node_holding_it() {
    let root = tempfile::tempdir().unwrap();
    let mut c = TestNode::new(root.path(), "c");
    let mut b = TestNode::new(root.path(), "b");
    let mut a = TestNode::new(root.path(), "a");
    let spec_c = NodeSpec::echo();
    let spec_b = NodeSpec::echo().peer(&c);
    c.start(&spec_c);
    b.start(&spec_b);
    a.start(&NodeSpec::echo().peer(&b));
    linked(&a, &b);
    linked(&b, &c);
    ping_until_ok(&a, &c, "routes known");
    assert_eq!(c.stop(), Some(0));
    b.wait_until("the link to c is down", WAIT, |n| !n.linked_to(&c));
    // A still routes through B; B has no way on and holds the packet.
    let (code, json, err) = a.ctl(&["send", &c.address, "7", "while c was away"]);
    assert_eq!(code, 0, "{err} {json}");
    b.wait_until("b holds the packet", WAIT, |n| status(n)["held"] == 1);
    assert_eq!(b.stop(), Some(0));
    b.launch();
    assert_eq!(status(&b)["held"], 1, "restored from b's store after the restart");
    c.launch();
    c.wait_until("c got the held message", WAIT, |n| status(n)["counters"]["delivered"].as_u64().unwrap_or(0) >= 1);
    b.wait_until("b let it go", WAIT, |n| status(n)["held"] == 0);
    assert!(b.log().contains("store-and-forward packets restored"), "{}", b.log());
}
