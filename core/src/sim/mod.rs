//! The simulator: many router cores in one process, over a virtual
//! topology, in virtual time.
//!
//! Owns: the event queue (packet arrivals and router wake-ups, ordered by
//! virtual time), the virtual links (latency, loss, bandwidth, up/down) and
//! what each node received. It drives the very [`Router`] the node runs;
//! only the links are emulated. Deterministic for a given seed. Used by
//! tests, by `weft sim` and by the routing benchmarks.

pub mod radio;
pub mod report;
pub mod topology;

use crate::crypto::NodeIdentity;
use crate::routing::announce::SharedMemo;
use crate::routing::pending::HoldChange;
use crate::routing::{Delivery, LinkId, LinkParams, Outgoing, Router, RouterConfig, RouterOutput, Sent};
use crate::time::{Millis, UnixMillis};
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
pub use topology::{Placement, Topology};
use weft_plugin_api::Address;
use weft_plugin_api::internal::rng::SplitMix64;

/// Link and run settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// One-way latency of every link, ms.
    pub latency_ms: u64,
    /// Probability that a packet is lost on a link.
    pub loss: f64,
    /// Bandwidth of every link, bits/s (also sizes the announce budget).
    pub bandwidth_bps: u64,
    /// Seed for keys, the graph's randomness and loss.
    pub seed: u64,
    /// The routers' settings.
    pub router: RouterConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { latency_ms: 5, loss: 0.0, bandwidth_bps: 1_000_000, seed: 1, router: RouterConfig::default() }
    }
}

/// One simulated node.
pub struct SimNode {
    /// Its router; every node checks announces through the simulation's
    /// one memo.
    pub router: Router<SharedMemo>,
    /// Messages delivered to its ports, with the time.
    pub delivered: Vec<(u64, Delivery)>,
    /// Traces that came back: id and path.
    pub traces: Vec<(u64, Vec<Address>)>,
    /// Every store-and-forward record this node wrote (what its disk saw).
    pub held_records: Vec<Vec<u8>>,
    /// Every packet that arrived at this node, when capturing
    /// ([`Sim::capture`]): what a relay could read.
    pub heard: Option<Vec<Vec<u8>>>,
    wake_at: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrive { node: usize, link: LinkId, packet: Vec<u8> },
    Wake { node: usize },
}

/// A simulated link: the edge's number as a QUIC link id.
fn edge_link(edge: usize) -> LinkId {
    LinkId::Quic(edge as u64)
}

/// The edge a link id names (every simulated link is one).
fn link_edge(link: LinkId) -> Option<usize> {
    match link {
        LinkId::Quic(edge) => usize::try_from(edge).ok(),
        LinkId::Radio { .. } | LinkId::RadioChannel(_) => None,
    }
}

/// Totals over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Packets put on links.
    pub transmitted: u64,
    /// Bytes put on links.
    pub bytes: u64,
    /// Packets lost on links.
    pub lost: u64,
    /// Packets a link refused to take (see [`Sim::refuse_transmits`]).
    pub refused: u64,
    /// Events processed.
    pub events: u64,
}

struct Edge {
    ends: (usize, usize),
    up: bool,
    /// The routing cost both ends give the link (1, as for QUIC, unless set).
    cost: u32,
    /// When each direction's transmitter is free again.
    busy_until: [u64; 2],
    /// Until when each direction refuses packets (a congested link: the
    /// sender is told, unlike a loss).
    refuse_until: [u64; 2],
}

/// The simulation.
pub struct Sim {
    nodes: Vec<SimNode>,
    edges: Vec<Edge>,
    topology: Topology,
    config: SimConfig,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    /// Scratch buffer for a node's router outputs, kept between events.
    outputs: Vec<RouterOutput>,
    sequence: u64,
    now: u64,
    rng: SplitMix64,
    stats: SimStats,
    memo: SharedMemo,
    /// SHA-256 over every packet arrival, when recording ([`Sim::record_trace`]).
    trace: Option<Sha256>,
}

impl Sim {
    /// Builds the nodes and brings every link up at time 0.
    pub fn new(topology: Topology, config: SimConfig) -> Sim {
        let memo = SharedMemo::default();
        let nodes = (0..topology.nodes)
            .map(|i| {
                let mut secret = [0u8; 32];
                secret[..8].copy_from_slice(&config.seed.to_le_bytes());
                secret[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                let identity = NodeIdentity::from_secret(secret);
                let seed = config.seed.wrapping_mul(0x9e37_79b9).wrapping_add(i as u64);
                SimNode {
                    router: Router::new(identity, config.router.clone(), UnixMillis::ZERO, seed, memo.clone()),
                    heard: None,
                    delivered: Vec::new(),
                    traces: Vec::new(),
                    held_records: Vec::new(),
                    wake_at: None,
                }
            })
            .collect();
        let edges = topology
            .edges
            .iter()
            .map(|&ends| Edge { ends, up: false, cost: 1, busy_until: [0, 0], refuse_until: [0, 0] })
            .collect();
        let mut sim = Sim {
            nodes,
            edges,
            rng: SplitMix64::new(config.seed ^ 0x5eed),
            topology,
            config,
            queue: BinaryHeap::new(),
            outputs: Vec::new(),
            sequence: 0,
            now: 0,
            stats: SimStats::default(),
            memo,
            trace: None,
        };
        for node in 0..sim.nodes.len() {
            sim.nodes[node].router.poll(Millis::ZERO);
            sim.after(node);
        }
        for edge in 0..sim.edges.len() {
            sim.set_link(edge, true);
        }
        sim
    }

    /// Virtual time now.
    pub fn now(&self) -> Millis {
        Millis::from_ms(self.now)
    }

    /// Totals so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &SimNode {
        &self.nodes[i]
    }

    /// Node `i`, to change (tests: restore state into its router).
    pub fn node_mut(&mut self, i: usize) -> &mut SimNode {
        &mut self.nodes[i]
    }

    /// Node `i`'s address.
    pub fn address(&self, i: usize) -> Address {
        self.nodes[i].router.address()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Index of the link between `a` and `b`.
    pub fn edge(&self, a: usize, b: usize) -> Option<usize> {
        self.edges.iter().position(|e| e.ends == (a.min(b), a.max(b)))
    }

    /// Gives link `edge` routing cost `cost` at both ends (a link that is up
    /// goes down and comes back up with it, as a reconfigured link would).
    pub fn set_link_cost(&mut self, edge: usize, cost: u32) {
        let Some(e) = self.edges.get_mut(edge) else { return };
        e.cost = cost;
        if e.up {
            self.set_link(edge, false);
            self.set_link(edge, true);
        }
    }

    /// Brings link `edge` up or down (both ends notice at once).
    pub fn set_link(&mut self, edge: usize, up: bool) {
        let Some(e) = self.edges.get_mut(edge) else { return };
        if e.up == up {
            return;
        }
        e.up = up;
        let (a, b) = e.ends;
        let cost = e.cost;
        let link = edge_link(edge);
        let bandwidth_bps = self.config.bandwidth_bps;
        for (me, other) in [(a, b), (b, a)] {
            let neighbour = self.nodes[other].router.address();
            if up {
                self.nodes[me].router.link_up(
                    link,
                    LinkParams { neighbour, cost, bandwidth_bps },
                    Millis::from_ms(self.now),
                );
            } else {
                self.nodes[me].router.link_down(link);
            }
            self.after(me);
        }
    }

    /// From now on, every link loses this share of the packets it carries
    /// (the sender is not told).
    pub fn set_loss(&mut self, loss: f64) {
        self.config.loss = loss.clamp(0.0, 1.0);
    }

    /// Makes link `edge` refuse what node `from` sends on it for the next
    /// `ms` (a congested or closing link: the send fails and the sender
    /// knows, which a loss does not tell it).
    pub fn refuse_transmits(&mut self, from: usize, edge: usize, ms: u64) {
        let now = self.now;
        if let Some(e) = self.edges.get_mut(edge) {
            let direction = usize::from(e.ends.0 != from);
            e.refuse_until[direction] = now + ms;
        }
    }

    /// Takes node `i` off the air: every link of it goes down.
    pub fn isolate(&mut self, i: usize) {
        for edge in 0..self.edges.len() {
            let (a, b) = self.edges[edge].ends;
            if a == i || b == i {
                self.set_link(edge, false);
            }
        }
    }

    /// Records every packet arriving at node `i` from now on in its `heard`.
    pub fn capture(&mut self, i: usize) {
        self.nodes[i].heard.get_or_insert_with(Vec::new);
    }

    /// Restarts node `i` as a node process restarts: the same identity and
    /// the known announces (which the node persists), nothing else (routes,
    /// sessions and held packets in memory are gone), a later boot time; its
    /// links go down and come up again at once.
    pub fn restart(&mut self, i: usize) {
        self.isolate(i);
        let identity = NodeIdentity::from_secret(self.nodes[i].router.identity().secret_seed());
        let announces = self.nodes[i].router.export_announces();
        let seed = self.rng.next_u64();
        self.nodes[i].router = Router::new(
            identity,
            self.config.router.clone(),
            UnixMillis::from_unix_ms(self.now),
            seed,
            self.memo.clone(),
        );
        self.nodes[i].router.import_announces(&announces);
        self.nodes[i].router.poll(Millis::from_ms(self.now));
        self.after(i);
        self.reconnect(i);
    }

    /// Reconnects node `i`'s links.
    pub fn reconnect(&mut self, i: usize) {
        for edge in 0..self.edges.len() {
            let (a, b) = self.edges[edge].ends;
            if a == i || b == i {
                self.set_link(edge, true);
            }
        }
    }

    /// Node `from` sends `payload` to node `to`'s `port`.
    pub fn send(&mut self, from: usize, to: usize, port: u16, payload: &[u8], sealed: bool) -> Sent {
        let to = self.address(to);
        self.send_to(from, to, port, payload, sealed)
    }

    /// Sends from node `from` to any address (one the mesh may not know).
    pub fn send_to(&mut self, from: usize, to: Address, port: u16, payload: &[u8], sealed: bool) -> Sent {
        let message = Outgoing { to, port, payload, sealed, reveal: true, tag: 0, reply_to: None };
        let sent = self.nodes[from].router.send(message, Millis::from_ms(self.now));
        self.after(from);
        sent
    }

    /// Node `from` sends `payload` to node `to`'s `port` without naming
    /// itself: sealed in an anonymous one-shot box.
    pub fn send_anonymous(&mut self, from: usize, to: usize, port: u16, payload: &[u8]) -> Sent {
        let to = self.address(to);
        let message = Outgoing { to, port, payload, sealed: true, reveal: false, tag: 0, reply_to: None };
        let sent = self.nodes[from].router.send(message, Millis::from_ms(self.now));
        self.after(from);
        sent
    }

    /// Starts hashing every packet arrival from now on (time, node, link,
    /// bytes), for [`Sim::trace_hash`].
    pub fn record_trace(&mut self) {
        self.trace.get_or_insert_with(Sha256::new);
    }

    /// The hash of every packet arrival since [`Sim::record_trace`]: two runs
    /// from the same seed and inputs give the same hash, bit for bit, since
    /// nothing in a simulated node draws from the OS or reads a clock.
    pub fn trace_hash(&self) -> Option<[u8; 32]> {
        self.trace.clone().map(|hash| hash.finalize().into())
    }

    /// Node `from` floods `payload` to `port` within `hops`.
    pub fn flood(&mut self, from: usize, port: u16, payload: &[u8], hops: u8) -> u64 {
        let id = self.nodes[from].router.flood(port, payload, hops, true, Millis::from_ms(self.now));
        self.after(from);
        id
    }

    /// Node `from` traces the path to node `to`.
    pub fn trace(&mut self, from: usize, to: usize, id: u64) {
        let to = self.address(to);
        self.nodes[from].router.trace(to, id, Millis::from_ms(self.now));
        self.after(from);
    }

    /// Feeds raw bytes to node `i` as if they arrived on the link to `from`.
    pub fn inject(&mut self, i: usize, from: usize, packet: Vec<u8>) {
        if let Some(edge) = self.edge(i, from) {
            self.nodes[i].router.receive(edge_link(edge), packet, Millis::from_ms(self.now));
            self.after(i);
        }
    }

    /// Processes node `i`'s outputs and schedules its next wake-up.
    fn after(&mut self, i: usize) {
        let mut outputs = std::mem::take(&mut self.outputs);
        // A held packet's outcome makes more outputs: until there are none.
        loop {
            self.nodes[i].router.drain_into(&mut outputs);
            if outputs.is_empty() {
                break;
            }
            for output in outputs.drain(..) {
                match output {
                    RouterOutput::Transmit { link, packet } => {
                        self.transmit(i, link, packet);
                    }
                    RouterOutput::TransmitHeld { link, packet, held } => {
                        if self.transmit(i, link, packet) {
                            self.nodes[i].router.held_sent(&held);
                        } else {
                            self.nodes[i].router.held_refused(held);
                        }
                    }
                    RouterOutput::Deliver(delivery) => self.nodes[i].delivered.push((self.now, delivery)),
                    RouterOutput::TraceDone { id, path } => self.nodes[i].traces.push((id, path)),
                    RouterOutput::Hold(HoldChange::Put(held)) => self.nodes[i].held_records.push(held.record()),
                    RouterOutput::Hold(HoldChange::Delete(_))
                    | RouterOutput::KeyLearned { .. }
                    | RouterOutput::KeyForgotten { .. } => {}
                }
            }
        }
        self.outputs = outputs;
        if let Some(at) = self.nodes[i].router.next_deadline() {
            let at = at.as_ms().max(self.now + 1);
            if self.nodes[i].wake_at.is_none_or(|w| w > at || w < self.now) {
                self.nodes[i].wake_at = Some(at);
                self.push(at, Event::Wake { node: i });
            }
        }
    }

    /// Puts `packet` on link `link`; false when the link did not take it
    /// (down, or refusing). A loss on the way is not known to the sender.
    fn transmit(&mut self, from: usize, link: LinkId, packet: Vec<u8>) -> bool {
        let Some(edge) = link_edge(link).and_then(|edge| self.edges.get_mut(edge)) else { return false };
        if !edge.up {
            return false;
        }
        let (to, direction) = if edge.ends.0 == from { (edge.ends.1, 0) } else { (edge.ends.0, 1) };
        if edge.refuse_until[direction] > self.now {
            self.stats.refused += 1;
            return false;
        }
        let airtime_ms = (packet.len() as u64 * 8 * 1000).div_ceil(self.config.bandwidth_bps.max(1));
        let start = edge.busy_until[direction].max(self.now);
        edge.busy_until[direction] = start + airtime_ms;
        let arrive = start + airtime_ms + self.config.latency_ms;
        self.stats.transmitted += 1;
        self.stats.bytes += packet.len() as u64;
        if self.config.loss > 0.0 && self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return true;
        }
        self.push(arrive, Event::Arrive { node: to, link, packet });
        true
    }

    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    /// Processes the next event; false when none is left.
    pub fn step(&mut self) -> bool {
        let Some(Reverse((at, _, event))) = self.queue.pop() else { return false };
        self.now = self.now.max(at);
        self.stats.events += 1;
        match event {
            Event::Arrive { node, link, packet } => {
                // A packet in flight when its link went down is lost.
                if link_edge(link).and_then(|edge| self.edges.get(edge)).is_some_and(|e| e.up) {
                    if let Some(heard) = self.nodes[node].heard.as_mut() {
                        heard.push(packet.clone());
                    }
                    if let Some(trace) = self.trace.as_mut() {
                        trace.update(self.now.to_le_bytes());
                        trace.update((node as u64).to_le_bytes());
                        trace.update(link_edge(link).unwrap_or(usize::MAX).to_le_bytes());
                        trace.update((packet.len() as u64).to_le_bytes());
                        trace.update(&packet);
                    }
                    self.nodes[node].router.receive(link, packet, Millis::from_ms(self.now));
                    self.after(node);
                }
            }
            Event::Wake { node } => {
                if self.nodes[node].wake_at == Some(at) {
                    self.nodes[node].wake_at = None;
                    self.nodes[node].router.poll(Millis::from_ms(self.now));
                    self.after(node);
                }
            }
        }
        true
    }

    /// Runs until virtual time `until_ms` (events at that time included).
    pub fn run_until(&mut self, until_ms: u64) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until_ms {
                break;
            }
            self.step();
        }
        self.now = self.now.max(until_ms);
    }

    /// Runs `ms` more.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// Whether every node has a route to every other node.
    pub fn converged(&self) -> bool {
        self.nodes.iter().all(|n| n.router.table().reachable(self.now()) >= self.nodes.len() - 1)
    }

    /// Routes known over all nodes, and the number full convergence needs.
    pub fn route_count(&self) -> (usize, usize) {
        let have = self.nodes.iter().map(|n| n.router.table().reachable(self.now())).sum();
        (have, self.nodes.len() * self.nodes.len().saturating_sub(1))
    }

    /// Runs until [`Sim::converged`], checking every `check_ms`; the time
    /// it converged, or `None` by `deadline_ms`.
    pub fn run_until_converged(&mut self, check_ms: u64, deadline_ms: u64) -> Option<u64> {
        loop {
            if self.converged() {
                return Some(self.now);
            }
            if self.now >= deadline_ms {
                return None;
            }
            self.run_until((self.now + check_ms).min(deadline_ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_converges_and_a_message_crosses_it() {
        let mut sim = Sim::new(Topology::line(5), SimConfig::default());
        assert!(sim.run_until_converged(100, 10_000).is_some());
        assert_eq!(sim.node(0).router.route(&sim.address(4), sim.now()).map(|r| r.hops), Some(4));
        assert_eq!(sim.send(0, 4, 7, b"hello", true), Sent::Queued, "the first message waits for a handshake");
        sim.run_for(1_000);
        let [(_, delivery)] = &sim.node(4).delivered[..] else { panic!("{:?}", sim.node(4).delivered) };
        assert_eq!(
            (delivery.payload.as_slice(), delivery.sealed, delivery.from),
            (&b"hello"[..], true, Some(sim.address(0)))
        );
        assert!(delivery.verified);
        assert!(matches!(sim.send(0, 4, 7, b"again", true), Sent::Transmitted(_)), "then straight out");
    }
}
