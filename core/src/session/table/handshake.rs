//! Handshakes: starting, answering and retrying the Noise KK exchange,
//! rekeying, and resets between a restarted node and its peers.
//!
//! Owns: the handshake half of [`Sessions`] (the packets of kind 7) and
//! installing a finished handshake as a peer's current session.
//! Must not: seal or open messages (`delivery.rs`).

use super::{Directory, Peer, Pending, Plain, Session, SessionOutput, Sessions};
use crate::crypto::NodeIdentity;
use crate::routing::wire::{Body, HANDSHAKE_INIT, HANDSHAKE_RESET, HANDSHAKE_RESPONSE, MAX_COUNTER, Packet};
use crate::session::noise::{self, Role};
use crate::session::window::ReplayWindow;
use crate::session::wire::{HELLO, Hello, NOISE_MESSAGE, RESET, Reset, prologue};
use crate::time::Millis;
use rand::RngCore;
use snow::StatelessTransportState;
use std::collections::VecDeque;
use weft_plugin_api::Address;

impl Sessions {
    pub(super) fn maybe_rekey(&mut self, dir: &impl Directory, to: Address, now: Millis) {
        let Some(peer) = self.peers.get(&to) else { return };
        let due = peer.current.as_ref().is_some_and(|s| {
            s.initiator
                && (now.ms_since(s.established) >= self.config.rekey_after_ms
                    || s.next_counter >= self.config.rekey_after_messages.min(MAX_COUNTER))
        });
        if due && peer.pending.is_none() {
            self.start_handshake(dir, to, now);
        }
    }

    pub(super) fn start_handshake(&mut self, dir: &impl Directory, to: Address, now: Millis) {
        let Some(peer_static) = dir.static_key(&to) else {
            self.out.push(SessionOutput::NeedKey(to));
            return;
        };
        let mut seed = [0; 32];
        self.rng.fill_bytes(&mut seed);
        let (own, secret, boot, hops) = (self.own, self.secret, self.boot, self.hops());
        let retry = self.config.handshake_retry_ms;
        let peer = self.peer_mut(to);
        let hello = Hello { index: peer.my_index, boot }.encode();
        let mut message = [0u8; NOISE_MESSAGE];
        let built = noise::handshake(Role::Initiator, &secret, &peer_static, &prologue(&own, &to), seed)
            .and_then(|mut state| state.write_message(&hello, &mut message).map(|_| state));
        let Ok(state) = built else {
            self.counters.handshakes_refused += 1;
            return;
        };
        let mut body = Vec::with_capacity(16 + NOISE_MESSAGE);
        body.extend_from_slice(&own.0);
        body.extend_from_slice(&message);
        let packet =
            Packet { hops, body: Body::Handshake { destination: to, step: HANDSHAKE_INIT, body: &body } }.encode();
        peer.pending = Some(Pending { state, packet: packet.clone(), tries: 1, next_retry: now.after_ms(retry) });
        self.counters.handshakes_started += 1;
        self.out.push(SessionOutput::Route { to, packet });
    }

    pub(super) fn send_reset(&mut self, identity: &NodeIdentity, to: Address, index: u32, counter: u64, now: Millis) {
        let (boot, hops, own, interval) = (self.boot, self.hops(), self.own, self.config.reset_interval_ms);
        let peer = self.peer_mut(to);
        let floor = peer.refused_floor.map_or(counter, |f| f.min(counter));
        peer.refused_floor = Some(floor);
        if peer.last_reset.is_some_and(|at| now < at.after_ms(interval)) {
            return;
        }
        peer.last_reset = Some(now);
        let mut reset = Reset { sender: own, index, counter: floor, boot, signature: [0; 64] };
        reset.signature = identity.sign(&reset.signed_bytes(&to)).to_bytes();
        let body = reset.encode();
        let packet =
            Packet { hops, body: Body::Handshake { destination: to, step: HANDSHAKE_RESET, body: &body } }.encode();
        self.counters.resets_sent += 1;
        self.out.push(SessionOutput::Route { to, packet });
    }

    /// A handshake packet for this node.
    pub fn receive_handshake(&mut self, dir: &impl Directory, step: u8, body: &[u8], now: Millis) {
        match step {
            HANDSHAKE_INIT => self.on_init(dir, body, now),
            HANDSHAKE_RESPONSE => self.on_response(body, now),
            HANDSHAKE_RESET => self.on_reset(dir, body, now),
            _ => self.counters.handshakes_refused += 1,
        }
    }

    fn on_init(&mut self, dir: &impl Directory, body: &[u8], now: Millis) {
        if body.len() != 16 + NOISE_MESSAGE {
            self.counters.handshakes_refused += 1;
            return;
        }
        let (who, message) = body.split_at(16);
        let mut initiator = Address([0; 16]);
        initiator.0.copy_from_slice(who);
        if initiator == self.own {
            self.counters.handshakes_refused += 1;
            return;
        }
        let second = now.as_ms() / 1000;
        if self.init_window.0 != second {
            self.init_window = (second, 0);
        }
        if self.init_window.1 >= self.config.inits_per_second {
            self.counters.handshakes_rate_limited += 1;
            return;
        }
        self.init_window.1 += 1;
        let Some(peer_static) = dir.static_key(&initiator) else {
            self.counters.handshakes_unknown_peer += 1;
            self.out.push(SessionOutput::NeedKey(initiator));
            return;
        };
        let mut seed = [0; 32];
        self.rng.fill_bytes(&mut seed);
        let (own, secret, boot, hops, grace) =
            (self.own, self.secret, self.boot, self.hops(), self.config.previous_grace_ms);
        let peer = self.peer_mut(initiator);
        if peer.last_init == message {
            // A retry of an init already answered: the same answer again.
            let packet = peer.last_response.clone();
            self.out.push(SessionOutput::Route { to: initiator, packet });
            return;
        }
        // Both sides started at once: the smaller address answers, the
        // larger waits for the answer to its own init.
        if peer.pending.is_some() && own > initiator {
            return;
        }
        let mut hello = [0u8; HELLO];
        let mut answer = [0u8; NOISE_MESSAGE];
        let outcome = noise::handshake(Role::Responder, &secret, &peer_static, &prologue(&initiator, &own), seed)
            .and_then(|mut state| {
                state.read_message(message, &mut hello)?;
                state.write_message(&Hello { index: peer.my_index, boot }.encode(), &mut answer)?;
                noise::transport(state)
            });
        let (Ok(transport), Ok(theirs)) = (outcome, Hello::decode(&hello)) else {
            self.counters.handshakes_refused += 1;
            return;
        };
        let mut response = Vec::with_capacity(4 + NOISE_MESSAGE);
        response.extend_from_slice(&theirs.index.to_be_bytes());
        response.extend_from_slice(&answer);
        let packet = Packet {
            hops,
            body: Body::Handshake { destination: initiator, step: HANDSHAKE_RESPONSE, body: &response },
        }
        .encode();
        peer.last_init = message.to_vec();
        peer.last_response = packet.clone();
        peer.pending = None;
        install(peer, transport, theirs, false, now, grace);
        self.counters.established += 1;
        self.out.push(SessionOutput::Route { to: initiator, packet });
        self.flush(initiator, now);
    }

    fn on_response(&mut self, body: &[u8], now: Millis) {
        if body.len() != 4 + NOISE_MESSAGE {
            self.counters.handshakes_refused += 1;
            return;
        }
        let (index, message) = body.split_at(4);
        let index = u32::from_be_bytes([index[0], index[1], index[2], index[3]]);
        let candidates = self.by_index.get(&index).cloned().unwrap_or_default();
        let grace = self.config.previous_grace_ms;
        for from in candidates {
            let Some(peer) = self.peers.get_mut(&from) else { continue };
            let Some(pending) = peer.pending.as_mut() else { continue };
            let mut hello = [0u8; HELLO];
            if pending.state.read_message(message, &mut hello).is_err() {
                // Forged, damaged, or a late answer to an init this node
                // gave up: snow restores the handshake state, so the
                // handshake keeps waiting for the genuine answer.
                self.counters.handshakes_refused += 1;
                return;
            }
            let Some(pending) = peer.pending.take() else { return };
            match (noise::transport(pending.state), Hello::decode(&hello)) {
                (Ok(transport), Ok(theirs)) => {
                    install(peer, transport, theirs, true, now, grace);
                    self.counters.established += 1;
                    self.flush(from, now);
                }
                // Opened, so from the peer, but not a hello: the next send
                // starts over.
                _ => self.counters.handshakes_refused += 1,
            }
            return;
        }
        self.counters.handshakes_refused += 1;
    }

    fn on_reset(&mut self, dir: &impl Directory, body: &[u8], now: Millis) {
        let Ok(reset) = Reset::decode(body) else {
            self.counters.resets_refused += 1;
            return;
        };
        let genuine = dir
            .signing_key(&reset.sender)
            .is_some_and(|key| crate::crypto::verify(&key, &reset.signed_bytes(&self.own), &reset.signature));
        let Some(peer) = self.peers.get_mut(&reset.sender).filter(|_| genuine && body.len() == RESET) else {
            self.counters.resets_refused += 1;
            return;
        };
        let Some(session) = peer.current.as_ref().filter(|s| s.their_index == reset.index && reset.boot > s.peer_boot)
        else {
            self.counters.resets_refused += 1;
            return;
        };
        self.counters.resets_taken += 1;
        // Messages the dead run acknowledged were delivered. Every other one
        // goes again in the new session, whatever counter the reset names:
        // copies of it may still be held on the way (sealed under keys the
        // restarted node no longer has), and the first one that reached it
        // need not be the oldest. A message the dead run opened but had not
        // acknowledged yet (at most an ack interval's worth) arrives twice:
        // at least once, since the receiver's memory of it died with it.
        let previous = peer.previous.as_ref().map(|(s, _)| s.unacked.iter()).into_iter().flatten();
        let again: Vec<Plain> = previous.chain(session.unacked.iter()).map(|u| u.plain.clone()).collect();
        self.counters.resent += again.len() as u64;
        for plain in again.into_iter().rev() {
            peer.queue.push_front(plain);
        }
        peer.current = None;
        peer.previous = None;
        peer.pending = None;
        self.start_handshake(dir, reset.sender, now);
    }
}

/// Makes a finished handshake the peer's current session.
pub(super) fn install(
    peer: &mut Peer,
    transport: StatelessTransportState,
    theirs: Hello,
    initiator: bool,
    now: Millis,
    grace: u64,
) {
    let session = Session {
        transport,
        their_index: theirs.index,
        next_counter: 0,
        window: ReplayWindow::default(),
        established: now,
        peer_boot: theirs.boot,
        initiator,
        unacked: VecDeque::new(),
        acks_owed: 0,
    };
    if let Some(old) = peer.current.replace(session) {
        peer.previous = Some((old, now.after_ms(grace)));
    }
    peer.refused_floor = None;
    peer.last_reset = None;
}
