//! Store-and-forward: packets for nodes that cannot be reached now.
//!
//! Owns: the held packets per destination, their time to live, the caps per
//! destination, per source and in total (over a cap the oldest packet under
//! that cap goes first), and the record format the runtime persists them
//! in. The router decides when to hold and when to flush; this module only
//! keeps them.
//!
//! The *source* of a held packet is the neighbour that handed it over (a
//! relay cannot see who sealed a packet; the neighbour is who it can hold
//! to account): one neighbour filling the store pushes out only its own
//! packets, never those others handed over or this node's own.
//!
//! Record (persisted under its key): `expires (unix ms) u64 BE | flags u8 |
//! destination (16) | [source (16)] | packet`. Flag bit 0: the packet
//! originated here and its inner fields still have to be sealed once the
//! destination's key is known. Flag bit 1: a source follows. Relays only
//! ever hold packets as they received them, so a sealed packet stays sealed
//! on their disk.

use crate::time::UnixMillis;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use weft_plugin_api::Address;

/// Limits of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// How long a packet is kept, ms.
    pub ttl_ms: u64,
    /// Packets kept per destination.
    pub per_destination: usize,
    /// Packets kept per source (the neighbour that handed them over).
    pub per_source: usize,
    /// Packets kept in total.
    pub total: usize,
}

impl Default for HoldLimits {
    fn default() -> Self {
        HoldLimits { ttl_ms: 24 * 3600 * 1000, per_destination: 256, per_source: 2048, total: 8192 }
    }
}

/// One held packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Persistence key.
    pub key: u64,
    /// Where it goes.
    pub destination: Address,
    /// When it lapses.
    pub expires: UnixMillis,
    /// Originated here, inner fields not sealed yet.
    pub needs_seal: bool,
    /// The neighbour that handed it over (`None`: it originated here).
    pub source: Option<Address>,
    /// The packet.
    pub packet: Vec<u8>,
}

impl Held {
    /// The persisted form.
    pub fn record(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(41 + self.packet.len());
        out.extend_from_slice(&self.expires.as_unix_ms().to_be_bytes());
        out.push(u8::from(self.needs_seal) | if self.source.is_some() { RECORD_SOURCE } else { 0 });
        out.extend_from_slice(&self.destination.0);
        if let Some(source) = &self.source {
            out.extend_from_slice(&source.0);
        }
        out.extend_from_slice(&self.packet);
        out
    }

    /// Reads a persisted record.
    pub fn from_record(key: u64, record: &[u8]) -> Option<Held> {
        let (expires, rest) = record.split_first_chunk::<8>()?;
        let (&flags, rest) = rest.split_first()?;
        let (destination, rest) = rest.split_first_chunk::<16>()?;
        if flags > (RECORD_NEEDS_SEAL | RECORD_SOURCE) {
            return None;
        }
        let (source, packet) = if flags & RECORD_SOURCE != 0 {
            let (source, packet) = rest.split_first_chunk::<16>()?;
            (Some(Address(*source)), packet)
        } else {
            (None, rest)
        };
        if packet.is_empty() {
            return None;
        }
        Some(Held {
            key,
            destination: Address(*destination),
            expires: UnixMillis::from_unix_ms(u64::from_be_bytes(*expires)),
            needs_seal: flags & RECORD_NEEDS_SEAL != 0,
            source,
            packet: packet.to_vec(),
        })
    }
}

/// Record flag: originated here, to be sealed once the key is known.
const RECORD_NEEDS_SEAL: u8 = 0b01;
/// Record flag: the source's address follows the destination.
const RECORD_SOURCE: u8 = 0b10;

/// What changed in the store, for the runtime to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    /// Write this packet under its key.
    Put(Held),
    /// Delete the packet with this key.
    Delete(u64),
}

/// Counters of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HoldCounters {
    /// Packets taken in.
    pub held: u64,
    /// Packets sent on once a path appeared (a link took them).
    pub delivered: u64,
    /// Packets whose transmit a link refused once a path appeared: kept,
    /// and tried again.
    pub requeued: u64,
    /// Packets whose time ran out.
    pub expired: u64,
    /// Packets pushed out by a cap (any of them).
    pub evicted: u64,
    /// Of those, packets pushed out because their source held too many.
    pub evicted_per_source: u64,
}

/// The store.
#[derive(Debug, Default)]
pub struct HoldQueue {
    by_destination: BTreeMap<Address, VecDeque<Held>>,
    /// Keys of the packets each neighbour handed over, oldest first.
    by_source: BTreeMap<Address, BTreeSet<u64>>,
    /// Every key, oldest first: where it goes and who handed it over.
    order: BTreeMap<u64, (Address, Option<Address>)>,
    next_key: u64,
    limits: HoldLimits,
    /// Counters.
    pub counters: HoldCounters,
}

impl HoldQueue {
    /// An empty store with `limits`.
    pub fn new(limits: HoldLimits) -> HoldQueue {
        HoldQueue { limits, next_key: 1, ..HoldQueue::default() }
    }

    /// The limits.
    pub fn limits(&self) -> HoldLimits {
        self.limits
    }

    /// Holds a packet; returns the changes to persist (the new packet and
    /// whatever a cap pushed out).
    pub fn hold(
        &mut self,
        destination: Address,
        packet: Vec<u8>,
        needs_seal: bool,
        source: Option<Address>,
        expires: UnixMillis,
    ) -> Vec<HoldChange> {
        let key = self.next_key;
        self.next_key += 1;
        self.counters.held += 1;
        let held = Held { key, destination, expires, needs_seal, source, packet };
        let mut changes = vec![HoldChange::Put(held.clone())];
        self.insert(held);
        changes.extend(self.enforce_caps(destination, source));
        changes
    }

    /// Takes back packets read from disk at start.
    pub fn restore(&mut self, held: Held) -> Vec<HoldChange> {
        self.next_key = self.next_key.max(held.key + 1);
        let (destination, source) = (held.destination, held.source);
        self.insert(held);
        self.enforce_caps(destination, source)
    }

    fn insert(&mut self, held: Held) {
        self.order.insert(held.key, (held.destination, held.source));
        if let Some(source) = held.source {
            self.by_source.entry(source).or_default().insert(held.key);
        }
        let queue = self.by_destination.entry(held.destination).or_default();
        let at = queue.iter().position(|h| h.key > held.key).unwrap_or(queue.len());
        queue.insert(at, held);
    }

    fn enforce_caps(&mut self, destination: Address, source: Option<Address>) -> Vec<HoldChange> {
        let mut changes = Vec::new();
        while self.by_destination.get(&destination).is_some_and(|q| q.len() > self.limits.per_destination) {
            let Some(key) = self.by_destination.get(&destination).and_then(|q| q.front()).map(|h| h.key) else { break };
            self.remove(key);
            self.counters.evicted += 1;
            changes.push(HoldChange::Delete(key));
        }
        if let Some(source) = source {
            while self.by_source.get(&source).is_some_and(|keys| keys.len() > self.limits.per_source) {
                let Some(key) = self.by_source.get(&source).and_then(|keys| keys.first().copied()) else { break };
                self.remove(key);
                self.counters.evicted += 1;
                self.counters.evicted_per_source += 1;
                changes.push(HoldChange::Delete(key));
            }
        }
        while self.order.len() > self.limits.total {
            let Some(key) = self.order.keys().next().copied() else { break };
            self.remove(key);
            self.counters.evicted += 1;
            changes.push(HoldChange::Delete(key));
        }
        changes
    }

    /// Removes the packet under `key` from every index.
    fn remove(&mut self, key: u64) -> Option<Held> {
        let (destination, source) = self.order.remove(&key)?;
        if let Some(source) = source {
            self.forget_source(source, key);
        }
        let queue = self.by_destination.get_mut(&destination)?;
        let held = queue.iter().position(|h| h.key == key).and_then(|at| queue.remove(at));
        if queue.is_empty() {
            self.by_destination.remove(&destination);
        }
        held
    }

    fn forget_source(&mut self, source: Address, key: u64) {
        if let Some(keys) = self.by_source.get_mut(&source) {
            keys.remove(&key);
            if keys.is_empty() {
                self.by_source.remove(&source);
            }
        }
    }

    /// Everything held for `destination`, oldest first, removed from the store.
    pub fn take(&mut self, destination: &Address) -> Vec<Held> {
        let held: Vec<Held> = self.by_destination.remove(destination).map(Vec::from).unwrap_or_default();
        for h in &held {
            self.order.remove(&h.key);
            if let Some(source) = h.source {
                self.forget_source(source, h.key);
            }
        }
        held
    }

    /// Drops packets whose time ran out.
    pub fn expire(&mut self, now: UnixMillis) -> Vec<HoldChange> {
        let lapsed: Vec<u64> =
            self.by_destination.values().flatten().filter(|h| h.expires <= now).map(|h| h.key).collect();
        for key in &lapsed {
            self.remove(*key);
        }
        self.counters.expired += lapsed.len() as u64;
        lapsed.into_iter().map(HoldChange::Delete).collect()
    }

    /// Packets held that `source` handed over.
    pub fn held_from(&self, source: &Address) -> usize {
        self.by_source.get(source).map_or(0, BTreeSet::len)
    }

    /// Destinations something is held for.
    pub fn destinations(&self) -> impl Iterator<Item = &Address> {
        self.by_destination.keys()
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address([1; 16]);
    const B: Address = Address([2; 16]);

    #[test]
    fn records_round_trip_and_garbage_is_rejected() {
        let held = Held {
            key: 9,
            destination: A,
            expires: UnixMillis::from_unix_ms(77),
            needs_seal: true,
            source: None,
            packet: vec![0x40, 1, 2],
        };
        assert_eq!(Held::from_record(9, &held.record()), Some(held.clone()));
        let relayed = Held { source: Some(B), needs_seal: false, ..held.clone() };
        assert_eq!(Held::from_record(9, &relayed.record()), Some(relayed.clone()));
        assert_eq!(relayed.record().len(), held.record().len() + 16);
        assert_eq!(Held::from_record(9, &held.record()[..20]), None);
        let mut bad = held.record();
        bad[8] = 7;
        assert_eq!(Held::from_record(9, &bad), None);
    }

    #[test]
    fn caps_push_out_the_oldest_and_ttl_expires() {
        let mut queue = HoldQueue::new(HoldLimits { ttl_ms: 0, per_destination: 2, per_source: 3, total: 3 });
        queue.hold(A, vec![1], false, None, UnixMillis::from_unix_ms(100));
        queue.hold(A, vec![2], false, None, UnixMillis::from_unix_ms(100));
        let changes = queue.hold(A, vec![3], false, None, UnixMillis::from_unix_ms(100));
        assert_eq!(changes[1], HoldChange::Delete(1), "oldest for A goes");
        queue.hold(B, vec![4], false, None, UnixMillis::from_unix_ms(50));
        let changes = queue.hold(B, vec![5], false, None, UnixMillis::from_unix_ms(100));
        assert_eq!(changes[1], HoldChange::Delete(2), "oldest overall goes");
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.expire(UnixMillis::from_unix_ms(60)), vec![HoldChange::Delete(4)]);
        let taken: Vec<Vec<u8>> = queue.take(&A).into_iter().map(|h| h.packet).collect();
        assert_eq!(taken, vec![vec![3]]);
        assert_eq!(queue.len(), 1);
        assert_eq!(
            queue.counters,
            HoldCounters { held: 5, delivered: 0, expired: 1, evicted: 2, evicted_per_source: 0, requeued: 0 }
        );
    }

    #[test]
    fn a_neighbour_over_its_share_pushes_out_only_its_own_packets() {
        const C: Address = Address([3; 16]);
        const NOISY: Address = Address([9; 16]);
        let mut queue = HoldQueue::new(HoldLimits { ttl_ms: 0, per_destination: 100, per_source: 4, total: 10 });
        let later = UnixMillis::from_unix_ms(100);
        queue.hold(A, vec![1], false, Some(B), later);
        queue.hold(A, vec![2], true, None, later);
        // The noisy neighbour hands over many packets for many destinations.
        let mut pushed_out = Vec::new();
        for n in 0..50u8 {
            let destination = Address([100 + n; 16]);
            pushed_out.extend(queue.hold(destination, vec![n], false, Some(NOISY), later).into_iter().skip(1));
        }
        assert_eq!(queue.held_from(&NOISY), 4, "its share");
        assert_eq!(queue.held_from(&B), 1, "the other neighbour's packet stayed");
        assert_eq!(queue.len(), 6);
        assert_eq!(pushed_out.len(), 46);
        assert_eq!((queue.counters.evicted, queue.counters.evicted_per_source), (46, 46));
        // The newest four of the noisy neighbour's are what is left of it.
        let left: Vec<u8> = (46..50u8).flat_map(|n| queue.take(&Address([100 + n; 16]))).map(|h| h.packet[0]).collect();
        assert_eq!(left, vec![46, 47, 48, 49]);
        assert_eq!(queue.held_from(&NOISY), 0, "taking forgets the source's share");
        let own: Vec<(Option<Address>, Vec<u8>)> = queue.take(&A).into_iter().map(|h| (h.source, h.packet)).collect();
        assert_eq!(own, vec![(Some(B), vec![1]), (None, vec![2])]);
        // The total cap still holds across sources, oldest first.
        for n in 0..12u8 {
            queue.hold(C, vec![n], false, Some(Address([200 + n % 4; 16])), later);
        }
        assert_eq!(queue.len(), 10);
        assert!(queue.expire(UnixMillis::from_unix_ms(100)).len() == 10 && queue.is_empty());
        assert!((200..204).all(|n| queue.held_from(&Address([n; 16])) == 0), "expiry forgets sources");
    }
}
