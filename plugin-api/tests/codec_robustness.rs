//! The decoder against hostile input: plugins (wasm ones are untrusted) send
//! the host arbitrary bytes. Decoding must never panic, never reserve memory
//! a length prefix asks for without the input to back it, stop at the nesting
//! limit, reject trailing bytes and truncation, and say where it failed.
//! Also: unknown tagged variants are skipped whatever their body looks like.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use weft_plugin_api::actions::*;
use weft_plugin_api::host_call::*;
use weft_plugin_api::internal::rng::SplitMix64;
use weft_plugin_api::internal::*;
use weft_plugin_api::*;

/// Records the largest single allocation made by the current thread while
/// tracking is on, so tests can prove a length prefix was not trusted.
struct TrackingAllocator;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; `note` does not allocate.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc`'s contract; forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc`'s contract; forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc`'s contract; forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller upholds `GlobalAlloc`'s contract; forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

#[global_allocator]
static ALLOCATOR: TrackingAllocator = TrackingAllocator;

/// Runs `f` and returns its result and the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, LARGEST.with(|l| l.get()))
}

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    codec::encode(value).unwrap()
}

fn message(payload: usize) -> Event {
    Event::Message(Message {
        id: 300,
        from: Some(Address([7; 16])),
        port: 7,
        payload: vec![0xab; payload],
        reply_to: None,
        sealed: false,
    })
}

fn samples() -> Vec<Vec<u8>> {
    vec![
        cbor(&Call::Event(message(100))),
        cbor(&Call::Init(InitArgs { config: cbor(&[("flush", 5u32)]), state: Some(vec![1, 2, 3]) })),
        cbor(&Call::Shutdown(ShutdownArgs { reason: ShutdownReason::Swap, deadline_ms: 2000 })),
        cbor(&Outcome {
            actions: vec![
                Action::Reply(Reply { message: 1, payload: vec![0xab; 30] }),
                Action::Metric(Metric { name: "m".into(), kind: MetricKind::Gauge, value: 0.1 }),
                Action::Store(Store { key: b"k".to_vec(), value: None }),
                Action::FrameReceived(FrameReceived { frame: vec![1], rssi_dbm: Some(-90), snr_db: Some(2.5) }),
            ],
            state: Some(vec![4; 10]),
            failure: Some(Failure { kind: FailureKind::Panicked, message: "boom".into() }),
        }),
        cbor(&HostCall::Verify(VerifyRequest { public_key: vec![1; 32], message: vec![2; 5], signature: vec![3; 64] })),
        cbor(&HostReply::Opened(Opened { plaintext: vec![5; 20], sender: Some(Address([1; 16])) })),
    ]
}

/// Decodes `bytes` as every boundary type; none may panic. Returns how many
/// types accepted the bytes.
fn decode_as_everything(bytes: &[u8]) -> usize {
    fn one<T: DeserializeOwned>(bytes: &[u8]) -> usize {
        usize::from(codec::decode::<T>(bytes).is_ok())
    }
    one::<Call>(bytes)
        + one::<Outcome>(bytes)
        + one::<Event>(bytes)
        + one::<Action>(bytes)
        + one::<HostCall>(bytes)
        + one::<HostReply>(bytes)
        + one::<Manifest>(bytes)
        + one::<InitArgs>(bytes)
        + one::<ciborium::Value>(bytes)
        + one::<serde::de::IgnoredAny>(bytes)
}

#[track_caller]
fn assert_decode_error<T: DeserializeOwned + Debug>(bytes: &[u8], needle: &str) {
    match codec::decode::<T>(bytes) {
        Ok(v) => panic!("decoded {v:?} from {bytes:02x?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(needle), "{text:?} does not mention {needle:?}");
            assert!(text.contains("at byte"), "{text:?} has no offset");
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    for sample in samples() {
        for len in 0..sample.len() {
            let prefix = &sample[..len];
            assert!(codec::decode::<Call>(prefix).is_err() || codec::decode::<Outcome>(prefix).is_err());
            decode_as_everything(prefix);
        }
    }
    let call = cbor(&Call::Event(message(100)));
    for len in 0..call.len() {
        let error = codec::decode::<Call>(&call[..len]).unwrap_err().to_string();
        assert!(error.contains("at byte"), "{error}");
    }
    let outcome = &samples()[3];
    for len in 0..outcome.len() {
        assert!(codec::decode::<Outcome>(&outcome[..len]).is_err(), "prefix of {len} bytes accepted");
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut bytes = cbor(&Call::Event(message(3)));
    let end = bytes.len();
    bytes.push(0x00);
    let error = codec::decode::<Call>(&bytes).unwrap_err().to_string();
    assert!(error.contains("1 trailing bytes") && error.contains(&format!("at byte {end}")), "{error}");
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = SplitMix64::new(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..100_000 {
        let len = rng.below(48) as usize;
        let bytes = rng.bytes(len);
        accepted += decode_as_everything(&bytes);
    }
    // Sanity: the generator does produce some valid CBOR (`IgnoredAny`/`Value`).
    assert!(accepted > 0);
}

#[test]
fn mutated_encodings_never_panic_and_agree_with_ciborium() {
    let mut rng = SplitMix64::new(0x2545_f491_4f6c_dd1d);
    let samples = samples();
    for round in 0..100_000 {
        let mut bytes = samples[round % samples.len()].clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(bytes.len() as u64) as usize;
            match rng.below(4) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = rng.next_u64() as u8,
                2 => bytes.truncate(at),
                _ => bytes.insert(at, rng.next_u64() as u8),
            }
            if bytes.is_empty() {
                bytes.push(0);
            }
        }
        decode_as_everything(&bytes);
        // Whenever both codecs accept the bytes, they must agree on the value
        // (compared re-encoded, so that NaN equals NaN).
        if let (Ok(ours), Ok(theirs)) =
            (codec::decode::<Outcome>(&bytes), ciborium::from_reader::<Outcome, _>(&bytes[..]))
        {
            assert_eq!(cbor(&ours), cbor(&theirs), "{bytes:02x?}");
        }
        if let (Ok(ours), Ok(theirs)) = (codec::decode::<Call>(&bytes), ciborium::from_reader::<Call, _>(&bytes[..])) {
            assert_eq!(cbor(&ours), cbor(&theirs), "{bytes:02x?}");
        }
    }
}

#[test]
fn huge_length_prefixes_fail_without_allocating() {
    let huge_heads: [&[u8]; 8] = [
        &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // bytes, 2^64-1
        &[0x5a, 0x7f, 0xff, 0xff, 0xff],                         // bytes, 2^31-1
        &[0x7b, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00], // text
        &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // array
        &[0x9a, 0x10, 0x00, 0x00, 0x00],                         // array, 2^28
        &[0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // map
        &[0xba, 0x10, 0x00, 0x00, 0x00],                         // map, 2^28
        &[0x5f, 0x5a, 0x7f, 0xff, 0xff, 0xff],                   // chunk of an indefinite string
    ];
    for head in huge_heads {
        for prefix in [&[][..], &[0x82, 0x02, 0x82, 0x01, 0xa1, 0x67][..]] {
            let mut bytes = prefix.to_vec();
            if !prefix.is_empty() {
                bytes.extend_from_slice(b"payload");
            }
            bytes.extend_from_slice(head);
            bytes.extend_from_slice(&[0u8; 32]);
            let (accepted, largest) = largest_allocation(|| decode_as_everything(&bytes));
            assert_eq!(accepted, 0, "{bytes:02x?}");
            assert!(largest < 4096, "allocated {largest} bytes for {bytes:02x?}");
        }
    }
    // The same inside typed positions, with a useful message.
    let mut outcome = vec![0xa1, 0x67];
    outcome.extend_from_slice(b"actions");
    outcome.extend_from_slice(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_decode_error::<Outcome>(&outcome, "array of 18446744073709551615 entries");
    let mut message = vec![0x82, 0x01, 0xa1, 0x67];
    message.extend_from_slice(b"payload");
    message.extend_from_slice(&[0x5a, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    assert_decode_error::<Event>(&message, "byte string of 2147483647 bytes");
}

fn nested_arrays(depth: usize, indefinite: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..depth {
        bytes.push(if indefinite { 0x9f } else { 0x81 });
    }
    bytes.push(0x00);
    if indefinite {
        bytes.extend(std::iter::repeat_n(0xff, depth));
    }
    bytes
}

/// `[2, [99, body]]`: an event with a tag from a later minor.
fn unknown_event_call(body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0x82, 0x02, 0x82, 0x18, 99];
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn deep_nesting_is_refused() {
    for indefinite in [false, true] {
        // Within the limit (the call envelope takes two levels).
        let ok = unknown_event_call(&nested_arrays(200, indefinite));
        assert_eq!(codec::decode::<Call>(&ok).unwrap(), Call::Event(Event::Unknown(99)));
        let too_deep = unknown_event_call(&nested_arrays(300, indefinite));
        assert_decode_error::<Call>(&too_deep, "nesting deeper than 256 levels");
        // Far too deep: no stack overflow, whatever type is asked for.
        let absurd = nested_arrays(1_000_000, indefinite);
        assert_eq!(decode_as_everything(&absurd), 0);
    }
    let mut tags = vec![0xc6; 10_000];
    tags.push(0x00);
    assert!(codec::decode::<serde::de::IgnoredAny>(&tags).is_err());
    assert!(codec::decode::<ciborium::Value>(&tags).is_err());
    let mut maps = [0xa1, 0x00].repeat(10_000);
    maps.push(0x00);
    assert_eq!(decode_as_everything(&maps), 0);
}

#[test]
fn unknown_variants_skip_arbitrary_bodies() {
    let mut bodies: Vec<Vec<u8>> = vec![
        vec![0xf6],                                           // null
        vec![0xa0],                                           // {}
        vec![0x80],                                           // []
        vec![0xbf, 0x61, b'a', 0x9f, 0x01, 0x02, 0xff, 0xff], // {_ "a": [_ 1, 2]}
        vec![0xc1, 0x1a, 0x65, 0x5f, 0x00, 0x00],             // 1(epoch time)
        vec![0xd8, 0x20, 0x63, b'u', b'r', b'l'],             // 32("url")
        vec![0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0],          // bignum 2^64
        vec![0x5f, 0x41, 1, 0x42, 2, 3, 0xff],                // (_ h'01', h'0203')
        vec![0x7f, 0x61, b'a', 0x62, b'b', b'c', 0xff],       // (_ "a", "bc")
        vec![0xf9, 0x3c, 0x00],                               // 1.0 (half)
        vec![0xfa, 0x47, 0xc3, 0x50, 0x00],                   // 100000.0 (single)
        vec![0xfb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
        vec![0xf4],
        vec![0xf7],
        vec![0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2^64
    ];
    // A big map mixing all of the above, nested.
    let mut big = vec![0xb9, 0x00, bodies.len() as u8];
    for (i, body) in bodies.iter().enumerate() {
        big.push(i as u8);
        big.push(0x81);
        big.extend_from_slice(body);
    }
    bodies.push(big);
    for body in &bodies {
        let call = unknown_event_call(body);
        assert_eq!(codec::decode::<Call>(&call).unwrap(), Call::Event(Event::Unknown(99)), "{body:02x?}");
        assert_eq!(ciborium::from_reader::<Call, _>(&call[..]).unwrap(), Call::Event(Event::Unknown(99)));

        let mut outcome = vec![0xa1, 0x67];
        outcome.extend_from_slice(b"actions");
        outcome.extend_from_slice(&[0x82, 0x82, 0x03, 0xa2, 0x67]);
        outcome.extend_from_slice(b"message");
        outcome.push(0x01);
        outcome.extend_from_slice(&[0x67]);
        outcome.extend_from_slice(b"payload");
        outcome.push(0x40);
        outcome.extend_from_slice(&[0x82, 0x19, 0x01, 0x00]);
        outcome.extend_from_slice(body);
        let decoded = codec::decode::<Outcome>(&outcome).unwrap();
        assert_eq!(decoded.actions, vec![Action::Reply(Reply { message: 1, payload: vec![] }), Action::Unknown(256)]);

        for tagged in [&[0x82, 0x18, 200][..], &[0x82, 0x1a, 0x00, 0x01, 0x00, 0x00][..]] {
            let mut bytes = tagged.to_vec();
            bytes.extend_from_slice(body);
            let tag = if tagged.len() == 3 { 200 } else { 65_536 };
            assert_eq!(codec::decode::<HostCall>(&bytes).unwrap(), HostCall::Unknown(tag));
            assert_eq!(codec::decode::<HostReply>(&bytes).unwrap(), HostReply::Unknown(tag));
        }
    }
    // Malformed bodies are still errors: skipping checks well-formedness.
    for bad in [&[0x61, 0xff][..], &[0xff], &[0x5f, 0x61, b'a', 0xff], &[0x1c], &[0x9f, 0x01]] {
        assert!(codec::decode::<Call>(&unknown_event_call(bad)).is_err(), "{bad:02x?}");
    }
}

/// Non-canonical but valid encodings of known types, as another CBOR encoder
/// might produce them, decode like ciborium decodes them.
#[test]
fn indefinite_and_long_form_encodings_decode() {
    let mut bytes = vec![0x9f, 0x02, 0x9f, 0x19, 0x00, 0x01, 0xbf];
    bytes.extend_from_slice(&[0x62, b'i', b'd', 0x1b, 0, 0, 0, 0, 0, 0, 0, 5]);
    bytes.extend_from_slice(&[0x64, b'f', b'r', b'o', b'm', 0xf7]);
    bytes.extend_from_slice(&[0x64, b'p', b'o', b'r', b't', 0xc0, 0x07]);
    bytes.extend_from_slice(&[0x67]);
    bytes.extend_from_slice(b"payload");
    bytes.extend_from_slice(&[0x5f, 0x42, 1, 2, 0x41, 3, 0xff]);
    bytes.extend_from_slice(&[0x65, b'e', b'x', b't', b'r', b'a', 0xa1, 0x00, 0xf6]);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff]);
    let expected = Call::Event(Event::Message(Message {
        id: 5,
        from: None,
        port: 7,
        payload: vec![1, 2, 3],
        reply_to: None,
        sealed: false,
    }));
    assert_eq!(codec::decode::<Call>(&bytes).unwrap(), expected);
    assert_eq!(ciborium::from_reader::<Call, _>(&bytes[..]).unwrap(), expected);
}

#[test]
fn errors_say_what_and_where() {
    // A text string where the `id` integer should be.
    let mut bytes = vec![0x82, 0x02, 0x82, 0x02, 0xa1, 0x62, b'i', b'd', 0x61, b'x'];
    assert_decode_error::<Call>(&bytes, "invalid type: a text string, expected integer");
    assert!(codec::decode::<Call>(&bytes).unwrap_err().to_string().contains("at byte 8"));
    // Missing field.
    bytes.truncate(5);
    bytes[4] = 0xa0;
    assert_decode_error::<Call>(&bytes, "missing field `id`");
    // Reserved additional information.
    assert_decode_error::<Call>(&[0x82, 0x02, 0x1c], "reserved additional information");
    // Invalid UTF-8.
    assert_decode_error::<Manifest>(&[0xa1, 0x64, b'n', b'a', b'm', b'e', 0x61, 0xff], "invalid UTF-8");
    // An address of the wrong length.
    let mut peer = vec![0x82, 0x03, 0xa1, 0x64, b'p', b'e', b'e', b'r', 0x43, 1, 2, 3];
    assert_decode_error::<Event>(&peer, "invalid length 3");
    peer.truncate(8);
    assert_decode_error::<Event>(&peer, "truncated input");
}
