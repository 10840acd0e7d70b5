//! Radio fragment reassembly (`weft_core::radio::fragment::Reassembler`)
//! fed arbitrary frames from the air, with time passing between them.
//!
//! Input: a script of steps (`op | len | frame`, see `weft_fuzz::Steps`);
//! `op` is how long passed since the previous frame, in tenths of a second
//! (the reassembly timeout is 30 s, so timeouts happen).
//!
//! Properties: no panic; a packet put together is no longer than 16 parts
//! of at most 252 bytes (a 255-byte frame); no more than `MAX_PARTIAL` packets wait (fragments of four senders);
//! counters only grow. And the other direction: the whole input, cut into
//! fragments for an MTU taken from its first byte, reassembles to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_core::radio::fragment::{self, HEADER, MAX_FRAGMENTS, Reassembler};
use weft_core::time::Micros;
use weft_fuzz::Steps;

const TIMEOUT_US: u64 = 30_000_000;

fuzz_target!(|data: &[u8]| {
    let mut reassembler = Reassembler::new(TIMEOUT_US);
    let mut now = Micros::from_us(1_000_000);
    let mut before = reassembler.counters;
    for (op, frame) in Steps::new(data) {
        now = now.after_us(u64::from(op) * 100_000);
        // Four senders, told apart by the step.
        if let Some(packet) = reassembler.push(u32::from(op % 4), frame, now) {
            assert!(!packet.is_empty());
            assert!(packet.len() <= MAX_FRAGMENTS * (255 - HEADER), "{} bytes reassembled", packet.len());
        }
        assert!(reassembler.waiting() <= fragment::MAX_PARTIAL);
        assert!(reassembler.next_deadline().is_none_or(|d| d > now && d <= now.after_us(TIMEOUT_US)));
        let c = reassembler.counters;
        assert!(c.completed >= before.completed && c.timed_out >= before.timed_out);
        assert!(c.malformed >= before.malformed && c.duplicates >= before.duplicates);
        before = c;
    }

    // Round trip: the input as a packet over a link of MTU `data[0]`.
    let Some(&mtu) = data.first() else { return };
    let mtu = usize::from(mtu);
    let Ok(frames) = fragment::fragment(data, mtu, mtu as u8) else {
        assert!(data.len() > mtu, "a packet that fits was refused");
        return;
    };
    if frames.len() == 1 {
        assert_eq!(frames[0], data);
        return;
    }
    let mut fresh = Reassembler::new(TIMEOUT_US);
    let last = frames.len() - 1;
    for (i, frame) in frames.iter().enumerate() {
        assert!(frame.len() <= mtu && fragment::is_fragment(frame));
        let out = fresh.push(1, frame, Micros::ZERO);
        if i < last {
            assert_eq!(out, None);
        } else {
            assert_eq!(out.as_deref(), Some(data), "reassembly of {} fragments", frames.len());
        }
    }
});
