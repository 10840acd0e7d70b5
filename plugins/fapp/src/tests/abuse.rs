//! Reservation abuse (issue 18, finding 5): an anonymous sender books every
//! offered slot (auto mode) or fills the waiting list without bound (manual
//! mode, one timer each). Attacks here come straight to the therapist, sealed
//! to its key exactly as a patient's reservation is.

use super::*;
use crate::messages::{Message as Fapp, PORT, ReservePlain};

/// Twenty 50-minute slots: June 1 to 4, 09:00 to 13:00.
fn twenty_slots() -> Value {
    let slots: Vec<Value> = (1..=4)
        .flat_map(|d| (9..=13).map(move |h| (d, h)))
        .map(|(d, h)| json!({ "start": format!("2026-06-0{d}T{h:02}:00Z"), "duration": 50, "type": "erstgespraech" }))
        .collect();
    json!({ "slots": slots })
}

/// A therapist in `confirm` mode with twenty slots; returns the mesh, its
/// index, the slot start minutes and its X25519 key.
fn therapist(confirm: &str) -> (Mesh, usize, Vec<u32>, [u8; 32]) {
    let mut mesh = Mesh::new();
    let c = mesh.add("c", 3, therapist_config(&[], confirm));
    mesh.ok(c, "publish", twenty_slots());
    let status = mesh.ok(c, "status", json!({}));
    let starts: Vec<u32> = status["therapist"]["offered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start_minute"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(starts.len(), 20);
    let public = mesh.keys.lock().unwrap()[&mesh.nodes[c].address];
    let x25519 = crypto::node_x25519_key(&public).unwrap();
    (mesh, c, starts, x25519)
}

/// One anonymous reservation, sealed to the therapist.
fn attack(mesh: &mut Mesh, c: usize, x25519: &[u8; 32], n: u64, slot_start: u32, reply_key: [u8; 32]) {
    let plain = ReservePlain {
        reservation: 1_000_000 + n,
        slot_start,
        sequence: 0,
        reply_key,
        contact: Some("x".repeat(crate::messages::MAX_CONTACT)),
    };
    let ephemeral = [(n % 251) as u8 + 1; 32];
    let sealed = crypto::seal(x25519, &plain.encode(), ephemeral, crypto::NODE_SEAL_INFO).unwrap();
    let message = Message {
        id: 9_000_000 + n,
        from: None,
        port: PORT,
        payload: Fapp::Reserve(sealed).encode(),
        reply_to: None,
        sealed: false,
    };
    mesh.event(c, Event::Message(message));
}

/// A reply key per attempt: the cheapest disguise there is.
fn fresh_key(n: u64) -> [u8; 32] {
    let mut key = [9u8; 32];
    key[..8].copy_from_slice(&n.to_le_bytes());
    key
}

fn counter(mesh: &mut Mesh, c: usize, name: &str) -> u64 {
    mesh.ok(c, "stats", json!({}))["counters"][name].as_u64().unwrap_or(0)
}

#[test]
fn ten_thousand_anonymous_reservations_take_a_bounded_share_and_bounded_memory() {
    let (mut mesh, c, starts, x25519) = therapist("auto");
    for n in 0..10_000u64 {
        let slot = starts[(n % 20) as usize];
        attack(&mut mesh, c, &x25519, n, slot, fresh_key(n));
        if n % 1_000 == 999 {
            mesh.advance(1_000); // the attack lasts about ten seconds
        }
    }
    let status = mesh.ok(c, "status", json!({}))["therapist"].clone();
    let booked = status["bookings"].as_array().unwrap().len();
    assert_eq!(booked, 6, "the hourly auto-accept budget: {status}");
    assert_eq!(status["offered"].as_array().unwrap().len(), 14, "most slots stay offered");
    assert!(status["pending"].as_u64().unwrap() <= 32, "bounded waiting list: {status}");
    // Attempts at the six booked slots are declined as no longer offered;
    // the rest went past the budget and found the waiting list full.
    let rate_limited = counter(&mut mesh, c, "reserves_rate_limited");
    let full = counter(&mut mesh, c, "reserves_pending_full");
    assert!(rate_limited > 6_500 && full > 6_500, "rate limited {rate_limited}, pending full {full}");
    // What the plugin keeps (and would hand over) stays small.
    let state = mesh.restart(c, weft_plugin_api::ShutdownReason::Swap);
    assert!(state.len() < 64 * 1024, "handed-over state is {} bytes", state.len());
    // The node is still a working therapist.
    assert_eq!(mesh.ok(c, "status", json!({}))["therapist"]["offered"].as_array().unwrap().len(), 14);
}

#[test]
fn one_reply_key_holds_one_reservation() {
    let (mut mesh, c, starts, x25519) = therapist("auto");
    let key = fresh_key(1);
    for (n, &slot) in starts.iter().enumerate() {
        attack(&mut mesh, c, &x25519, n as u64, slot, key);
    }
    let status = mesh.ok(c, "status", json!({}))["therapist"].clone();
    assert_eq!(status["bookings"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(counter(&mut mesh, c, "reserves_key_limited"), 19);
}

#[test]
fn the_manual_waiting_list_is_bounded_per_slot_and_in_all() {
    let (mut mesh, c, starts, x25519) = therapist("manual");
    for n in 0..1_000u64 {
        attack(&mut mesh, c, &x25519, n, starts[0], fresh_key(n));
    }
    assert_eq!(mesh.ok(c, "status", json!({}))["therapist"]["pending"], 3, "three wait for one slot");
    for n in 1_000..2_000u64 {
        attack(&mut mesh, c, &x25519, n, starts[(n % 20) as usize], fresh_key(n));
    }
    assert_eq!(mesh.ok(c, "status", json!({}))["therapist"]["pending"], 32, "thirty-two wait in all");
    assert!(counter(&mut mesh, c, "reserves_pending_full") >= 1_900);
    // The operator still decides on the earliest ones.
    mesh.ok(c, "accept", json!({ "reservation": 1 }));
    assert_eq!(mesh.ok(c, "status", json!({}))["therapist"]["bookings"].as_array().unwrap().len(), 1);
}
