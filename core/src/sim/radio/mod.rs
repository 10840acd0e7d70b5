//! The radio simulator: many nodes on one shared LoRa channel, in virtual
//! time, each running the real [`Router`] and the real [`RadioLink`] (the
//! code `weft run` drives); only the radio waves are emulated, by
//! [`medium::Medium`] (range, half-duplex, collisions, carrier sense,
//! loss, time on air per the Semtech formula).
//!
//! Owns: the event queue (frame ends, carrier-sense retries, node
//! wake-ups), the glue a node's runtime does between its router and its
//! radio link (as `host/src/node/radio_host.rs` does: a neighbour up is a
//! router link, a broadcast is `RadioDest::Everyone`), the driver's part
//! (a transmit request goes on the medium; its end is reported done), and
//! per-flood figures. Deterministic for a given seed: nothing draws from
//! the OS or reads a clock ([`RadioSim::trace_hash`]).

pub mod medium;
pub mod report;

use crate::crypto::NodeIdentity;
use crate::radio::frame::Frame;
use crate::radio::link::{RadioDest, RadioLink, RadioOutput, RadioSettings, info_of};
use crate::routing::announce::SharedMemo;
use crate::routing::wire::{Body, Packet};
use crate::routing::{Delivery, LinkId, LinkParams, Router, RouterConfig, RouterOutput};
use crate::sim::topology::Placement;
use crate::time::{Micros, Millis, UnixMillis};
use medium::Medium;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use weft_plugin_api::actions::{FrameReceived, LinkState, TransmitDone};
use weft_plugin_api::radio::LoraParams;
use weft_plugin_api::{Action, Address, Event as DriverEvent, TransmitRequest};

/// The one radio every simulated node has.
const RADIO: u32 = 0;

/// Settings of a radio simulation.
#[derive(Debug, Clone)]
pub struct RadioSimConfig {
    /// The LoRa parameters every node uses.
    pub lora: LoraParams,
    /// Largest frame the simulated modems take, bytes.
    pub mtu: u16,
    /// Share of surviving receptions lost.
    pub loss: f64,
    /// Seed for keys, placement jitter, loss and backoff.
    pub seed: u64,
    /// The routers' settings.
    pub router: RouterConfig,
    /// The radio links' settings (managed flooding is among them).
    pub link: RadioSettings,
}

impl Default for RadioSimConfig {
    fn default() -> Self {
        RadioSimConfig {
            // EU868's 869.4-869.65 MHz sub-band (10 % duty cycle), where
            // Meshtastic's EU default sits.
            lora: LoraParams { frequency_hz: 869_525_000, ..LoraParams::default() },
            mtu: 255,
            loss: 0.0,
            seed: 1,
            // A radio mesh announces every 3 hours (Meshtastic sends its
            // node info as often); the LAN default of 10 minutes would keep
            // a 100-node channel busy with announces alone.
            router: RouterConfig {
                announce_interval_ms: 3 * 3_600_000,
                route_ttl_ms: 7 * 3_600_000,
                ..RouterConfig::default()
            },
            link: RadioSettings::default(),
        }
    }
}

/// One simulated node.
pub struct RadioNode {
    /// Its router.
    pub router: Router<SharedMemo>,
    /// Its radio link.
    pub link: RadioLink,
    /// Messages delivered to its ports, with the time in µs.
    pub delivered: Vec<(u64, Delivery)>,
    wake_at: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Node `node` wakes (router or link timers).
    Wake { node: usize },
    /// Frame `frame` on the medium ends.
    FrameEnd { node: usize, frame: u64, request: Request },
    /// Node `node` senses the channel again before sending.
    Sense { node: usize, request: Request },
}

/// A transmit the link asked its driver for: its id and frame.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    id: u64,
    frame: Vec<u8>,
}

/// Frames and airtime spent on one tracked flood.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloodCost {
    /// Frames carrying it.
    pub transmissions: u64,
    /// Their time on air, µs.
    pub airtime_us: u64,
}

/// The simulation.
pub struct RadioSim {
    nodes: Vec<RadioNode>,
    placement: Placement,
    medium: Medium,
    config: RadioSimConfig,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    sequence: u64,
    now: u64,
    floods: BTreeMap<u64, FloodCost>,
    trace: Sha256,
}

impl RadioSim {
    /// Places the nodes and switches their radios on at time 0.
    pub fn new(placement: Placement, config: RadioSimConfig) -> RadioSim {
        let memo = SharedMemo::default();
        let info = info_of(&config.lora, config.mtu);
        let nodes = (0..placement.points.len())
            .map(|i| {
                let mut secret = [0u8; 32];
                secret[..8].copy_from_slice(&config.seed.to_le_bytes());
                secret[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                secret[16] = 0xad;
                let identity = NodeIdentity::from_secret(secret);
                let seed = config.seed.wrapping_mul(0x9e37_79b9).wrapping_add(i as u64);
                let link = RadioLink::new(&identity, UnixMillis::ZERO, config.link.clone(), seed ^ 0x11);
                RadioNode {
                    router: Router::new(identity, config.router.clone(), UnixMillis::ZERO, seed, memo.clone()),
                    link,
                    delivered: Vec::new(),
                    wake_at: None,
                }
            })
            .collect();
        let medium = Medium::new(&placement, config.loss, config.seed ^ 0xa1);
        let mut sim = RadioSim {
            nodes,
            placement,
            medium,
            config,
            queue: BinaryHeap::new(),
            sequence: 0,
            now: 0,
            floods: BTreeMap::new(),
            trace: Sha256::new(),
        };
        for node in 0..sim.nodes.len() {
            let actions =
                vec![Action::RadioInfo(info), Action::LinkState(LinkState { up: true, detail: "simulated".into() })];
            let mut out = Vec::new();
            sim.nodes[node].link.driver_actions(actions, Micros::ZERO, &mut out);
            sim.nodes[node].router.poll(Millis::ZERO);
            sim.settle(node, out);
        }
        sim
    }

    /// Virtual time now, µs.
    pub fn now_us(&self) -> u64 {
        self.now
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &RadioNode {
        &self.nodes[i]
    }

    /// Node `i`'s address.
    pub fn address(&self, i: usize) -> Address {
        self.nodes[i].router.address()
    }

    /// Where the nodes stand and who is in range of whom.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The channel's figures so far.
    pub fn medium(&self) -> &Medium {
        &self.medium
    }

    /// Nodes whose radio has every node in range up as a neighbour.
    pub fn nodes_with_all_neighbours(&self) -> usize {
        let adjacency = self.placement.topology.adjacency();
        (0..self.nodes.len()).filter(|&i| self.nodes[i].link.neighbours().len() >= adjacency[i].len()).count()
    }

    /// Whether every node has a route to every other.
    pub fn converged(&self) -> bool {
        let now = Millis::from_ms(self.now / 1000);
        self.nodes.iter().all(|n| n.router.table().reachable(now) >= self.nodes.len() - 1)
    }

    /// Node `from` floods `payload` to `port` within `hops`; its frames on
    /// air are counted from now on ([`RadioSim::flood_cost`]).
    pub fn flood(&mut self, from: usize, port: u16, payload: &[u8], hops: u8) -> u64 {
        let id = self.nodes[from].router.flood(port, payload, hops, true, Millis::from_ms(self.now / 1000));
        self.floods.insert(id, FloodCost::default());
        self.settle(from, Vec::new());
        id
    }

    /// What flood `id` cost on the air so far.
    pub fn flood_cost(&self, id: u64) -> FloodCost {
        self.floods.get(&id).copied().unwrap_or_default()
    }

    /// Nodes other than `from` that got `payload` as a flood, and when
    /// the last of them got it (µs).
    pub fn reached(&self, from: usize, payload: &[u8]) -> (usize, Option<u64>) {
        let times: Vec<u64> = (0..self.nodes.len())
            .filter(|&i| i != from)
            .filter_map(|i| {
                self.nodes[i].delivered.iter().find(|(_, d)| d.flooded && d.payload == payload).map(|(at, _)| *at)
            })
            .collect();
        (times.len(), times.iter().max().copied())
    }

    /// The hash of every frame end (time, sender, bytes) so far: two runs
    /// from the same seed and inputs give the same hash.
    pub fn trace_hash(&self) -> [u8; 32] {
        self.trace.clone().finalize().into()
    }

    /// Runs until virtual time `until_us` (events at that time included).
    pub fn run_until(&mut self, until_us: u64) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until_us {
                break;
            }
            self.step();
        }
        self.now = self.now.max(until_us);
    }

    /// Runs `us` more.
    pub fn run_for(&mut self, us: u64) {
        self.run_until(self.now.saturating_add(us));
    }

    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    fn step(&mut self) {
        let Some(Reverse((at, _, event))) = self.queue.pop() else { return };
        self.now = self.now.max(at);
        let now = Micros::from_us(self.now);
        match event {
            Event::Wake { node } => {
                if self.nodes[node].wake_at == Some(at) {
                    self.nodes[node].wake_at = None;
                    let mut out = Vec::new();
                    self.nodes[node].link.poll(now, &mut out);
                    self.nodes[node].router.poll(now.to_millis());
                    self.settle(node, out);
                }
            }
            Event::Sense { node, request } => self.transmit(node, request),
            Event::FrameEnd { node, frame, request } => {
                self.trace.update(self.now.to_le_bytes());
                self.trace.update((node as u64).to_le_bytes());
                self.trace.update(&request.frame);
                for (to, snr) in self.medium.finish(frame) {
                    let heard = FrameReceived { frame: request.frame.clone(), rssi_dbm: None, snr_db: Some(snr) };
                    let mut out = Vec::new();
                    self.nodes[to].link.driver_actions(vec![Action::FrameReceived(heard)], now, &mut out);
                    self.settle(to, out);
                }
                let mut out = Vec::new();
                let done = Action::TransmitDone(TransmitDone { id: request.id, ok: true });
                self.nodes[node].link.driver_actions(vec![done], now, &mut out);
                self.settle(node, out);
            }
        }
    }

    /// The driver's part: the frame goes on the air, or waits for a busy
    /// channel to clear.
    fn transmit(&mut self, node: usize, request: Request) {
        if let Some(until) = self.medium.busy_until(node, self.now) {
            let at = until.saturating_add(self.medium.backoff());
            self.push(at, Event::Sense { node, request });
            return;
        }
        let airtime = self.config.lora.time_on_air_us(request.frame.len());
        if let Some(id) = flood_id(&request.frame)
            && let Some(cost) = self.floods.get_mut(&id)
        {
            cost.transmissions += 1;
            cost.airtime_us += airtime;
        }
        let frame = self.medium.start(node, self.now, airtime);
        self.push(self.now.saturating_add(airtime), Event::FrameEnd { node, frame, request });
    }

    /// Carries node `i`'s outputs between its link and its router until
    /// neither has more, as the node's runtime does, then schedules its
    /// next wake-up.
    fn settle(&mut self, i: usize, mut link_out: Vec<RadioOutput>) {
        let now = Micros::from_us(self.now);
        let mut router_out = Vec::new();
        loop {
            for output in std::mem::take(&mut link_out) {
                let node = &mut self.nodes[i];
                match output {
                    RadioOutput::Driver(DriverEvent::Transmit(TransmitRequest { id, frame })) => {
                        self.transmit(i, Request { id, frame })
                    }
                    RadioOutput::Packet { neighbour, packet } => {
                        node.router.receive(LinkId::Radio { radio: RADIO, neighbour }, packet, now.to_millis())
                    }
                    RadioOutput::NeighbourUp { neighbour, address, bandwidth_bps, airtime_cost } => {
                        let params = LinkParams { neighbour: address, cost: airtime_cost, bandwidth_bps };
                        node.router.link_up(LinkId::Radio { radio: RADIO, neighbour }, params, now.to_millis());
                    }
                    RadioOutput::NeighbourDown { neighbour, .. } => {
                        node.router.link_down(LinkId::Radio { radio: RADIO, neighbour })
                    }
                    // No modem, driver plugin or operator in a simulation.
                    RadioOutput::Driver(_)
                    | RadioOutput::Serial(_)
                    | RadioOutput::Log(..)
                    | RadioOutput::Metric(_)
                    | RadioOutput::CommandReply(_)
                    | RadioOutput::SwapReady => {}
                }
            }
            let node = &mut self.nodes[i];
            node.router.drain_into(&mut router_out);
            if router_out.is_empty() {
                break;
            }
            for output in router_out.drain(..) {
                match output {
                    RouterOutput::Transmit { link, packet } => {
                        let _ = node.link.send_packet(RadioDest::of_link(link), &packet, now, &mut link_out);
                    }
                    RouterOutput::TransmitHeld { link, packet, held } => {
                        match node.link.send_packet(RadioDest::of_link(link), &packet, now, &mut link_out) {
                            Ok(()) => node.router.held_sent(&held),
                            Err(_) => node.router.held_refused(held),
                        }
                    }
                    RouterOutput::Deliver(delivery) => node.delivered.push((self.now, delivery)),
                    RouterOutput::Hold(_)
                    | RouterOutput::KeyLearned { .. }
                    | RouterOutput::KeyForgotten { .. }
                    | RouterOutput::TraceDone { .. } => {}
                }
            }
        }
        let node = &self.nodes[i];
        let router_at = node.router.next_deadline().map(|at| at.to_micros().as_us());
        let link_at = node.link.next_deadline().map(|at| at.as_us());
        if let Some(at) = [router_at, link_at].into_iter().flatten().min() {
            let at = at.max(self.now + 1);
            if self.nodes[i].wake_at.is_none_or(|w| w > at || w < self.now) {
                self.nodes[i].wake_at = Some(at);
                self.push(at, Event::Wake { node: i });
            }
        }
    }
}

/// The flood id a broadcast frame carries, if it carries a whole flood
/// packet.
fn flood_id(frame: &[u8]) -> Option<u64> {
    let Ok(Frame::Broadcast { content, .. }) = Frame::decode(frame) else { return None };
    match Packet::decode(content).ok()?.body {
        Body::Flood { id, .. } => Some(id),
        _ => None,
    }
}
