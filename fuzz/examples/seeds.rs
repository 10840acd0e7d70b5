//! Writes the seed corpora in `fuzz/corpus/<target>/`: a handful of real
//! inputs per target, each a valid example of what the decoder sees (the
//! fuzzer mutates from there). Run from `fuzz/`:
//!
//! ```sh
//! cargo run --example seeds --no-default-features
//! ```
//!
//! Without the `host` feature it does not build the host: the host's
//! formats (routed packets, link frames, fragments, hellos, beacons) are
//! written here byte by byte after their layouts (docs/WIRE.md and each
//! module's docs); CBOR, KISS, AT and FAPP seeds come from the crates' own
//! encoders; the config seeds are the example configs in `configs/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use weft_fuzz::Script;
use weft_plugin_api::actions::*;
use weft_plugin_api::host_call::*;
use weft_plugin_api::internal::*;
use weft_plugin_api::*;
use weft_plugin_fapp::messages::{
    AnnounceBody, ConfirmPlain, Filter, Message as Fapp, ReservePlain, SignedAnnounce, Slot, SlotQuery, SlotResponse,
};

struct Corpus {
    dir: PathBuf,
    written: usize,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Corpus {
        let dir = root.join("corpus").join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        Corpus { dir, written: 0 }
    }

    fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) -> &mut Self {
        std::fs::write(self.dir.join(name), bytes).expect("write seed");
        self.written += 1;
        self
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];

/// Routed packets, one per kind (docs/WIRE.md).
fn packets() -> Vec<(&'static str, Vec<u8>)> {
    // Inner fields with source, tag 300 and reply_to 7.
    let inner = cat(&[&A, &[0b11], &varint(300), &varint(7), b"payload"]);
    let body = [9u8; 138];
    vec![
        ("data", cat(&[&[0x40, 0, 32], &B, &varint(7), b"hello"])),
        ("data-source-ext", cat(&[&[0x40 | 0b101, 2, 32], &B, &varint(40_000), &inner])),
        ("data-sealed", cat(&[&[0x40 | 0b010, 1, 32], &B, &varint(9), &[0x5a; 60]])),
        ("flood", cat(&[&[0x48 | 0b101, 2, 32], &(1u64 << 60).to_be_bytes(), &varint(9), &inner])),
        ("return", cat(&[&[0x60, 3, 32], &5u64.to_be_bytes(), &varint(9), b"r"])),
        ("announce", cat(&[&[0x50, 0, 32], &body])),
        ("path-response", cat(&[&[0x51, 0, 32], &77u64.to_be_bytes(), &body])),
        ("path-request", cat(&[&[0x58, 0, 32], &3u64.to_be_bytes(), &B, &varint(1_700_000_000_000)])),
        ("trace-reply", cat(&[&[0x69, 2, 32], &8u64.to_be_bytes(), &B, &A, &[1; 32]])),
    ]
}

/// Link frames (host/src/link/frame.rs).
fn link_frames() -> Vec<Vec<u8>> {
    vec![
        cat(&[&[0x02], &varint(99)]),
        cat(&[&[0x03], &varint(1), &[4, 192, 0, 2, 1], &4433u16.to_be_bytes()]),
        cat(&[&[0x03], &varint(2), &[6], &[0x20, 0x01, 0x0d, 0xb8], &[0; 11], &[1], &9u16.to_be_bytes()]),
        packets()[0].1.clone(),
    ]
}

/// Fragments of `packet` for frames of `mtu` bytes under `id` (core/src/radio/fragment.rs).
fn fragments(packet: &[u8], mtu: usize, id: u8) -> Vec<Vec<u8>> {
    let room = mtu - 3;
    let count = packet.len().div_ceil(room);
    packet.chunks(room).enumerate().map(|(i, part)| cat(&[&[0x20 | (count - 1) as u8, i as u8, id], part])).collect()
}

fn long_packet(len: usize) -> Vec<u8> {
    let mut p = cat(&[&[0x48, 0, 32], &7u64.to_be_bytes(), &varint(9)]);
    p.extend((0..len - p.len()).map(|i| (i * 7) as u8));
    p
}

fn hello(from: [u8; 16], ask: bool) -> Vec<u8> {
    cat(&[&[0x10, u8::from(ask)], &from])
}

fn wasm_with_manifest(manifest: &[u8]) -> Vec<u8> {
    let name = MANIFEST_SECTION.as_bytes();
    let content = cat(&[&varint(name.len() as u64), name, manifest]);
    // A custom section, then an empty type section.
    cat(&[b"\0asm", &[1, 0, 0, 0], &[0], &varint(content.len() as u64), &content, &[1, 1, 0]])
}

fn manifest(kind: PluginKind) -> Manifest {
    Manifest {
        name: "echo".into(),
        version: "0.1.0".into(),
        description: "replies with what it receives".into(),
        kind,
        abi: ABI_VERSION,
        ports: vec![7],
        permissions: vec![Permission::Send, Permission::Storage],
        commands: vec![CommandSpec { name: "stats".into(), help: "counters".into() }],
    }
}

fn cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
    codec::encode(value).expect("encode")
}

fn message(payload: &[u8]) -> Message {
    Message { id: 7, from: Some(Address(A)), port: 7, payload: payload.to_vec(), reply_to: Some(3), sealed: false }
}

fn outcomes() -> Vec<Outcome> {
    let send = Action::Send(Send {
        to: Address(B),
        port: 7,
        payload: b"pong".to_vec(),
        sealed: true,
        tag: 300,
        anonymous: false,
    });
    let reply = Action::Reply(Reply { message: 7, payload: vec![1, 2, 3] });
    let others = vec![
        Action::Flood(Flood { port: 9, payload: vec![0; 30], hops: 3, anonymous: true }),
        Action::SetTimer(SetTimer { id: 1, after_ms: 1_000 }),
        Action::CancelTimer(CancelTimer { id: 1 }),
        Action::Store(Store { key: b"k".to_vec(), value: Some(b"v".to_vec()) }),
        Action::Log(Log { level: LogLevel::Info, message: "hi".into() }),
        Action::Metric(Metric { name: "frames".into(), kind: MetricKind::Counter, value: 2.5 }),
        Action::CommandReply(CommandReply { id: 1, ok: true, body: "{}".into() }),
        Action::SerialWrite(SerialWrite { bytes: vec![0xc0, 0x08, 0x73, 0xc0] }),
        Action::FrameReceived(FrameReceived { frame: vec![0x40; 20], rssi_dbm: Some(-90), snr_db: Some(7.25) }),
        Action::TransmitDone(TransmitDone { id: 4, ok: true }),
        Action::LinkState(LinkState { up: true, detail: "configured".into() }),
        Action::RadioInfo(RadioInfo {
            mtu: 255,
            frequency_hz: 868_100_000,
            bandwidth_hz: 125_000,
            spreading_factor: 7,
            coding_rate: 5,
            preamble_symbols: 8,
            tx_power_dbm: 14,
        }),
    ];
    vec![
        Outcome { actions: vec![send.clone(), reply.clone()], state: None, failure: None },
        Outcome { actions: vec![reply], state: None, failure: None },
        Outcome { actions: others, state: None, failure: None },
        Outcome { actions: vec![], state: Some(vec![1, 2, 3]), failure: None },
        Outcome {
            actions: vec![],
            state: None,
            failure: Some(Failure { kind: FailureKind::Panicked, message: "boom".into() }),
        },
    ]
}

fn events() -> Vec<Event> {
    vec![
        Event::Message(message(b"ping")),
        Event::Timer(TimerFired { id: 3 }),
        Event::PeerUp(PeerChange { peer: Address(B) }),
        Event::Command(Command { id: 1, name: "stats".into(), args: "{\"a\":1}".into() }),
        Event::ActionRefused(ActionRefused { action: 77, index: 3, reason: "no".into(), tag: 5 }),
        Event::SerialRx(SerialRx { bytes: vec![0xc0, 0x00, 1, 2, 0xc0] }),
        Event::Transmit(TransmitRequest { id: 9, frame: vec![0x40; 12] }),
        Event::SerialStatus(SerialStatus { open: true, detail: "/dev/ttyUSB0".into() }),
    ]
}

/// A plain config or state value.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum V {
    I(i64),
    F(f64),
    B(bool),
    T(&'static str),
}

fn kiss(cmd: u8, payload: &[u8]) -> Vec<u8> {
    weft_kiss::encode(cmd, payload)
}

fn sample_body(slots: u32) -> AnnounceBody {
    AnnounceBody {
        therapist_key: [7; 32],
        sequence: 1_780_000_000,
        expires: 1_780_086_400,
        approbation: [9; 32],
        specialisms: weft_plugin_fapp::domain::Mask(0b1_0001),
        modalities: weft_plugin_fapp::domain::Mask(0b11),
        payers: weft_plugin_fapp::domain::Mask(0b11),
        plz: "80331".into(),
        slots: (0..slots).map(|i| Slot { start: 29_660_000 + i * 1440, duration: 50, kind: 0 }).collect(),
        profile_url: Some("https://example.invalid/p".into()),
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = root.parent().expect("repo root").to_path_buf();
    let mut total = 0;
    let mut done = |c: &Corpus| total += c.written;

    let mut c = Corpus::new(&root, "routed_packet");
    for (name, bytes) in packets() {
        c.add(name, bytes);
    }
    done(&c);

    let mut c = Corpus::new(&root, "link_frame");
    for (i, frame) in link_frames().into_iter().enumerate() {
        c.add(&format!("frame-{i}"), &frame);
    }
    let mut stream = vec![128, 3];
    for frame in link_frames() {
        stream.extend(varint(frame.len() as u64));
        stream.extend(frame);
    }
    // An oversize frame (2000 > 128 * 8) in the middle is skipped.
    stream.extend(varint(2000));
    stream.extend([0x40; 2000]);
    stream.extend(cat(&[&varint(2), &[0x02, 0x05]]));
    c.add("stream", stream);
    done(&c);

    let mut c = Corpus::new(&root, "lan_beacon");
    c.add("beacon", cat(&[b"WEFT", &[1], &A, &4433u16.to_be_bytes()]));
    done(&c);

    let mut c = Corpus::new(&root, "radio_fragment");
    for (name, len, order) in [("in-order", 600, false), ("reversed", 2048, true)] {
        let mut frames = fragments(&long_packet(len), 255, 9);
        if order {
            frames.reverse();
        }
        let mut s = Script::default();
        for f in &frames {
            s.step(1, f);
        }
        c.add(name, s.0);
    }
    let frames = fragments(&long_packet(400), 200, 3);
    let mut s = Script::default();
    s.step(1, &frames[0]).step(1, &frames[0]).step(250, &frames[1]).step(0, &frames[1]);
    c.add("duplicate-and-timeout", s.0);
    done(&c);

    let mut c = Corpus::new(&root, "radio_link");
    let mut s = Script::default();
    s.step(3, &2_000_000u64.to_le_bytes()[..3]).step(1, &[1]).step(2, &[0]);
    s.step(0, &packets()[0].1).step(4, &long_packet(300)).step(2, &[0]).step(2, &[0]);
    for f in fragments(&long_packet(600), 255, 1) {
        s.step(0, &f);
    }
    s.step(3, &130_000_000u64.to_le_bytes()[..4]).step(2, &[1]).step(3, &700_000_000u64.to_le_bytes()[..4]);
    c.add("neighbour-packets-fragments", s.0);
    let mut s = Script::default();
    s.step(0, &hello(B, true)).step(0, &hello([1; 16], false)).step(0, &[0x00, 1, 2]).step(0, &packets()[5].1);
    s.step(5, &[1]).step(5, &[0]).step(7, &[3, 100]).step(3, &[0, 0, 2]);
    s.step(6, &[255, 0, 0x20, 0x51, 0xbe, 0x33, 0x48, 0xe8, 0x01, 0, 12, 8, 8, 0, 20]).step(1, &[0]);
    c.add("hellos-and-driver", s.0);
    done(&c);

    let mut c = Corpus::new(&root, "manifest_section");
    for kind in [PluginKind::Service, PluginKind::Driver] {
        let bytes = cbor(&manifest(kind));
        c.add(&format!("{kind:?}.wasm").to_lowercase(), wasm_with_manifest(&bytes));
        c.add(&format!("{kind:?}.cbor").to_lowercase(), bytes);
    }
    done(&c);

    let mut c = Corpus::new(&root, "config_toml");
    for name in ["node.toml", "lan.toml", "lora-gateway.toml"] {
        c.add(name, std::fs::read(repo.join("configs").join(name)).expect("read example config"));
    }
    c.add("minimal.toml", "[node]\nname = \"a\"\nidentity = \"a.key\"\ndata_dir = \"data\"\n");
    done(&c);

    let mut c = Corpus::new(&root, "cbor_codec");
    for (i, o) in outcomes().iter().enumerate() {
        c.add(&format!("0-outcome-{i}"), cat(&[&[0], &cbor(o)]));
    }
    c.add("1-manifest", cat(&[&[1], &cbor(&manifest(PluginKind::Driver))]));
    c.add("2-manifest-head", cat(&[&[2], &cbor(&manifest(PluginKind::Service))]));
    let calls = [
        HostCall::OwnAddress(NoArgs {}),
        HostCall::Sign(SignRequest { message: b"m".to_vec() }),
        HostCall::Verify(VerifyRequest { public_key: vec![1; 32], message: b"m".to_vec(), signature: vec![2; 64] }),
        HostCall::Seal(SealRequest { to: Address(B), plaintext: b"p".to_vec() }),
        HostCall::Open(OpenRequest { sealed: vec![3; 48] }),
        HostCall::KvGet(KvGetRequest { key: b"k".to_vec() }),
    ];
    for (i, call) in calls.iter().enumerate() {
        c.add(&format!("3-host-call-{i}"), cat(&[&[3], &cbor(call)]));
    }
    let init = Call::Init(InitArgs { config: cbor(&BTreeMap::from([("port", 7)])), state: Some(vec![1, 2]) });
    let shutdown = Call::Shutdown(ShutdownArgs { reason: ShutdownReason::Swap, deadline_ms: 1_000 });
    for (i, call) in [init, shutdown, Call::Event(Event::Timer(TimerFired { id: 2 }))].iter().enumerate() {
        c.add(&format!("4-call-{i}"), cat(&[&[4], &cbor(call)]));
    }
    for (i, event) in events().iter().enumerate() {
        c.add(&format!("5-event-{i}"), cat(&[&[5], &cbor(event)]));
    }
    let replies = [
        HostReply::Address(Address(A)),
        HostReply::Verified(true),
        HostReply::Opened(Opened { plaintext: b"p".to_vec(), sender: Some(Address(B)) }),
        HostReply::Value(None),
        HostReply::Error(HostError::new(HostErrorCode::Denied, "no")),
    ];
    for (i, reply) in replies.iter().enumerate() {
        c.add(&format!("6-host-reply-{i}"), cat(&[&[6], &cbor(reply)]));
    }
    let table = BTreeMap::from([("sf", V::I(9)), ("percent", V::F(12.5)), ("flow", V::B(true)), ("name", V::T("x"))]);
    c.add("7-config-table", cat(&[&[7], &cbor(&table)]));
    done(&c);

    let mut c = Corpus::new(&root, "cbor_hot_path");
    for (i, payload) in [&b""[..], b"ping", &[0xab; 300]].iter().enumerate() {
        let mut m = message(payload);
        m.from = if i == 1 { None } else { m.from };
        c.add(&format!("message-call-{i}"), cbor(&Call::Event(Event::Message(m))));
    }
    for (i, o) in outcomes().iter().take(3).enumerate() {
        c.add(&format!("outcome-{i}"), cbor(o));
    }
    c.add("timer-call", cbor(&Call::Event(Event::Timer(TimerFired { id: 3 }))));
    done(&c);

    let mut c = Corpus::new(&root, "kiss");
    let mut s = Script::default();
    s.step(0, &[0xC0, 0x08, 0x73, 0xC0, 0x50, 0x00, 0xC0, 0x48, 0x00, 0xC0, 0x49, 0x00, 0xC0]);
    s.step(0, &kiss(0x00, &[0x01, 0xC0, 0xDB, 0xDC, 0xDD, 0xDB, 0xC0, 0xFF]));
    let big = kiss(0x00, &[0x42; 100]);
    s.step(0, &big[..40]).step(1, &[]).step(0, &big[40..]);
    s.step(0, &[0xC0, 0x01, 0xDB, 0x00, 0xC0]).step(0, b"noise").step(0, &kiss(0x23, &[0x80]));
    c.add("burst-escapes-idle", s.0);
    done(&c);

    // The RNode driver, through its detect and configuration exchange.
    let mut c = Corpus::new(&root, "rnode_driver");
    let mut s = Script::default();
    s.step(1, &[]).step(1, &[]).step(1, &[]);
    s.step(2, &[0x23, 0x9c]).step(2, &[0x24, 0x1c]).step(2, &cat(&[&[0x00], &packets()[0].1]));
    s.step(4, &long_packet(200)).step(1, &[]).step(3, &[0]).step(6, &[]);
    s.step(2, &[0x0F, 0x01]).step(8, &[]).step(4, b"x").step(5, &[1]).step(5, &[0]).step(7, &[]);
    c.add("up-receive-transmit-swap", s.0);
    let mut s = Script::default();
    s.step(3, &[0]).step(3, &[0]).step(0, &[0xC0, 0x55, 0xF8, 0xC0]).step(1, &[]);
    c.add("detect-retries", s.0);
    // The driver's handoff blob (transports/rnode/src/handoff.rs), written
    // by hand: linking the driver here would clash with FAPP's plugin exports.
    let handoff = BTreeMap::from([("driver", V::T("weft-driver-rnode")), ("format", V::I(1)), ("up", V::B(true))]);
    let mut s = Script::default();
    s.step(255, &cbor(&handoff)).step(1, &[]).step(1, &[]);
    c.add("handed-over", s.0);
    done(&c);

    let mut c = Corpus::new(&root, "at_lines");
    let lines = [
        "OK",
        "AT_BUSY_ERROR",
        "AT_PARAM_ERROR",
        "+EVT:TXP2P DONE",
        "AT+P2P=868100000:7:125:0:8:14",
        "AT+P2P=869525000:12:2:1:12:22",
        "AT+VER=RUI_4.2.1_RAK3172-E",
        "AT+NWM=0",
        "+EVT:RXP2P:-37:11:48656C6C6F",
        "+EVT:RXP2P, RSSI -37, SNR 11",
        "P2P_RX_ON",
        "RAKwireless RAK3172-E Example",
    ];
    for (i, line) in lines.iter().enumerate() {
        c.add(&format!("line-{i}"), line);
    }
    c.add("session", lines.join("\r\n") + "\r\n");
    done(&c);

    let mut c = Corpus::new(&root, "atmodem_driver");
    let mut s = Script::default();
    for _ in 0..8 {
        s.step(1, &[]);
    }
    s.step(6, &long_packet(100)).step(1, &[]).step(4, &[]).step(3, &packets()[0].1);
    s.step(2, b"+EVT:RXP2P, RSSI -37, SNR 11").step(2, b"+EVT:RXP2P:-40:9:0102").step(5, &[0]);
    s.step(8, &[0]).step(9, &[]).step(1, &[]).step(7, &[1]).step(7, &[0]).step(8, &[1]);
    c.add("up-receive-transmit-swap", s.0);
    let mut s = Script::default();
    s.step(5, &[0]).step(2, b"AT_BUSY_ERROR").step(2, b"AT+P2P=868100000:7:125:0:8:14").step(0, b"OK\r\n");
    c.add("timeouts-and-stray-lines", s.0);
    done(&c);

    let mut c = Corpus::new(&root, "fapp_messages");
    let announce = SignedAnnounce::from_parts(sample_body(3).encode(), [5; 64]).expect("sample announce");
    let query = SlotQuery {
        query_id: 0xdead_beef,
        filter: Filter { plz_prefix: "80".into(), from: 5, to: 6, max_results: 10, ..Filter::default() },
    };
    let messages = [
        Fapp::Announce(Box::new(announce.clone())),
        Fapp::Query(query),
        Fapp::Response(SlotResponse { query_id: 3, announces: vec![announce.clone(), announce] }),
        Fapp::Reserve(vec![1; 80]),
        Fapp::Confirm(vec![2; 60]),
    ];
    for (i, m) in messages.iter().enumerate() {
        c.add(&format!("message-{i}"), m.encode());
    }
    // Selector bytes (see the target): 0x12 body, 0x10 reservation, 0x11 confirmation.
    c.add("body", cat(&[&[0x12], &sample_body(2).encode()]));
    let reserve =
        ReservePlain { reservation: 9, slot_start: 100, sequence: 4, reply_key: [3; 32], contact: Some("x".into()) };
    c.add("reserve-plain", cat(&[&[0x10], &reserve.encode()]));
    let confirm = ConfirmPlain { reservation: 9, accepted: true, slot_start: 100, note: None };
    c.add("confirm-plain", cat(&[&[0x11], &confirm.encode()]));
    done(&c);

    println!("wrote {total} seeds under {}", root.join("corpus").display());
}
