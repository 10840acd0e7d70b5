//! The codec against the reference codec (ciborium), for every boundary type:
//! `codec::encode` must produce exactly ciborium's bytes (the ABI is those
//! bytes), and `codec::decode` must read ciborium's bytes back to the value.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use std::fmt::Debug;
use weft_plugin_api::actions::*;
use weft_plugin_api::host_call::*;
use weft_plugin_api::internal::*;
use weft_plugin_api::*;

fn ciborium_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

/// Same bytes as ciborium, and both decoders agree on the value.
#[track_caller]
fn check<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let reference = ciborium_bytes(value);
    let ours = codec::encode(value).unwrap();
    assert_eq!(ours, reference, "encoding differs from ciborium for {value:?}");
    let mut appended = vec![0xaa];
    codec::encode_into(value, &mut appended).unwrap();
    assert_eq!(&appended[1..], &reference[..], "encode_into must append");
    let decoded: T = codec::decode(&reference).unwrap_or_else(|e| panic!("decoding {value:?}: {e}"));
    assert_eq!(&decoded, value);
    let via_ciborium: T = ciborium::from_reader(&reference[..]).unwrap();
    assert_eq!(&via_ciborium, value);
}

fn addr(b: u8) -> Address {
    Address([b; 16])
}

fn payloads() -> Vec<Vec<u8>> {
    // Lengths around every head-size boundary.
    [0usize, 1, 23, 24, 255, 256, 65_535, 65_536].iter().map(|&n| (0..n).map(|i| i as u8).collect()).collect()
}

fn texts() -> Vec<String> {
    vec![String::new(), "x".into(), "héllo wörld ✓".into(), "a".repeat(24), "b".repeat(300)]
}

fn ints() -> Vec<u64> {
    vec![0, 1, 23, 24, 255, 256, 65_535, 65_536, u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX]
}

fn events() -> Vec<Event> {
    let mut all = Vec::new();
    for payload in payloads() {
        all.push(Event::Message(Message {
            id: 1,
            from: None,
            port: 7,
            payload: payload.clone(),
            reply_to: None,
            sealed: false,
        }));
        all.push(Event::SerialRx(SerialRx { bytes: payload.clone() }));
        all.push(Event::Transmit(TransmitRequest { id: 9, frame: payload }));
    }
    for id in ints() {
        all.push(Event::Message(Message {
            id,
            from: Some(addr(3)),
            port: id as u16,
            payload: vec![1, 2],
            reply_to: Some(id),
            sealed: id % 2 == 0,
        }));
        all.push(Event::Timer(TimerFired { id }));
        all.push(Event::Command(Command { id, name: "stats".into(), args: "{\"a\":1}".into() }));
    }
    for text in texts() {
        all.push(Event::ActionRefused(ActionRefused { action: 77, index: 3, reason: text.clone(), tag: 5 }));
        all.push(Event::SerialStatus(SerialStatus { open: true, detail: text.clone() }));
        all.push(Event::SerialStatus(SerialStatus { open: false, detail: text }));
    }
    all.push(Event::PeerUp(PeerChange { peer: addr(4) }));
    all.push(Event::PeerDown(PeerChange { peer: addr(5) }));
    all
}

fn actions() -> Vec<Action> {
    let mut all = Vec::new();
    for payload in payloads() {
        all.push(Action::Send(Send {
            to: addr(1),
            port: 7,
            payload: payload.clone(),
            sealed: false,
            tag: 0,
            anonymous: false,
        }));
        all.push(Action::Send(Send {
            to: addr(2),
            port: 65_535,
            payload: payload.clone(),
            sealed: true,
            tag: u64::MAX,
            anonymous: true,
        }));
        all.push(Action::Flood(Flood { port: 300, payload: payload.clone(), hops: 255, anonymous: false }));
        all.push(Action::Reply(Reply { message: 42, payload: payload.clone() }));
        all.push(Action::Store(Store { key: payload.clone(), value: Some(payload.clone()) }));
        all.push(Action::SerialWrite(SerialWrite { bytes: payload.clone() }));
        all.push(Action::FrameReceived(FrameReceived { frame: payload, rssi_dbm: Some(-120), snr_db: Some(-7.25) }));
    }
    for id in ints() {
        all.push(Action::SetTimer(SetTimer { id, after_ms: id / 3 }));
        all.push(Action::CancelTimer(CancelTimer { id }));
        all.push(Action::TransmitDone(TransmitDone { id, ok: id % 2 == 0 }));
        all.push(Action::CommandReply(CommandReply { id, ok: true, body: "{}".into() }));
    }
    for level in [LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error] {
        all.push(Action::Log(Log { level, message: "hello".into() }));
    }
    for value in [0.0, -0.0, 1.5, 65_504.0, 1e-7, 0.1, 1e300, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE] {
        all.push(Action::Metric(Metric { name: "m".into(), kind: MetricKind::Counter, value }));
        all.push(Action::Metric(Metric { name: "g".into(), kind: MetricKind::Gauge, value: -value }));
    }
    for snr in [0.5f32, 3.3, f32::MAX, f32::MIN_POSITIVE, 1e-40] {
        all.push(Action::FrameReceived(FrameReceived { frame: vec![], rssi_dbm: None, snr_db: Some(snr) }));
    }
    all.push(Action::FrameReceived(FrameReceived { frame: vec![1], rssi_dbm: Some(i16::MIN), snr_db: None }));
    all.push(Action::Store(Store { key: b"k".to_vec(), value: None }));
    for text in texts() {
        all.push(Action::LinkState(LinkState { up: true, detail: text.clone() }));
        all.push(Action::Log(Log { level: LogLevel::Info, message: text }));
    }
    all.push(Action::RadioInfo(RadioInfo {
        mtu: 255,
        frequency_hz: 868_100_000,
        bandwidth_hz: 125_000,
        spreading_factor: 12,
        coding_rate: 5,
        preamble_symbols: 8,
        tx_power_dbm: -4,
    }));
    all.push(Action::RadioInfo(RadioInfo {
        mtu: 0,
        frequency_hz: 0,
        bandwidth_hz: u32::MAX,
        spreading_factor: 0,
        coding_rate: 255,
        preamble_symbols: u16::MAX,
        tx_power_dbm: i8::MIN,
    }));
    all
}

#[test]
fn events_and_event_calls() {
    for event in events() {
        check(&event);
        check(&Call::Event(event.clone()));
        let mut fast = Vec::new();
        Call::encode_event(&event, &mut fast).unwrap();
        assert_eq!(fast, ciborium_bytes(&Call::Event(event)));
    }
}

#[test]
fn actions_and_outcomes() {
    let all = actions();
    for action in &all {
        check(action);
        check(&Outcome { actions: vec![action.clone()], ..Outcome::default() });
    }
    check(&Outcome { actions: all, ..Outcome::default() });
    check(&Outcome::default());
    check(&Outcome { actions: vec![], state: Some(vec![1, 2, 3]), failure: None });
    check(&Outcome { actions: vec![], state: Some(vec![]), failure: None });
    for kind in [
        FailureKind::InitRefused,
        FailureKind::Panicked,
        FailureKind::NotRunning,
        FailureKind::BadCall,
        FailureKind::Other,
    ] {
        check(&Outcome { failure: Some(Failure { kind, message: "no".into() }), ..Outcome::default() });
    }
}

#[test]
fn lifecycle_calls() {
    check(&Call::Init(InitArgs::default()));
    check(&Call::Init(InitArgs { config: vec![0xa0], state: Some(vec![9; 300]) }));
    check(&InitArgs { config: ciborium_bytes(&BTreeMap::from([("k", 1)])), state: None });
    for reason in [ShutdownReason::Swap, ShutdownReason::Stop, ShutdownReason::Node, ShutdownReason::Removed] {
        for deadline_ms in ints() {
            check(&Call::Shutdown(ShutdownArgs { reason, deadline_ms }));
        }
    }
    check(&ShutdownArgs { reason: ShutdownReason::Other, deadline_ms: 1 });
}

#[test]
fn host_calls_and_replies() {
    let calls = vec![
        HostCall::OwnAddress(NoArgs {}),
        HostCall::PublicKey(NoArgs {}),
        HostCall::Sign(SignRequest { message: vec![1; 40] }),
        HostCall::Verify(VerifyRequest { public_key: vec![2; 32], message: vec![], signature: vec![3; 64] }),
        HostCall::Seal(SealRequest { to: addr(8), plaintext: vec![4; 1000] }),
        HostCall::Open(OpenRequest { sealed: vec![5; 70] }),
        HostCall::KvGet(KvGetRequest { key: b"total".to_vec() }),
    ];
    for call in &calls {
        check(call);
    }
    let mut replies = vec![
        HostReply::Address(addr(6)),
        HostReply::PublicKey(ByteBuf::from(vec![7; 32])),
        HostReply::Signature(ByteBuf::from(vec![8; 64])),
        HostReply::Verified(true),
        HostReply::Verified(false),
        HostReply::Sealed(ByteBuf::from(vec![9; 500])),
        HostReply::Opened(Opened { plaintext: vec![1, 2], sender: Some(addr(7)) }),
        HostReply::Opened(Opened { plaintext: vec![], sender: None }),
        HostReply::Value(Some(ByteBuf::from(vec![0; 8]))),
        HostReply::Value(None),
    ];
    for code in [
        HostErrorCode::Denied,
        HostErrorCode::Unsupported,
        HostErrorCode::NotFound,
        HostErrorCode::BadRequest,
        HostErrorCode::Failed,
        HostErrorCode::Other,
    ] {
        replies.push(HostReply::Error(HostError::new(code, "nope")));
    }
    for reply in &replies {
        check(reply);
    }
}

#[test]
fn manifests() {
    let manifest = Manifest {
        name: "echo".into(),
        version: "0.1.0".into(),
        description: "replies with what it receives".into(),
        kind: PluginKind::Service,
        abi: AbiVersion::new(1, 300),
        ports: vec![7, 24, 300, 65_535],
        permissions: Permission::ALL.to_vec(),
        commands: vec![CommandSpec { name: "get".into(), help: "print the total".into() }],
    };
    check(&manifest);
    check(&Manifest { kind: PluginKind::Driver, ports: vec![], permissions: vec![], commands: vec![], ..manifest });
    check(&ABI_VERSION);
}

#[test]
fn unknown_variants_encode_like_ciborium() {
    check(&Event::Unknown(99));
    check(&Action::Unknown(1_000));
    check(&HostCall::Unknown(65_536));
    check(&HostReply::Unknown(u32::MAX));
}

/// Values outside the boundary types that plugins put in configs and state
/// blobs: every serde shape ciborium has a rule for.
#[test]
fn serde_shapes() {
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { a: Option<bool>, b: Vec<i64> },
    }
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Wrapper(u16);
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct UnitStruct;
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Pair(u8, char);
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Everything {
        shapes: Vec<Shape>,
        map: BTreeMap<String, Option<u32>>,
        int_keys: BTreeMap<i64, bool>,
        ints: (i8, i16, i32, i64, u8, u16, u32, u64),
        big: (i128, u128, i128, u128),
        floats: (f32, f64, f64),
        wrapper: Wrapper,
        unit: (),
        unit_struct: UnitStruct,
        pair: Pair,
        nested: Vec<Vec<Option<Vec<u8>>>>,
    }
    let value = Everything {
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(5),
            Shape::Tuple(-70_000, "t".into()),
            Shape::Struct { a: Some(true), b: vec![i64::MIN, -1, 0, i64::MAX] },
            Shape::Struct { a: None, b: vec![] },
        ],
        map: BTreeMap::from([("one".into(), Some(1)), ("none".into(), None)]),
        int_keys: BTreeMap::from([(-5, true), (500, false)]),
        ints: (i8::MIN, i16::MIN, i32::MIN, i64::MIN, u8::MAX, u16::MAX, u32::MAX, u64::MAX),
        big: (i128::MIN, u128::MAX, -5, 7),
        floats: (1.0e10, f64::MAX, -2.5),
        wrapper: Wrapper(9),
        unit: (),
        unit_struct: UnitStruct,
        pair: Pair(1, 'ü'),
        nested: vec![vec![None, Some(vec![1, 2])], vec![]],
    };
    check(&value);
    check(&(1u8, String::from("two"), [3u8, 4], Some(5u8)));
    check(&BTreeMap::from([(1u32, String::from("a")), (2, String::from("b"))]));
    let nan = codec::encode(&f64::NAN).unwrap();
    assert_eq!(nan, ciborium_bytes(&f64::NAN));
    assert!(codec::decode::<f64>(&nan).unwrap().is_nan());
}

/// Sequences and maps of unknown length are indefinite-length items, as in
/// ciborium.
#[test]
fn unknown_lengths_are_indefinite() {
    struct Lazy;
    impl Serialize for Lazy {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            let mut seq = s.serialize_seq(None)?;
            seq.serialize_element(&1u8)?;
            seq.serialize_element(&LazyMap)?;
            seq.end()
        }
    }
    struct LazyMap;
    impl Serialize for LazyMap {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("k", &2u8)?;
            map.end()
        }
    }
    let bytes = codec::encode(&Lazy).unwrap();
    assert_eq!(bytes, ciborium_bytes(&Lazy));
    assert_eq!(bytes, [0x9f, 0x01, 0xbf, 0x61, b'k', 0x02, 0xff, 0xff]);
}

/// ciborium's tag types (`Captured`, `Required`) and `Value` go through the
/// codec unchanged.
#[test]
fn ciborium_tags_and_values() {
    use ciborium::Value;
    use ciborium::tag::{Captured, Required};
    check(&Captured(Some(1), 1_700_000_000u64));
    check(&Captured(None::<u64>, 5u64));
    check(&Required::<String, 32>("https://example.invalid".into()));
    let value = Value::Map(vec![
        (Value::Text("a".into()), Value::Array(vec![Value::Integer(1.into()), Value::Null, Value::Bool(true)])),
        (Value::Integer((-3).into()), Value::Tag(55, Box::new(Value::Bytes(vec![1, 2, 3])))),
        (Value::Text("f".into()), Value::Float(0.5)),
    ]);
    let bytes = ciborium_bytes(&value);
    assert_eq!(codec::encode(&value).unwrap(), bytes);
    assert_eq!(codec::decode::<Value>(&bytes).unwrap(), value);
}
