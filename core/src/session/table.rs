//! The session table: one entry per peer node, handshakes, sealing, opening.
//!
//! Owns: per-peer session state (current, previous and pending keys),
//! messages waiting for a handshake, the resend ring a reset draws from, the
//! replay windows, and the counters. Sans-IO: every input is a call with the
//! time; outputs are [`SessionOutput`]s drained by the router, which routes
//! the packets and delivers the messages.
//! Must not: route, persist or read a clock; draw randomness other than from
//! the seed it was given.

use super::noise::{self, Role, TAG};
use super::window::ReplayWindow;
use super::wire::{HELLO, Hello, NOISE_MESSAGE, RESET, Reset, prologue};
use crate::binary::{Reader, put_varint};
use crate::crypto::NodeIdentity;
use crate::routing::fast_hash::FastMap;
use crate::routing::wire::{Body, HANDSHAKE_INIT, HANDSHAKE_RESET, HANDSHAKE_RESPONSE, Hops, MAX_COUNTER, Packet};
use crate::time::{Millis, UnixMillis};
use rand::{RngCore, SeedableRng, rngs::StdRng};
use sha2::{Digest, Sha256};
use snow::{HandshakeState, StatelessTransportState};
use std::collections::VecDeque;
use weft_plugin_api::Address;

/// Where the session table finds other nodes' keys (the routing table,
/// which holds every verified announce).
pub trait Directory {
    /// The node's X25519 static key, from its verified announce.
    fn static_key(&self, node: &Address) -> Option<[u8; 32]>;
    /// The node's Ed25519 key, from its verified announce.
    fn signing_key(&self, node: &Address) -> Option<[u8; 32]>;
}

/// Tunables; the defaults suit both QUIC and radio meshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The initiator starts a new handshake after this long (forward secrecy), ms.
    pub rekey_after_ms: u64,
    /// ... or after this many messages in one session.
    pub rekey_after_messages: u64,
    /// First handshake retry, ms; doubles on each try.
    pub handshake_retry_ms: u64,
    /// Handshake attempts before the queued messages are given up (counted).
    pub handshake_tries: u32,
    /// Messages queued per peer while a handshake runs.
    pub queue_limit: usize,
    /// Sent messages kept per session for a resend after the peer restarts.
    pub resend_limit: usize,
    /// ... and for at most this long, ms.
    pub resend_age_ms: u64,
    /// How long the previous keys still open late messages after a new session, ms.
    pub previous_grace_ms: u64,
    /// At most one reset per peer per this interval, ms.
    pub reset_interval_ms: u64,
    /// Handshake inits answered per second, all peers together (each costs
    /// three X25519 operations; the excess is dropped and counted, and an
    /// honest initiator retries).
    pub inits_per_second: u32,
    /// Hop limit of session packets.
    pub max_hops: u8,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            rekey_after_ms: 10 * 60 * 1000,
            rekey_after_messages: 1 << 32,
            handshake_retry_ms: 1000,
            handshake_tries: 6,
            queue_limit: 1024,
            resend_limit: 4096,
            resend_age_ms: 120_000,
            previous_grace_ms: 120_000,
            reset_interval_ms: 500,
            inits_per_second: 200,
            max_hops: 32,
        }
    }
}

/// Counters, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionCounters {
    /// Handshakes this node started (retries not counted).
    pub handshakes_started: u64,
    /// Sessions established (either side).
    pub established: u64,
    /// Handshake messages that failed to verify or decode.
    pub handshakes_refused: u64,
    /// Handshakes from nodes whose key is not known yet (their announce is asked for).
    pub handshakes_unknown_peer: u64,
    /// Handshake inits dropped over `inits_per_second`.
    pub handshakes_rate_limited: u64,
    /// Messages sealed.
    pub sealed: u64,
    /// Messages opened.
    pub opened: u64,
    /// Messages refused as replays (counter seen or older than the window).
    pub replayed: u64,
    /// Messages that failed to open (tampered, forged, or keys gone).
    pub unopenable: u64,
    /// Messages for a session this node does not hold (answered with a reset).
    pub unknown_session: u64,
    /// Resets sent.
    pub resets_sent: u64,
    /// Resets believed (signed, from a newer run of the peer).
    pub resets_taken: u64,
    /// Resets refused (bad signature, stale, unknown).
    pub resets_refused: u64,
    /// Messages sent again after a reset.
    pub resent: u64,
    /// Messages refused because a peer's queue was full.
    pub queue_full: u64,
    /// Queued messages given up after the last handshake try.
    pub given_up: u64,
}

/// Something the session table asks of the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutput {
    /// Route this packet to `to`.
    Route {
        /// The destination node.
        to: Address,
        /// The whole routed packet.
        packet: Vec<u8>,
    },
    /// A message opened in a session with `from`: the sender is verified.
    Deliver {
        /// The verified sender.
        from: Address,
        /// The inner flags (`FLAG_EXT`).
        flags: u8,
        /// The service port.
        port: u16,
        /// The inner fields after the port (no source: the session says who).
        fields: Vec<u8>,
    },
    /// No key for this node yet: find a path (its announce brings the key).
    NeedKey(Address),
}

/// What became of a message handed to [`Sessions::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSend {
    /// Sealed and handed out as [`SessionOutput::Route`].
    Sealed,
    /// Waiting for a handshake (or the peer's key).
    Queued,
    /// The peer's queue is full: refused and counted.
    Refused,
}

#[derive(Debug, Clone)]
struct Plain {
    bytes: Vec<u8>,
}

struct Session {
    transport: StatelessTransportState,
    their_index: u32,
    next_counter: u64,
    window: ReplayWindow,
    established: Millis,
    peer_boot: u64,
    initiator: bool,
    resend: VecDeque<(u64, Millis, Plain)>,
}

struct Pending {
    state: HandshakeState,
    packet: Vec<u8>,
    tries: u32,
    next_retry: Millis,
}

struct Peer {
    my_index: u32,
    current: Option<Session>,
    previous: Option<(Session, Millis)>,
    pending: Option<Pending>,
    queue: VecDeque<Plain>,
    last_init: Vec<u8>,
    last_response: Vec<u8>,
    refused_floor: Option<u64>,
    last_reset: Option<Millis>,
}

/// The sessions of one node.
pub struct Sessions {
    own: Address,
    secret: [u8; 32],
    index_key: [u8; 32],
    boot: u64,
    config: SessionConfig,
    peers: FastMap<Address, Peer>,
    by_index: FastMap<u32, Vec<Address>>,
    rng: StdRng,
    out: Vec<SessionOutput>,
    counters: SessionCounters,
    /// The second (router time) inits are being counted in, and how many.
    init_window: (u64, u32),
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("own", &self.own).field("peers", &self.peers.len()).finish_non_exhaustive()
    }
}

impl Sessions {
    /// The sessions of `identity`'s node. `boot` is this run's start (Unix
    /// ms; later runs must give larger values); `seed` feeds the CSPRNG the
    /// handshake ephemerals come from (the node draws it from the OS, a
    /// simulation from its seed).
    pub fn new(identity: &NodeIdentity, config: SessionConfig, boot: UnixMillis, seed: [u8; 32]) -> Sessions {
        let secret = identity.x25519_secret().to_bytes();
        let index_key: [u8; 32] =
            Sha256::new().chain_update(b"weft session index v1\0").chain_update(secret).finalize().into();
        Sessions {
            own: identity.address(),
            secret,
            index_key,
            boot: boot.as_unix_ms(),
            config,
            peers: FastMap::default(),
            by_index: FastMap::default(),
            rng: StdRng::from_seed(seed),
            out: Vec::new(),
            counters: SessionCounters::default(),
            init_window: (0, 0),
        }
    }

    /// Counters.
    pub fn counters(&self) -> SessionCounters {
        self.counters
    }

    /// Peers with an established session.
    pub fn established(&self) -> usize {
        self.peers.values().filter(|p| p.current.is_some()).count()
    }

    /// Moves what the table produced onto the end of `into`.
    pub fn drain_into(&mut self, into: &mut Vec<SessionOutput>) {
        into.append(&mut self.out);
    }

    /// The index `peer` puts in messages to this node: keyed by this node's
    /// secret, so it is the same in every run (a restarted node still knows
    /// whom to ask for a new session) and unlinkable to the peer for others.
    pub fn index_for(&self, peer: &Address) -> u32 {
        let digest = Sha256::new().chain_update(self.index_key).chain_update(peer.0).finalize();
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
    }

    /// A node's key became known: messages may name it by index, and
    /// messages queued for it can start their handshake.
    pub fn learn(&mut self, dir: &impl Directory, node: Address, now: Millis) {
        let index = self.index_for(&node);
        let known = self.by_index.entry(index).or_default();
        if !known.contains(&node) {
            known.push(node);
        }
        let waiting =
            self.peers.get(&node).is_some_and(|p| !p.queue.is_empty() && p.pending.is_none() && p.current.is_none());
        if waiting {
            self.start_handshake(dir, node, now);
        }
    }

    fn peer_mut(&mut self, node: Address) -> &mut Peer {
        let my_index = self.index_for(&node);
        let by_index = &mut self.by_index;
        self.peers.entry(node).or_insert_with(|| {
            let known = by_index.entry(my_index).or_default();
            if !known.contains(&node) {
                known.push(node);
            }
            Peer {
                my_index,
                current: None,
                previous: None,
                pending: None,
                queue: VecDeque::new(),
                last_init: Vec::new(),
                last_response: Vec::new(),
                refused_floor: None,
                last_reset: None,
            }
        })
    }

    fn hops(&self) -> Hops {
        Hops::fresh(self.config.max_hops)
    }

    // ---- sending ------------------------------------------------------

    /// Seals a message for `to`'s `port`: at once in an established
    /// session, else queued while a handshake runs. `flags` are the inner
    /// flags (`FLAG_EXT`), `fields` the inner fields without a source.
    pub fn send(
        &mut self,
        dir: &impl Directory,
        to: Address,
        port: u16,
        flags: u8,
        fields: &[u8],
        now: Millis,
    ) -> SessionSend {
        let mut bytes = Vec::with_capacity(3 + fields.len());
        bytes.push(flags);
        put_varint(&mut bytes, u64::from(port));
        bytes.extend_from_slice(fields);
        let plain = Plain { bytes };
        let (hops, limit, queue_limit) = (self.hops(), self.config.resend_limit, self.config.queue_limit);
        let peer = self.peer_mut(to);
        if peer.queue.is_empty()
            && let Some(session) = peer.current.as_mut()
            && let Some(packet) = seal(session, to, hops, &plain, now, limit)
        {
            self.counters.sealed += 1;
            self.out.push(SessionOutput::Route { to, packet });
            self.maybe_rekey(dir, to, now);
            return SessionSend::Sealed;
        }
        if peer.queue.len() >= queue_limit {
            self.counters.queue_full += 1;
            return SessionSend::Refused;
        }
        peer.queue.push_back(plain);
        if peer.pending.is_none() {
            self.start_handshake(dir, to, now);
        }
        SessionSend::Queued
    }

    fn maybe_rekey(&mut self, dir: &impl Directory, to: Address, now: Millis) {
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

    fn start_handshake(&mut self, dir: &impl Directory, to: Address, now: Millis) {
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

    /// Sends what waited for `to`'s session, in order.
    fn flush(&mut self, to: Address, now: Millis) {
        let (hops, limit) = (self.hops(), self.config.resend_limit);
        let Some(peer) = self.peers.get_mut(&to) else { return };
        let Some(session) = peer.current.as_mut() else { return };
        while let Some(plain) = peer.queue.pop_front() {
            match seal(session, to, hops, &plain, now, limit) {
                Some(packet) => {
                    self.counters.sealed += 1;
                    self.out.push(SessionOutput::Route { to, packet });
                }
                None => {
                    peer.queue.push_front(plain);
                    break;
                }
            }
        }
    }

    /// Retries handshakes, rekeys, retires old keys and resend entries.
    pub fn poll(&mut self, dir: &impl Directory, now: Millis) {
        let mut retry = Vec::new();
        let mut rekey = Vec::new();
        for (address, peer) in &mut self.peers {
            if let Some((_, retire)) = &peer.previous
                && *retire <= now
            {
                peer.previous = None;
            }
            if let Some(session) = peer.current.as_mut() {
                let oldest = now.before_ms(self.config.resend_age_ms);
                while session.resend.front().is_some_and(|(_, at, _)| *at < oldest) {
                    session.resend.pop_front();
                }
                if session.initiator
                    && peer.pending.is_none()
                    && now.ms_since(session.established) >= self.config.rekey_after_ms
                {
                    rekey.push(*address);
                }
            }
            if peer.pending.as_ref().is_some_and(|p| p.next_retry <= now) {
                retry.push(*address);
            }
        }
        for address in rekey {
            self.start_handshake(dir, address, now);
        }
        for address in retry {
            let (tries, base) = (self.config.handshake_tries, self.config.handshake_retry_ms);
            let Some(peer) = self.peers.get_mut(&address) else { continue };
            let Some(pending) = peer.pending.as_mut() else { continue };
            if pending.tries >= tries {
                peer.pending = None;
                if peer.current.is_none() {
                    self.counters.given_up += peer.queue.len() as u64;
                    peer.queue.clear();
                } else {
                    self.flush(address, now);
                }
                continue;
            }
            pending.next_retry = now.after_ms(base << pending.tries.min(16));
            pending.tries += 1;
            let packet = pending.packet.clone();
            self.out.push(SessionOutput::Route { to: address, packet });
        }
    }

    // ---- receiving ----------------------------------------------------

    /// A session message for this node.
    pub fn receive_message(&mut self, identity: &NodeIdentity, index: u32, counter: u64, sealed: &[u8], now: Millis) {
        let Some(candidates) = self.by_index.get(&index).cloned() else {
            self.counters.unopenable += 1;
            return;
        };
        let mut held_any = false;
        let mut replay = false;
        for from in &candidates {
            let Some(peer) = self.peers.get_mut(from) else { continue };
            let mut slots: [Option<&mut Session>; 2] = [peer.current.as_mut(), peer.previous.as_mut().map(|(s, _)| s)];
            for session in slots.iter_mut().flatten() {
                held_any = true;
                if !session.window.fresh(counter) {
                    replay = true;
                    continue;
                }
                let mut plain = vec![0u8; sealed.len().saturating_sub(TAG)];
                let Ok(len) = session.transport.read_message(counter, sealed, &mut plain) else { continue };
                session.window.take(counter);
                plain.truncate(len);
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

    fn send_reset(&mut self, identity: &NodeIdentity, to: Address, index: u32, counter: u64, now: Millis) {
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
            let Some(mut pending) = peer.pending.take() else { continue };
            let mut hello = [0u8; HELLO];
            let outcome = pending.state.read_message(message, &mut hello).and_then(|_| noise::transport(pending.state));
            match (outcome, Hello::decode(&hello)) {
                (Ok(transport), Ok(theirs)) => {
                    install(peer, transport, theirs, true, now, grace);
                    self.counters.established += 1;
                    self.flush(from, now);
                }
                // Forged or damaged: the next retry starts over.
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
        let again: Vec<Plain> = session
            .resend
            .iter()
            .filter(|(counter, _, _)| *counter >= reset.counter)
            .map(|(_, _, p)| p.clone())
            .collect();
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
fn install(
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
        resend: VecDeque::new(),
    };
    if let Some(old) = peer.current.replace(session) {
        peer.previous = Some((old, now.after_ms(grace)));
    }
    peer.refused_floor = None;
    peer.last_reset = None;
}

/// Seals one message in `session`; `None` when its counters are spent.
fn seal(
    session: &mut Session,
    to: Address,
    hops: Hops,
    plain: &Plain,
    now: Millis,
    resend_limit: usize,
) -> Option<Vec<u8>> {
    let counter = session.next_counter;
    if counter > MAX_COUNTER {
        return None;
    }
    let body = Body::Session { destination: to, index: session.their_index, counter, sealed: &[] };
    let mut packet = Vec::with_capacity(3 + 16 + 4 + 6 + plain.bytes.len() + TAG);
    Packet { hops, body }.encode_into(&mut packet);
    let start = packet.len();
    packet.resize(start + plain.bytes.len() + TAG, 0);
    let written = session.transport.write_message(counter, &plain.bytes, &mut packet[start..]).ok()?;
    packet.truncate(start + written);
    session.next_counter += 1;
    if session.resend.len() >= resend_limit {
        session.resend.pop_front();
    }
    session.resend.push_back((counter, now, plain.clone()));
    Some(packet)
}
