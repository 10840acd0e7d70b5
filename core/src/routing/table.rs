//! The routing table: for each known node, the newest announce and the best
//! next hop.
//!
//! Owns: choosing between routes ([`RoutingTable::judge`]): a newer
//! announce sequence always wins; for the same sequence a lower path cost
//! wins (the sum of the link costs along it: 1 per QUIC link, a radio
//! link's time on air; see docs/links.md), then fewer hops. Routes expire, and die with their link, but the node's
//! newest sequence and announce are kept so replays stay recognisable and
//! path requests can say what they already know.

use super::announce::Announce;
use super::fast_hash::FastMap;
use crate::time::Millis;
use std::sync::Arc;
use weft_plugin_api::Address;

use super::link_id::LinkId;

/// How to reach a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The link to send on.
    pub link: LinkId,
    /// The neighbour at the other end of that link.
    pub neighbour: Address,
    /// Links between here and the node (1: a neighbour).
    pub hops: u8,
    /// Cost of the path: the first link's cost plus the path cost the
    /// neighbour announced.
    pub cost: u32,
    /// When the route lapses unless refreshed.
    pub expires: Millis,
}

/// What the table knows about one node.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The newest announce heard (shared with every table that holds it).
    pub announce: Arc<Announce>,
    /// The way there, when one is usable.
    pub route: Option<Route>,
    /// When its newest announce was taken (zero: remembered from an
    /// earlier run).
    pub heard: Millis,
}

/// How an announce compared with what the table knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A newer sequence, or a first announce: the route was replaced.
    Newer,
    /// The same sequence over a better path: the route was replaced.
    Better,
    /// The same sequence, no better: nothing changed.
    Duplicate,
    /// An older sequence: a replay or a late copy.
    Stale,
}

impl Verdict {
    /// Whether the table changed.
    pub fn accepted(self) -> bool {
        matches!(self, Verdict::Newer | Verdict::Better)
    }
}

/// The table.
#[derive(Debug, Default)]
pub struct RoutingTable {
    entries: FastMap<Address, Entry>,
}

impl RoutingTable {
    /// What would happen to an announce with `sequence` arriving over
    /// `hops`/`cost`, without changing anything (cheap: run before verifying).
    pub fn judge(&self, address: &Address, sequence: u64, hops: u8, cost: u32, now: Millis) -> Verdict {
        let Some(entry) = self.entries.get(address) else {
            return Verdict::Newer;
        };
        if sequence > entry.announce.sequence {
            return Verdict::Newer;
        }
        if sequence < entry.announce.sequence {
            return Verdict::Stale;
        }
        match entry.route {
            Some(route) if route.expires > now => {
                if cost < route.cost || (cost == route.cost && hops < route.hops) {
                    Verdict::Better
                } else {
                    Verdict::Duplicate
                }
            }
            // Same sequence but no usable route: take the path it offers.
            _ => Verdict::Better,
        }
    }

    /// Records a verified announce known from an earlier run, without a
    /// route (links are new after a restart). Ignored if a newer one is known.
    pub fn remember(&mut self, announce: Arc<Announce>) -> bool {
        let address = announce.address();
        if self.entries.get(&address).is_some_and(|e| e.announce.sequence >= announce.sequence) {
            return false;
        }
        self.entries.insert(address, Entry { announce, route: None, heard: Millis::ZERO });
        true
    }

    /// Every announce the table holds.
    pub fn announces(&self) -> impl Iterator<Item = &Arc<Announce>> {
        self.entries.values().map(|e| &e.announce)
    }

    /// Records a verified announce that [`RoutingTable::judge`] accepted.
    pub fn accept(&mut self, announce: Arc<Announce>, route: Route, now: Millis) {
        self.entries.insert(announce.address(), Entry { announce, route: Some(route), heard: now });
    }

    /// The node to forget to make room for a new one: of the nodes without a
    /// usable route, the one heard from longest ago; `None` if every node
    /// has a route (then the newcomer waits).
    pub fn evictable(&self, now: Millis) -> Option<Address> {
        self.entries
            .iter()
            .filter(|(_, e)| e.route.is_none_or(|r| r.expires <= now))
            .min_by_key(|(address, e)| (e.heard, **address))
            .map(|(address, _)| *address)
    }

    /// Forgets everything about `address`.
    pub fn forget(&mut self, address: &Address) -> bool {
        self.entries.remove(address).is_some()
    }

    /// The usable route to `address`.
    pub fn route(&self, address: &Address, now: Millis) -> Option<Route> {
        self.entries.get(address)?.route.filter(|r| r.expires > now)
    }

    /// Everything known about `address`.
    pub fn entry(&self, address: &Address) -> Option<&Entry> {
        self.entries.get(address)
    }

    /// The newest sequence heard from `address` (0: none).
    pub fn sequence(&self, address: &Address) -> u64 {
        self.entries.get(address).map_or(0, |e| e.announce.sequence)
    }

    /// Drops every route through `link`; returns the nodes that lost theirs.
    pub fn link_lost(&mut self, link: LinkId) -> Vec<Address> {
        let mut lost = Vec::new();
        for (address, entry) in &mut self.entries {
            if entry.route.is_some_and(|r| r.link == link) {
                entry.route = None;
                lost.push(*address);
            }
        }
        lost
    }

    /// Drops the route to `address` (its next hop could not forward).
    pub fn forget_route(&mut self, address: &Address) {
        if let Some(entry) = self.entries.get_mut(address) {
            entry.route = None;
        }
    }

    /// Every node with a usable route.
    pub fn routes(&self, now: Millis) -> impl Iterator<Item = (&Address, &Entry, Route)> {
        self.entries.iter().filter_map(move |(a, e)| e.route.filter(|r| r.expires > now).map(|r| (a, e, r)))
    }

    /// Number of nodes with a usable route.
    pub fn reachable(&self, now: Millis) -> usize {
        self.routes(now).count()
    }

    /// Number of nodes known at all.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeIdentity;

    fn route(link: u8, hops: u8, cost: u32) -> Route {
        Route {
            link: LinkId::Quic(link.into()),
            neighbour: Address([link; 16]),
            hops,
            cost,
            expires: Millis::from_ms(1_000),
        }
    }

    #[test]
    fn newer_wins_then_lower_path_cost_then_fewer_hops_and_old_is_stale() {
        let node = NodeIdentity::from_secret([1; 32]);
        let a = node.address();
        let mut table = RoutingTable::default();
        assert_eq!(table.judge(&a, 5, 2, 348, Millis::ZERO), Verdict::Newer);
        // Two SF7 hops (174 ms on air each).
        table.accept(Arc::new(Announce::create(&node, 0, 5)), route(1, 2, 348), Millis::ZERO);
        assert_eq!(table.judge(&a, 4, 1, 1, Millis::ZERO), Verdict::Stale);
        assert_eq!(table.judge(&a, 5, 2, 348, Millis::ZERO), Verdict::Duplicate);
        assert_eq!(table.judge(&a, 5, 1, 3941, Millis::ZERO), Verdict::Duplicate, "one SF12 hop costs more");
        assert_eq!(table.judge(&a, 5, 3, 348, Millis::ZERO), Verdict::Duplicate, "same cost, more hops");
        assert_eq!(table.judge(&a, 5, 1, 348, Millis::ZERO), Verdict::Better, "same cost, fewer hops");
        assert_eq!(table.judge(&a, 5, 4, 4, Millis::ZERO), Verdict::Better, "four QUIC hops cost less");
        assert_eq!(table.judge(&a, 6, 9, 9, Millis::ZERO), Verdict::Newer);
        assert_eq!(table.route(&a, Millis::ZERO).map(|r| r.link), Some(LinkId::Quic(1)));
        assert_eq!(table.route(&a, Millis::from_ms(1_000)), None, "expired");
        assert_eq!(table.link_lost(LinkId::Quic(1)), vec![a]);
        assert_eq!(table.route(&a, Millis::ZERO), None);
        assert_eq!(table.sequence(&a), 5, "the sequence outlives the route");
        assert_eq!(table.judge(&a, 5, 7, 7, Millis::ZERO), Verdict::Better, "any path beats none");
    }

    #[test]
    fn the_node_evicted_first_is_the_routeless_one_heard_longest_ago() {
        let mut table = RoutingTable::default();
        let nodes: Vec<NodeIdentity> = (1..=3).map(|i| NodeIdentity::from_secret([i; 32])).collect();
        for (i, node) in nodes.iter().enumerate() {
            let heard = Millis::from_ms(100 * (i as u64 + 1));
            table.accept(Arc::new(Announce::create(node, 0, 5)), route(i as u8, 1, 1), heard);
        }
        assert_eq!(table.evictable(Millis::ZERO), None, "every node has a route");
        table.link_lost(LinkId::Quic(1));
        table.link_lost(LinkId::Quic(2));
        assert_eq!(table.evictable(Millis::ZERO), Some(nodes[1].address()), "routeless, heard at 200 before 300");
        assert_eq!(table.evictable(Millis::from_ms(1_000)), Some(nodes[0].address()), "all routes lapsed: oldest");
        assert!(table.forget(&nodes[0].address()));
        assert_eq!(table.len(), 2);
    }
}
