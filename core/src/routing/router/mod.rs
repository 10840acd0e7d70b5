//! The router core: sans-IO, deterministic.
//!
//! Owns: what happens to every routed packet. Inputs are plain calls with
//! the current time in milliseconds ([`Router::receive`], [`Router::send`],
//! [`Router::flood`], [`Router::link_up`], [`Router::poll`], ...); outputs
//! are [`RouterOutput`]s drained with [`Router::drain_into`]. No sockets,
//! threads or clocks: the node runtime and the simulator both drive it, so
//! every rule here is testable with exact timestamps.
//!
//! Its files, one idea each (all but `interface` are `impl Router` blocks):
//!
//! - [`interface`]: what goes in and comes out: settings, link parameters,
//!   outgoing messages, outputs, deliveries, counters, route rows.
//! - this one: the router's state, links, polling and housekeeping, the
//!   routes it knows, persisted announces.
//! - `discovery`: own announces, rebroadcasts, path requests and answers.
//! - `sending`: sends, floods, replies to floods, sessions, held packets.
//! - `receiving`: what arrives on a link: delivered, forwarded or dropped.
//! - `trace`: path traces out and back.
//!
//! Must not: call plugins, touch storage (it emits [`HoldChange`]s for the
//! runtime to persist) or know what a link is made of.

mod discovery;
pub mod interface;
mod receiving;
mod sending;
mod trace;

pub use interface::*;

use super::announce::{Announce, AnnounceCheck, VerifyMemo};
use super::budget::AnnounceBudget;
use super::fast_hash::FastMap;
use super::limits::{Ingress, TokenBucket};
use super::link_id::LinkId;
use super::pending::{Held, HoldChange, HoldCounters, HoldQueue};
use super::seen::{Came, Seen};
use super::table::{Route, RoutingTable};
use super::wire::{Body, FLAG_SEALED, FLAG_SOURCE, HOP_COUNT_OFFSET, Hops, Inner, Packet, trace_path};
use crate::crypto::{NodeIdentity, open, seal};
use crate::session::{Directory, SessionConfig, SessionOutput, SessionSend, Sessions};
use crate::time::{Millis, UnixMillis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::Digest;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use weft_plugin_api::Address;
use weft_plugin_api::internal::rng::SplitMix64;

/// A trace waiting for a path to its destination.
struct WaitingTrace {
    to: Address,
    id: u64,
    since: Millis,
}

struct LinkState {
    params: LinkParams,
    budget: AnnounceBudget,
    ingress: Ingress,
}

/// An announce waiting for its random rebroadcast delay.
struct Rebroadcast {
    due: Millis,
    sequence: u64,
    limit: u8,
    /// Links whose neighbour sent us this announce already: they have it.
    heard: Vec<LinkId>,
}

struct PathSearch {
    next: Millis,
    interval_ms: u64,
    /// Path requests sent so far.
    tries: u32,
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
    /// Announce budgets of radio channels (a flood goes on a channel once,
    /// for all its neighbours), by radio, while a neighbour is up on it.
    channels: BTreeMap<u32, AnnounceBudget>,
    table: RoutingTable,
    seen: Seen,
    memo: M,
    hold: HoldQueue,
    rng: SplitMix64,
    /// Ephemeral keys of one-shot sealed boxes.
    crypto_rng: StdRng,
    wall_start: UnixMillis,
    own_announce: Announce,
    next_announce: Millis,
    rebroadcasts: FastMap<Address, Rebroadcast>,
    rebroadcast_order: BinaryHeap<Reverse<(Millis, Address)>>,
    searches: FastMap<Address, PathSearch>,
    /// New announces each origin may still have accepted (only origins
    /// below their burst are remembered).
    origin_buckets: FastMap<Address, TokenBucket>,
    /// Path requests this node may still send now (all searches together).
    requests_out: TokenBucket,
    traces: Vec<WaitingTrace>,
    next_housekeeping: Millis,
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
    /// A router for `identity`. `wall_start` is the Unix time at router
    /// time 0 (announce sequences and held-packet expiry are wall-clock, so
    /// they survive a restart); `seed` drives jitter, ids and (until
    /// [`Router::reseed`]) every key the router makes, so a simulation is
    /// reproducible from it; `memo` checks announce signatures.
    pub fn new(identity: NodeIdentity, config: RouterConfig, wall_start: UnixMillis, seed: u64, memo: M) -> Router<M> {
        let own = identity.address();
        let own_announce = Announce::create(&identity, config.capabilities, wall_start.as_unix_ms().max(1));
        let session_config = session_config(&config);
        let mut expand = SplitMix64::new(seed ^ 0x5e55_10e5_5e55_10e5);
        let mut session_seed = [0u8; 32];
        for chunk in session_seed.chunks_mut(8) {
            chunk.copy_from_slice(&expand.next_u64().to_le_bytes());
        }
        let sessions = Sessions::new(&identity, session_config, wall_start, session_seed);
        let requests_per_s = config.limits.path_requests_out_per_s;
        let requests_out = TokenBucket::new(requests_per_s, requests_per_s, Millis::ZERO);
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
            channels: BTreeMap::new(),
            table: RoutingTable::default(),
            memo,
            rng: SplitMix64::new(seed),
            wall_start,
            own_announce,
            next_announce: Millis::ZERO,
            rebroadcasts: FastMap::default(),
            rebroadcast_order: BinaryHeap::new(),
            searches: FastMap::default(),
            origin_buckets: FastMap::default(),
            requests_out,
            traces: Vec::new(),
            next_housekeeping: Millis::ZERO,
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
        self.sessions = Sessions::new(&self.identity, session_config(&self.config), self.wall_start, seed);
        let known: Vec<Address> = self.table.announces().map(|a| a.address()).collect();
        for address in known {
            self.sessions.learn(&self.table, address, Millis::ZERO);
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

    /// Packets held that the neighbour `source` handed over.
    pub fn held_from(&self, source: &Address) -> usize {
        self.hold.held_from(source)
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
    pub fn routes(&self, now: Millis) -> Vec<RouteRow> {
        let mut rows: Vec<RouteRow> = self
            .table
            .routes(now)
            .map(|(destination, entry, route)| RouteRow {
                destination: *destination,
                next_hop: route.neighbour,
                hops: route.hops,
                cost: route.cost,
                expires_in_s: route.expires.ms_since(now) / 1000,
                sequence: entry.announce.sequence,
                capabilities: entry.announce.capabilities,
            })
            .collect();
        rows.sort_by_key(|r| (r.hops, r.destination));
        rows
    }

    /// The usable route to `to`.
    pub fn route(&self, to: &Address, now: Millis) -> Option<Route> {
        self.table.route(to, now)
    }

    /// The earliest time [`Router::poll`] has work.
    pub fn next_deadline(&self) -> Option<Millis> {
        let budgets = self
            .links
            .values()
            .filter_map(|l| l.budget.next_release())
            .chain(self.channels.values().filter_map(|b| b.next_release()));
        let rebroadcast = self.rebroadcast_order.peek().map(|Reverse((at, _))| *at);
        [Some(self.next_announce), Some(self.next_housekeeping), rebroadcast].into_iter().flatten().chain(budgets).min()
    }

    /// The wall clock at router time `now`.
    pub(super) fn wall(&self, now: Millis) -> UnixMillis {
        self.wall_start.after_ms(now.as_ms())
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
            if address == self.own || !self.plausible_sequence(announce.sequence, Millis::ZERO) || !announce.verify() {
                continue;
            }
            let signing_key = announce.signing_key;
            if self.table.remember(Arc::new(announce)) {
                taken += 1;
                self.sessions.learn(&self.table, address, Millis::ZERO);
                self.out.push(RouterOutput::KeyLearned { address, signing_key });
            }
        }
        taken
    }

    /// A link came up; the neighbour hears this node's announce at once.
    /// A [`LinkId::RadioChannel`] is not a link and is ignored.
    pub fn link_up(&mut self, link: LinkId, params: LinkParams, now: Millis) {
        if matches!(link, LinkId::RadioChannel(_)) {
            return;
        }
        let burst = 4 * (3 + super::wire::ANNOUNCE_BODY);
        let budget = || AnnounceBudget::new(params.bandwidth_bps, self.config.announce_share, burst, now);
        if let Some(radio) = link.channel() {
            self.channels.entry(radio).or_insert_with(budget);
        }
        let ingress = Ingress::new(&self.config.limits, now);
        self.links.insert(link, LinkState { params, budget: budget(), ingress });
        let packet = self.announce_packet(&self.own_announce.clone(), 0, 0, None);
        self.send_announce(link, self.own, 0, packet.into(), now);
    }

    /// A link went down: routes through it are gone.
    pub fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        self.table.link_lost(link);
        if let Some(radio) = link.channel()
            && !self.links.keys().any(|l| l.channel() == Some(radio))
        {
            self.channels.remove(&radio);
        }
    }

    /// Where a packet for every link but those `skip` picks goes: each
    /// QUIC link, and each radio channel once if any of its neighbours is
    /// not skipped (they all hear one broadcast).
    pub(super) fn outlets(&self, skip: impl Fn(&LinkId) -> bool) -> Vec<LinkId> {
        let mut outlets: Vec<LinkId> = Vec::new();
        for link in self.links.keys().filter(|l| !skip(l)) {
            let outlet = match link.channel() {
                Some(radio) => LinkId::RadioChannel(radio),
                None => *link,
            };
            if outlets.last() != Some(&outlet) && !outlets.contains(&outlet) {
                outlets.push(outlet);
            }
        }
        outlets
    }

    /// Links up.
    pub fn links(&self) -> impl Iterator<Item = (LinkId, &LinkParams)> {
        self.links.iter().map(|(id, l)| (*id, &l.params))
    }

    // ---- timers ---------------------------------------------------------

    /// Does whatever is due at `now`: own announces, rebroadcasts,
    /// budgeted announces, expiry, path request retries.
    pub fn poll(&mut self, now: Millis) {
        if now >= self.next_announce {
            self.announce_self(now);
        }
        while let Some(Reverse((at, address))) = self.rebroadcast_order.peek().copied() {
            if at > now {
                break;
            }
            self.rebroadcast_order.pop();
            if self.rebroadcasts.get(&address).is_some_and(|r| r.due == at)
                && let Some(pending) = self.rebroadcasts.remove(&address)
            {
                self.rebroadcast(address, pending, now);
            }
        }
        let mut released = Vec::new();
        for (id, link) in &mut self.links {
            if link.budget.next_release().is_some_and(|at| at <= now) {
                released.extend(link.budget.release(now).into_iter().map(|p| (*id, p)));
            }
        }
        for (radio, budget) in &mut self.channels {
            if budget.next_release().is_some_and(|at| at <= now) {
                released.extend(budget.release(now).into_iter().map(|p| (LinkId::RadioChannel(*radio), p)));
            }
        }
        for (link, packet) in released {
            self.counters.announce_bytes += packet.len() as u64;
            self.out.push(RouterOutput::Transmit { link, packet: packet.to_vec() });
        }
        if now >= self.next_housekeeping {
            self.next_housekeeping = now.after_ms(HOUSEKEEPING_MS);
            self.housekeeping(now);
        }
    }

    pub(super) fn housekeeping(&mut self, now: Millis) {
        for change in self.hold.expire(self.wall(now)) {
            self.out.push(RouterOutput::Hold(change));
        }
        let waiting: Vec<Address> = self
            .hold
            .destinations()
            .copied()
            .chain(self.traces.iter().map(|trace| trace.to))
            .filter(|to| self.table.route(to, now).is_none())
            .collect();
        for to in waiting {
            self.request_path(to, now);
        }
        // Held for a destination that has a route: a link refused the
        // packets when the path appeared; try again.
        let routed: Vec<Address> =
            self.hold.destinations().copied().filter(|to| self.table.route(to, now).is_some()).collect();
        for to in routed {
            self.path_found(to, now);
        }
        self.sessions.poll(&self.table, now);
        self.pump_sessions(now);
        let lost = self.traces.len();
        self.traces.retain(|trace| trace.since.after_ms(TRACE_WAIT_MS) > now);
        self.counters.lost += (lost - self.traces.len()) as u64;
        self.searches.retain(|to, _| self.table.route(to, now).is_none());
        self.origin_buckets.retain(|_, bucket| !bucket.is_full(now));
    }

    // ---- announces ------------------------------------------------------
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
