//! What one neighbour, one origin or the whole network may cost this node.
//!
//! Owns: [`RouterLimits`] (the caps and rates, with their defaults) and
//! [`TokenBucket`], and [`Ingress`], the buckets of one link. The router
//! asks before the expensive or state-growing step of an input: before it
//! verifies an announce's signature, before it floods a path request on,
//! before it holds a packet for a destination nobody knows. What a bucket
//! refuses is dropped and counted, never queued.
//! Must not: decide routes or read a clock.

use crate::time::Millis;

/// The router's caps and per-neighbour rates. The defaults let an honest
/// mesh of thousands of nodes run untouched and bound what one hostile
/// neighbour can make a node verify, remember or send.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterLimits {
    /// Nodes the routing table knows at most (each with its announce and
    /// keys). When full, a new node takes the place of the node without a
    /// usable route heard from longest ago; if every node has a route, the
    /// new one is refused (counted).
    pub max_nodes: usize,
    /// Destinations searched for (path requests) at once; further ones wait
    /// for their announce.
    pub max_searches: usize,
    /// Path requests sent for one destination before the search gives up
    /// (its packets stay held until their time runs out; the destination's
    /// own announce still finds them).
    pub path_request_tries: u32,
    /// Announces per second one link may make this node verify (and burst).
    pub announces_per_link_per_s: f64,
    /// Path requests per second one link may make this node flood on or answer.
    pub path_requests_per_link_per_s: f64,
    /// Packets per second for destinations nobody knows one link may make
    /// this node hold (each is stored and starts a search).
    pub unknown_per_link_per_s: f64,
    /// New announces per minute accepted from one origin (a genuine node
    /// signing sequence after sequence to keep every table busy).
    pub announces_per_origin_per_min: f64,
    /// Path requests per second this node sends, all searches together (a
    /// neighbour sending packets for thousands of unknown destinations must
    /// not turn the node into a flood source); the rest wait their turn.
    pub path_requests_out_per_s: f64,
}

impl Default for RouterLimits {
    fn default() -> Self {
        RouterLimits {
            max_nodes: 16_384,
            max_searches: 1_024,
            path_request_tries: 8,
            announces_per_link_per_s: 500.0,
            path_requests_per_link_per_s: 50.0,
            unknown_per_link_per_s: 200.0,
            announces_per_origin_per_min: 12.0,
            path_requests_out_per_s: 20.0,
        }
    }
}

/// Tokens that refill at a steady rate up to a burst; each event takes one.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    per_ms: f64,
    burst: f64,
    tokens: f64,
    refilled: Millis,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilling `per_s` a second.
    pub fn new(per_s: f64, burst: f64, now: Millis) -> TokenBucket {
        let burst = burst.max(1.0);
        TokenBucket { per_ms: per_s.max(0.0) / 1000.0, burst, tokens: burst, refilled: now }
    }

    fn refill(&mut self, now: Millis) {
        let elapsed = now.ms_since(self.refilled) as f64;
        self.tokens = (self.tokens + elapsed * self.per_ms).min(self.burst);
        self.refilled = now;
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Millis) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled to its burst (nothing to remember).
    pub fn is_full(&mut self, now: Millis) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// The buckets of one link.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingress {
    /// Announces to verify.
    pub announces: TokenBucket,
    /// Path requests to handle.
    pub path_requests: TokenBucket,
    /// Packets for unknown destinations to hold.
    pub unknown: TokenBucket,
}

impl Ingress {
    /// Full buckets at `limits`' rates, each bursting one second's worth.
    pub fn new(limits: &RouterLimits, now: Millis) -> Ingress {
        let bucket = |per_s: f64| TokenBucket::new(per_s, per_s, now);
        Ingress {
            announces: bucket(limits.announces_per_link_per_s),
            path_requests: bucket(limits.path_requests_per_link_per_s),
            unknown: bucket(limits.unknown_per_link_per_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut bucket = TokenBucket::new(10.0, 5.0, Millis::ZERO);
        let taken = (0..20).filter(|_| bucket.take(Millis::ZERO)).count();
        assert_eq!(taken, 5, "the burst");
        assert!(!bucket.take(Millis::from_ms(50)), "half a token after 50 ms");
        assert!(bucket.take(Millis::from_ms(100)));
        let over_a_second = (1..=1000).filter(|ms| bucket.take(Millis::from_ms(100 + ms))).count();
        assert_eq!(over_a_second, 10, "10 a second");
        assert!(!bucket.is_full(Millis::from_ms(1100)));
        assert!(bucket.is_full(Millis::from_ms(10_000)));
    }
}
