//! A radio link (`weft_core::radio::link::RadioLink`) receiving arbitrary
//! frames from the air once its driver is up: hellos (neighbour discovery),
//! fragments and whole packets, with the driver's transmit reports, timers,
//! link state and radio settings interleaved (a wasm driver is untrusted
//! too), and time passing.
//!
//! Input: a script of steps (`op | len | bytes`, see `weft_fuzz::Steps`):
//! - 0: a frame received from the air, `bytes`;
//! - 1: a signed hello from node 2 (each newer than the last), asking for
//!   an answer if `bytes[0]` is odd;
//! - 2: the driver reports the outstanding transmit done, ok if `bytes[0]` is even;
//! - 3: time passes (`bytes` as a little-endian number of µs, under 20 min), then `poll`;
//! - 4: the router sends `bytes` as a packet;
//! - 5: the driver reports the link up (`bytes[0]` even) or down;
//! - 6: the driver reports radio settings taken from `bytes`;
//! - 7: the driver arms a timer (id, ms from `bytes`);
//! - 8: a transmit report for an arbitrary id;
//! - 9: a unicast frame from node 2 to this node carrying `bytes`, tagged
//!   with their link key (reaches reassembly and the packet checks);
//! - 10: a broadcast frame from node 2 carrying `bytes`.
//!
//! Properties: no panic; what goes to the router is non-empty and only
//! comes once a neighbour was heard; a neighbour is never this node itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_core::crypto::NodeIdentity;
use weft_core::radio::frame::{self, ShortId};
use weft_core::radio::link::{RadioDest, RadioLink, RadioOutput, RadioSettings};
use weft_core::time::{Micros, UnixMillis};
use weft_fuzz::{Steps, number};
use weft_plugin_api::actions::{FrameReceived, LinkState, RadioInfo, SetTimer, TransmitDone};
use weft_plugin_api::radio::LoraParams;
use weft_plugin_api::{Action, Event};

const WALL_S: u32 = 1_800_000_000;

fn info() -> RadioInfo {
    let p = LoraParams::default();
    RadioInfo {
        mtu: 255,
        frequency_hz: p.frequency_hz,
        bandwidth_hz: p.bandwidth_hz,
        spreading_factor: p.spreading_factor,
        coding_rate: p.coding_rate,
        preamble_symbols: p.preamble_symbols,
        tx_power_dbm: p.tx_power_dbm,
    }
}

fn byte(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let (own, neighbour) = (NodeIdentity::from_secret([1; 32]), NodeIdentity::from_secret([2; 32]));
    let key = frame::link_key(&neighbour, &own.public_key()).expect("a link key");
    let (own_short, neighbour_short) = (ShortId::of(&own.address()), ShortId::of(&neighbour.address()));
    let wall = UnixMillis::from_unix_ms(u64::from(WALL_S) * 1000);
    let mut link = RadioLink::new(&own, wall, RadioSettings::default(), 7);
    let mut hello_time = WALL_S;
    let mut out = Vec::new();
    let mut now = Micros::ZERO;
    let up = Action::LinkState(LinkState { up: true, detail: "configured".into() });
    link.driver_actions(vec![Action::RadioInfo(info()), up], now, &mut out);
    let mut outstanding: Option<u64> = None;
    let mut heard = false;
    for (op, bytes) in Steps::new(data) {
        let received =
            |frame: Vec<u8>| vec![Action::FrameReceived(FrameReceived { frame, rssi_dbm: None, snr_db: Some(7.5) })];
        let actions = match op % 11 {
            0 => {
                vec![Action::FrameReceived(FrameReceived { frame: bytes.to_vec(), rssi_dbm: Some(-90), snr_db: None })]
            }
            1 => {
                hello_time += 1;
                received(frame::hello(
                    &neighbour,
                    byte(bytes, 0) % 2 == 1,
                    hello_time,
                    &frame::NeighbourFilter([byte(bytes, 1); frame::FILTER_LEN]),
                ))
            }
            9 => received(frame::unicast(own_short, neighbour_short, bytes, &key)),
            10 => received(frame::broadcast(neighbour_short, bytes)),
            2 => match outstanding.take() {
                Some(id) => vec![Action::TransmitDone(TransmitDone { id, ok: byte(bytes, 0).is_multiple_of(2) })],
                None => continue,
            },
            3 => {
                now = now.after_us(number(bytes) % 1_200_000_000);
                link.poll(now, &mut out);
                Vec::new()
            }
            4 => {
                let dest = match link.neighbours().first() {
                    Some((number, _)) if byte(bytes, 0).is_multiple_of(2) => RadioDest::Neighbour(*number),
                    _ => RadioDest::Everyone,
                };
                let _ = link.send_packet(dest, bytes, now, &mut out);
                Vec::new()
            }
            5 => vec![Action::LinkState(LinkState { up: byte(bytes, 0).is_multiple_of(2), detail: "fuzz".into() })],
            6 => vec![Action::RadioInfo(RadioInfo {
                mtu: u16::from_le_bytes([byte(bytes, 0), byte(bytes, 1)]),
                frequency_hz: number(bytes.get(2..6).unwrap_or_default()) as u32,
                bandwidth_hz: number(bytes.get(6..10).unwrap_or_default()) as u32,
                spreading_factor: byte(bytes, 10),
                coding_rate: byte(bytes, 11),
                preamble_symbols: u16::from_le_bytes([byte(bytes, 12), byte(bytes, 13)]),
                tx_power_dbm: byte(bytes, 14) as i8,
            })],
            7 => vec![Action::SetTimer(SetTimer {
                id: u64::from(byte(bytes, 0)),
                after_ms: number(bytes.get(1..).unwrap_or_default()),
            })],
            8 => {
                let id = number(bytes);
                if outstanding == Some(id) {
                    outstanding = None;
                }
                vec![Action::TransmitDone(TransmitDone { id, ok: byte(bytes, 0) % 2 == 1 })]
            }
            _ => unreachable!("op % 11"),
        };
        if !actions.is_empty() {
            link.driver_actions(actions, now, &mut out);
        }
        for o in out.drain(..) {
            match o {
                RadioOutput::Driver(Event::Transmit(t)) => {
                    assert!(outstanding.is_none(), "transmit {} while {outstanding:?} is outstanding", t.id);
                    outstanding = Some(t.id);
                }
                RadioOutput::NeighbourUp { address, .. } => {
                    assert_ne!(address, own.address());
                    heard = true;
                }
                RadioOutput::Packet { packet, .. } => {
                    assert!(heard, "a packet delivered before any neighbour was heard");
                    // A whole frame reaches the router only if it looks like a
                    // routed packet; a reassembled one is not checked here (the
                    // router refuses it if it is not), so only non-empty holds.
                    assert!(!packet.is_empty());
                }
                _ => {}
            }
        }
        let _ = link.status(now);
    }
});
