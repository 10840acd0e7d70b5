//! What a relay accepts, keeps, forgets and never sees.

use super::*;
use crate::messages::{Message as Fapp, SignedAnnounce};

fn relay_config(capacity: usize) -> Value {
    json!({ "roles": ["relay"], "relay": { "capacity": capacity } })
}

/// The last announce payload node `i` flooded.
fn last_announce(mesh: &Mesh, i: usize) -> (Vec<u8>, SignedAnnounce) {
    let payload = mesh.wire.iter().rev().find(|(n, _, p)| *n == i && p[0] == 0x01).unwrap().2.clone();
    let Ok(Fapp::Announce(a)) = Fapp::decode(&payload) else { panic!("an announce") };
    (payload, *a)
}

#[test]
fn a_tampered_announce_is_refused_and_never_stored() {
    let mut mesh = Mesh::new();
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    mesh.offline.push(c); // its own floods reach nobody; we deliver by hand
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let (genuine, announce) = last_announce(&mesh, c);
    let b = mesh.add("b", 2, relay_config(100));

    // A byte of the signed body changed (the PLZ 80331 -> 80339).
    let mut body = announce.body.clone();
    body.plz = "80339".into();
    let altered = SignedAnnounce::from_parts(body.encode(), announce.signature).unwrap();
    mesh.inject(b, altered.to_payload());
    // A signature bit flipped.
    let mut flipped = genuine.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    mesh.inject(b, flipped);
    // Someone else's valid key in place of the therapist's: the address
    // follows the key, and the signature no longer verifies.
    let mut body = announce.body.clone();
    body.therapist_key = ed25519_dalek::SigningKey::from_bytes(&[77; 32]).verifying_key().to_bytes();
    mesh.inject(b, SignedAnnounce::from_parts(body.encode(), announce.signature).unwrap().to_payload());
    assert_eq!(mesh.counter(b, "bad_signature"), 3);
    assert_eq!(mesh.ok(b, "stats", json!({}))["stored"], 0);
    // The genuine one is taken.
    mesh.inject(b, genuine);
    assert_eq!(mesh.ok(b, "stats", json!({}))["stored"], 1);
    assert_eq!(mesh.metric(b, "bad_signature"), 3.0, "exported as a metric too");
}

#[test]
fn an_older_sequence_is_ignored_and_the_newest_kept() {
    let mut mesh = Mesh::new();
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    mesh.offline.push(c);
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let (old, old_announce) = last_announce(&mesh, c);
    mesh.advance(1000);
    mesh.ok(c, "withdraw", json!({ "slot": "2026-06-01T09:00Z" }));
    let (new, new_announce) = last_announce(&mesh, c);
    assert!(new_announce.body.sequence > old_announce.body.sequence);

    let b = mesh.add("b", 2, relay_config(100));
    mesh.inject(b, new.clone());
    mesh.inject(b, old); // a replay of the older announce
    mesh.inject(b, new); // a copy of the same one
    let stats = mesh.ok(b, "stats", json!({}));
    assert_eq!(stats["therapists"][0]["sequence"], new_announce.body.sequence);
    assert_eq!(stats["therapists"][0]["slots"], 4);
    assert_eq!(stats["counters"]["announces_stale"], 1);
    assert_eq!(stats["counters"]["announces_duplicate"], 1);
}

#[test]
fn announces_lapse_at_their_ttl() {
    let mut mesh = Mesh::new();
    let mut config = therapist_config(&[], "auto");
    config["therapist"]["ttl_s"] = json!(600);
    config["therapist"]["republish_s"] = json!(300);
    let c = mesh.add("c", 3, config);
    let b = mesh.add("b", 2, relay_config(100));
    let a = mesh.add("a", 1, json!({ "roles": ["patient"] }));
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    mesh.offline.push(c); // gone: no re-signing, no answers
    assert_eq!(mesh.ok(a, "query", json!({}))["slots"].as_array().unwrap().len(), 5);
    mesh.advance(600_000);
    assert_eq!(mesh.ok(a, "query", json!({}))["slots"].as_array().unwrap().len(), 0, "lapsed: not offered");
    let stats = mesh.ok(b, "stats", json!({}));
    assert_eq!((stats["stored"].as_u64(), stats["purged"].as_u64()), (Some(0), Some(1)), "{stats}");
    // An announce that arrives already expired is refused (the first one;
    // c re-signed meanwhile, though nobody heard it).
    let expired = mesh.wire.iter().find(|(n, _, p)| *n == c && p[0] == 0x01).unwrap().2.clone();
    mesh.inject(b, expired);
    assert_eq!(mesh.counter(b, "expired"), 1);
}

#[test]
fn a_full_relay_evicts_the_soonest_to_lapse() {
    let mut mesh = Mesh::new();
    let b = mesh.add("b", 2, relay_config(2));
    let mut therapists = Vec::new();
    for (seed, ttl) in [(10u8, 3600u64), (11, 1800), (12, 7200)] {
        let mut config = therapist_config(&[], "auto");
        config["therapist"]["ttl_s"] = json!(ttl);
        config["therapist"]["republish_s"] = json!(ttl / 2);
        let t = mesh.add("t", seed, config);
        mesh.ok(t, "publish", serde_json::from_str(&five_slots()).unwrap());
        therapists.push(mesh.nodes[t].address.to_string());
    }
    let stats = mesh.ok(b, "stats", json!({}));
    assert_eq!((stats["stored"].as_u64(), stats["evicted"].as_u64()), (Some(2), Some(1)), "{stats}");
    let kept: Vec<&str> =
        stats["therapists"].as_array().unwrap().iter().map(|t| t["therapist"].as_str().unwrap()).collect();
    assert!(kept.contains(&therapists[0].as_str()) && kept.contains(&therapists[2].as_str()), "{stats}");
    assert!(!kept.contains(&therapists[1].as_str()), "the one lapsing first went: {stats}");
}

#[test]
fn a_relay_never_reads_or_keeps_a_reservation_and_queries_name_no_patient() {
    let mut mesh = Mesh::new();
    let a = mesh.add("a", 1, json!({ "roles": ["patient"] }));
    let b = mesh.add("b", 2, relay_config(100));
    let c = mesh.add("c", 3, therapist_config(&["relay"], "auto"));
    let other = mesh.add("e", 5, therapist_config(&[], "auto"));
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let contact = "PATIENT-SECRET-4711";
    let found = mesh.ok(a, "query", json!({}));
    let id = found["slots"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(mesh.ok(a, "reserve", json!({ "slot": id, "contact": contact }))["status"], "accepted");

    let patient = mesh.nodes[a].address;
    // Everything the patient put on the air was anonymous and carries
    // neither its address nor the reservation's plaintext.
    let sent: Vec<&(usize, bool, Vec<u8>)> = mesh.wire.iter().filter(|(n, ..)| *n == a).collect();
    assert_eq!(sent.len(), 2, "one query, one reservation");
    for (_, anonymous, payload) in &sent {
        assert!(*anonymous, "patient floods are anonymous");
        assert!(!payload.windows(16).any(|w| w == patient.0), "no patient address in the payload");
        assert!(!payload.windows(contact.len()).any(|w| w == contact.as_bytes()), "no plaintext");
    }
    assert_eq!(sent[0].2[0], 0x02, "the query");
    assert_eq!(sent[1].2[0], 0x04, "the reservation");
    // Nothing on the air anywhere carries the contact in clear.
    assert!(mesh.wire.iter().all(|(_, _, p)| !p.windows(contact.len()).any(|w| w == contact.as_bytes())));

    // The relay: never tried to open anything, stored nothing, keeps no trace.
    assert_eq!(mesh.nodes[b].opens.load(Ordering::SeqCst), 0);
    assert!(mesh.nodes[b].actions.iter().all(|x| !matches!(x, Action::Store(_))), "the relay writes nothing");
    assert!(mesh.nodes[b].h.host.kv.is_empty());
    assert_eq!(mesh.counter(b, "reserves_passed"), 1);
    assert_eq!(mesh.counter(b, "queries_identified"), 0, "no query named its sender");
    let state = mesh.restart(b, weft_plugin_api::ShutdownReason::Node);
    assert!(!state.windows(contact.len()).any(|w| w == contact.as_bytes()), "nor in its handed-over state");
    // A therapist the reservation was not for tried to open it and could not.
    assert_eq!(mesh.counter(other, "reserves_not_for_us"), 1);
    assert_eq!(mesh.counter(c, "reserves_received"), 1);
}

#[test]
fn a_therapist_without_the_relay_role_answers_from_its_own_announce() {
    let mut mesh = Mesh::new();
    let a = mesh.add("a", 1, json!({ "roles": ["patient"] }));
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let found = mesh.ok(a, "query", json!({ "plz": "8", "type": "first_consultation" }));
    assert_eq!(found["slots"].as_array().unwrap().len(), 5);
    assert_eq!(found["responders"], json!([mesh.nodes[c].address.to_string()]));
    let none = mesh.ok(a, "query", json!({ "plz": "1" }));
    assert_eq!(
        (none["slots"].as_array().unwrap().len(), none["responses"].as_u64()),
        (0, Some(0)),
        "no match, no answer"
    );
}
