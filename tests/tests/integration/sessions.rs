//! End-to-end sessions between real `weft run` processes (issue 16): a
//! receiver killed with -9 and restarted mid-conversation holds no session
//! keys any more (they never touch the disk); the next message, sealed in
//! the old session, makes it send a signed reset, and the sender runs a new
//! handshake and resends the message, which is answered.

use serde_json::Value;
use std::time::Duration;
use weft_tests::node::{NodeSpec, TestNode};

fn sessions(node: &TestNode) -> Value {
    let (code, value, err) = node.ctl(&["status"]);
    assert_eq!(code, 0, "status: {err} {value}");
    value["result"]["sessions"].clone()
}

#[test]
fn a_receiver_killed_and_restarted_resumes_the_conversation_without_losing_the_message() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"));
    a.start(&NodeSpec::echo());
    b.start(&NodeSpec::echo().peer(&a));
    a.linked_with(&b, Duration::from_secs(10));
    let (code, value, err) = a.ping(&b, "before");
    assert_eq!(code, 0, "{err} {value}");
    assert!(value.to_string().contains("before"), "{value}");
    let before = sessions(&a);
    assert_eq!(before["established"], 1, "one session: {before}");
    assert!(before["sealed"].as_u64() >= Some(1), "{before}");

    b.kill();
    b.launch();
    b.wait_until("linked to a again", Duration::from_secs(15), |b| b.linked_to(&a));
    // A still holds the session keys of B's first run.
    let (code, value, err) = a.ping(&b, "after");
    assert_eq!(code, 0, "the message sent into the lost session was resent and answered: {err} {value}");
    assert!(value.to_string().contains("after"), "{value}");
    let after = sessions(&a);
    assert!(after["resets_taken"].as_u64() >= Some(1), "A believed B's reset: {after}");
    assert!(after["resent"].as_u64() >= Some(1), "{after}");
    assert!(after["established"].as_u64() >= Some(2), "a new session: {after}");
    let at_b = sessions(&b);
    assert!(at_b["unknown_session"].as_u64() >= Some(1) && at_b["resets_sent"].as_u64() >= Some(1), "{at_b}");
}
