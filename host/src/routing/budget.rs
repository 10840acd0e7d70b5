//! The announce budget of one link: announces may use only a share of the
//! link's bandwidth (Reticulum: 2 %); the rest waits in a queue that sends
//! fewer-hop announces first.
//!
//! Owns: the token bucket and the waiting queue of one link. The router asks
//! [`AnnounceBudget::offer`] and transmits what [`AnnounceBudget::release`]
//! hands back when the tokens suffice.

use std::collections::VecDeque;

/// Announces waiting per link before the farthest are dropped.
pub const QUEUE_LIMIT: usize = 512;

/// One link's budget.
#[derive(Debug, Clone)]
pub struct AnnounceBudget {
    bytes_per_ms: f64,
    burst: f64,
    tokens: f64,
    refilled_ms: u64,
    queue: VecDeque<(u8, Vec<u8>)>,
    /// Announces dropped because the queue was full.
    pub dropped: u64,
}

impl AnnounceBudget {
    /// A budget of `share` of `bandwidth_bps`, able to burst `burst_bytes`.
    pub fn new(bandwidth_bps: u64, share: f64, burst_bytes: usize, now_ms: u64) -> AnnounceBudget {
        let bytes_per_ms = (bandwidth_bps as f64 / 8.0 / 1000.0 * share).max(1e-6);
        let burst = burst_bytes as f64;
        AnnounceBudget { bytes_per_ms, burst, tokens: burst, refilled_ms: now_ms, queue: VecDeque::new(), dropped: 0 }
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.refilled_ms) as f64;
        self.tokens = (self.tokens + elapsed * self.bytes_per_ms).min(self.burst);
        self.refilled_ms = now_ms;
    }

    /// Offers an announce `hops` from its origin. Returns it back when it may
    /// go now; otherwise it waits (or, with a full queue, the farthest
    /// waiting announce is dropped).
    pub fn offer(&mut self, hops: u8, packet: Vec<u8>, now_ms: u64) -> Option<Vec<u8>> {
        self.refill(now_ms);
        if self.queue.is_empty() && self.tokens >= packet.len() as f64 {
            self.tokens -= packet.len() as f64;
            return Some(packet);
        }
        let at = self.queue.iter().position(|(h, _)| *h > hops).unwrap_or(self.queue.len());
        self.queue.insert(at, (hops, packet));
        if self.queue.len() > QUEUE_LIMIT {
            self.queue.pop_back();
            self.dropped += 1;
        }
        None
    }

    /// Waiting announces that may go now, in order.
    pub fn release(&mut self, now_ms: u64) -> Vec<Vec<u8>> {
        self.refill(now_ms);
        let mut out = Vec::new();
        while let Some((_, packet)) = self.queue.front() {
            if self.tokens < packet.len() as f64 {
                break;
            }
            self.tokens -= packet.len() as f64;
            if let Some((_, packet)) = self.queue.pop_front() {
                out.push(packet);
            }
        }
        out
    }

    /// When the next waiting announce can go, if any waits.
    pub fn next_release(&self) -> Option<u64> {
        let (_, packet) = self.queue.front()?;
        let missing = (packet.len() as f64 - self.tokens).max(0.0);
        Some(self.refilled_ms + (missing / self.bytes_per_ms).ceil() as u64)
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
        let mut budget = AnnounceBudget::new(100_000, 0.02, 100, 0);
        assert!(budget.offer(0, vec![0; 100], 0).is_some());
        assert!(budget.offer(5, vec![5; 100], 0).is_none());
        assert!(budget.offer(1, vec![1; 100], 0).is_none());
        assert_eq!(budget.next_release(), Some(400));
        assert!(budget.release(399).is_empty());
        assert_eq!(budget.release(400), vec![vec![1; 100]], "fewer hops first");
        assert_eq!(budget.release(800), vec![vec![5; 100]]);
        assert_eq!(budget.waiting(), 0);
    }

    #[test]
    fn a_full_queue_drops_the_farthest() {
        let mut budget = AnnounceBudget::new(8_000, 0.02, 0, 0);
        for _ in 0..QUEUE_LIMIT {
            budget.offer(3, vec![0; 10], 0);
        }
        budget.offer(1, vec![1; 10], 0);
        assert_eq!((budget.waiting(), budget.dropped), (QUEUE_LIMIT, 1));
    }
}
