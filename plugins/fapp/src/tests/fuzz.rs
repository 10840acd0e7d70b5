//! Decoder fuzzing: random bytes, every truncation and every bit flip of
//! valid messages, wrong tags and oversized lists. The decoder must answer
//! every input with a value or an error, and the plugin must count each bad
//! payload and carry on.

use super::*;
use crate::cbor::{DecodeError, Writer};
use crate::messages::tests::{sample_announce, sample_body};
use crate::messages::{self, ConfirmPlain, Filter, Message as Fapp, ReservePlain, SlotQuery, SlotResponse};

use weft_plugin_api::internal::rng::SplitMix64;

fn valid_payloads() -> Vec<Vec<u8>> {
    let announce = sample_announce(5);
    let query = SlotQuery {
        query_id: 0x1234_5678,
        filter: Filter {
            specialisms: crate::domain::Mask(3),
            plz_prefix: "80".into(),
            max_results: 10,
            ..Filter::default()
        },
    };
    vec![
        Fapp::Announce(Box::new(announce.clone())).encode(),
        Fapp::Query(query).encode(),
        Fapp::Response(SlotResponse { query_id: 1, announces: vec![announce.clone(), sample_announce(1)] }).encode(),
        Fapp::Reserve(vec![7; 120]).encode(),
        Fapp::Confirm(vec![8; 70]).encode(),
    ]
}

/// Every decoder of the crate, on the same bytes.
fn decode_all(bytes: &[u8]) {
    let _ = Fapp::decode(bytes);
    let _ = messages::AnnounceBody::decode(bytes);
    let _ = ReservePlain::decode(bytes);
    let _ = ConfirmPlain::decode(bytes);
}

#[test]
fn random_bytes_never_panic_the_decoders() {
    let mut rng = SplitMix64::new(0x5eed);
    for _ in 0..50_000 {
        let len = rng.below(300) as usize;
        let mut bytes = rng.bytes(len);
        if let Some(first) = bytes.first_mut() {
            *first %= 8; // mostly valid tags, so the bodies get decoded
        }
        decode_all(&bytes);
        decode_all(bytes.get(1..).unwrap_or_default());
    }
}

#[test]
fn every_truncation_fails_and_every_bit_flip_is_handled() {
    for payload in valid_payloads() {
        assert!(Fapp::decode(&payload).is_ok());
        for len in 0..payload.len() {
            assert!(Fapp::decode(&payload[..len]).is_err(), "a truncation to {len} of {payload:02x?} decoded");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert_eq!(Fapp::decode(&longer), Err(DecodeError::Trailing(1)));
        for i in 0..payload.len() {
            for bit in 0..8 {
                let mut flipped = payload.clone();
                flipped[i] ^= 1 << bit;
                decode_all(&flipped);
            }
        }
    }
    // The plaintexts inside the boxes too.
    let reserve =
        ReservePlain { reservation: 1, slot_start: 2, sequence: 3, reply_key: [4; 32], contact: Some("x".into()) };
    let confirm = ConfirmPlain { reservation: 1, accepted: false, slot_start: 2, note: Some("n".into()) };
    for plain in [reserve.encode(), confirm.encode()] {
        for len in 0..plain.len() {
            assert!(ReservePlain::decode(&plain[..len]).is_err() && ConfirmPlain::decode(&plain[..len]).is_err());
        }
    }
}

#[test]
fn wrong_tags_and_oversized_lists_are_refused() {
    let announce = sample_announce(1);
    let mut wrong = Fapp::Announce(Box::new(announce.clone())).encode();
    for tag in [0x00, 0x06, 0x7f, 0xff] {
        wrong[0] = tag;
        assert_eq!(Fapp::decode(&wrong), Err(DecodeError::UnknownTag(tag)));
    }
    assert_eq!(Fapp::decode(&[]), Err(DecodeError::Empty));
    // A query body under an announce tag.
    let mut query = Fapp::Query(SlotQuery { query_id: 1, filter: Filter::default().clamped() }).encode();
    query[0] = messages::TAG_ANNOUNCE;
    assert!(Fapp::decode(&query).is_err());

    // 33 slots (limit 32).
    let too_many = sample_body(messages::MAX_SLOTS + 1).encode();
    assert!(matches!(messages::AnnounceBody::decode(&too_many), Err(DecodeError::TooLarge { what: "slots", .. })));
    let mut w = Writer::default();
    w.raw(&[messages::TAG_ANNOUNCE]);
    w.array(2);
    w.bytes(&too_many);
    w.bytes(&[0; 64]);
    assert!(Fapp::decode(&w.into_vec()).is_err());
    // 33 announces in one response (limit 32).
    let item = announce.item();
    let items: Vec<&[u8]> = (0..=messages::MAX_RESPONSE_ANNOUNCES).map(|_| item.as_slice()).collect();
    let response = messages::encode_response(1, &items);
    assert!(matches!(Fapp::decode(&response), Err(DecodeError::TooLarge { what: "announces", .. })));
    // Lengths claiming far more than the payload holds.
    for huge in [
        vec![messages::TAG_RESPONSE, 0x82, 0x01, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![messages::TAG_RESERVE, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![messages::TAG_ANNOUNCE, 0x82, 0x5a, 0xff, 0xff, 0xff, 0xff],
    ] {
        assert!(Fapp::decode(&huge).is_err(), "{huge:02x?}");
    }
    // Oversized strings.
    let mut body = sample_body(1);
    body.profile_url = Some(format!("https://{}", "x".repeat(messages::MAX_URL)));
    assert!(matches!(messages::AnnounceBody::decode(&body.encode()), Err(DecodeError::TooLarge { .. })));
    let big_box = Fapp::Reserve(vec![0; messages::MAX_BOX + 1]).encode();
    assert!(matches!(Fapp::decode(&big_box), Err(DecodeError::TooLarge { .. })));
    let small_box = Fapp::Reserve(vec![0; 10]).encode();
    assert!(Fapp::decode(&small_box).is_err(), "shorter than a box's overhead");
}

#[test]
fn the_plugin_counts_every_malformed_payload_and_keeps_running() {
    let mut mesh = Mesh::new();
    let b = mesh.add("b", 2, json!({ "roles": ["relay", "patient"] }));
    let c = mesh.add("c", 3, therapist_config(&[], "auto"));
    let mut rng = SplitMix64::new(42);
    let mut bad = 0u64;
    for payload in valid_payloads() {
        for len in 0..payload.len() {
            mesh.inject(b, payload[..len].to_vec());
            mesh.inject(c, payload[..len].to_vec());
            bad += 1;
        }
    }
    for _ in 0..2000 {
        let len = rng.below(200) as usize;
        let mut bytes = rng.bytes(len);
        if let Some(first) = bytes.first_mut() {
            *first |= 0x80; // never a valid tag
        }
        mesh.inject(b, bytes.clone());
        mesh.inject(c, bytes);
        bad += 1;
    }
    assert_eq!(mesh.counter(b, "malformed"), bad);
    assert_eq!(mesh.counter(c, "malformed"), bad);
    assert_eq!(mesh.metric(b, "malformed"), bad as f64, "exported as a metric");
    // Well-formed but out of place: a response nobody asked for, a confirm
    // arriving as a fresh message.
    mesh.inject(b, valid_payloads()[4].clone());
    assert_eq!(mesh.counter(b, "unexpected"), 1);
    // Still working.
    mesh.ok(c, "publish", serde_json::from_str(&five_slots()).unwrap());
    assert_eq!(mesh.ok(b, "stats", json!({}))["stored"], 1);
}
