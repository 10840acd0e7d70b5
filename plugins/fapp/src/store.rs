//! The relay's announce store.
//!
//! Owns: [`Store`] and its rules. It holds verified announces only (the
//! caller checks signatures first) and never re-signs or re-encodes them:
//! each entry keeps the announce's bytes exactly as they arrived.
//!
//! Rules:
//! - **one entry per therapist**; an announce replaces it only with a higher
//!   sequence (same sequence: duplicate, lower: stale; both ignored);
//! - **TTL**: an entry lapses at the announce's own `expires`, or `max_ttl_s`
//!   after it was stored, whichever comes first; lapsed entries are never
//!   returned and are purged on every insert when full and by the periodic sweep;
//! - **capacity**: at most `capacity` entries. When a new therapist arrives
//!   at a full store, expired entries go first; then the entry first in this
//!   **eviction order** goes: (1) announces offering no slots (withdrawals,
//!   kept only to stop replays of older sequences), (2) the soonest to lapse,
//!   (3) the least recently stored. The newcomer takes part in the ranking:
//!   if it would be first to go, it is not stored.
//!
//! Queries scan every entry: the per-entry [`Summary`] is flat, so ten
//! thousand entries take well under a millisecond (`benches/query.rs`).

use crate::filter::Summary;
use crate::messages::{Filter, SignedAnnounce, Slot};
use std::collections::{BTreeMap, BinaryHeap};
use weft_plugin_api::Address;

/// One stored announce.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Flat copy of what the filters test.
    pub summary: Summary,
    /// The offered slots.
    pub slots: Vec<Slot>,
    /// The therapist.
    pub therapist: Address,
    /// The announce's sequence.
    pub sequence: u64,
    /// The announce as received, without its tag (`[body, signature]`).
    pub item: Vec<u8>,
    /// Unix seconds when it was stored.
    pub stored_at: u64,
    /// Unix seconds when it lapses.
    pub lapses_at: u64,
}

impl Entry {
    /// Eviction rank: smaller goes first.
    fn rank(&self) -> (bool, u64, u64) {
        (!self.slots.is_empty(), self.lapses_at, self.stored_at)
    }
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// A therapist not seen before.
    New,
    /// A newer announce replaced the stored one.
    Replaced,
    /// The same sequence again (a flood copy or a re-flood): nothing changed.
    Duplicate,
    /// Older than the stored one: ignored.
    Stale,
    /// Already past its expiry.
    Expired,
    /// The store is full and the newcomer ranks below every entry.
    Refused,
}

/// Store limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries.
    pub capacity: usize,
    /// Longest an entry is kept, in seconds, whatever its announce says.
    pub max_ttl_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { capacity: 10_000, max_ttl_s: 7 * 24 * 3600 }
    }
}

/// Counters of what the store did, for `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounters {
    /// Entries evicted to make room.
    pub evicted: u64,
    /// Entries dropped because they lapsed.
    pub expired: u64,
}

/// What a query scan reads of each entry, kept in its own dense array
/// (48 bytes an entry) so ten thousand of them stream through the cache.
#[derive(Debug, Clone, Copy)]
struct Hot {
    summary: Summary,
    lapses_at: u64,
}

/// The relay's announces, one per therapist.
#[derive(Debug, Clone, Default)]
pub struct Store {
    entries: Vec<Entry>,
    /// `hot[i]` belongs to `entries[i]`.
    hot: Vec<Hot>,
    index: BTreeMap<Address, usize>,
    limits: Limits,
    /// What happened so far.
    pub counters: StoreCounters,
}

impl Store {
    /// An empty store.
    pub fn new(limits: Limits) -> Self {
        Store {
            entries: Vec::new(),
            hot: Vec::new(),
            index: BTreeMap::new(),
            limits,
            counters: StoreCounters::default(),
        }
    }

    /// Number of entries (lapsed ones included until the next purge).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The entry of `therapist`.
    pub fn get(&self, therapist: &Address) -> Option<&Entry> {
        self.index.get(therapist).map(|&i| &self.entries[i])
    }

    /// All entries, in no particular order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Offers a verified announce at `now_s`.
    pub fn insert(&mut self, announce: &SignedAnnounce, now_s: u64) -> Inserted {
        self.insert_entry(Self::entry(announce, now_s, self.limits), now_s)
    }

    /// Builds the entry a verified announce becomes.
    pub fn entry(announce: &SignedAnnounce, now_s: u64, limits: Limits) -> Entry {
        Entry {
            summary: Summary::of(&announce.body),
            slots: announce.body.slots.clone(),
            therapist: announce.therapist,
            sequence: announce.body.sequence,
            item: announce.item(),
            stored_at: now_s,
            lapses_at: announce.body.expires.min(now_s.saturating_add(limits.max_ttl_s)),
        }
    }

    /// Inserts a prepared entry (also used to restore handed-over state).
    pub fn insert_entry(&mut self, entry: Entry, now_s: u64) -> Inserted {
        if entry.lapses_at <= now_s {
            return Inserted::Expired;
        }
        if let Some(&i) = self.index.get(&entry.therapist) {
            let current = &mut self.entries[i];
            return if entry.sequence > current.sequence {
                self.hot[i] = Hot { summary: entry.summary, lapses_at: entry.lapses_at };
                *current = entry;
                Inserted::Replaced
            } else if entry.sequence == current.sequence {
                Inserted::Duplicate
            } else {
                Inserted::Stale
            };
        }
        if self.entries.len() >= self.limits.capacity {
            self.purge(now_s);
        }
        if self.entries.len() >= self.limits.capacity {
            let Some(victim) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].rank()) else {
                return Inserted::Refused; // capacity 0
            };
            if entry.rank() <= self.entries[victim].rank() {
                return Inserted::Refused;
            }
            self.remove_at(victim);
            self.counters.evicted += 1;
        }
        self.index.insert(entry.therapist, self.entries.len());
        self.hot.push(Hot { summary: entry.summary, lapses_at: entry.lapses_at });
        self.entries.push(entry);
        Inserted::New
    }

    fn remove_at(&mut self, i: usize) {
        self.hot.swap_remove(i);
        let gone = self.entries.swap_remove(i);
        self.index.remove(&gone.therapist);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.therapist, i);
        }
    }

    /// Drops every entry that has lapsed at `now_s`; returns how many.
    pub fn purge(&mut self, now_s: u64) -> usize {
        let mut i = 0;
        let mut dropped = 0;
        while i < self.hot.len() {
            if self.hot[i].lapses_at <= now_s {
                self.remove_at(i);
                dropped += 1;
            } else {
                i += 1;
            }
        }
        self.counters.expired += dropped as u64;
        dropped
    }

    /// The slots of entry `i`, read only when a filter needs them. Out of
    /// line so the scan never touches the (cold) entries speculatively.
    #[inline(never)]
    fn slots_at(&self, i: usize) -> &[Slot] {
        self.entries.get(i).map_or(&[], |e| e.slots.as_slice())
    }

    /// The announces matching `filter` at `now_s`, earliest matching slot
    /// first, at most `filter.max_results`. Lapsed entries are skipped.
    pub fn query(&self, filter: &Filter, now_s: u64) -> Vec<&Entry> {
        let now_minute = u32::try_from(now_s / 60).unwrap_or(u32::MAX);
        let k = filter.max_results.max(1) as usize;
        // The k best so far in a max-heap: the scan allocates nothing per
        // entry, and most matches are turned away by one comparison.
        let mut best: BinaryHeap<(u32, usize)> = BinaryHeap::with_capacity(k + 1);
        for (i, hot) in self.hot.iter().enumerate() {
            if hot.lapses_at <= now_s {
                continue;
            }
            let Some(start) = filter.matches_with(&hot.summary, || self.slots_at(i), now_minute) else {
                continue;
            };
            if best.len() < k {
                best.push((start, i));
            } else if best.peek().is_some_and(|worst| (start, i) < *worst) {
                best.pop();
                best.push((start, i));
            }
        }
        let hits = best.into_sorted_vec();
        hits.into_iter().map(|(_, i)| &self.entries[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::tests::sample_body;

    const NOW: u64 = 1_780_000_000;

    /// A signed-looking announce of therapist `n` (signatures are the
    /// caller's business; the store trusts what it is given).
    fn announce(n: u8, sequence: u64, expires: u64, slots: usize) -> SignedAnnounce {
        let mut body = sample_body(slots);
        body.therapist_key = [n; 32];
        body.sequence = sequence;
        body.expires = expires;
        SignedAnnounce::from_parts(body.encode(), [0; 64]).unwrap()
    }

    fn small(capacity: usize) -> Store {
        Store::new(Limits { capacity, max_ttl_s: 3600 })
    }

    #[test]
    fn newest_sequence_wins_and_older_ones_are_ignored() {
        let mut store = small(10);
        assert_eq!(store.insert(&announce(1, 5, NOW + 100, 3), NOW), Inserted::New);
        assert_eq!(store.insert(&announce(1, 5, NOW + 100, 3), NOW), Inserted::Duplicate);
        assert_eq!(store.insert(&announce(1, 4, NOW + 100, 2), NOW), Inserted::Stale);
        assert_eq!(store.get(&announce(1, 0, 0, 0).therapist).unwrap().slots.len(), 3);
        assert_eq!(store.insert(&announce(1, 6, NOW + 100, 1), NOW), Inserted::Replaced);
        assert_eq!(store.len(), 1);
        assert_eq!(store.entries()[0].slots.len(), 1);
        assert_eq!(store.entries()[0].item, announce(1, 6, NOW + 100, 1).item(), "kept verbatim");
    }

    #[test]
    fn entries_lapse_at_their_expiry_or_the_relay_ttl() {
        let mut store = small(10);
        assert_eq!(store.insert(&announce(1, 1, NOW, 1), NOW), Inserted::Expired);
        store.insert(&announce(2, 1, NOW + 60, 1), NOW);
        store.insert(&announce(3, 1, NOW + 999_999, 1), NOW);
        let any = Filter { max_results: 10, ..Filter::default() };
        // Query a time before the slots start (sample slots are in June 2026).
        assert_eq!(store.query(&any, NOW + 59).len(), 2);
        assert_eq!(store.query(&any, NOW + 60).len(), 1, "2 lapsed at its own expiry");
        assert_eq!(store.query(&any, NOW + 3600).len(), 0, "3 lapsed at the relay's max TTL");
        assert_eq!(store.purge(NOW + 3600), 2);
        assert!(store.is_empty());
        assert_eq!(store.counters.expired, 2);
    }

    #[test]
    fn a_full_store_evicts_in_the_stated_order() {
        let mut store = small(3);
        store.insert(&announce(1, 1, NOW + 500, 2), NOW); // lapses last
        store.insert(&announce(2, 1, NOW + 300, 2), NOW); // lapses first among offers
        store.insert(&announce(3, 1, NOW + 900, 0), NOW); // a withdrawal: no slots
        let has = |s: &Store, n: u8| s.get(&announce(n, 0, 0, 0).therapist).is_some();
        // (1) the withdrawal goes first, even though it lapses last.
        assert_eq!(store.insert(&announce(4, 1, NOW + 400, 2), NOW + 1), Inserted::New);
        assert!(!has(&store, 3) && has(&store, 1) && has(&store, 2) && has(&store, 4));
        // (2) then the soonest to lapse.
        assert_eq!(store.insert(&announce(5, 1, NOW + 600, 2), NOW + 2), Inserted::New);
        assert!(!has(&store, 2) && has(&store, 4));
        // A newcomer that would be first to go is refused.
        assert_eq!(store.insert(&announce(6, 1, NOW + 100, 2), NOW + 3), Inserted::Refused);
        assert_eq!(store.insert(&announce(7, 1, NOW + 900, 0), NOW + 3), Inserted::Refused);
        // (3) equal expiry: the least recently stored goes.
        let mut store = small(2);
        store.insert(&announce(1, 1, NOW + 500, 1), NOW);
        store.insert(&announce(2, 1, NOW + 500, 1), NOW + 1);
        store.insert(&announce(3, 1, NOW + 500, 1), NOW + 2);
        assert!(!has(&store, 1) && has(&store, 2) && has(&store, 3));
        // Expired entries are purged before anything is evicted.
        let mut store = small(2);
        store.insert(&announce(1, 1, NOW + 10, 1), NOW);
        store.insert(&announce(2, 1, NOW + 500, 1), NOW);
        assert_eq!(store.insert(&announce(3, 1, NOW + 100, 1), NOW + 20), Inserted::New);
        assert_eq!((store.counters.expired, store.counters.evicted), (1, 0));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn queries_return_the_earliest_matches_first_and_respect_max_results() {
        let mut store = small(100);
        for n in 0..20u8 {
            let mut body = sample_body(1);
            body.therapist_key = [n; 32];
            body.expires = NOW + 1000;
            body.slots[0].start += (20 - n as u32) * 60; // therapist 19 is earliest
            store.insert(&SignedAnnounce::from_parts(body.encode(), [0; 64]).unwrap(), NOW);
        }
        let filter = Filter { max_results: 3, ..Filter::default() };
        let got: Vec<Address> = store.query(&filter, NOW).iter().map(|e| e.therapist).collect();
        let expected: Vec<Address> = [19u8, 18, 17].iter().map(|&n| announce(n, 0, 0, 0).therapist).collect();
        assert_eq!(got, expected);
    }
}
