//! [`ReplyBook`]: the way back for each message delivered to a plugin.
//!
//! Owns: numbering delivered messages and remembering, for the most recent
//! `capacity` of them, what a `Reply` to that message needs (the way back,
//! the port, the tag). Ids are consecutive, so the book is a ring indexed by
//! `id - first`: no hashing on the per-message path, and the oldest entry
//! falls out when the ring is full. Must not: decide where a reply goes;
//! the core does that with what it gets back.

use std::collections::VecDeque;

/// A bounded ring of per-message records, keyed by consecutive ids.
#[derive(Debug)]
pub struct ReplyBook<T> {
    /// The id of `entries[0]`.
    first: u64,
    entries: VecDeque<T>,
    capacity: usize,
}

impl<T: Copy> ReplyBook<T> {
    /// An empty book that remembers the last `capacity` messages (at least one).
    /// The first id handed out is 1 (0 never names a message).
    pub fn new(capacity: usize) -> Self {
        Self { first: 1, entries: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Records `entry` under the next id and returns that id, forgetting the
    /// oldest entry when the book is full.
    pub fn record(&mut self, entry: T) -> u64 {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
            self.first += 1;
        }
        self.entries.push_back(entry);
        self.first + self.entries.len() as u64 - 1
    }

    /// The entry recorded under `id`, unless it was never issued or has been
    /// forgotten.
    pub fn get(&self, id: u64) -> Option<T> {
        let index = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.entries.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_consecutive_from_one() {
        let mut book = ReplyBook::new(4);
        assert_eq!(book.record('a'), 1);
        assert_eq!(book.record('b'), 2);
        assert_eq!(book.get(1), Some('a'));
        assert_eq!(book.get(2), Some('b'));
    }

    #[test]
    fn unknown_ids_are_none() {
        let mut book = ReplyBook::new(4);
        assert_eq!(book.get(0), None);
        assert_eq!(book.get(1), None);
        book.record(7u8);
        assert_eq!(book.get(2), None);
        assert_eq!(book.get(u64::MAX), None);
    }

    #[test]
    fn the_oldest_entry_is_forgotten_when_full() {
        let mut book = ReplyBook::new(3);
        for n in 1..=5u64 {
            assert_eq!(book.record(n * 10), n);
        }
        assert_eq!(book.get(1), None);
        assert_eq!(book.get(2), None);
        assert_eq!(book.get(3), Some(30));
        assert_eq!(book.get(5), Some(50));
        assert_eq!(book.get(6), None);
    }
}
