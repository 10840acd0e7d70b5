//! Hellos and frames in: who is a neighbour (a hello whose signature holds,
//! newer than the last one taken from that node), which frames are a
//! neighbour's (a unicast's tag, a broadcast's short id), when hellos go
//! out, and reassembly of the frames that carry packets.

use super::super::frame::{self, Frame, ShortId};
use super::neighbours::Adopted;
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

    /// This node's clock in Unix seconds at `now`.
    fn wall_s(&self, now: Micros) -> u32 {
        let ms = self.wall_start.after_ms(now.to_millis().as_ms()).as_unix_ms();
        u32::try_from(ms / 1000).unwrap_or(u32::MAX)
    }

    pub(super) fn frame_in(&mut self, bytes: &[u8], signal: Signal, now: Micros, out: &mut Vec<RadioOutput>) {
        let decoded = match Frame::decode(bytes) {
            Ok(frame) => frame,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        let mut sender = None;
        let (from, content) = match decoded {
            Frame::Hello(hello) => {
                self.hello_in(hello, signal, now, out);
                return;
            }
            Frame::Confirm { ask, to, from, covered, tag } => {
                if self.tagged_in(to, from, covered, &tag, now, out) && ask {
                    self.queue_confirm(false, from, now, out);
                }
                return;
            }
            Frame::Unicast { to, from, content, covered, tag } => {
                if !self.tagged_in(to, from, covered, &tag, now, out) {
                    return;
                }
                (from, content)
            }
            Frame::Session { to, from, index, counter, sealed } => {
                self.last_hop_in(last_hop::LastHop { to, from, index, counter, sealed }, signal, now, out);
                return;
            }
            Frame::Broadcast { from, content } => {
                sender = Some(from);
                if !self.confirmed_sender(from, now, out) {
                    return;
                }
                (from, content)
            }
        };
        let Some(number) = self.frame_from(from, signal) else { return };
        let packet = if fragment::is_fragment(content) {
            match self.reassembler.push(from.0, content, now) {
                Some(packet) => packet,
                None => return,
            }
        } else if content.first().is_none_or(|b| b >> 6 == 0) {
            // Link control where a packet belongs.
            self.counters.malformed += 1;
            return;
        } else {
            content.to_vec()
        };
        self.counters.packets_in += 1;
        if let Some(from) = sender {
            self.copy_heard(&packet, from, now);
        }
        out.push(RadioOutput::Packet { neighbour: number, packet });
    }

    /// Whether `from` is a confirmed neighbour, for a frame that carries no
    /// tag (a broadcast, a compact session frame); otherwise the frame is
    /// counted and ignored.
    pub(super) fn confirmed_sender(&mut self, from: ShortId, now: Micros, out: &mut Vec<RadioOutput>) -> bool {
        match self.neighbours.up_by_short(from) {
            Some(n) if n.confirmed => true,
            // Adopted, not yet confirmed: our confirm is on its way.
            Some(_) => {
                self.counters.unverified += 1;
                false
            }
            None => {
                self.unknown_sender(now, out);
                false
            }
        }
    }

    /// A frame taken from neighbour `from`: counted, its signal kept; its
    /// number on this radio.
    pub(super) fn frame_from(&mut self, from: ShortId, signal: Signal) -> Option<u32> {
        let n = self.neighbours.up_by_short(from)?;
        n.frames_in += 1;
        n.rssi_dbm = signal.rssi_dbm.or(n.rssi_dbm);
        n.snr_db = signal.snr_db.or(n.snr_db);
        Some(n.number)
    }

    /// A tagged frame (unicast or confirm): whether it is for this node
    /// from an adopted neighbour whose tag holds. Such a frame proves the
    /// sender heard our hello, so it confirms the neighbour (the router
    /// hears of it now) and shows it is still there.
    fn tagged_in(
        &mut self,
        to: ShortId,
        from: ShortId,
        covered: &[u8],
        tag: &[u8; frame::TAG_LEN],
        now: Micros,
        out: &mut Vec<RadioOutput>,
    ) -> bool {
        if to != self.short {
            self.counters.overheard += 1;
            return false;
        }
        let Some(n) = self.neighbours.up_by_short(from) else {
            self.unknown_sender(now, out);
            return false;
        };
        if !frame::tag_holds(&n.key, covered, tag) {
            self.counters.bad_tag += 1;
            return false;
        }
        n.last_heard = now;
        if let Some((neighbour, address)) = self.neighbours.confirmed_by(from) {
            let params = self.params().unwrap_or_default();
            let (bandwidth_bps, airtime_cost) = (params.bitrate_bps() as u64, super::airtime_cost(&params));
            out.push(RadioOutput::NeighbourUp { neighbour, address, bandwidth_bps, airtime_cost });
        }
        true
    }

    /// Sends the confirms that are due (to neighbours that have not shown
    /// they hear us yet), each asking for one back.
    pub(super) fn send_confirms(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        for (short, key) in self.neighbours.confirms_due(now, self.settings.hello_interval_us) {
            self.push_confirm(true, short, &key, now);
        }
        self.pump(now, out);
    }

    fn queue_confirm(&mut self, ask: bool, to: ShortId, now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(key) = self.neighbours.up_by_short(to).map(|n| n.key) else { return };
        self.push_confirm(ask, to, &key, now);
        self.pump(now, out);
    }

    fn push_confirm(&mut self, ask: bool, to: ShortId, key: &[u8; 32], now: Micros) {
        let Some(radio) = self.radio else { return };
        let confirm = frame::confirm(ask, to, self.short, key);
        let airtime = params_of(radio).time_on_air_us(confirm.len());
        if self.queue.push(confirm, Priority::Control, airtime, now).is_ok() {
            self.counters.confirms_out += 1;
        }
    }

    /// A frame from a node that is not a verified neighbour: ignored,
    /// counted, and this node's hello offered (asking for theirs), at most
    /// once per [`HELLO_ANSWER_GAP_US`].
    fn unknown_sender(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        self.counters.unverified += 1;
        if !self.answered_recently(now) {
            self.last_hello_answer = Some(now);
            self.queue_hello(true, now, out);
        }
    }

    fn answered_recently(&self, now: Micros) -> bool {
        self.last_hello_answer.is_some_and(|t| now.us_since(t) < HELLO_ANSWER_GAP_US)
    }

    pub(super) fn hello_in(&mut self, hello: frame::Hello, signal: Signal, now: Micros, out: &mut Vec<RadioOutput>) {
        self.counters.hellos_in += 1;
        if !self.hello_checks.take(now.to_millis()) {
            self.counters.hellos_rate_limited += 1;
            return;
        }
        let Ok(hello) = hello.verify() else {
            self.counters.hellos_forged += 1;
            return;
        };
        if hello.address == self.own {
            // Our own hello, heard back (a repeater, or a replay).
            self.counters.hellos_replayed += 1;
            return;
        }
        if self.settings.peer.is_some_and(|p| p != hello.address) {
            self.counters.foreign += 1;
            return;
        }
        let wall_s = self.wall_s(now);
        let identity = &self.identity;
        let adopted = self
            .neighbours
            .hello(&hello, now, wall_s, self.settings.hello_max_clock_skew_s, || frame::link_key(identity, &hello.key));
        match adopted {
            // Usable once it confirms; ours goes out now (see `send_confirms`).
            Adopted::Up(_) | Adopted::Refreshed => self.send_confirms(now, out),
            Adopted::Replayed => {
                self.counters.hellos_replayed += 1;
                return;
            }
            Adopted::Skewed => {
                self.counters.hellos_skewed += 1;
                return;
            }
            Adopted::Full | Adopted::ShortIdTaken | Adopted::NoKey => {
                self.counters.neighbours_refused += 1;
                return;
            }
        }
        if let Some(n) = self.neighbours.up_by_short(ShortId::of(&hello.address)) {
            n.frames_in += 1;
            n.rssi_dbm = signal.rssi_dbm.or(n.rssi_dbm);
            n.snr_db = signal.snr_db.or(n.snr_db);
        }
        if hello.ask && !self.answered_recently(now) && self.answer_at.is_none() {
            self.last_hello_answer = Some(now);
            self.answer_at = Some(now.after_us(self.rng.up_to(HELLO_ANSWER_JITTER_US)));
        }
    }

    pub(super) fn queue_hello(&mut self, ask: bool, now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(radio) = self.radio else { return };
        // Strictly newer than our last hello, or hearers take it for a replay.
        let time_s = self.wall_s(now).max(self.last_hello_sent_s.saturating_add(1));
        self.last_hello_sent_s = time_s;
        let hears: frame::NeighbourFilter = self.neighbours.usable().map(|n| n.short).collect();
        let hello = frame::hello(&self.identity, ask, time_s, &hears);
        let airtime = params_of(radio).time_on_air_us(hello.len());
        if self.queue.push(hello, Priority::Control, airtime, now).is_ok() {
            self.counters.hellos_out += 1;
        }
        self.pump(now, out);
    }
}
