//! The protocol end to end between plugin instances: announce -> query ->
//! response -> reserve -> confirm, withdrawal, declines, hot swap.

use super::*;
use weft_plugin_api::ShutdownReason;

const CONTACT: &str = "Erika M., 0170 1234567";

/// A patient, a relay, an auto-confirming therapist (Munich, CBT) and a
/// manually confirming therapist who is also a patient (Berlin, systemic).
fn four() -> (Mesh, usize, usize, usize, usize) {
    let mut mesh = Mesh::new();
    let a = mesh.add("a", 1, json!({ "roles": ["patient"] }));
    let b = mesh.add("b", 2, json!({ "roles": ["relay"] }));
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    let mut berlin = therapist_config(&["patient"], "manual");
    berlin["therapist"]["specialisms"] = json!(["systemisch"]);
    berlin["therapist"]["plz"] = json!("10115");
    let d = mesh.add("d", 4, berlin);
    (mesh, a, b, c, d)
}

fn slot_ids(answer: &Value) -> Vec<String> {
    answer["slots"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn full_flow_books_a_slot_and_the_relay_stops_offering_it() {
    let (mut mesh, a, b, c, d) = four();
    let published = mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    assert_eq!(published["slots"], 5);
    let first_sequence = published["sequence"].as_u64().unwrap();
    assert_eq!(mesh.ok(b, "stats", json!({}))["stored"], 1, "the relay stored the announce");

    // The patient's query reaches the relay and the therapist; both answer.
    let found = mesh.ok(a, "query", json!({ "specialism": "cbt", "plz": "80" }));
    assert_eq!(slot_ids(&found).len(), 5, "{found}");
    assert_eq!(found["therapists"], 1);
    let responders: Vec<&str> = found["responders"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(responders.contains(&mesh.nodes[b].address.to_string().as_str()), "the relay answered");
    assert!(responders.contains(&mesh.nodes[c].address.to_string().as_str()), "the therapist answered");
    assert_eq!(found["slots"][0]["start"], "2026-06-01T09:00Z");
    assert_eq!(found["slots"][0]["specialisms"], json!(["verhaltenstherapie", "traumatherapie"]));
    // A second patient (d) sees the same slot before it is booked.
    let seen_by_d = slot_ids(&mesh.ok(d, "query", json!({ "specialism": "cbt" })));

    // Reserve -> confirm (auto).
    let id = slot_ids(&found)[0].clone();
    let booked = mesh.ok(a, "reserve", json!({ "slot": id, "contact": CONTACT }));
    assert_eq!(booked["status"], "accepted", "{booked}");
    let therapist = mesh.ok(c, "status", json!({}))["therapist"].clone();
    assert_eq!(therapist["bookings"][0]["contact"], CONTACT);
    assert_eq!(therapist["offered"].as_array().unwrap().len(), 4);

    // The slot is withdrawn: a higher sequence without it replaced the relay's copy.
    let stats = mesh.ok(b, "stats", json!({}));
    assert!(stats["therapists"][0]["sequence"].as_u64().unwrap() > first_sequence, "{stats}");
    assert_eq!(stats["therapists"][0]["slots"], 4);
    let again = slot_ids(&mesh.ok(a, "query", json!({ "specialism": "cbt" })));
    assert_eq!(again.len(), 4);
    assert!(!again.contains(&id), "the booked slot is no longer offered");

    // The other patient tries the same slot from its older results: declined.
    assert!(seen_by_d.contains(&id));
    let reply = mesh.command(d, "reserve", &json!({ "slot": id, "json": true }).to_string(), 10_000).unwrap();
    assert!(!reply.ok, "a declined reservation fails the command: {}", reply.body);
    let declined: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["note"], "this slot is no longer offered");

    // Both patients' keys are gone once answered.
    assert!(mesh.nodes[a].h.host.kv.is_empty(), "a patient stores nothing");
}

#[test]
fn a_manual_therapist_declines_accepts_or_lets_a_reservation_lapse() {
    let (mut mesh, a, _b, _c, d) = four();
    mesh.ok(d, "publish", serde_json::from_str(&five_slots()).unwrap());
    let found = slot_ids(&mesh.ok(a, "query", json!({ "specialism": "systemic" })));
    assert_eq!(found.len(), 5);

    // Decline with a note; the slot stays on offer.
    let sent = mesh.ok(a, "reserve", json!({ "slot": found[0], "contact": CONTACT, "wait_ms": 0 }));
    assert_eq!(sent["status"], "pending");
    let pending = mesh.ok(d, "pending", json!({}));
    assert_eq!(pending["pending"][0]["contact"], CONTACT);
    assert_eq!(pending["pending"][0]["slot"], "2026-06-01T09:00Z");
    mesh.ok(d, "decline", json!({ "reservation": 1, "note": "Praxis im Urlaub" }));
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][0]["status"], "declined");
    assert_eq!(status["patient"]["reservations"][0]["note"], "Praxis im Urlaub");
    assert_eq!(mesh.ok(d, "status", json!({}))["therapist"]["offered"].as_array().unwrap().len(), 5);

    // Accept by number (bare word) -> withdrawn.
    mesh.ok(a, "reserve", json!({ "slot": found[1], "wait_ms": 0 }));
    let reply = mesh.command(d, "accept", "2", 1000).unwrap();
    assert!(reply.ok, "{}", reply.body);
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][1]["status"], "accepted");
    assert_eq!(mesh.ok(d, "status", json!({}))["therapist"]["offered"].as_array().unwrap().len(), 4);

    // Nobody answers: declined when the operator's time runs out.
    mesh.ok(a, "reserve", json!({ "slot": found[2], "wait_ms": 0 }));
    mesh.advance(101_000);
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][2]["status"], "declined");
    assert_eq!(status["patient"]["reservations"][2]["note"], "the practice did not answer in time");
    // Unknown numbers fail.
    assert!(!mesh.command(d, "accept", "9", 0).unwrap().ok);
}

#[test]
fn a_reservation_the_therapist_never_answers_gives_up_and_drops_its_key() {
    let (mut mesh, a, _b, _c, d) = four();
    mesh.ok(d, "publish", serde_json::from_str(&five_slots()).unwrap());
    let found = slot_ids(&mesh.ok(a, "query", json!({ "specialism": "systemic" })));
    mesh.offline.push(d);
    let reply = mesh.command(a, "reserve", &json!({ "slot": found[0], "wait_ms": 2000 }).to_string(), 5000).unwrap();
    assert!(!reply.ok, "no answer within the wait fails the command: {}", reply.body);
    assert!(reply.body.contains("no answer yet"), "{}", reply.body);
    mesh.advance(crate::patient::GIVE_UP_MS);
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][0]["status"], "no_answer");
}

#[test]
fn patients_verify_every_announce_a_relay_returns() {
    let (mut mesh, a, b, c, _d) = four();
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let genuine = mesh.wire.iter().rev().find(|(n, ..)| *n == c).unwrap().2.clone();
    let Ok(crate::messages::Message::Announce(announce)) = crate::messages::Message::decode(&genuine) else {
        panic!("announce")
    };
    // The relay and the therapist say nothing; a forger answers instead.
    mesh.offline.extend([b, c]);
    mesh.event(a, Event::Command(Command { id: 999, name: "query".into(), args: "{\"json\": true}".into() }));
    let query = mesh.wire.last().unwrap().2.clone();
    let Ok(crate::messages::Message::Query(query)) = crate::messages::Message::decode(&query) else { panic!("query") };
    let mut body = announce.body.clone();
    body.slots[0].start -= 60; // one hour earlier: a slot that does not exist
    let forged = crate::messages::SignedAnnounce::from_parts(body.encode(), announce.signature).unwrap();
    let response = crate::messages::Message::Response(crate::messages::SlotResponse {
        query_id: query.query_id,
        announces: vec![forged],
    });
    let message = Message {
        id: 5000,
        from: Some(Address([9; 16])),
        port: crate::messages::PORT,
        payload: response.encode(),
        reply_to: Some(0),
        sealed: false,
    };
    mesh.event(a, Event::Message(message));
    mesh.advance(2000);
    let (_, reply) = mesh.replies.iter().find(|(n, r)| *n == a && r.id == 999).unwrap();
    let answer: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(answer["slots"].as_array().unwrap().len(), 0, "{answer}");
    assert_eq!(answer["responses"], 1);
    assert_eq!(mesh.counter(a, "bad_signature"), 1);
}

#[test]
fn hot_swap_keeps_the_store_and_a_pending_reply_key_a_node_stop_drops_the_key() {
    let (mut mesh, a, b, _c, d) = four();
    mesh.ok(d, "publish", serde_json::from_str(&five_slots()).unwrap());
    let found = slot_ids(&mesh.ok(a, "query", json!({ "specialism": "systemic" })));
    mesh.ok(a, "reserve", json!({ "slot": found[0], "wait_ms": 0 }));

    // Swap the patient and the relay while the reservation waits.
    let state = mesh.restart(a, ShutdownReason::Swap);
    assert!(!state.is_empty());
    mesh.restart(b, ShutdownReason::Swap);
    assert_eq!(mesh.ok(b, "stats", json!({}))["stored"], 1, "the store survived the swap");
    mesh.ok(d, "accept", json!({ "reservation": 1 }));
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][0]["status"], "accepted", "the new instance opened the answer");

    // A node stop persists the state: no reply key in it.
    mesh.ok(a, "reserve", json!({ "slot": found[1], "wait_ms": 0 }));
    mesh.restart(a, ShutdownReason::Node);
    let status = mesh.ok(a, "status", json!({}));
    assert_eq!(status["patient"]["reservations"][1]["status"], "no_answer");
    mesh.ok(d, "accept", json!({ "reservation": 2 }));
    assert_eq!(mesh.counter(a, "unsolicited"), 1, "nothing can open the answer any more");
}

#[test]
fn commands_fail_cleanly() {
    let (mut mesh, a, b, c, _d) = four();
    let cases: &[(usize, &str, &str, &str)] = &[
        (b, "query", "{}", "needs the patient role"),
        (a, "publish", "{}", "needs the therapist role"),
        (a, "query", "{\"specialism\": \"astrology\"}", "unknown specialism"),
        (a, "query", "{\"colour\": 1}", "unknown query argument"),
        (a, "query", "{\"max_results\": 0}", "max_results"),
        (a, "query", "not json", "single word"),
        (a, "reserve", "", "say which slot"),
        (a, "reserve", "abcdef01-123", "no slot abcdef01-123"),
        (c, "publish", "{\"slots\": [{\"start\": \"2020-01-01T09:00Z\"}]}", "already begun"),
        (c, "publish", "{\"slots\": [{\"start\": \"soon\"}]}", "bad time"),
        (c, "publish", "{}", "give the slots"),
        (c, "withdraw", "", "nothing published"),
        (c, "frobnicate", "", "unknown command"),
    ];
    for (node, name, args, expected) in cases {
        let reply = mesh.command(*node, name, args, 0).expect("an answer at once");
        assert!(!reply.ok && reply.body.contains(expected), "{name} {args}: {}", reply.body);
    }
    // TOML works for publish (a slot file passed with the shell).
    let toml = "[[slots]]\nstart = 2026-06-01T09:00:00Z\nduration = 50\ntype = \"akut\"\n";
    let reply = mesh.command(c, "publish", toml, 0).unwrap();
    assert!(reply.ok, "{}", reply.body);
    let status = mesh.ok(c, "status", json!({}));
    assert_eq!(status["therapist"]["offered"][0]["type"], "akut");
    // Withdraw by slot id; then everything.
    let id = status["therapist"]["offered"][0]["id"].as_str().unwrap().to_string();
    assert!(mesh.command(c, "withdraw", &id, 0).unwrap().ok);
    assert!(!mesh.command(c, "withdraw", &id, 0).unwrap().ok, "already gone");
    assert!(mesh.command(c, "withdraw", "all", 0).unwrap().ok);
    // Text answers are tables for people.
    let reply = mesh.command(a, "query", "{}", 5000).unwrap();
    assert!(reply.ok && reply.body.contains("no matching slots"), "{}", reply.body);
}
