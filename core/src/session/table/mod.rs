//! The session table: one entry per peer node, handshakes, sealing, opening.
//!
//! Owns: per-peer session state (current, previous and pending keys),
//! messages waiting for a handshake or for room in flight, the messages
//! sent and not yet acknowledged, the replay windows, and the counters.
//! Handshakes are in `handshake.rs`, sealing, opening, acknowledging and
//! sending again in `delivery.rs`. Sans-IO: every input is a call with the
//! time; outputs are [`SessionOutput`]s drained by the router, which routes
//! the packets and delivers the messages.
//! Must not: route, persist or read a clock; draw randomness other than from
//! the seed it was given.

mod delivery;
mod handshake;

use super::window::ReplayWindow;
use crate::binary::put_varint;
use crate::crypto::NodeIdentity;
use crate::routing::fast_hash::FastMap;
use crate::routing::wire::Hops;
use crate::time::{Millis, UnixMillis};
use rand::{SeedableRng, rngs::StdRng};
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
    /// Messages queued per peer while a handshake runs or while
    /// `in_flight_limit` messages wait for their acknowledgement.
    pub queue_limit: usize,
    /// How far (in counters) the next message may be ahead of the oldest
    /// one not acknowledged; beyond it messages wait in the queue. Below the
    /// replay window (1,024), so a copy sent again is always recognised by
    /// the receiver.
    pub in_flight_limit: usize,
    /// The receiver acknowledges after this many messages (and at its next
    /// poll, about once a second, whatever arrived).
    pub ack_every: u32,
    /// A message not acknowledged this long after it was sent goes again;
    /// the wait doubles each time, ms.
    pub resend_after_ms: u64,
    /// A message not acknowledged after this long is given up (counted), ms.
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
            queue_limit: 4096,
            in_flight_limit: 768,
            ack_every: 32,
            resend_after_ms: 2_000,
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
    /// Messages sent again because no acknowledgement came in time.
    pub retransmitted: u64,
    /// Acknowledgements sent.
    pub acks_sent: u64,
    /// Acknowledgements received.
    pub acks_received: u64,
    /// Messages refused because a peer's queue was full.
    pub queue_full: u64,
    /// Messages given up: queued past the last handshake try, or never
    /// acknowledged within `resend_age_ms`.
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
    /// Data messages sent and not acknowledged, by counter.
    unacked: VecDeque<Unacked>,
    /// Data messages opened since this side last acknowledged.
    acks_owed: u32,
}

/// A data message waiting for its acknowledgement.
struct Unacked {
    counter: u64,
    first_sent: Millis,
    last_sent: Millis,
    tries: u32,
    plain: Plain,
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

    /// Messages sent and not acknowledged yet, over all peers and sessions.
    pub fn in_flight(&self) -> usize {
        self.peers
            .values()
            .map(|p| {
                p.current.as_ref().map_or(0, |s| s.unacked.len())
                    + p.previous.as_ref().map_or(0, |(s, _)| s.unacked.len())
            })
            .sum()
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

    /// Forgets everything about `node` (the routing table let it go): its
    /// sessions, queued messages and index.
    pub fn forget(&mut self, node: &Address) {
        if let Some(peer) = self.peers.remove(node) {
            self.counters.given_up += (peer.queue.len()
                + peer.current.map_or(0, |s| s.unacked.len())
                + peer.previous.map_or(0, |(s, _)| s.unacked.len())) as u64;
        }
        let index = self.index_for(node);
        if let Some(known) = self.by_index.get_mut(&index) {
            known.retain(|a| a != node);
            if known.is_empty() {
                self.by_index.remove(&index);
            }
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
        let (hops, in_flight, queue_limit) = (self.hops(), self.config.in_flight_limit, self.config.queue_limit);
        let peer = self.peer_mut(to);
        if peer.queue.is_empty()
            && let Some(session) = peer.current.as_mut()
            && session.has_room(in_flight)
            && let Some(packet) = session.seal(to, hops, &plain, now)
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
        // Queued for room in flight, a session is there already: the
        // acknowledgements make room. Only without one is a handshake due.
        if peer.pending.is_none() && peer.current.is_none() {
            self.start_handshake(dir, to, now);
        }
        SessionSend::Queued
    }

    /// Sends what waited for `to`'s session, in order.
    fn flush(&mut self, to: Address, now: Millis) {
        let (hops, in_flight) = (self.hops(), self.config.in_flight_limit);
        let Some(peer) = self.peers.get_mut(&to) else { return };
        let Some(session) = peer.current.as_mut() else { return };
        while session.has_room(in_flight)
            && let Some(plain) = peer.queue.pop_front()
        {
            match session.seal(to, hops, &plain, now) {
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

    /// Retries handshakes, rekeys, retires old keys; acknowledges, sends
    /// again what was not acknowledged and gives up what is too old.
    pub fn poll(&mut self, dir: &impl Directory, now: Millis) {
        let mut retry = Vec::new();
        let mut rekey = Vec::new();
        for (address, peer) in &mut self.peers {
            if let Some((old, retire)) = &peer.previous
                && *retire <= now
            {
                // Its keys are gone: what it never had acknowledged is lost.
                self.counters.given_up += old.unacked.len() as u64;
                peer.previous = None;
            }
            if let Some(session) = peer.current.as_ref()
                && session.initiator
                && peer.pending.is_none()
                && now.ms_since(session.established) >= self.config.rekey_after_ms
            {
                rekey.push(*address);
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
        self.poll_delivery(now);
    }
}
