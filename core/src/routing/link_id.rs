//! Which link: the one identifier the router, the node core and the runtime
//! share for a link.
//!
//! Owns: [`LinkId`], an enum that says what kind of link it is, so the
//! runtime never tells links apart by number ranges. The router only
//! compares and orders ids; what a link is made of stays the runtime's.

use std::fmt;

/// One link of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkId {
    /// A QUIC connection, by the runtime's connection number (in the
    /// simulator: a simulated link, by its edge number).
    Quic(u64),
    /// A radio link, by its index among the node's `[[radios]]`.
    Radio(u32),
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkId::Quic(n) => write!(f, "quic#{n}"),
            LinkId::Radio(n) => write!(f, "radio#{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_kinds_never_collide_and_print_their_kind() {
        assert_ne!(LinkId::Quic(0), LinkId::Radio(0));
        assert!(LinkId::Quic(u64::MAX) < LinkId::Radio(0), "a stable order for tables");
        assert_eq!(LinkId::Radio(2).to_string(), "radio#2");
        assert_eq!(LinkId::Quic(7).to_string(), "quic#7");
    }
}
