//! Hellos and frames in: who the neighbour is (the first hello heard, or
//! the configured peer), when the next hello goes, and reassembly of the
//! frames that carry packets.

use super::*;
use crate::time::Micros;

impl RadioLink {
    /// When the next hello goes out after one at `now`: the interval,
    /// plus or minus [`HELLO_JITTER_SHARE`] of it.
    pub(super) fn next_hello_after(&mut self, now: Micros) -> Micros {
        let interval = self.settings.hello_interval_us;
        let spread = (interval as f64 * HELLO_JITTER_SHARE) as u64;
        let jitter = self.rng.up_to(spread.saturating_mul(2));
        now.after_us(interval).after_us(jitter).before_us(spread).max(now.after_us(1))
    }
    pub(super) fn frame_in(&mut self, frame: Vec<u8>, now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(&first) = frame.first() else {
            self.counters.malformed += 1;
            return;
        };
        if first == HELLO {
            self.hello_in(&frame, now, out);
            return;
        }
        let packet = if fragment::is_fragment(&frame) {
            match self.reassembler.push(&frame, now) {
                Some(packet) => packet,
                None => return,
            }
        } else if first >> 6 == 0 {
            // Link control this build does not know.
            self.counters.malformed += 1;
            return;
        } else {
            frame
        };
        match &mut self.neighbour {
            Some(n) => {
                n.last_heard = now;
                self.counters.packets_in += 1;
                out.push(RadioOutput::Packet(packet));
            }
            None => {
                // Someone talks but we do not know who: ask for a hello.
                self.counters.foreign += 1;
                self.queue_hello(true, now, out);
            }
        }
    }

    pub(super) fn hello_in(&mut self, frame: &[u8], now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(address) = frame.get(2..).and_then(|rest| <[u8; 16]>::try_from(rest).ok()).map(Address) else {
            self.counters.malformed += 1;
            return;
        };
        self.counters.hellos_in += 1;
        if address == self.own || self.settings.peer.is_some_and(|p| p != address) {
            self.counters.foreign += 1;
            return;
        }
        let answer = frame[1] & HELLO_ANSWER != 0;
        match &mut self.neighbour {
            Some(n) if n.address == address => n.last_heard = now,
            Some(_) => {
                // Another node on the channel: this link serves one neighbour.
                self.counters.foreign += 1;
                return;
            }
            None => {
                self.neighbour = Some(Neighbour { address, last_heard: now });
                let bandwidth_bps = self.params().map_or(1_000, |p| p.bitrate_bps() as u64);
                out.push(RadioOutput::NeighbourUp { neighbour: address, bandwidth_bps });
            }
        }
        let recently = self.last_hello_answer.is_some_and(|t| now.us_since(t) < HELLO_ANSWER_GAP_US);
        if answer && !recently {
            self.last_hello_answer = Some(now);
            self.queue_hello(false, now, out);
        }
    }

    pub(super) fn queue_hello(&mut self, ask: bool, now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(radio) = self.radio else { return };
        let mut hello = Vec::with_capacity(HELLO_LEN);
        hello.push(HELLO);
        hello.push(if ask { HELLO_ANSWER } else { 0 });
        hello.extend_from_slice(self.own.as_bytes());
        let airtime = params_of(radio).time_on_air_us(hello.len());
        if self.queue.push(hello, Priority::Control, airtime, now).is_ok() {
            self.counters.hellos_out += 1;
        }
        self.pump(now, out);
    }
}
