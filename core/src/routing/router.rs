//! The router core: sans-IO, deterministic.
//!
//! Owns: what happens to every routed packet. Inputs are plain calls with
//! the current time in milliseconds ([`Router::receive`], [`Router::send`],
//! [`Router::flood`], [`Router::link_up`], [`Router::poll`], ...); outputs
//! are [`RouterOutput`]s drained with [`Router::drain_into`]. No sockets,
//! threads or clocks: the node runtime and the simulator both drive it, so
//! every rule here is testable with exact timestamps.
//!
//! Must not: call plugins, touch storage (it emits [`HoldChange`]s for the
//! runtime to persist) or know what a link is made of.

use super::announce::{Announce, AnnounceCheck, VerifyMemo};
use super::budget::AnnounceBudget;
use super::fast_hash::FastMap;
use super::pending::{Held, HoldChange, HoldCounters, HoldLimits, HoldQueue};
use super::seen::{Came, Seen};
use super::table::{LinkId, Route, RoutingTable};
use super::wire::{Body, FLAG_SEALED, FLAG_SOURCE, HOP_COUNT_OFFSET, Hops, Inner, Packet, trace_path};
use crate::crypto::{NodeIdentity, open, seal};
use crate::session::{Directory, SessionConfig, SessionOutput, SessionSend, Sessions};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::Digest;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use weft_plugin_api::Address;
use weft_plugin_api::internal::rng::SplitMix64;

/// Capability bit: the node forwards packets for others.
pub const CAPABILITY_RELAY: u16 = 1;
/// Capability bit: the node holds packets for unreachable nodes.
pub const CAPABILITY_STORE: u16 = 2;

/// Tunables of the router; defaults suit a LAN/Internet mesh.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Hop limit of packets this node originates.
    pub max_hops: u8,
    /// How often the node announces itself, ms.
    pub announce_interval_ms: u64,
    /// How long a route lives without a fresh announce, ms.
    pub route_ttl_ms: u64,
    /// Upper bound of the random delay before rebroadcasting an announce, ms.
    pub rebroadcast_delay_ms: u64,
    /// Share of each link's bandwidth announces may use.
    pub announce_share: f64,
    /// First retry interval of a path request, ms (doubles up to a minute).
    pub path_request_interval_ms: u64,
    /// How long flood and request ids are remembered, ms.
    pub dedup_window_ms: u64,
    /// Flood and request ids remembered at most.
    pub dedup_capacity: usize,
    /// Store-and-forward limits.
    pub hold: HoldLimits,
    /// Capability flags announced.
    pub capabilities: u16,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            max_hops: 32,
            announce_interval_ms: 10 * 60 * 1000,
            route_ttl_ms: 35 * 60 * 1000,
            rebroadcast_delay_ms: 50,
            announce_share: 0.02,
            path_request_interval_ms: 1000,
            dedup_window_ms: 2 * 60 * 1000,
            dedup_capacity: 65_536,
            hold: HoldLimits::default(),
            capabilities: CAPABILITY_RELAY | CAPABILITY_STORE,
        }
    }
}

/// What the router knows about a link when it comes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// The neighbour at the other end.
    pub neighbour: Address,
    /// Cost of the link (routes of equal hops prefer the cheaper).
    pub cost: u32,
    /// Bandwidth, bits per second, for the announce budget.
    pub bandwidth_bps: u64,
}

/// How a delivered message can be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyPath {
    /// Send to this node (it revealed itself).
    Node(Address),
    /// Send back along the path of this flood.
    Flood(u64),
    /// The sender left no way back.
    None,
}

/// A message for a local service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The service port.
    pub port: u16,
    /// The sender, when it revealed itself.
    pub from: Option<Address>,
    /// The payload (opened, when it was sealed).
    pub payload: Vec<u8>,
    /// The sender's request tag.
    pub tag: u64,
    /// The tag of the request this answers.
    pub reply_to: Option<u64>,
    /// Whether it travelled sealed.
    pub sealed: bool,
    /// Whether `from` is verified (it came in a session with that node, or
    /// from this node itself); otherwise it is only what the packet claims.
    pub verified: bool,
    /// Whether it came as a flood or an answer to one (never sealed; its
    /// `from` is the claimed source, which is what a flood can offer).
    pub flooded: bool,
    /// How to answer it.
    pub reply: ReplyPath,
}

/// Something the router's driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterOutput {
    /// Send these bytes on a link.
    Transmit {
        /// The link.
        link: LinkId,
        /// The packet.
        packet: Vec<u8>,
    },
    /// Send a held packet on a link. It is still in the hold (and on disk):
    /// tell the router whether the link took it ([`Router::held_sent`]) or
    /// refused it ([`Router::held_refused`]), so it leaves the hold only
    /// once sent.
    TransmitHeld {
        /// The link.
        link: LinkId,
        /// The packet (sealed now if it was held unsealed).
        packet: Vec<u8>,
        /// The hold entry it came from.
        held: Held,
    },
    /// Hand a message to the service on its port.
    Deliver(Delivery),
    /// Persist a store-and-forward change.
    Hold(HoldChange),
    /// A node's signing key became known (for host calls that seal or verify).
    KeyLearned {
        /// The node.
        address: Address,
        /// Its Ed25519 key.
        signing_key: [u8; 32],
    },
    /// A trace came back.
    TraceDone {
        /// The id given to [`Router::trace`].
        id: u64,
        /// Every node after this one, the destination last.
        path: Vec<Address>,
    },
}

/// A message this node sends to one node.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The destination.
    pub to: Address,
    /// Its service port.
    pub port: u16,
    /// The payload.
    pub payload: &'a [u8],
    /// Seal it to the destination: in an end-to-end session when `reveal`
    /// (the destination learns the sender, verified), else in an anonymous
    /// one-shot box.
    pub sealed: bool,
    /// Tell the destination who sent it.
    pub reveal: bool,
    /// The sender's request tag.
    pub tag: u64,
    /// The request this answers.
    pub reply_to: Option<u64>,
}

/// What became of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Handed to this link.
    Transmitted(LinkId),
    /// For this node itself: delivered.
    Local,
    /// No path yet: held, and a path requested.
    Held,
    /// Waiting for an end-to-end session with the destination (handshake
    /// under way); sent as soon as it is established.
    Queued,
}

/// How far ahead of this node's clock an announce sequence may lie, ms.
/// Sequences are wall-clock milliseconds, so an honest node's is never far
/// ahead of anyone's clock; one further ahead could only come from a forger
/// trying to park an unbeatable sequence (or a clock a day wrong), and is
/// refused. A node never signs a sequence beyond this lead either, whatever
/// a path request claims to know.
pub const MAX_SEQUENCE_LEAD_MS: u64 = 24 * 60 * 60 * 1000;

/// Counters, for status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouterCounters {
    /// Packets that could not be decoded.
    pub undecodable: u64,
    /// Messages delivered to local ports.
    pub delivered: u64,
    /// Packets forwarded for others.
    pub forwarded: u64,
    /// Packets dropped at their hop limit.
    pub hop_limit: u64,
    /// Floods and path requests seen before.
    pub duplicates: u64,
    /// Announces taken (new or better).
    pub announces_accepted: u64,
    /// Announces with a bad signature.
    pub announces_forged: u64,
    /// Announces older than what is known (replays, late copies).
    pub announces_stale: u64,
    /// Announces whose sequence lies more than [`MAX_SEQUENCE_LEAD_MS`]
    /// ahead of this node's clock (refused: nobody could beat them).
    pub announces_implausible: u64,
    /// Path requests for this node naming a known sequence beyond
    /// [`MAX_SEQUENCE_LEAD_MS`] ahead of its clock (answered, not followed).
    pub path_requests_implausible: u64,
    /// Packets whose hop limit exceeded `max_hops`, capped on arrival.
    pub hop_limit_capped: u64,
    /// Announce bytes sent (own and rebroadcast).
    pub announce_bytes: u64,
    /// Path requests sent by this node.
    pub path_requests: u64,
    /// Path responses sent by this node.
    pub path_responses: u64,
    /// Sealed packets for this node that did not open.
    pub unopenable: u64,
    /// Replies whose way back was forgotten, traces with no route.
    pub lost: u64,
}

/// A route, for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouteRow {
    /// The node.
    pub destination: Address,
    /// The neighbour to send through.
    pub next_hop: Address,
    /// Hops to the node.
    pub hops: u8,
    /// Cost of the first link.
    pub cost: u32,
    /// Seconds until the route lapses.
    pub expires_in_s: u64,
    /// Newest announce sequence.
    pub sequence: u64,
    /// Announced capabilities.
    pub capabilities: u16,
}

struct LinkState {
    params: LinkParams,
    budget: AnnounceBudget,
}

/// An announce waiting for its random rebroadcast delay.
struct Rebroadcast {
    due_ms: u64,
    sequence: u64,
    limit: u8,
    /// Links whose neighbour sent us this announce already: they have it.
    heard: Vec<LinkId>,
}

struct PathSearch {
    next_ms: u64,
    interval_ms: u64,
}

const HOUSEKEEPING_MS: u64 = 1000;
const MAX_PATH_REQUEST_INTERVAL_MS: u64 = 60_000;
const TRACE_WAIT_MS: u64 = 30_000;

/// The router of one node. `M` is where it checks announce signatures: its
/// own memo by default, a [`super::announce::SharedMemo`] in a simulation.
pub struct Router<M: AnnounceCheck = VerifyMemo> {
    identity: NodeIdentity,
    own: Address,
    config: RouterConfig,
    links: BTreeMap<LinkId, LinkState>,
    table: RoutingTable,
    seen: Seen,
    memo: M,
    hold: HoldQueue,
    rng: SplitMix64,
    /// Ephemeral keys of one-shot sealed boxes.
    crypto_rng: StdRng,
    wall_start_ms: u64,
    own_announce: Announce,
    next_announce_ms: u64,
    rebroadcasts: FastMap<Address, Rebroadcast>,
    rebroadcast_order: BinaryHeap<Reverse<(u64, Address)>>,
    searches: FastMap<Address, PathSearch>,
    traces: Vec<(Address, u64, u64)>,
    next_housekeeping_ms: u64,
    out: Vec<RouterOutput>,
    counters: RouterCounters,
    sessions: Sessions,
    session_out: Vec<SessionOutput>,
}

impl<M: AnnounceCheck> std::fmt::Debug for Router<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("own", &self.own).field("links", &self.links.len()).finish_non_exhaustive()
    }
}

impl<M: AnnounceCheck> Router<M> {
    /// A router for `identity`. `wall_start_ms` is the Unix time at router
    /// time 0 (announce sequences and held-packet expiry are wall-clock, so
    /// they survive a restart); `seed` drives jitter, ids and (until
    /// [`Router::reseed`]) every key the router makes, so a simulation is
    /// reproducible from it; `memo` checks announce signatures.
    pub fn new(identity: NodeIdentity, config: RouterConfig, wall_start_ms: u64, seed: u64, memo: M) -> Router<M> {
        let own = identity.address();
        let own_announce = Announce::create(&identity, config.capabilities, wall_start_ms.max(1));
        let session_config = session_config(&config);
        let mut expand = SplitMix64::new(seed ^ 0x5e55_10e5_5e55_10e5);
        let mut session_seed = [0u8; 32];
        for chunk in session_seed.chunks_mut(8) {
            chunk.copy_from_slice(&expand.next_u64().to_le_bytes());
        }
        let sessions = Sessions::new(&identity, session_config, wall_start_ms, session_seed);
        let mut crypto_seed = [0u8; 32];
        for chunk in crypto_seed.chunks_mut(8) {
            chunk.copy_from_slice(&expand.next_u64().to_le_bytes());
        }
        Router {
            crypto_rng: StdRng::from_seed(crypto_seed),
            sessions,
            session_out: Vec::new(),
            own,
            seen: Seen::new(config.dedup_window_ms, config.dedup_capacity),
            hold: HoldQueue::new(config.hold),
            identity,
            config,
            links: BTreeMap::new(),
            table: RoutingTable::default(),
            memo,
            rng: SplitMix64::new(seed),
            wall_start_ms,
            own_announce,
            next_announce_ms: 0,
            rebroadcasts: FastMap::default(),
            rebroadcast_order: BinaryHeap::new(),
            searches: FastMap::default(),
            traces: Vec::new(),
            next_housekeeping_ms: 0,
            out: Vec::new(),
            counters: RouterCounters::default(),
        }
    }

    /// This node's identity.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// This node's address.
    pub fn address(&self) -> Address {
        self.own
    }

    /// Counters.
    pub fn counters(&self) -> RouterCounters {
        self.counters
    }

    /// The end-to-end sessions (counters, established peers).
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Replaces the seed of every key the router makes (session handshakes
    /// and one-shot sealed boxes). The node gives 32 bytes from the OS at
    /// start; the seed given to [`Router::new`] is only 64 bits, which suits
    /// a reproducible simulation, not ephemeral keys in the field.
    pub fn reseed(&mut self, seed: [u8; 32]) {
        // The two generators get independent seeds derived from the one.
        let crypto_seed = sha2::Sha256::new_with_prefix(b"weft router seal rng").chain_update(seed).finalize();
        self.crypto_rng = StdRng::from_seed(crypto_seed.into());
        self.sessions = Sessions::new(&self.identity, session_config(&self.config), self.wall_start_ms, seed);
        let known: Vec<Address> = self.table.announces().map(|a| a.address()).collect();
        for address in known {
            self.sessions.learn(&self.table, address, 0);
        }
    }

    /// Store-and-forward counters.
    pub fn hold_counters(&self) -> HoldCounters {
        self.hold.counters
    }

    /// Packets held for unreachable nodes.
    pub fn held(&self) -> usize {
        self.hold.len()
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// The config.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Moves what the router produced since the last call onto the end of
    /// `into`, keeping the router's own buffer (no allocation per input on
    /// the hot path).
    pub fn drain_into(&mut self, into: &mut Vec<RouterOutput>) {
        into.append(&mut self.out);
    }

    /// Usable routes, by destination.
    pub fn routes(&self, now_ms: u64) -> Vec<RouteRow> {
        let mut rows: Vec<RouteRow> = self
            .table
            .routes(now_ms)
            .map(|(destination, entry, route)| RouteRow {
                destination: *destination,
                next_hop: route.neighbour,
                hops: route.hops,
                cost: route.cost,
                expires_in_s: route.expires_ms.saturating_sub(now_ms) / 1000,
                sequence: entry.announce.sequence,
                capabilities: entry.announce.capabilities,
            })
            .collect();
        rows.sort_by_key(|r| (r.hops, r.destination));
        rows
    }

    /// The usable route to `to`.
    pub fn route(&self, to: &Address, now_ms: u64) -> Option<Route> {
        self.table.route(to, now_ms)
    }

    /// The earliest time [`Router::poll`] has work.
    pub fn next_deadline(&self) -> Option<u64> {
        let budgets = self.links.values().filter_map(|l| l.budget.next_release());
        let rebroadcast = self.rebroadcast_order.peek().map(|Reverse((at, _))| *at);
        [Some(self.next_announce_ms), Some(self.next_housekeeping_ms), rebroadcast]
            .into_iter()
            .flatten()
            .chain(budgets)
            .min()
    }

    fn wall(&self, now_ms: u64) -> u64 {
        self.wall_start_ms + now_ms
    }

    // ---- links ----------------------------------------------------------

    /// Every known node's announce, as wire bodies concatenated (the
    /// routing state a node persists when it stops: keys and sequences, so a
    /// restarted node can seal to known nodes at once and still refuses
    /// replays of older announces).
    pub fn export_announces(&self) -> Vec<u8> {
        self.table.announces().flat_map(|a| a.to_body()).collect()
    }

    /// Takes back announces exported by an earlier run. Each is verified
    /// again; forged or unreadable ones are skipped. Returns how many were
    /// taken (their keys come out as [`RouterOutput::KeyLearned`]).
    pub fn import_announces(&mut self, bodies: &[u8]) -> usize {
        let mut taken = 0;
        for chunk in bodies.chunks_exact(super::wire::ANNOUNCE_BODY) {
            let Ok(body) = <&[u8; super::wire::ANNOUNCE_BODY]>::try_from(chunk) else { continue };
            let announce = Announce::from_body(body);
            let address = announce.address();
            // Saved before this fix, a poisoned sequence must not come back.
            if address == self.own || !self.plausible_sequence(announce.sequence, 0) || !announce.verify() {
                continue;
            }
            let signing_key = announce.signing_key;
            if self.table.remember(Arc::new(announce)) {
                taken += 1;
                self.sessions.learn(&self.table, address, 0);
                self.out.push(RouterOutput::KeyLearned { address, signing_key });
            }
        }
        taken
    }

    /// A link came up; the neighbour hears this node's announce at once.
    pub fn link_up(&mut self, link: LinkId, params: LinkParams, now_ms: u64) {
        let burst = 4 * (3 + super::wire::ANNOUNCE_BODY);
        let budget = AnnounceBudget::new(params.bandwidth_bps, self.config.announce_share, burst, now_ms);
        self.links.insert(link, LinkState { params, budget });
        let packet = self.announce_packet(&self.own_announce.clone(), 0, None);
        self.send_announce(link, self.own, 0, packet.into(), now_ms);
    }

    /// A link went down: routes through it are gone.
    pub fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        self.table.link_lost(link);
    }

    /// Links up.
    pub fn links(&self) -> impl Iterator<Item = (LinkId, &LinkParams)> {
        self.links.iter().map(|(id, l)| (*id, &l.params))
    }

    // ---- timers ---------------------------------------------------------

    /// Does whatever is due at `now_ms`: own announces, rebroadcasts,
    /// budgeted announces, expiry, path request retries.
    pub fn poll(&mut self, now_ms: u64) {
        if now_ms >= self.next_announce_ms {
            self.announce_self(now_ms);
        }
        while let Some(Reverse((at, address))) = self.rebroadcast_order.peek().copied() {
            if at > now_ms {
                break;
            }
            self.rebroadcast_order.pop();
            if self.rebroadcasts.get(&address).is_some_and(|r| r.due_ms == at)
                && let Some(pending) = self.rebroadcasts.remove(&address)
            {
                self.rebroadcast(address, pending, now_ms);
            }
        }
        let mut released = Vec::new();
        for (id, link) in &mut self.links {
            if link.budget.next_release().is_some_and(|at| at <= now_ms) {
                released.extend(link.budget.release(now_ms).into_iter().map(|p| (*id, p)));
            }
        }
        for (link, packet) in released {
            self.counters.announce_bytes += packet.len() as u64;
            self.out.push(RouterOutput::Transmit { link, packet: packet.to_vec() });
        }
        if now_ms >= self.next_housekeeping_ms {
            self.next_housekeeping_ms = now_ms + HOUSEKEEPING_MS;
            self.housekeeping(now_ms);
        }
    }

    fn housekeeping(&mut self, now_ms: u64) {
        for change in self.hold.expire(self.wall(now_ms)) {
            self.out.push(RouterOutput::Hold(change));
        }
        let waiting: Vec<Address> = self
            .hold
            .destinations()
            .copied()
            .chain(self.traces.iter().map(|(to, _, _)| *to))
            .filter(|to| self.table.route(to, now_ms).is_none())
            .collect();
        for to in waiting {
            self.request_path(to, now_ms);
        }
        // Held for a destination that has a route: a link refused the
        // packets when the path appeared; try again.
        let routed: Vec<Address> =
            self.hold.destinations().copied().filter(|to| self.table.route(to, now_ms).is_some()).collect();
        for to in routed {
            self.path_found(to, now_ms);
        }
        self.sessions.poll(&self.table, now_ms);
        self.pump_sessions(now_ms);
        let lost = self.traces.len();
        self.traces.retain(|(_, _, since)| since + TRACE_WAIT_MS > now_ms);
        self.counters.lost += (lost - self.traces.len()) as u64;
        self.searches.retain(|to, _| self.table.route(to, now_ms).is_none());
    }

    // ---- announces ------------------------------------------------------

    fn announce_packet(&self, announce: &Announce, count: u8, request: Option<u64>) -> Vec<u8> {
        let body = announce.to_body();
        Packet { hops: Hops { count, limit: self.config.max_hops }, body: Body::Announce { request, body: &body } }
            .encode()
    }

    fn next_sequence(&self, now_ms: u64) -> u64 {
        self.own_announce.sequence.saturating_add(1).max(self.wall(now_ms))
    }

    /// Whether `sequence` lies within [`MAX_SEQUENCE_LEAD_MS`] of this
    /// node's clock.
    fn plausible_sequence(&self, sequence: u64, now_ms: u64) -> bool {
        sequence <= self.wall(now_ms).saturating_add(MAX_SEQUENCE_LEAD_MS)
    }

    /// Signs a fresh announce and floods it on every link.
    fn announce_self(&mut self, now_ms: u64) {
        let jitter = self.rng.up_to(self.config.announce_interval_ms / 10);
        self.next_announce_ms = now_ms + self.config.announce_interval_ms - jitter;
        self.own_announce = Announce::create(&self.identity, self.config.capabilities, self.next_sequence(now_ms));
        let packet: Arc<[u8]> = self.announce_packet(&self.own_announce.clone(), 0, None).into();
        let links: Vec<LinkId> = self.links.keys().copied().collect();
        for link in links {
            self.send_announce(link, self.own, 0, packet.clone(), now_ms);
        }
    }

    fn send_announce(&mut self, link: LinkId, origin: Address, hops: u8, packet: Arc<[u8]>, now_ms: u64) {
        let Some(state) = self.links.get_mut(&link) else { return };
        if let Some(packet) = state.budget.offer(origin, hops, packet, now_ms) {
            self.counters.announce_bytes += packet.len() as u64;
            self.out.push(RouterOutput::Transmit { link, packet: packet.to_vec() });
        }
    }

    fn rebroadcast(&mut self, address: Address, pending: Rebroadcast, now_ms: u64) {
        let (Some(entry), Some(route)) = (self.table.entry(&address), self.table.route(&address, now_ms)) else {
            return;
        };
        if route.hops >= pending.limit {
            return;
        }
        let body = entry.announce.to_body();
        let packet: Arc<[u8]> = Packet {
            hops: Hops { count: route.hops, limit: pending.limit },
            body: Body::Announce { request: None, body: &body },
        }
        .encode()
        .into();
        let links: Vec<LinkId> = self.links.keys().copied().filter(|l| !pending.heard.contains(l)).collect();
        for link in links {
            self.send_announce(link, address, route.hops, packet.clone(), now_ms);
        }
    }

    fn on_announce(&mut self, link: LinkId, hops: Hops, request: Option<u64>, announce: Announce, now_ms: u64) {
        let address = announce.address();
        if address == self.own {
            return;
        }
        let Some(state) = self.links.get(&link) else { return };
        let (neighbour, cost) = (state.params.neighbour, state.params.cost);
        if !self.plausible_sequence(announce.sequence, now_ms) {
            self.counters.announces_implausible += 1;
            return;
        }
        let distance = hops.count.saturating_add(1);
        let verdict = self.table.judge(&address, announce.sequence, distance, cost, now_ms);
        if verdict == super::table::Verdict::Stale {
            self.counters.announces_stale += 1;
            return;
        }
        if !verdict.accepted() && request.is_none() {
            // A copy of what is known: the neighbour has it, so it need not
            // get our rebroadcast (checking it would change nothing else).
            if let Some(pending) = self.rebroadcasts.get_mut(&address)
                && pending.sequence == announce.sequence
                && !pending.heard.contains(&link)
            {
                pending.heard.push(link);
            }
            if let Some(state) = self.links.get_mut(&link) {
                state.budget.forget(&address);
            }
            return;
        }
        let checked = self.memo.check(&announce);
        let Some(shared) = checked else {
            self.counters.announces_forged += 1;
            return;
        };
        if verdict.accepted() {
            self.counters.announces_accepted += 1;
            let known = self.table.entry(&address).is_some();
            let route = Route { link, neighbour, hops: distance, cost, expires_ms: now_ms + self.config.route_ttl_ms };
            self.table.accept(shared, route);
            if !known {
                self.out.push(RouterOutput::KeyLearned { address, signing_key: announce.signing_key });
                self.sessions.learn(&self.table, address, now_ms);
                self.pump_sessions(now_ms);
            }
            if request.is_none() && distance < hops.limit {
                match self.rebroadcasts.get_mut(&address) {
                    // A better path while the rebroadcast waits: it will carry the new distance.
                    Some(pending) if pending.sequence == announce.sequence => pending.heard.push(link),
                    _ => {
                        let due_ms = now_ms + self.rng.up_to(self.config.rebroadcast_delay_ms);
                        let pending =
                            Rebroadcast { due_ms, sequence: announce.sequence, limit: hops.limit, heard: vec![link] };
                        self.rebroadcasts.insert(address, pending);
                        self.rebroadcast_order.push(Reverse((due_ms, address)));
                    }
                }
            }
            self.path_found(address, now_ms);
        }
        if let Some(request) = request
            && let Some(Came::Link(back)) = self.seen.came(request, now_ms)
            && back != link
        {
            let packet = self.announce_packet(&announce, distance, Some(request));
            self.out.push(RouterOutput::Transmit { link: back, packet });
        }
    }

    // ---- path discovery -------------------------------------------------

    fn request_path(&mut self, to: Address, now_ms: u64) {
        let interval = self.config.path_request_interval_ms.max(1);
        let search = self.searches.entry(to).or_insert(PathSearch { next_ms: 0, interval_ms: interval });
        if search.next_ms > now_ms {
            return;
        }
        search.next_ms = now_ms + search.interval_ms;
        search.interval_ms = (search.interval_ms * 2).min(MAX_PATH_REQUEST_INTERVAL_MS);
        let request = self.rng.next_u64();
        self.seen.first_time(request, Came::Here, now_ms);
        let known_sequence = self.table.sequence(&to);
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::PathRequest { request, target: to, known_sequence },
        }
        .encode();
        self.counters.path_requests += 1;
        self.send_on_all_links(None, packet);
    }

    fn on_path_request(
        &mut self,
        link: LinkId,
        mut packet: Vec<u8>,
        hops: Hops,
        (request, target, known): (u64, Address, u64),
        now_ms: u64,
    ) {
        if !self.seen.first_time(request, Came::Link(link), now_ms) {
            self.counters.duplicates += 1;
            return;
        }
        if target == self.own {
            // The requester knows a newer sequence than ours (we restarted
            // with the clock behind): outbid it, but never beyond a bounded
            // lead over our own clock, whatever the wire says.
            let outbid = known.checked_add(1).filter(|&s| self.plausible_sequence(s, now_ms));
            match outbid {
                Some(outbid) if self.own_announce.sequence < outbid => {
                    self.own_announce = Announce::create(
                        &self.identity,
                        self.config.capabilities,
                        self.next_sequence(now_ms).max(outbid),
                    );
                }
                Some(_) => {}
                None => self.counters.path_requests_implausible += 1,
            }
            let packet = self.announce_packet(&self.own_announce.clone(), 0, Some(request));
            self.counters.path_responses += 1;
            self.out.push(RouterOutput::Transmit { link, packet });
            return;
        }
        if let (Some(route), Some(entry)) = (self.table.route(&target, now_ms), self.table.entry(&target))
            && route.link != link
            && entry.announce.sequence > known
        {
            let packet = self.announce_packet(&entry.announce.clone(), route.hops, Some(request));
            self.counters.path_responses += 1;
            self.out.push(RouterOutput::Transmit { link, packet });
            return;
        }
        if hops.count.saturating_add(1) < hops.limit {
            packet[HOP_COUNT_OFFSET] = hops.count + 1;
            self.send_on_all_links(Some(link), packet);
        } else {
            self.counters.hop_limit += 1;
        }
    }

    /// A route to `to` appeared: send what waited for it.
    fn path_found(&mut self, to: Address, now_ms: u64) {
        self.searches.remove(&to);
        let Some(route) = self.table.route(&to, now_ms) else { return };
        for held in self.hold.take(&to) {
            if held.needs_seal && self.held_into_session(&held, now_ms) {
                self.hold.counters.delivered += 1;
                self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
                continue;
            }
            match self.finish_held(&held) {
                Some(packet) => self.out.push(RouterOutput::TransmitHeld { link: route.link, packet, held }),
                None => {
                    self.counters.undecodable += 1;
                    self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
                }
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = self.traces.drain(..).partition(|(t, _, _)| *t == to);
        self.traces = waiting;
        for (to, id, _) in ready {
            self.start_trace(to, id, route);
        }
    }

    /// A link took a held packet ([`RouterOutput::TransmitHeld`]): it
    /// leaves the hold and the disk.
    pub fn held_sent(&mut self, held: &Held) {
        self.hold.counters.delivered += 1;
        self.out.push(RouterOutput::Hold(HoldChange::Delete(held.key)));
    }

    /// A link refused a held packet ([`RouterOutput::TransmitHeld`]): it
    /// goes back into the hold as it was (its record never left the disk)
    /// and is tried again at the next housekeeping while a route exists, or
    /// when a path appears.
    pub fn held_refused(&mut self, held: Held) {
        self.hold.counters.requeued += 1;
        for change in self.hold.restore(held) {
            self.out.push(RouterOutput::Hold(change));
        }
    }

    /// Hands a held message that reveals its sender to the sessions, now
    /// that the destination's key is known. False when it is not such a
    /// message (anonymous ones are sealed in a one-shot box instead).
    fn held_into_session(&mut self, held: &Held, now_ms: u64) -> bool {
        let Ok(packet) = Packet::decode(&held.packet) else { return false };
        let Body::Data { destination, port, flags, inner } = packet.body else { return false };
        if flags & FLAG_SOURCE == 0 {
            return false;
        }
        let Ok(fields) = Inner::decode(flags, inner) else { return false };
        let inner = Inner { source: None, ..fields };
        self.sessions.send(&self.table, destination, port, inner.flags(), &inner.encode(), now_ms);
        self.pump_sessions(now_ms);
        true
    }

    /// Routes what the sessions produced: packets toward their node (held
    /// while no route is known), opened messages to their port.
    fn pump_sessions(&mut self, now_ms: u64) {
        self.sessions.drain_into(&mut self.session_out);
        if self.session_out.is_empty() {
            return;
        }
        // Drained, not borrowed: each sealed packet moves on without a copy.
        let mut outputs = std::mem::take(&mut self.session_out);
        for output in outputs.drain(..) {
            match output {
                SessionOutput::Route { to, packet } => self.route_or_hold(to, packet, now_ms),
                SessionOutput::Deliver { from, flags, port, fields } => match Inner::decode(flags, &fields) {
                    Ok(inner) => {
                        let fields = Inner { source: Some(from), ..inner };
                        self.deliver(port, &fields, true, true, ReplyPath::Node(from));
                    }
                    Err(_) => self.counters.undecodable += 1,
                },
                SessionOutput::NeedKey(node) => self.request_path(node, now_ms),
            }
        }
        self.session_out = outputs;
    }

    fn route_or_hold(&mut self, to: Address, packet: Vec<u8>, now_ms: u64) {
        match self.table.route(&to, now_ms) {
            Some(route) => self.out.push(RouterOutput::Transmit { link: route.link, packet }),
            None => self.hold_packet(to, packet, false, now_ms),
        }
    }

    /// Seals a held packet that originated here, now that the key is known.
    fn finish_held(&mut self, held: &Held) -> Option<Vec<u8>> {
        if !held.needs_seal {
            return Some(held.packet.clone());
        }
        let packet = Packet::decode(&held.packet).ok()?;
        let Body::Data { destination, port, flags, inner } = packet.body else { return None };
        let key = self.table.entry(&destination)?.announce.sealing_key;
        let sealed = seal(&mut self.crypto_rng, &x25519_dalek::PublicKey::from(key), inner);
        Some(Packet { hops: packet.hops, body: Body::Data { destination, port, flags, inner: &sealed } }.encode())
    }

    fn hold_packet(&mut self, to: Address, packet: Vec<u8>, needs_seal: bool, now_ms: u64) {
        let expires = self.wall(now_ms) + self.hold.limits().ttl_ms;
        for change in self.hold.hold(to, packet, needs_seal, expires) {
            self.out.push(RouterOutput::Hold(change));
        }
        self.request_path(to, now_ms);
    }

    /// Takes back packets persisted by an earlier run.
    pub fn restore(&mut self, key: u64, record: &[u8]) -> bool {
        let Some(held) = Held::from_record(key, record) else { return false };
        for change in self.hold.restore(held) {
            self.out.push(RouterOutput::Hold(change));
        }
        true
    }

    // ---- sending --------------------------------------------------------

    fn send_on_all_links(&mut self, except: Option<LinkId>, packet: Vec<u8>) {
        let links: Vec<LinkId> = self.links.keys().copied().filter(|l| Some(*l) != except).collect();
        if let Some((last, rest)) = links.split_last() {
            for link in rest {
                self.out.push(RouterOutput::Transmit { link: *link, packet: packet.clone() });
            }
            self.out.push(RouterOutput::Transmit { link: *last, packet });
        }
    }

    /// Sends a message to one node: at once when a route is known, else held
    /// while a path is requested.
    pub fn send(&mut self, message: Outgoing<'_>, now_ms: u64) -> Sent {
        let inner = Inner {
            source: message.reveal.then_some(self.own),
            tag: message.tag,
            reply_to: message.reply_to,
            payload: message.payload,
        };
        if message.to == self.own {
            self.counters.delivered += 1;
            self.out.push(RouterOutput::Deliver(Delivery {
                port: message.port,
                from: inner.source,
                payload: message.payload.to_vec(),
                tag: message.tag,
                reply_to: message.reply_to,
                sealed: message.sealed,
                verified: true,
                flooded: false,
                reply: ReplyPath::Node(self.own),
            }));
            return Sent::Local;
        }
        if message.sealed && message.reveal && self.table.entry(&message.to).is_some() {
            let inner = Inner { source: None, ..inner };
            let sent =
                self.sessions.send(&self.table, message.to, message.port, inner.flags(), &inner.encode(), now_ms);
            let route = self.table.route(&message.to, now_ms);
            self.pump_sessions(now_ms);
            return match (sent, route) {
                (SessionSend::Sealed, Some(route)) => Sent::Transmitted(route.link),
                (SessionSend::Sealed, None) => Sent::Held,
                (SessionSend::Queued, _) => Sent::Queued,
                (SessionSend::Refused, _) => Sent::Held,
            };
        }
        let flags = inner.flags() | if message.sealed { FLAG_SEALED } else { 0 };
        let plain = inner.encode();
        let hops = Hops::fresh(self.config.max_hops);
        match (self.table.route(&message.to, now_ms), self.table.entry(&message.to)) {
            (Some(route), Some(entry)) => {
                let sealed;
                let body = if message.sealed {
                    sealed =
                        seal(&mut self.crypto_rng, &x25519_dalek::PublicKey::from(entry.announce.sealing_key), &plain);
                    &sealed[..]
                } else {
                    &plain[..]
                };
                let packet = Packet {
                    hops,
                    body: Body::Data { destination: message.to, port: message.port, flags, inner: body },
                }
                .encode();
                self.out.push(RouterOutput::Transmit { link: route.link, packet });
                Sent::Transmitted(route.link)
            }
            _ => {
                let packet = Packet {
                    hops,
                    body: Body::Data { destination: message.to, port: message.port, flags, inner: &plain },
                }
                .encode();
                self.hold_packet(message.to, packet, message.sealed, now_ms);
                Sent::Held
            }
        }
    }

    /// Floods a message to `port` on every node within `hops`; returns the
    /// flood's id (replies come back as [`ReplyPath::Flood`] answers).
    pub fn flood(&mut self, port: u16, payload: &[u8], hops: u8, reveal: bool, now_ms: u64) -> u64 {
        let id = self.rng.next_u64();
        self.seen.first_time(id, Came::Here, now_ms);
        let inner = Inner { source: reveal.then_some(self.own), tag: 0, reply_to: None, payload };
        let encoded = inner.encode();
        let packet = Packet {
            hops: Hops::fresh(hops.min(self.config.max_hops)),
            body: Body::Flood { id, port, flags: inner.flags(), inner: &encoded },
        }
        .encode();
        self.send_on_all_links(None, packet);
        id
    }

    /// Answers a flood along the path it came by.
    pub fn reply_to_flood(
        &mut self,
        flood: u64,
        port: u16,
        payload: &[u8],
        reveal: bool,
        reply_to: Option<u64>,
        now_ms: u64,
    ) -> Result<Sent, String> {
        let back = match self.seen.came(flood, now_ms) {
            Some(Came::Link(link)) if self.links.contains_key(&link) => link,
            Some(Came::Here) => return Err("the flood was sent by this node".into()),
            _ => return Err("the flood's way back is forgotten or its link is down".into()),
        };
        let inner = Inner { source: reveal.then_some(self.own), tag: 0, reply_to, payload };
        let encoded = inner.encode();
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::Return { id: flood, port, flags: inner.flags(), inner: &encoded },
        }
        .encode();
        self.out.push(RouterOutput::Transmit { link: back, packet });
        Ok(Sent::Transmitted(back))
    }

    /// Traces the path to `to`; the answer comes as [`RouterOutput::TraceDone`]
    /// with `id` (after a path request, if no route is known yet).
    pub fn trace(&mut self, to: Address, id: u64, now_ms: u64) {
        if to == self.own {
            self.out.push(RouterOutput::TraceDone { id, path: Vec::new() });
            return;
        }
        match self.table.route(&to, now_ms) {
            Some(route) => self.start_trace(to, id, route),
            None => {
                self.traces.push((to, id, now_ms));
                self.request_path(to, now_ms);
            }
        }
    }

    fn start_trace(&mut self, to: Address, id: u64, route: Route) {
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::Trace { reply: false, id, destination: to, origin: self.own, path: &[] },
        }
        .encode();
        self.out.push(RouterOutput::Transmit { link: route.link, packet });
    }

    // ---- receiving ------------------------------------------------------

    /// A packet arrived on `link`.
    pub fn receive(&mut self, link: LinkId, mut packet: Vec<u8>, now_ms: u64) {
        if !self.links.contains_key(&link) {
            return;
        }
        // Nobody relays further than this node would originate: a hop limit
        // from the wire above `max_hops` is capped before anything else.
        if let Some(limit) = packet.get_mut(HOP_COUNT_OFFSET + 1)
            && *limit > self.config.max_hops
        {
            *limit = self.config.max_hops;
            self.counters.hop_limit_capped += 1;
        }
        let decoded = match Packet::decode(&packet) {
            Ok(decoded) => decoded,
            Err(_) => {
                self.counters.undecodable += 1;
                return;
            }
        };
        let hops = decoded.hops;
        match decoded.body {
            Body::Data { destination, port, flags, inner } => {
                if destination == self.own {
                    self.deliver_data(port, flags, inner);
                } else {
                    self.forward(link, destination, packet, now_ms);
                }
            }
            Body::Flood { id, port, flags, inner } => {
                if !self.seen.first_time(id, Came::Link(link), now_ms) {
                    self.counters.duplicates += 1;
                    return;
                }
                match Inner::decode(flags, inner) {
                    Ok(fields) => {
                        self.deliver(port, &fields, false, false, ReplyPath::Flood(id));
                        self.mark_flooded();
                    }
                    Err(_) => self.counters.undecodable += 1,
                }
                if hops.count.saturating_add(1) < hops.limit {
                    let mut packet = packet;
                    packet[HOP_COUNT_OFFSET] = hops.count + 1;
                    self.counters.forwarded += 1;
                    self.send_on_all_links(Some(link), packet);
                } else {
                    self.counters.hop_limit += 1;
                }
            }
            Body::Return { id, port, flags, inner } => match self.seen.came(id, now_ms) {
                Some(Came::Here) => match Inner::decode(flags, inner) {
                    Ok(fields) => {
                        let reply = fields.source.map_or(ReplyPath::None, ReplyPath::Node);
                        self.deliver(port, &fields, false, false, reply);
                        self.mark_flooded();
                    }
                    Err(_) => self.counters.undecodable += 1,
                },
                Some(Came::Link(back)) if hops.count.saturating_add(1) < hops.limit => {
                    let mut packet = packet;
                    packet[HOP_COUNT_OFFSET] = hops.count + 1;
                    self.counters.forwarded += 1;
                    self.out.push(RouterOutput::Transmit { link: back, packet });
                }
                _ => self.counters.lost += 1,
            },
            Body::Announce { request, body } => {
                let announce = Announce::from_body(body);
                self.on_announce(link, hops, request, announce, now_ms);
            }
            Body::PathRequest { request, target, known_sequence } => {
                self.on_path_request(link, packet, hops, (request, target, known_sequence), now_ms);
            }
            Body::Trace { reply, id, destination, origin, path } => {
                self.on_trace(hops, (reply, id, destination, origin, path.to_vec()), now_ms);
            }
            Body::Session { destination, index, counter, sealed } => {
                if destination == self.own {
                    self.sessions.receive_message(&self.identity, index, counter, sealed, now_ms);
                    self.pump_sessions(now_ms);
                } else {
                    self.forward(link, destination, packet, now_ms);
                }
            }
            Body::Handshake { destination, step, body } => {
                if destination == self.own {
                    self.sessions.receive_handshake(&self.table, step, body, now_ms);
                    self.pump_sessions(now_ms);
                } else {
                    self.forward(link, destination, packet, now_ms);
                }
            }
        }
    }

    fn deliver_data(&mut self, port: u16, flags: u8, inner: &[u8]) {
        let sealed = flags & FLAG_SEALED != 0;
        let opened;
        let bytes = if sealed {
            match open(&self.identity.x25519_secret(), inner) {
                Ok(plain) => {
                    opened = plain;
                    &opened[..]
                }
                Err(_) => {
                    self.counters.unopenable += 1;
                    return;
                }
            }
        } else {
            inner
        };
        match Inner::decode(flags, bytes) {
            Ok(fields) => {
                let reply = fields.source.map_or(ReplyPath::None, ReplyPath::Node);
                self.deliver(port, &fields, sealed, false, reply);
            }
            Err(_) => self.counters.undecodable += 1,
        }
    }

    /// The delivery just made came by flood (or answers one).
    fn mark_flooded(&mut self) {
        if let Some(RouterOutput::Deliver(delivery)) = self.out.last_mut() {
            delivery.flooded = true;
        }
    }

    fn deliver(&mut self, port: u16, fields: &Inner<'_>, sealed: bool, verified: bool, reply: ReplyPath) {
        self.counters.delivered += 1;
        self.out.push(RouterOutput::Deliver(Delivery {
            port,
            from: fields.source,
            payload: fields.payload.to_vec(),
            tag: fields.tag,
            reply_to: fields.reply_to,
            sealed,
            verified,
            flooded: false,
            reply,
        }));
    }

    fn forward(&mut self, from: LinkId, to: Address, mut packet: Vec<u8>, now_ms: u64) {
        let (count, limit) = (packet[HOP_COUNT_OFFSET], packet[HOP_COUNT_OFFSET + 1]);
        if count.saturating_add(1) >= limit {
            self.counters.hop_limit += 1;
            return;
        }
        packet[HOP_COUNT_OFFSET] = count + 1;
        match self.table.route(&to, now_ms) {
            // Sending it back where it came from would loop: the route is stale.
            Some(route) if route.link != from => {
                self.counters.forwarded += 1;
                self.out.push(RouterOutput::Transmit { link: route.link, packet });
            }
            _ => {
                self.table.forget_route(&to);
                self.hold_packet(to, packet, false, now_ms);
            }
        }
    }

    fn on_trace(&mut self, hops: Hops, (reply, id, destination, origin, mut path): TraceFields, now_ms: u64) {
        if reply {
            if origin == self.own {
                let mut nodes = trace_path(&path);
                nodes.push(destination);
                self.out.push(RouterOutput::TraceDone { id, path: nodes });
                return;
            }
            self.route_trace(origin, Some(hops), Body::Trace { reply, id, destination, origin, path: &path }, now_ms);
        } else if destination == self.own {
            let body = Body::Trace { reply: true, id, destination, origin, path: &path };
            self.route_trace(origin, None, body, now_ms);
        } else {
            path.extend_from_slice(&self.own.0);
            let body = Body::Trace { reply, id, destination, origin, path: &path };
            self.route_trace(destination, Some(hops), body, now_ms);
        }
    }

    /// Sends a trace toward `toward`: fresh (`None`) or one hop further.
    fn route_trace(&mut self, toward: Address, hops: Option<Hops>, body: Body<'_>, now_ms: u64) {
        let hops = match hops {
            None => Hops::fresh(self.config.max_hops),
            Some(h) if h.count.saturating_add(1) < h.limit => Hops { count: h.count + 1, limit: h.limit },
            Some(_) => {
                self.counters.hop_limit += 1;
                return;
            }
        };
        let Some(route) = self.table.route(&toward, now_ms) else {
            self.counters.lost += 1;
            return;
        };
        let packet = Packet { hops, body }.encode();
        self.out.push(RouterOutput::Transmit { link: route.link, packet });
    }
}

/// The sessions' tunables: defaults, with this router's hop limit.
fn session_config(config: &RouterConfig) -> SessionConfig {
    SessionConfig { max_hops: config.max_hops, ..SessionConfig::default() }
}

impl Directory for super::table::RoutingTable {
    fn static_key(&self, node: &Address) -> Option<[u8; 32]> {
        self.entry(node).map(|e| e.announce.sealing_key)
    }

    fn signing_key(&self, node: &Address) -> Option<[u8; 32]> {
        self.entry(node).map(|e| e.announce.signing_key)
    }
}

type TraceFields = (bool, u64, Address, Address, Vec<u8>);
