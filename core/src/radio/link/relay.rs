//! Managed flooding: a flood this node relays on the channel it heard it
//! on waits, and is cancelled if by then every neighbour has it.
//!
//! A broadcast packet from a neighbour is a *copy*: the link remembers each
//! one by a hash of the packet with its hop fields masked (relays rewrite
//! those), with how many copies came in and who sent the first few. When
//! the router then hands the link the same packet to broadcast (a relay:
//! hop count above zero), the link does not queue it at once. It waits
//!
//! `slot × (20 × covered² + uniform(0, 4))`
//!
//! where `slot` is the time on air of the packet's first frame and
//! `covered` the share of this node's neighbours already known to have the
//! flood (see [`COVER_SLOTS`], [`JITTER_SLOTS`]): the node with the most
//! neighbours still lacking it goes first, and the nodes whose
//! neighbourhood it covers hear it and stay quiet (the delay of the
//! Scalable Broadcast Algorithm, Peng and Lu; it replaced Meshtastic's
//! "faint first copy goes first", which in `weft sim --radio` sent 1-7
//! points more of naive flooding's frames and took 27-70 % longer). When
//! the wait is over the relay is dropped
//! if it would tell no neighbour anything new: every neighbour either sent
//! a copy itself or it and a node that sent one name each other in their
//! hellos (each hello carries a Bloom filter of its sender's neighbours:
//! self-pruning with two-hop knowledge; see [`uncovered`]), and at least
//! [`RadioSettings::flood_suppress_copies`] copies were heard in all. Else
//! it is queued like any packet; a queued relay that fits one frame is
//! checked once more when its turn on air comes, and withdrawn if every
//! neighbour has the flood by then, or if it has waited
//! [`RELAY_STALE_US`] (a radio down for minutes). A count alone (Meshtastic's "heard it
//! again, stay quiet") lost whole branches of sparse meshes in `weft sim
//! --radio`. Packets this node starts go out at once.
//!
//! The table of copies is bounded ([`COPIES_REMEMBERED`], oldest dropped
//! first) and forgets a copy after [`COPY_MEMORY_US`]. Only copies under a
//! confirmed neighbour's short id count. Broadcast frames carry no tag, so
//! a transmitter in range that plays a flood back under a neighbour's
//! short id can make this node think that neighbour's neighbours have it
//! and stay quiet: an attacker in range can silence relays as it can jam
//! them. A filter with more than [`MAX_FILTER_BITS`] bits set is not used.

use super::super::frame::{NeighbourFilter, ShortId};
use super::*;
use crate::routing::fast_hash::FastMap;
use std::collections::VecDeque;

/// Copies remembered at most (the oldest is forgotten first).
pub const COPIES_REMEMBERED: usize = 512;
/// How long a copy is remembered, µs.
pub const COPY_MEMORY_US: u64 = 120_000_000;
/// A queued relay that has waited this long for its turn on air is
/// withdrawn, µs: routers remember a flood's id for two minutes, so a relay
/// sent much later would go round the mesh again as a new flood.
pub const RELAY_STALE_US: u64 = 60_000_000;
/// Relays waiting at most (a further one goes out at once, unmanaged).
pub const RELAYS_WAITING: usize = 128;
/// A neighbour filter with more bits set than this names too many nodes
/// to be trusted (false positives pile up: about 40 neighbours' worth, past
/// the default `max_neighbours` of 32); it is not used to call anyone
/// covered.
pub const MAX_FILTER_BITS: u32 = 96;
/// Senders of copies remembered per flood.
const SENDERS_KEPT: usize = 8;
/// Slots of delay a relay waits when every neighbour is already covered
/// (scaled by the square of the covered share: a node most of whose
/// neighbours lack the flood goes almost at once).
pub const COVER_SLOTS: f64 = 20.0;
/// Slots of random delay added to every relay.
pub const JITTER_SLOTS: f64 = 4.0;

/// What the link heard of one flooded packet.
#[derive(Debug, Clone, Copy)]
struct Heard {
    copies: u32,
    /// Who sent the copies (the first few).
    senders: [Option<ShortId>; SENDERS_KEPT],
    first_at: Micros,
}

/// A relay waiting for its moment.
#[derive(Debug, Clone)]
struct Waiting {
    key: u64,
    due: Micros,
    packet: Vec<u8>,
}

/// Copies heard and relays waiting.
#[derive(Debug, Default)]
pub(super) struct Relays {
    heard: FastMap<u64, Heard>,
    order: VecDeque<(Micros, u64)>,
    waiting: Vec<Waiting>,
}

/// The key of a flooded packet: its bytes with the hop count and hop
/// limit (bytes 1 and 2, which relays rewrite) left out, hashed with
/// SHA-256 (packet contents are chosen by whoever sends them: a weak hash
/// would let a crafted packet pass for another).
pub(super) fn flood_key(packet: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(packet.get(..1).unwrap_or_default());
    hasher.update(packet.get(3..).unwrap_or_default());
    let digest = hasher.finalize();
    u64::from_le_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
}

/// Whether a packet was relayed (its hop count is above zero).
fn is_relay(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|hops| *hops > 0)
}

/// Of `neighbours` (each with the filter of who it hears), how many are not
/// known to have a flood whose copies came from `senders`, and how many
/// there are. A neighbour is covered if it sent a copy, or if a sender and
/// it name each other in their filters: it hears the sender (the direction
/// the copy went) and the sender hears it. One filter's false positive is
/// the same in every flood (short ids do not change), so one direction
/// alone would keep a node from ever relaying to the neighbour it wrongly
/// calls covered; two false positives at once are rare. Filters with more
/// than [`MAX_FILTER_BITS`] bits set are not used.
pub fn uncovered(neighbours: &[(ShortId, NeighbourFilter)], senders: &[ShortId]) -> (usize, usize) {
    let usable = |filter: &NeighbourFilter| filter.bits_set() <= MAX_FILTER_BITS;
    let sender_filters: Vec<&(ShortId, NeighbourFilter)> =
        neighbours.iter().filter(|(short, filter)| senders.contains(short) && usable(filter)).collect();
    let open = neighbours
        .iter()
        .filter(|(short, hears)| {
            let mutual = |(sender, filter): &&(ShortId, NeighbourFilter)| {
                filter.contains(*short) && usable(hears) && hears.contains(*sender)
            };
            !(senders.contains(short) || sender_filters.iter().any(mutual))
        })
        .count();
    (open, neighbours.len())
}

/// The delay of a relay in slots before jitter: [`COVER_SLOTS`] times the
/// square of the share of `neighbours` of which `open` are not known to
/// have the flood yet. No neighbours: the full delay.
pub fn cover_slots(open: usize, neighbours: usize) -> f64 {
    let covered = 1.0 - open.min(neighbours) as f64 / neighbours.max(1) as f64;
    COVER_SLOTS * covered * covered
}

impl Relays {
    /// A broadcast packet came in at `now`.
    fn copy_in(&mut self, packet: &[u8], from: ShortId, now: Micros) {
        self.forget(now);
        let key = flood_key(packet);
        if let Some(heard) = self.heard.get_mut(&key) {
            heard.copies = heard.copies.saturating_add(1);
            if let Some(slot) = heard.senders.iter_mut().find(|s| s.is_none_or(|s| s == from)) {
                *slot = Some(from);
            }
            return;
        }
        if self.heard.len() >= COPIES_REMEMBERED
            && let Some((_, oldest)) = self.order.pop_front()
        {
            self.heard.remove(&oldest);
        }
        let mut senders = [None; SENDERS_KEPT];
        senders[0] = Some(from);
        self.heard.insert(key, Heard { copies: 1, senders, first_at: now });
        self.order.push_back((now, key));
    }

    pub(super) fn forget(&mut self, now: Micros) {
        while let Some(&(at, key)) = self.order.front() {
            if now.us_since(at) < COPY_MEMORY_US {
                break;
            }
            self.order.pop_front();
            if self.heard.get(&key).is_some_and(|h| h.first_at == at) {
                self.heard.remove(&key);
            }
        }
    }

    /// The earliest moment a waiting relay is due.
    pub(super) fn next_due(&self) -> Option<Micros> {
        self.waiting.iter().map(|w| w.due).min()
    }

    /// Relays waiting now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

impl RadioLink {
    /// Notes a broadcast packet heard from a verified neighbour.
    pub(super) fn copy_heard(&mut self, packet: &[u8], from: ShortId, now: Micros) {
        if self.settings.flood_suppress_copies > 0 {
            self.relays.copy_in(packet, from, now);
        }
    }

    /// Whether every neighbour of this node is known to have the flood
    /// `heard`: it sent a copy, or a sender of a copy says it hears it.
    fn all_covered(&self, heard: &Heard) -> bool {
        self.uncovered(heard).0 == 0
    }

    /// Neighbours not known to have the flood `heard`, and neighbours in all.
    fn uncovered(&self, heard: &Heard) -> (usize, usize) {
        let senders: Vec<ShortId> = heard.senders.iter().flatten().copied().collect();
        let neighbours: Vec<(ShortId, NeighbourFilter)> =
            self.neighbours.usable().map(|n| (n.short, n.hears)).collect();
        uncovered(&neighbours, &senders)
    }

    /// Whether relaying the flood `key` would tell no neighbour anything
    /// new: enough copies heard, and every neighbour covered.
    pub(super) fn relay_redundant(&self, key: u64) -> bool {
        self.relays
            .heard
            .get(&key)
            .is_some_and(|heard| heard.copies >= self.settings.flood_suppress_copies && self.all_covered(heard))
    }

    /// Whether a broadcast of `packet` waits (managed flooding): it is a
    /// relay of a packet heard on this channel, and managed flooding is on.
    /// If so it is taken, and goes out (or not) at its moment.
    pub(super) fn relay_later(&mut self, packet: &[u8], now: Micros) -> bool {
        if self.settings.flood_suppress_copies == 0 || !is_relay(packet) {
            return false;
        }
        self.relays.forget(now);
        let key = flood_key(packet);
        let Some(heard) = self.relays.heard.get(&key).copied() else { return false };
        if self.relays.waiting.iter().any(|w| w.key == key) {
            // Already waiting: one relay per packet.
            self.counters.relays_suppressed += 1;
            return true;
        }
        if self.relays.waiting.len() >= RELAYS_WAITING {
            return false;
        }
        let slot = self.slot_us(packet.len());
        let (open, neighbours) = self.uncovered(&heard);
        let slots = cover_slots(open, neighbours) + self.rng.unit() * JITTER_SLOTS;
        let due = now.after_us((slot as f64 * slots) as u64);
        self.relays.waiting.push(Waiting { key, due, packet: packet.to_vec() });
        true
    }

    /// The time on air of the first frame of a broadcast packet of `len`
    /// bytes: one slot of the relay delay.
    fn slot_us(&self, len: usize) -> u64 {
        let Some(radio) = self.radio else { return 0 };
        let frame_len = len.saturating_add(super::super::frame::BROADCAST_OVERHEAD).min(usize::from(radio.mtu));
        params_of(radio).time_on_air_us(frame_len)
    }

    /// Relays whose moment came: dropped if enough copies were heard,
    /// queued otherwise.
    pub(super) fn relays_due(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        if self.relays.next_due().is_none_or(|due| due > now) {
            return;
        }
        let (due, waiting): (Vec<Waiting>, Vec<Waiting>) =
            std::mem::take(&mut self.relays.waiting).into_iter().partition(|w| w.due <= now);
        self.relays.waiting = waiting;
        for relay in due {
            if self.relay_redundant(relay.key) {
                self.counters.relays_suppressed += 1;
                continue;
            }
            // A refusal is counted by `enqueue` (`packets_refused`); the
            // router was told "sent" when it handed the packet over, as for
            // any flood on a link.
            if self.enqueue(RadioDest::Everyone, &relay.packet, Some(relay.key), now, out).is_ok() {
                self.counters.relays_sent += 1;
            }
        }
    }
}
