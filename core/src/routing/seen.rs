//! Packets already handled, by id, with the link each came in on.
//!
//! Owns: duplicate suppression for floods and path requests, and the
//! reverse path that replies to them (returns, path responses) follow back.
//! Entries lapse after a window and the set is capped (oldest first), so a
//! storm of fresh ids cannot grow memory without bound.

use super::fast_hash::FastMap;
use super::link_id::LinkId;
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
    entries: FastMap<u64, (Came, u64)>,
    order: VecDeque<(u64, u64)>,
    window_ms: u64,
    capacity: usize,
}

impl Seen {
    /// Remembers ids for `window_ms`, at most `capacity` of them.
    pub fn new(window_ms: u64, capacity: usize) -> Seen {
        Seen { entries: FastMap::default(), order: VecDeque::new(), window_ms, capacity: capacity.max(1) }
    }

    /// Records `id`; false when it was already there (a duplicate).
    pub fn first_time(&mut self, id: u64, came: Came, now_ms: u64) -> bool {
        self.expire(now_ms);
        if self.entries.contains_key(&id) {
            return false;
        }
        while self.entries.len() >= self.capacity {
            let Some((old, _)) = self.order.pop_front() else { break };
            self.entries.remove(&old);
        }
        self.entries.insert(id, (came, now_ms));
        self.order.push_back((id, now_ms));
        true
    }

    /// Where `id` came from, if it is still remembered.
    pub fn came(&self, id: u64, now_ms: u64) -> Option<Came> {
        self.entries.get(&id).filter(|(_, at)| at + self.window_ms > now_ms).map(|(came, _)| *came)
    }

    fn expire(&mut self, now_ms: u64) {
        while let Some(&(id, at)) = self.order.front() {
            if at + self.window_ms > now_ms {
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
        assert!(seen.first_time(1, Came::Link(LinkId::Quic(4)), 0));
        assert!(!seen.first_time(1, Came::Link(LinkId::Quic(5)), 50));
        assert_eq!(seen.came(1, 50), Some(Came::Link(LinkId::Quic(4))));
        assert!(seen.first_time(1, Came::Here, 100), "the window ended");
        for id in 10..20 {
            seen.first_time(id, Came::Here, 101);
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.came(19, 101), Some(Came::Here));
        assert_eq!(seen.came(10, 101), None, "evicted oldest first");
    }
}
