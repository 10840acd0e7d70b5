//! Store-and-forward: packets for nodes that cannot be reached now.
//!
//! Owns: the held packets per destination, their time to live, the caps per
//! destination and in total (over a cap the oldest packet goes first), and
//! the record format the runtime persists them in. The router decides when
//! to hold and when to flush; this module only keeps them.
//!
//! Record (persisted under its key): `expires (unix ms) u64 BE | flags u8 |
//! destination (16) | packet`. Flag bit 0: the packet originated here and
//! its inner fields still have to be sealed once the destination's key is
//! known. Relays only ever hold packets as they received them, so a sealed
//! packet stays sealed on their disk.

use crate::time::UnixMillis;
use std::collections::{BTreeMap, VecDeque};
use weft_plugin_api::Address;

/// Limits of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// How long a packet is kept, ms.
    pub ttl_ms: u64,
    /// Packets kept per destination.
    pub per_destination: usize,
    /// Packets kept in total.
    pub total: usize,
}

impl Default for HoldLimits {
    fn default() -> Self {
        HoldLimits { ttl_ms: 24 * 3600 * 1000, per_destination: 256, total: 8192 }
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
    /// The packet.
    pub packet: Vec<u8>,
}

impl Held {
    /// The persisted form.
    pub fn record(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(25 + self.packet.len());
        out.extend_from_slice(&self.expires.as_unix_ms().to_be_bytes());
        out.push(u8::from(self.needs_seal));
        out.extend_from_slice(&self.destination.0);
        out.extend_from_slice(&self.packet);
        out
    }

    /// Reads a persisted record.
    pub fn from_record(key: u64, record: &[u8]) -> Option<Held> {
        let (expires, rest) = record.split_first_chunk::<8>()?;
        let (&flags, rest) = rest.split_first()?;
        let (destination, packet) = rest.split_first_chunk::<16>()?;
        if flags > 1 || packet.is_empty() {
            return None;
        }
        Some(Held {
            key,
            destination: Address(*destination),
            expires: UnixMillis::from_unix_ms(u64::from_be_bytes(*expires)),
            needs_seal: flags == 1,
            packet: packet.to_vec(),
        })
    }
}

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
    /// Packets pushed out by a cap.
    pub evicted: u64,
}

/// The store.
#[derive(Debug, Default)]
pub struct HoldQueue {
    by_destination: BTreeMap<Address, VecDeque<Held>>,
    order: BTreeMap<u64, Address>,
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
        expires: UnixMillis,
    ) -> Vec<HoldChange> {
        let key = self.next_key;
        self.next_key += 1;
        self.counters.held += 1;
        let held = Held { key, destination, expires, needs_seal, packet };
        let mut changes = vec![HoldChange::Put(held.clone())];
        self.insert(held);
        changes.extend(self.enforce_caps(destination));
        changes
    }

    /// Takes back packets read from disk at start.
    pub fn restore(&mut self, held: Held) -> Vec<HoldChange> {
        self.next_key = self.next_key.max(held.key + 1);
        let destination = held.destination;
        self.insert(held);
        self.enforce_caps(destination)
    }

    fn insert(&mut self, held: Held) {
        self.order.insert(held.key, held.destination);
        let queue = self.by_destination.entry(held.destination).or_default();
        let at = queue.iter().position(|h| h.key > held.key).unwrap_or(queue.len());
        queue.insert(at, held);
    }

    fn enforce_caps(&mut self, destination: Address) -> Vec<HoldChange> {
        let mut changes = Vec::new();
        while self.by_destination.get(&destination).is_some_and(|q| q.len() > self.limits.per_destination) {
            if let Some(old) = self.by_destination.get_mut(&destination).and_then(VecDeque::pop_front) {
                self.order.remove(&old.key);
                self.counters.evicted += 1;
                changes.push(HoldChange::Delete(old.key));
            }
        }
        while self.order.len() > self.limits.total {
            let Some((key, address)) = self.order.pop_first() else { break };
            if let Some(queue) = self.by_destination.get_mut(&address) {
                queue.retain(|h| h.key != key);
                if queue.is_empty() {
                    self.by_destination.remove(&address);
                }
            }
            self.counters.evicted += 1;
            changes.push(HoldChange::Delete(key));
        }
        changes
    }

    /// Everything held for `destination`, oldest first, removed from the store.
    pub fn take(&mut self, destination: &Address) -> Vec<Held> {
        let held: Vec<Held> = self.by_destination.remove(destination).map(Vec::from).unwrap_or_default();
        for h in &held {
            self.order.remove(&h.key);
        }
        held
    }

    /// Drops packets whose time ran out.
    pub fn expire(&mut self, now: UnixMillis) -> Vec<HoldChange> {
        let mut changes = Vec::new();
        for queue in self.by_destination.values_mut() {
            queue.retain(|h| {
                let keep = h.expires > now;
                if !keep {
                    changes.push(HoldChange::Delete(h.key));
                }
                keep
            });
        }
        self.by_destination.retain(|_, q| !q.is_empty());
        for change in &changes {
            if let HoldChange::Delete(key) = change {
                self.order.remove(key);
            }
        }
        self.counters.expired += changes.len() as u64;
        changes
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
            packet: vec![0x40, 1, 2],
        };
        assert_eq!(Held::from_record(9, &held.record()), Some(held.clone()));
        assert_eq!(Held::from_record(9, &held.record()[..20]), None);
        let mut bad = held.record();
        bad[8] = 7;
        assert_eq!(Held::from_record(9, &bad), None);
    }

    #[test]
    fn caps_push_out_the_oldest_and_ttl_expires() {
        let mut queue = HoldQueue::new(HoldLimits { ttl_ms: 0, per_destination: 2, total: 3 });
        queue.hold(A, vec![1], false, UnixMillis::from_unix_ms(100));
        queue.hold(A, vec![2], false, UnixMillis::from_unix_ms(100));
        let changes = queue.hold(A, vec![3], false, UnixMillis::from_unix_ms(100));
        assert_eq!(changes[1], HoldChange::Delete(1), "oldest for A goes");
        queue.hold(B, vec![4], false, UnixMillis::from_unix_ms(50));
        let changes = queue.hold(B, vec![5], false, UnixMillis::from_unix_ms(100));
        assert_eq!(changes[1], HoldChange::Delete(2), "oldest overall goes");
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.expire(UnixMillis::from_unix_ms(60)), vec![HoldChange::Delete(4)]);
        let taken: Vec<Vec<u8>> = queue.take(&A).into_iter().map(|h| h.packet).collect();
        assert_eq!(taken, vec![vec![3]]);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.counters, HoldCounters { held: 5, delivered: 0, expired: 1, evicted: 2, requeued: 0 });
    }
}
