//! Reconnect delays: exponential with jitter, reset after a healthy link.

use rand::Rng;
use std::time::Duration;

/// Exponential backoff with "equal jitter": each delay is uniformly drawn
/// from `[d/2, d]`, where `d` doubles per failure from `min` up to `max`.
/// The jitter keeps a fleet of nodes from redialing a restarted peer in
/// lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `min`, never exceeds `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max: max.max(min), current: min }
    }

    /// The next delay to wait, using `rng` for the jitter.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = ceiling / 2;
        let jitter_ms = rng.gen_range(0..=(ceiling - half).as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    /// Back to `min` (after a link stayed up long enough).
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap_and_reset() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay(&mut rng).as_millis() as u64).collect();
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (delay, ceiling) in delays.iter().zip(ceilings) {
            assert!((ceiling / 2..=ceiling).contains(delay), "{delays:?}");
        }
        assert!(delays[4..].iter().any(|d| *d != delays[4]), "jitter varies the delay: {delays:?}");
        backoff.reset();
        assert!(backoff.next_delay(&mut rng) <= Duration::from_millis(100));
    }
}
