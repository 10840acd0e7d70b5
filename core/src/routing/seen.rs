//! Packets already handled, by id, with the link each came in on.
//!
//! Owns: duplicate suppression for floods and path requests, and the
//! reverse path that replies to them (returns, path responses) follow back.
//! Entries lapse after a window and the set is capped (oldest first), so a
//! storm of fresh ids cannot grow memory without bound.

use super::fast_hash::FastMap;
use super::link_id::LinkId;
use crate::time::Millis;
use std::collections::VecDeque;

/// Where a handled packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Came {
    /// From a neighbour over this link.
    Link(LinkId),
    /// This node sent it.
    Here,
}

/// The set.
#[derive(Debug)]
pub struct Seen {
    entries: FastMap<u64, (Came, Millis)>,
    order: VecDeque<(u64, Millis)>,
    window_ms: u64,
    capacity: usize,
}

impl Seen {
    /// Remembers ids for `window_ms`, at most `capacity` of them.
    pub fn new(window_ms: u64, capacity: usize) -> Seen {
        Seen { entries: FastMap::default(), order: VecDeque::new(), window_ms, capacity: capacity.max(1) }
    }

    /// Records `id`; false when it was already there (a duplicate).
    pub fn first_time(&mut self, id: u64, came: Came, now: Millis) -> bool {
        self.expire(now);
        if self.entries.contains_key(&id) {
            return false;
        }
        while self.entries.len() >= self.capacity {
            let Some((old, _)) = self.order.pop_front() else { break };
            self.entries.remove(&old);
        }
        self.entries.insert(id, (came, now));
        self.order.push_back((id, now));
        true
    }

    /// Where `id` came from, if it is still remembered.
    pub fn came(&self, id: u64, now: Millis) -> Option<Came> {
        self.entries.get(&id).filter(|(_, at)| at.after_ms(self.window_ms) > now).map(|(came, _)| *came)
    }

    fn expire(&mut self, now: Millis) {
        while let Some(&(id, at)) = self.order.front() {
            if at.after_ms(self.window_ms) > now {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&id);
        }
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_caught_until_the_window_ends_and_the_cap_holds() {
        let mut seen = Seen::new(100, 3);
        assert!(seen.first_time(1, Came::Link(LinkId::Quic(4)), Millis::ZERO));
        assert!(!seen.first_time(1, Came::Link(LinkId::Quic(5)), Millis::from_ms(50)));
        assert_eq!(seen.came(1, Millis::from_ms(50)), Some(Came::Link(LinkId::Quic(4))));
        assert!(seen.first_time(1, Came::Here, Millis::from_ms(100)), "the window ended");
        for id in 10..20 {
            seen.first_time(id, Came::Here, Millis::from_ms(101));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.came(19, Millis::from_ms(101)), Some(Came::Here));
        assert_eq!(seen.came(10, Millis::from_ms(101)), None, "evicted oldest first");
    }
}
