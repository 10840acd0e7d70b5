//! Messages in an established session: sealing, opening, acknowledging and
//! sending again what was not acknowledged.
//!
//! Owns: the message half of [`Sessions`] (packets of kind 6). Every data
//! message stays in its session's `unacked` list until the peer's
//! acknowledgement names its counter; the receiver acknowledges every
//! [`SessionConfig::ack_every`] messages and at the next poll otherwise. What
//! is not acknowledged in time goes out again, byte for byte (same counter,
//! same ciphertext), with a doubling delay, until
//! [`SessionConfig::resend_age_ms`]; the receiver's replay window drops a
//! copy it already opened, so its plugin sees each message once. A message
//! goes only while the oldest unacknowledged one is fewer than
//! [`SessionConfig::in_flight_limit`] counters behind (fewer than the replay
//! window holds, so a copy sent again is never too old to be recognised);
//! later ones wait in the peer's queue.
//! Must not: run handshakes (`handshake.rs`), route or read a clock.
//!
//! [`SessionConfig::ack_every`]: super::SessionConfig::ack_every
//! [`SessionConfig::resend_age_ms`]: super::SessionConfig::resend_age_ms
//! [`SessionConfig::in_flight_limit`]: super::SessionConfig::in_flight_limit

use super::{Plain, Session, SessionOutput, Sessions, Unacked};
use crate::binary::Reader;
use crate::crypto::NodeIdentity;
use crate::routing::wire::{Body, Hops, MAX_COUNTER, Packet};
use crate::session::noise::TAG;
use crate::session::wire::{ACK_MARK, Ack};
use crate::time::Millis;
use weft_plugin_api::Address;

impl Sessions {
    /// A session message for this node.
    pub fn receive_message(&mut self, identity: &NodeIdentity, index: u32, counter: u64, sealed: &[u8], now: Millis) {
        let Some(candidates) = self.by_index.get(&index).cloned() else {
            self.counters.unopenable += 1;
            return;
        };
        let (hops, ack_every) = (self.hops(), self.config.ack_every);
        let mut held_any = false;
        let mut replay = false;
        for from in &candidates {
            let Some(peer) = self.peers.get_mut(from) else { continue };
            let mut slots: [Option<&mut Session>; 2] = [peer.current.as_mut(), peer.previous.as_mut().map(|(s, _)| s)];
            for session in slots.iter_mut().flatten() {
                held_any = true;
                if !session.window.fresh(counter) {
                    // A copy sent again because our acknowledgement was
                    // lost (or a replay): acknowledge again at the next poll.
                    session.acks_owed = session.acks_owed.max(1);
                    replay = true;
                    continue;
                }
                let mut plain = vec![0u8; sealed.len().saturating_sub(TAG)];
                let Ok(len) = session.transport.read_message(counter, sealed, &mut plain) else { continue };
                session.window.take(counter);
                plain.truncate(len);
                if plain.first() == Some(&ACK_MARK) {
                    match Ack::decode(&plain) {
                        Ok(ack) => {
                            self.counters.acks_received += 1;
                            session.acknowledged(&ack);
                            let from = *from;
                            self.flush(from, now);
                        }
                        Err(_) => self.counters.unopenable += 1,
                    }
                    return;
                }
                session.acks_owed += 1;
                if session.acks_owed >= ack_every
                    && let Some(packet) = session.ack(*from, hops)
                {
                    self.counters.acks_sent += 1;
                    self.out.push(SessionOutput::Route { to: *from, packet });
                }
                self.counters.opened += 1;
                self.deliver(*from, plain);
                return;
            }
        }
        if replay {
            self.counters.replayed += 1;
        } else if held_any {
            self.counters.unopenable += 1;
        } else {
            self.counters.unknown_session += 1;
            for from in candidates {
                self.send_reset(identity, from, index, counter, now);
            }
        }
    }

    fn deliver(&mut self, from: Address, plain: Vec<u8>) {
        let mut r = Reader(&plain);
        let parsed = r.u8("inner flags").and_then(|flags| Ok((flags, r.varint("port")?)));
        match parsed {
            Ok((flags, port)) if port <= u64::from(u16::MAX) => {
                let fields = r.rest().to_vec();
                self.out.push(SessionOutput::Deliver { from, flags, port: port as u16, fields });
            }
            _ => self.counters.unopenable += 1,
        }
    }

    /// The message half of a poll: acknowledgements owed, messages due to
    /// go again, messages given up.
    pub(super) fn poll_delivery(&mut self, now: Millis) {
        let hops = self.hops();
        let (first_wait, give_up_after) = (self.config.resend_after_ms, self.config.resend_age_ms);
        for (address, peer) in &mut self.peers {
            let slots = [peer.current.as_mut(), peer.previous.as_mut().map(|(s, _)| s)];
            for session in slots.into_iter().flatten() {
                if session.acks_owed > 0
                    && let Some(packet) = session.ack(*address, hops)
                {
                    self.counters.acks_sent += 1;
                    self.out.push(SessionOutput::Route { to: *address, packet });
                }
                let before = session.unacked.len();
                session.unacked.retain(|u| now.ms_since(u.first_sent) < give_up_after);
                self.counters.given_up += (before - session.unacked.len()) as u64;
                for index in 0..session.unacked.len() {
                    let unacked = &session.unacked[index];
                    let wait = first_wait.saturating_mul(1 << unacked.tries.min(6));
                    if now.ms_since(unacked.last_sent) < wait {
                        continue;
                    }
                    let (counter, bytes) = (unacked.counter, unacked.plain.bytes.clone());
                    if let Some(packet) = session.encrypt(*address, hops, counter, &bytes) {
                        self.counters.retransmitted += 1;
                        self.out.push(SessionOutput::Route { to: *address, packet });
                    }
                    let unacked = &mut session.unacked[index];
                    unacked.tries += 1;
                    unacked.last_sent = now;
                }
            }
        }
    }
}

impl Session {
    /// Seals `bytes` under `counter` for `to`: the whole routed packet.
    pub(super) fn encrypt(&mut self, to: Address, hops: Hops, counter: u64, bytes: &[u8]) -> Option<Vec<u8>> {
        let body = Body::Session { destination: to, index: self.their_index, counter, sealed: &[] };
        let mut packet = Vec::with_capacity(3 + 16 + 4 + 6 + bytes.len() + TAG);
        Packet { hops, body }.encode_into(&mut packet);
        let start = packet.len();
        packet.resize(start + bytes.len() + TAG, 0);
        let written = self.transport.write_message(counter, bytes, &mut packet[start..]).ok()?;
        packet.truncate(start + written);
        Some(packet)
    }

    /// Whether another message may go: the oldest unacknowledged one is
    /// fewer than `limit` counters behind the next, so a copy of it sent
    /// again still falls inside the receiver's replay window.
    pub(super) fn has_room(&self, limit: usize) -> bool {
        self.unacked.front().is_none_or(|oldest| self.next_counter - oldest.counter < limit as u64)
    }

    /// The next counter, or `None` when this session's counters are spent.
    fn take_counter(&mut self) -> Option<u64> {
        let counter = self.next_counter;
        if counter > MAX_COUNTER {
            return None;
        }
        self.next_counter += 1;
        Some(counter)
    }

    /// Seals a data message under the next counter and keeps it until it
    /// is acknowledged; `None` when the counters are spent.
    pub(super) fn seal(&mut self, to: Address, hops: Hops, plain: &Plain, now: Millis) -> Option<Vec<u8>> {
        if self.next_counter > MAX_COUNTER {
            return None;
        }
        let packet = self.encrypt(to, hops, self.next_counter, &plain.bytes)?;
        let counter = self.take_counter()?;
        self.unacked.push_back(Unacked { counter, first_sent: now, last_sent: now, tries: 0, plain: plain.clone() });
        Some(packet)
    }

    /// An acknowledgement of what this side opened so far; resets what is owed.
    fn ack(&mut self, to: Address, hops: Hops) -> Option<Vec<u8>> {
        let (top, words) = self.window.recent();
        let bytes = Ack::new(top, words).encode();
        let counter = self.take_counter()?;
        self.acks_owed = 0;
        self.encrypt(to, hops, counter, &bytes)
    }

    /// Drops what `ack` says the peer opened.
    fn acknowledged(&mut self, ack: &Ack) {
        self.unacked.retain(|u| !ack.covers(u.counter));
    }
}
