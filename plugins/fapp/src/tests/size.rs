//! Sizes on the air: a SlotAnnounce with five slots fits one 255-byte LoRa
//! frame with its routing header (`docs/fapp.md` explains every byte).

use super::*;
use crate::messages::{self, Message as Fapp};

/// Routing header of an anonymous flood to a port below 128
/// (`docs/WIRE.md`): 3 bytes (version/kind/flags, hop count, hop limit)
/// + 8-byte flood id + 1-byte port.
const ANONYMOUS_FLOOD_HEADER: usize = 3 + 8 + 1;
/// The same with the sender's address revealed.
const REVEALED_FLOOD_HEADER: usize = ANONYMOUS_FLOOD_HEADER + 16;
/// One LoRa frame on an AT modem; RNode-compatible mode spends one of them
/// on the on-air header.
const LORA_FRAME: usize = 255;
const RNODE_HEADER: usize = 1;

/// The exact size of the typical five-slot announce (see `docs/fapp.md`).
pub const FIVE_SLOT_ANNOUNCE: usize = 205;

fn published_payload(config: Value, slots: &str) -> Vec<u8> {
    let mut mesh = Mesh::new();
    let c = mesh.add("c", 3, config);
    mesh.ok(c, "publish", serde_json::from_str(slots).unwrap());
    mesh.wire.iter().rev().find(|(n, _, p)| *n == c && p[0] == messages::TAG_ANNOUNCE).unwrap().2.clone()
}

#[test]
fn a_five_slot_announce_fits_one_lora_frame_with_its_routing_header() {
    let payload = published_payload(therapist_config(&[], "auto"), &five_slots());
    let Ok(Fapp::Announce(announce)) = Fapp::decode(&payload) else { panic!("announce") };
    assert_eq!(announce.body.slots.len(), 5);
    // tag 1 + array head 1 + body bstr head 2 + body + signature bstr head 2 + 64.
    assert_eq!(payload.len(), 1 + 1 + 2 + announce.signed.len() + 2 + 64);
    assert_eq!(payload.len(), FIVE_SLOT_ANNOUNCE, "update docs/fapp.md when this changes");
    let on_air = ANONYMOUS_FLOOD_HEADER + payload.len();
    assert_eq!(on_air, 217);
    assert!(on_air + RNODE_HEADER <= LORA_FRAME, "{on_air} bytes + RNode header");
    // Even a flood that revealed its sender would fit.
    assert!(REVEALED_FLOOD_HEADER + payload.len() + RNODE_HEADER <= LORA_FRAME);
}

#[test]
fn the_room_left_in_the_frame() {
    // The announce flood is anonymous, so what is left of the frame after
    // five slots bounds the optional profile URL: 255 - 1 - 217 = 37 bytes;
    // a text of 24 bytes or more has a 2-byte head where `null` took one,
    // so the longest URL that fits is 36 bytes.
    let mut config = therapist_config(&[], "auto");
    let room = LORA_FRAME - RNODE_HEADER - ANONYMOUS_FLOOD_HEADER - FIVE_SLOT_ANNOUNCE;
    assert_eq!(room, 37);
    let url = format!("https://{}", "p".repeat(room - 1 - "https://".len()));
    config["therapist"]["profile_url"] = json!(url);
    let payload = published_payload(config, &five_slots());
    assert_eq!(
        ANONYMOUS_FLOOD_HEADER + payload.len() + RNODE_HEADER,
        LORA_FRAME,
        "a {}-byte URL fills it exactly",
        url.len()
    );

    // Each further slot costs 9 bytes (array head, start, duration, type).
    let six: Vec<Value> = (1..=6)
        .map(|d| json!({ "start": format!("2026-06-0{d}T09:00Z"), "duration": 50, "type": "erstgespraech" }))
        .collect();
    let payload = published_payload(therapist_config(&[], "auto"), &json!({ "slots": six }).to_string());
    assert_eq!(payload.len(), FIVE_SLOT_ANNOUNCE + 9);
}

#[test]
fn the_other_messages_are_small() {
    let mut mesh = Mesh::new();
    let a = mesh.add("a", 1, json!({ "roles": ["patient"] }));
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    let found = mesh.ok(a, "query", json!({ "specialism": "cbt", "plz": "80" }));
    let id = found["slots"][0]["id"].as_str().unwrap().to_string();
    mesh.ok(a, "reserve", json!({ "slot": id }));
    let size = |tag: u8| mesh.wire.iter().find(|(_, _, p)| p[0] == tag).map(|(_, _, p)| p.len()).unwrap();
    // Query: tag, array(9), random id (5), three sets (1 each), "80" (3),
    // from, to, types (1 each), max results (1).
    assert_eq!(size(messages::TAG_QUERY), 17);
    // Response with one five-slot announce: tag, array(2), query id (5), array(1), the announce item.
    assert_eq!(size(messages::TAG_RESPONSE), 1 + 1 + 5 + 1 + FIVE_SLOT_ANNOUNCE - 1);
    // Reservation without contact: 55 bytes of plaintext + 48 of box, in a bstr.
    assert_eq!(size(messages::TAG_RESERVE), 1 + 2 + 55 + crate::crypto::BOX_OVERHEAD);
    // Confirmation without note: 17 bytes of plaintext + 48 of box.
    assert_eq!(size(messages::TAG_CONFIRM), 1 + 2 + 17 + crate::crypto::BOX_OVERHEAD);
}
