//! Which link: the one identifier the router, the node core and the runtime
//! share for a link.
//!
//! Owns: [`LinkId`], an enum that says what kind of link it is, so the
//! runtime never tells links apart by number ranges. The router compares
//! and orders ids, and knows one thing more about radios: the neighbours
//! of one radio share its channel, so a flood for all of them goes on the
//! air once ([`LinkId::RadioChannel`]). What a link is made of stays the
//! runtime's.

use std::fmt;

/// One link of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkId {
    /// A QUIC connection, by the runtime's connection number (in the
    /// simulator: a simulated link, by its edge number).
    Quic(u64),
    /// One neighbour heard on a radio.
    Radio {
        /// The radio's index among the node's `[[radios]]`.
        radio: u32,
        /// The neighbour's number on that radio.
        neighbour: u32,
    },
    /// Everyone in range of a radio, for one broadcast. Never a link that
    /// comes up or delivers: only where the router sends a flood.
    RadioChannel(u32),
}

impl LinkId {
    /// The radio whose channel this link shares, if it is a radio's.
    pub fn channel(self) -> Option<u32> {
        match self {
            LinkId::Quic(_) => None,
            LinkId::Radio { radio, .. } | LinkId::RadioChannel(radio) => Some(radio),
        }
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkId::Quic(n) => write!(f, "quic#{n}"),
            LinkId::Radio { radio, neighbour } => write!(f, "radio#{radio}.{neighbour}"),
            LinkId::RadioChannel(radio) => write!(f, "radio#{radio}.all"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_kinds_never_collide_and_print_their_kind() {
        let neighbour = LinkId::Radio { radio: 0, neighbour: 0 };
        assert_ne!(LinkId::Quic(0), neighbour);
        assert_ne!(LinkId::RadioChannel(0), neighbour);
        assert!(LinkId::Quic(u64::MAX) < neighbour, "a stable order for tables");
        assert_eq!(LinkId::Radio { radio: 2, neighbour: 5 }.to_string(), "radio#2.5");
        assert_eq!(LinkId::RadioChannel(2).to_string(), "radio#2.all");
        assert_eq!(LinkId::Quic(7).to_string(), "quic#7");
        assert_eq!(LinkId::Radio { radio: 2, neighbour: 5 }.channel(), Some(2));
        assert_eq!(LinkId::Quic(7).channel(), None);
    }
}
