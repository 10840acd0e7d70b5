//! Packets out: fragments queued by priority under the duty-cycle budget,
//! the one transmit the driver may have outstanding, retries with a growing
//! pause after a failure, and the link's health.

use super::super::frame;
use super::*;
use crate::time::Micros;

impl RadioLink {
    /// The router hands a packet to the link, for one neighbour or for
    /// everyone in range. It is fragmented to what a frame of the driver's
    /// MTU holds after the link header, and queued whole or not at all; the
    /// error says why not. A flood relayed on the channel it was heard on
    /// waits its moment instead, and may be cancelled (see `relay`).
    pub fn send_packet(
        &mut self,
        dest: RadioDest,
        packet: &[u8],
        now: Micros,
        out: &mut Vec<RadioOutput>,
    ) -> Result<(), SendRefused> {
        if dest == RadioDest::Everyone && self.radio.is_some() && self.relay_later(packet, now) {
            // Counted in `packets_out` when (if) it is queued.
            return Ok(());
        }
        self.enqueue(dest, packet, None, now, out)
    }

    /// Fragments and queues a packet (see [`RadioLink::send_packet`]).
    /// `relay`: the flood key of a managed relay; one that fits a frame
    /// can still be withdrawn when its turn comes.
    pub(super) fn enqueue(
        &mut self,
        dest: RadioDest,
        packet: &[u8],
        relay: Option<u64>,
        now: Micros,
        out: &mut Vec<RadioOutput>,
    ) -> Result<(), SendRefused> {
        let refused = |link: &mut Self, why: SendRefused| {
            link.counters.packets_refused += 1;
            Err(why)
        };
        let Some(radio) = self.radio else { return refused(self, SendRefused::NotUp) };
        let (overhead, to) = match dest {
            RadioDest::Everyone => (frame::BROADCAST_OVERHEAD, None),
            RadioDest::Neighbour(number) => match self.neighbours.usable_by_number(number) {
                Some(n) => (frame::UNICAST_OVERHEAD, Some((n.short, n.key, n.address))),
                None => return refused(self, SendRefused::NoSuchNeighbour(number)),
            },
        };
        let mtu = usize::from(radio.mtu);
        let last_hop = to.and_then(|(short, _, address)| self.last_hop_frame(short, &address, packet, mtu));
        let mut frames: Vec<Vec<u8>> = match last_hop {
            Some(frame) => {
                self.counters.last_hop_out += 1;
                vec![frame]
            }
            None => {
                let id = self.next_fragment_id;
                let contents = match fragment::fragment(packet, mtu.saturating_sub(overhead), id) {
                    Ok(contents) => contents,
                    Err(e) => return refused(self, SendRefused::Fragment(e)),
                };
                if contents.len() > 1 {
                    self.next_fragment_id = self.next_fragment_id.wrapping_add(1);
                }
                contents
                    .iter()
                    .map(|content| match &to {
                        Some((short, key, _)) => frame::unicast(*short, self.short, content, key),
                        None => frame::broadcast(self.short, content),
                    })
                    .collect()
            }
        };
        let params = params_of(radio);
        let airtimes: Vec<u64> = frames.iter().map(|f| params.time_on_air_us(f.len())).collect();
        let count = frames.len() as u64;
        let priority = priority_of(packet);
        // Only a relay of one frame can be withdrawn whole.
        let queued = match relay {
            Some(key) if frames.len() == 1 => {
                let frame = frames.swap_remove(0);
                self.queue.push_relay(frame, priority, airtimes[0], key, now)
            }
            _ => self.queue.push_all(frames, priority, &airtimes, now),
        };
        if let Err(e) = queued {
            return refused(self, SendRefused::Queue(e));
        }
        if let RadioDest::Neighbour(number) = dest
            && let Some(n) = self.neighbours.usable_by_number(number)
        {
            n.frames_out += count;
        }
        self.counters.packets_out += 1;
        self.pump(now, out);
        Ok(())
    }

    pub(super) fn transmit_done(&mut self, id: u64, ok: bool, now: Micros, out: &mut Vec<RadioOutput>) {
        let Some(flight) = self.in_flight.take_if(|f| f.id == id) else {
            out.push(RadioOutput::Log(LogLevel::Debug, format!("transmit {id} reported done but was not outstanding")));
            return;
        };
        if ok {
            self.counters.frames_out += 1;
            self.counters.bytes_out += flight.frame.frame.len() as u64;
            self.transmit_succeeded(out);
        } else {
            self.counters.tx_failed += 1;
            self.queue.requeue_front(flight.frame, MaybeOnAir::No);
            self.transmit_failed(now, out);
        }
        self.swap_progress(now, out);
    }

    pub(super) fn transmit_succeeded(&mut self, out: &mut Vec<RadioOutput>) {
        self.failed_in_row = 0;
        self.retry_at = None;
        if self.degraded.take().is_some() {
            out.push(RadioOutput::Log(LogLevel::Info, "radio link recovered: transmits go out again".into()));
        }
    }

    /// Backs off before the next try; degraded after enough failures in a row.
    pub(super) fn transmit_failed(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        self.failed_in_row = self.failed_in_row.saturating_add(1);
        let doublings = (self.failed_in_row - 1).min(16);
        let pause = TX_RETRY_FIRST_US.saturating_mul(1 << doublings).min(TX_RETRY_MAX_US);
        self.retry_at = Some(now.after_us(pause));
        if self.failed_in_row >= DEGRADED_AFTER_FAILURES && self.degraded.is_none() {
            let why = format!(
                "{} transmits in a row failed at the driver (it says: {}); retrying every {} ms at most",
                self.failed_in_row,
                self.driver_detail,
                TX_RETRY_MAX_US / 1_000
            );
            self.counters.degraded += 1;
            out.push(RadioOutput::Log(LogLevel::Warn, format!("radio link degraded: {why}")));
            self.degraded = Some(why);
        }
    }
    /// Hands the driver the next frame when it may take one.
    /// Transmit `id` never reached the driver (the runtime skipped the call):
    /// the frame goes back to the front of the queue, untouched by the radio,
    /// and is handed out again at the next poll.
    pub fn transmit_not_taken(&mut self, id: u64, now: Micros) {
        if let Some(flight) = self.in_flight.take_if(|f| f.id == id) {
            self.queue.requeue_front(flight.frame, MaybeOnAir::No);
            self.retry_at = Some(now);
        }
    }

    pub(super) fn pump(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        if !self.driver_up || self.in_flight.is_some() || self.swap != Swap::Idle {
            return;
        }
        if self.retry_at.is_some_and(|t| t > now) {
            return;
        }
        self.retry_at = None;
        // A relay whose turn came: withdrawn if every neighbour has the
        // flood by now, or if it waited so long (the radio down or held by
        // the duty cycle) that the mesh may have forgotten the flood and
        // would take it for a new one.
        while let Some((key, queued)) = self.queue.front().and_then(|f| f.relay.map(|key| (key, f.queued))) {
            if now.us_since(queued) >= RELAY_STALE_US {
                self.counters.relays_stale += 1;
            } else if self.relay_redundant(key) {
                self.counters.relays_withdrawn += 1;
            } else {
                break;
            }
            self.queue.withdraw_front();
        }
        match self.queue.next(now) {
            Next::Send(frame) => {
                let id = self.next_tx_id;
                self.next_tx_id += 1;
                let request = TransmitRequest { id, frame: frame.frame.clone() };
                self.in_flight = Some(InFlight { id, frame });
                out.push(RadioOutput::Driver(Event::Transmit(request)));
            }
            Next::WaitUntil(at) => self.retry_at = Some(at),
            Next::Idle => {}
        }
    }
}

/// The priority of a routed packet on a radio: floods, announces and path
/// requests are bulk; unicast data, returns and traces go first.
pub fn priority_of(packet: &[u8]) -> Priority {
    match packet.first().map(|b| (b >> 3) & 0b111) {
        Some(1..=3) => Priority::Bulk,
        _ => Priority::Data,
    }
}
