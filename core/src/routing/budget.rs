//! The announce budget of one link: announces may use only a share of the
//! link's bandwidth (Reticulum: 2 %); the rest waits in a queue that sends
//! fewer-hop announces first.
//!
//! Owns: the token bucket and the waiting queue of one link. The router asks
//! [`AnnounceBudget::offer`] and transmits what [`AnnounceBudget::release`]
//! hands back when the tokens suffice. Packets are shared buffers: one
//! rebroadcast waits on many links without a copy per link.

use super::fast_hash::FastMap;
use crate::time::Millis;
use std::collections::VecDeque;
use std::sync::Arc;
use weft_plugin_api::Address;

/// Announces waiting per link before the farthest are dropped.
pub const QUEUE_LIMIT: usize = 512;

/// One waiting announce: its arrival number, origin and packet.
type Waiting = (u64, Address, Arc<[u8]>);

/// The bytes a link may spend on announces: a share of its bandwidth,
/// refilled by the millisecond up to a burst. (Like
/// [`super::limits::TokenBucket`], but counted in bytes, spent by any
/// amount, and able to say when an amount will be there.)
#[derive(Debug, Clone)]
struct ByteTokens {
    per_ms: f64,
    burst: f64,
    tokens: f64,
    refilled: Millis,
}

impl ByteTokens {
    /// `share` of `bandwidth_bps`, full at `burst_bytes`.
    fn new(bandwidth_bps: u64, share: f64, burst_bytes: usize, now: Millis) -> ByteTokens {
        let per_ms = (bandwidth_bps as f64 / 8.0 / 1000.0 * share).max(1e-6);
        ByteTokens { per_ms, burst: burst_bytes as f64, tokens: burst_bytes as f64, refilled: now }
    }

    fn refill(&mut self, now: Millis) {
        let elapsed = now.ms_since(self.refilled) as f64;
        self.tokens = (self.tokens + elapsed * self.per_ms).min(self.burst);
        self.refilled = now;
    }

    /// Spends `bytes` if they are there.
    fn spend(&mut self, bytes: usize) -> bool {
        let enough = self.tokens >= bytes as f64;
        if enough {
            self.tokens -= bytes as f64;
        }
        enough
    }

    /// When `bytes` will be there (as of the last refill).
    fn ready_at(&self, bytes: usize) -> Millis {
        let missing = (bytes as f64 - self.tokens).max(0.0);
        self.refilled.after_ms((missing / self.per_ms).ceil() as u64)
    }
}

/// One link's budget.
///
/// The queue is one FIFO per distance from the origin (arrival numbers
/// only grow, so each FIFO is in arrival order): the next announce is the
/// front of the nearest non-empty one, the farthest the back of the
/// farthest. An announce taken back (`forget`, or replaced by a newer one
/// of its origin) only leaves `by_origin`; its entry stays in its FIFO,
/// dead, until it reaches an end and is skipped. This is the same order as
/// a sorted map of (distance, arrival), without a tree insert and removal
/// per announce (the cold start of a 1,000-node mesh offers ~16 million).
#[derive(Debug, Clone)]
pub struct AnnounceBudget {
    tokens: ByteTokens,
    /// Waiting announces by distance from their origin, oldest first; some
    /// entries are dead (see above).
    by_hops: Vec<VecDeque<Waiting>>,
    /// The live entry of each waiting origin: (distance, arrival).
    by_origin: FastMap<Address, (u8, u64)>,
    /// Entries in `by_hops`, dead ones included.
    entries: usize,
    /// The next live announce: (distance, arrival, bytes).
    first: Option<(u8, u64, usize)>,
    /// When the first waiting announce can go (cached: asked after every event).
    due: Option<Millis>,
    arrivals: u64,
    /// Announces dropped because the queue was full.
    pub dropped: u64,
}

impl AnnounceBudget {
    /// A budget of `share` of `bandwidth_bps`, able to burst `burst_bytes`.
    pub fn new(bandwidth_bps: u64, share: f64, burst_bytes: usize, now: Millis) -> AnnounceBudget {
        AnnounceBudget {
            tokens: ByteTokens::new(bandwidth_bps, share, burst_bytes, now),
            by_hops: Vec::new(),
            by_origin: FastMap::default(),
            entries: 0,
            first: None,
            due: None,
            arrivals: 0,
            dropped: 0,
        }
    }

    /// Whether an entry of the distance-`hops` FIFO is the live one of its origin.
    fn live(by_origin: &FastMap<Address, (u8, u64)>, hops: u8, entry: &Waiting) -> bool {
        by_origin.get(&entry.1) == Some(&(hops, entry.0))
    }

    /// The next live announce, dead entries before it dropped.
    fn front(&mut self) -> Option<(u8, &Waiting)> {
        let by_origin = &self.by_origin;
        for (hops, fifo) in self.by_hops.iter_mut().enumerate() {
            let hops = hops as u8;
            while let Some(entry) = fifo.front() {
                if Self::live(by_origin, hops, entry) {
                    break;
                }
                fifo.pop_front();
                self.entries -= 1;
            }
            if let Some(entry) = fifo.front() {
                return Some((hops, entry));
            }
        }
        None
    }

    /// Offers an announce of `origin`, `hops` from it. Returns it back when
    /// it may go now; otherwise it waits, replacing an older announce of the
    /// same origin that still waits (or, with a full queue, the farthest
    /// waiting announce is dropped).
    pub fn offer(&mut self, origin: Address, hops: u8, packet: Arc<[u8]>, now: Millis) -> Option<Arc<[u8]>> {
        self.tokens.refill(now);
        if self.by_origin.is_empty() && self.tokens.spend(packet.len()) {
            return Some(packet);
        }
        self.arrivals += 1;
        // An older announce of the origin still waiting is replaced: its
        // entry is dead from now on.
        let replaced = self.by_origin.insert(origin, (hops, self.arrivals));
        let len = packet.len();
        let index = usize::from(hops);
        if self.by_hops.len() <= index {
            self.by_hops.resize_with(index + 1, VecDeque::new);
        }
        self.by_hops[index].push_back((self.arrivals, origin, packet));
        self.entries += 1;
        let mut first_gone = replaced.is_some_and(|old| self.is_first(old));
        if self.by_origin.len() > QUEUE_LIMIT {
            first_gone |= self.drop_farthest().is_some_and(|dropped| self.is_first(dropped));
        }
        if self.entries > 4 * QUEUE_LIMIT {
            self.compact();
        }
        if first_gone {
            self.find_first();
        } else if self.first.is_none_or(|(first_hops, _, _)| hops < first_hops) {
            self.first = Some((hops, self.arrivals, len));
        }
        self.update_due();
        None
    }

    /// Drops the live announce farthest from its origin, latest first;
    /// returns its (distance, arrival).
    fn drop_farthest(&mut self) -> Option<(u8, u64)> {
        let by_origin = &mut self.by_origin;
        for (hops, fifo) in self.by_hops.iter_mut().enumerate().rev() {
            while let Some(entry) = fifo.pop_back() {
                self.entries -= 1;
                if Self::live(by_origin, hops as u8, &entry) {
                    by_origin.remove(&entry.1);
                    self.dropped += 1;
                    return Some((hops as u8, entry.0));
                }
            }
        }
        None
    }

    /// Whether the entry at (distance, arrival) is the first one.
    fn is_first(&self, (hops, arrival): (u8, u64)) -> bool {
        self.first.is_some_and(|(h, a, _)| (h, a) == (hops, arrival))
    }

    /// Looks for the first live announce again.
    fn find_first(&mut self) {
        self.first = self.front().map(|(hops, (arrival, _, packet))| (hops, *arrival, packet.len()));
    }

    /// Removes the dead entries.
    fn compact(&mut self) {
        let by_origin = &self.by_origin;
        for (hops, fifo) in self.by_hops.iter_mut().enumerate() {
            fifo.retain(|entry| Self::live(by_origin, hops as u8, entry));
        }
        self.entries = self.by_hops.iter().map(VecDeque::len).sum();
    }

    /// Drops the waiting announce of `origin` (the neighbour has it already).
    pub fn forget(&mut self, origin: &Address) {
        // Only the first announce sets when the queue may send next.
        if let Some(forgotten) = self.by_origin.remove(origin)
            && self.is_first(forgotten)
        {
            self.find_first();
            self.update_due();
        }
    }

    /// Waiting announces that may go now, in order.
    pub fn release(&mut self, now: Millis) -> Vec<Arc<[u8]>> {
        self.tokens.refill(now);
        let mut out = Vec::new();
        while let Some((hops, entry)) = self.front() {
            let size = entry.2.len();
            if !self.tokens.spend(size) {
                break;
            }
            let Some((_, origin, packet)) = self.by_hops[usize::from(hops)].pop_front() else { break };
            self.entries -= 1;
            self.by_origin.remove(&origin);
            out.push(packet);
        }
        self.find_first();
        self.update_due();
        out
    }

    /// When the next waiting announce can go, if any waits.
    pub fn next_release(&self) -> Option<Millis> {
        self.due
    }

    fn update_due(&mut self) {
        self.due = self.first.map(|(_, _, len)| self.tokens.ready_at(len));
    }

    /// Announces waiting.
    pub fn waiting(&self) -> usize {
        self.by_origin.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_percent_of_a_link_paces_announces_nearest_first() {
        // 100 kbit/s at 2 %: 0.25 bytes per ms; burst of one 100-byte announce.
        let mut budget = AnnounceBudget::new(100_000, 0.02, 100, Millis::ZERO);
        let origin = |n: u8| Address([n; 16]);
        assert!(budget.offer(origin(0), 0, vec![0u8; 100].into(), Millis::ZERO).is_some());
        assert!(budget.offer(origin(5), 5, vec![5u8; 100].into(), Millis::ZERO).is_none());
        assert!(budget.offer(origin(1), 2, vec![2u8; 100].into(), Millis::ZERO).is_none());
        assert!(
            budget.offer(origin(1), 1, vec![1u8; 100].into(), Millis::ZERO).is_none(),
            "replaces the waiting one of origin 1"
        );
        assert_eq!(budget.waiting(), 2);
        assert_eq!(budget.next_release(), Some(Millis::from_ms(400)));
        assert!(budget.release(Millis::from_ms(399)).is_empty());
        assert_eq!(budget.release(Millis::from_ms(400)), vec![Arc::from(vec![1u8; 100])], "fewer hops first");
        assert_eq!(budget.release(Millis::from_ms(800)), vec![Arc::from(vec![5u8; 100])]);
        assert_eq!(budget.waiting(), 0);
    }

    #[test]
    fn a_full_queue_drops_the_farthest() {
        let mut budget = AnnounceBudget::new(8_000, 0.02, 0, Millis::ZERO);
        for i in 0..QUEUE_LIMIT {
            budget.offer(
                Address([(i % 256) as u8, (i / 256) as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                3,
                vec![0u8; 10].into(),
                Millis::ZERO,
            );
        }
        budget.offer(Address([0xff; 16]), 1, vec![1u8; 10].into(), Millis::ZERO);
        assert_eq!((budget.waiting(), budget.dropped), (QUEUE_LIMIT, 1));
    }
}

/// The budget's queue as it was first written (a sorted map of (distance,
/// arrival)), kept as the reference the FIFOs must match operation by
/// operation.
#[cfg(test)]
mod reference {
    use super::*;
    use std::collections::BTreeMap;

    /// A waiting announce: its origin and packet.
    type Entry = (Address, Arc<[u8]>);

    /// The queue as a sorted map; the tokens are the budget's own.
    pub struct Reference {
        tokens: ByteTokens,
        queue: BTreeMap<(u8, u64), Entry>,
        by_origin: FastMap<Address, (u8, u64)>,
        arrivals: u64,
        pub dropped: u64,
    }

    impl Reference {
        pub fn new(bandwidth_bps: u64, share: f64, burst_bytes: usize, now: Millis) -> Reference {
            Reference {
                tokens: ByteTokens::new(bandwidth_bps, share, burst_bytes, now),
                queue: BTreeMap::new(),
                by_origin: FastMap::default(),
                arrivals: 0,
                dropped: 0,
            }
        }

        pub fn offer(&mut self, origin: Address, hops: u8, packet: Arc<[u8]>, now: Millis) -> Option<Arc<[u8]>> {
            self.tokens.refill(now);
            if self.queue.is_empty() && self.tokens.spend(packet.len()) {
                return Some(packet);
            }
            self.forget(&origin);
            self.arrivals += 1;
            let key = (hops, self.arrivals);
            self.queue.insert(key, (origin, packet));
            self.by_origin.insert(origin, key);
            if self.queue.len() > QUEUE_LIMIT
                && let Some((_, (dropped, _))) = self.queue.pop_last()
            {
                self.by_origin.remove(&dropped);
                self.dropped += 1;
            }
            None
        }

        pub fn forget(&mut self, origin: &Address) {
            if let Some(key) = self.by_origin.remove(origin) {
                self.queue.remove(&key);
            }
        }

        pub fn release(&mut self, now: Millis) -> Vec<Arc<[u8]>> {
            self.tokens.refill(now);
            let mut out = Vec::new();
            while let Some(entry) = self.queue.first_entry() {
                if !self.tokens.spend(entry.get().1.len()) {
                    break;
                }
                let (origin, packet) = entry.remove();
                self.by_origin.remove(&origin);
                out.push(packet);
            }
            out
        }

        pub fn next_release(&self) -> Option<Millis> {
            self.queue.first_key_value().map(|(_, (_, packet))| self.tokens.ready_at(packet.len()))
        }

        pub fn waiting(&self) -> usize {
            self.queue.len()
        }
    }

    /// Random offers, forgets and releases from a few hundred origins at up
    /// to 12 distances, with a queue that overflows: the FIFOs give out the
    /// same packets at the same moments as the sorted map, drop the same
    /// number, and always agree on when the next may go.
    #[test]
    fn the_fifos_behave_exactly_as_the_sorted_map() {
        use weft_plugin_api::internal::rng::SplitMix64;
        for seed in 0..20u64 {
            let mut rng = SplitMix64::new(seed);
            let mut fast = AnnounceBudget::new(100_000, 0.02, 300, Millis::ZERO);
            let mut slow = Reference::new(100_000, 0.02, 300, Millis::ZERO);
            let mut now = 0u64;
            let origins = 200 + rng.below(800);
            for step in 0..20_000u64 {
                now += rng.below(3);
                let at = Millis::from_ms(now);
                let origin = Address([
                    (rng.below(origins) % 256) as u8,
                    (rng.below(origins) / 256) as u8,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ]);
                match rng.below(10) {
                    0..=5 => {
                        let hops = rng.below(12) as u8;
                        let packet: Arc<[u8]> = vec![step as u8; 60 + rng.below(120) as usize].into();
                        assert_eq!(fast.offer(origin, hops, packet.clone(), at), slow.offer(origin, hops, packet, at));
                    }
                    6..=7 => {
                        fast.forget(&origin);
                        slow.forget(&origin);
                    }
                    _ => assert_eq!(fast.release(at), slow.release(at), "seed {seed} step {step}"),
                }
                assert_eq!(fast.next_release(), slow.next_release(), "seed {seed} step {step}");
                assert_eq!(fast.waiting(), slow.waiting(), "seed {seed} step {step}");
                assert_eq!(fast.dropped, slow.dropped, "seed {seed} step {step}");
            }
        }
    }
}
