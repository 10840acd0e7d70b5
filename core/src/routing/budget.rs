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
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_plugin_api::Address;

/// Announces waiting per link before the farthest are dropped.
pub const QUEUE_LIMIT: usize = 512;

/// Place in a queue: distance from the origin, then arrival order.
type QueueKey = (u8, u64);

/// One link's budget.
#[derive(Debug, Clone)]
pub struct AnnounceBudget {
    bytes_per_ms: f64,
    burst: f64,
    tokens: f64,
    refilled: Millis,
    /// Waiting announces by (distance from origin, arrival order): one per origin.
    queue: BTreeMap<QueueKey, (Address, Arc<[u8]>)>,
    by_origin: FastMap<Address, QueueKey>,
    /// When the first waiting announce can go (cached: asked after every event).
    due: Option<Millis>,
    arrivals: u64,
    /// Announces dropped because the queue was full.
    pub dropped: u64,
}

impl AnnounceBudget {
    /// A budget of `share` of `bandwidth_bps`, able to burst `burst_bytes`.
    pub fn new(bandwidth_bps: u64, share: f64, burst_bytes: usize, now: Millis) -> AnnounceBudget {
        let bytes_per_ms = (bandwidth_bps as f64 / 8.0 / 1000.0 * share).max(1e-6);
        let burst = burst_bytes as f64;
        AnnounceBudget {
            bytes_per_ms,
            burst,
            tokens: burst,
            refilled: now,
            queue: BTreeMap::new(),
            by_origin: FastMap::default(),
            due: None,
            arrivals: 0,
            dropped: 0,
        }
    }

    fn refill(&mut self, now: Millis) {
        let elapsed = now.ms_since(self.refilled) as f64;
        self.tokens = (self.tokens + elapsed * self.bytes_per_ms).min(self.burst);
        self.refilled = now;
    }

    /// Offers an announce of `origin`, `hops` from it. Returns it back when
    /// it may go now; otherwise it waits, replacing an older announce of the
    /// same origin that still waits (or, with a full queue, the farthest
    /// waiting announce is dropped).
    pub fn offer(&mut self, origin: Address, hops: u8, packet: Arc<[u8]>, now: Millis) -> Option<Arc<[u8]>> {
        self.refill(now);
        if self.queue.is_empty() && self.tokens >= packet.len() as f64 {
            self.tokens -= packet.len() as f64;
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
        self.update_due();
        None
    }

    /// Drops the waiting announce of `origin` (the neighbour has it already).
    pub fn forget(&mut self, origin: &Address) {
        if let Some(key) = self.by_origin.remove(origin) {
            self.queue.remove(&key);
            self.update_due();
        }
    }

    /// Waiting announces that may go now, in order.
    pub fn release(&mut self, now: Millis) -> Vec<Arc<[u8]>> {
        self.refill(now);
        let mut out = Vec::new();
        while let Some(entry) = self.queue.first_entry() {
            let size = entry.get().1.len() as f64;
            if self.tokens < size {
                break;
            }
            self.tokens -= size;
            let (origin, packet) = entry.remove();
            self.by_origin.remove(&origin);
            out.push(packet);
        }
        self.update_due();
        out
    }

    /// When the next waiting announce can go, if any waits.
    pub fn next_release(&self) -> Option<Millis> {
        self.due
    }

    fn update_due(&mut self) {
        self.due = self.queue.first_key_value().map(|(_, (_, packet))| {
            let missing = (packet.len() as f64 - self.tokens).max(0.0);
            self.refilled.after_ms((missing / self.bytes_per_ms).ceil() as u64)
        });
    }

    /// Announces waiting.
    pub fn waiting(&self) -> usize {
        self.queue.len()
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
