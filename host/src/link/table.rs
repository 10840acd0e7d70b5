//! The set of live links, one per neighbour.
//!
//! Owns: which connection to keep when two exist for the same neighbour.
//! Both sides may dial at once (static peers on both ends, or discovery), so
//! the rule must give the same answer on both nodes without talking:
//! - the existing link is older than [`SIMULTANEOUS_OPEN`]: the newer wins
//!   (the peer would not dial a link it still has, so its side is gone);
//! - both connections opened by the same side: the newer wins (the opener
//!   abandoned the old one, e.g. it restarted);
//! - otherwise (a simultaneous open) the connection opened by the lower
//!   address wins.

use super::connection::{Direction, Link};
use std::collections::HashMap;
use weft_plugin_api::Address;

/// A link older than this is no duplicate of a new one: the peer dialed again
/// because its side of the old link is gone (e.g. it restarted).
pub const SIMULTANEOUS_OPEN: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a new connection to `peer` replaces the existing one, which has
/// been up for `existing_age` (see the module docs). Both nodes reach the same
/// verdict for a simultaneous open.
pub fn new_link_wins(
    own: Address,
    peer: Address,
    new: Direction,
    existing: Direction,
    existing_age: std::time::Duration,
) -> bool {
    let opener = |direction| match direction {
        Direction::Outbound => own,
        Direction::Inbound => peer,
    };
    existing_age >= SIMULTANEOUS_OPEN || new == existing || opener(new) == own.min(peer)
}

/// The outcome of offering a new link.
#[derive(Debug)]
pub enum Offer {
    /// No link to that peer existed; the new one is in.
    Accepted,
    /// The new link replaced this one, which must be closed.
    Replaced(Link),
    /// The existing link stays; close this new one.
    Rejected(Link),
}

/// Live links by neighbour address.
#[derive(Debug)]
pub struct LinkTable {
    own: Address,
    links: HashMap<Address, Link>,
    /// Link id -> neighbour, so packets addressed by link id find it at once.
    ids: HashMap<u64, Address>,
}

impl LinkTable {
    /// An empty table for node `own`.
    pub fn new(own: Address) -> Self {
        Self { own, links: HashMap::new(), ids: HashMap::new() }
    }

    /// Decides whether `link` joins the table (see the module docs).
    pub fn offer(&mut self, link: Link) -> Offer {
        let peer = link.peer();
        let Some(existing) = self.links.get(&peer) else {
            self.ids.insert(link.id(), peer);
            self.links.insert(peer, link);
            return Offer::Accepted;
        };
        let age = existing.info().since.elapsed().unwrap_or_default();
        if new_link_wins(self.own, peer, link.info().direction, existing.info().direction, age) {
            self.ids.insert(link.id(), peer);
            match self.links.insert(peer, link) {
                Some(old) => {
                    self.ids.remove(&old.id());
                    Offer::Replaced(old)
                }
                None => Offer::Accepted,
            }
        } else {
            Offer::Rejected(link)
        }
    }

    /// Removes the link with id `link` if it is still the one in use for
    /// `peer` (a replaced link's late "down" must not remove its successor).
    pub fn remove(&mut self, peer: Address, link: u64) -> bool {
        if self.links.get(&peer).is_some_and(|l| l.id() == link) {
            self.links.remove(&peer);
            self.ids.remove(&link);
            true
        } else {
            false
        }
    }

    /// The link to `peer`.
    pub fn get(&self, peer: &Address) -> Option<&Link> {
        self.links.get(peer)
    }

    /// The link with id `id`, if it is in use.
    pub fn by_id(&self, id: u64) -> Option<&Link> {
        self.links.get(self.ids.get(&id)?)
    }

    /// All links.
    pub fn iter(&self) -> impl Iterator<Item = &Link> {
        self.links.values()
    }

    /// Connected neighbours.
    pub fn peers(&self) -> impl Iterator<Item = Address> + '_ {
        self.links.keys().copied()
    }

    /// Number of links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether there are no links.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;

    #[test]
    fn both_nodes_keep_the_same_connection() {
        let (low, high) = (Address([1; 16]), Address([2; 16]));
        let young = std::time::Duration::from_millis(100);
        let new_link_wins = |own, peer, new, existing| super::new_link_wins(own, peer, new, existing, young);
        // Simultaneous open: the low node's outbound is the low-opened link;
        // on the high node the same connection is inbound.
        assert!(new_link_wins(low, high, Outbound, Inbound)); // low keeps its own dial
        assert!(!new_link_wins(low, high, Inbound, Outbound)); // low rejects high's dial
        assert!(new_link_wins(high, low, Inbound, Outbound)); // high switches to low's dial
        assert!(!new_link_wins(high, low, Outbound, Inbound)); // high rejects its own later dial
        // A re-dial by the same opener (e.g. after a restart) replaces the old link.
        assert!(new_link_wins(low, high, Inbound, Inbound));
        assert!(new_link_wins(high, low, Outbound, Outbound));
        // An established link is replaced by a new dial from either side:
        // the peer dialed because its side of the old link is gone.
        assert!(super::new_link_wins(low, high, Inbound, Outbound, SIMULTANEOUS_OPEN));
    }
}
