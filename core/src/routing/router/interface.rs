//! What goes into and comes out of the router: its settings, a link's
//! parameters, outgoing messages, outputs, deliveries, counters and the rows
//! of the routing table as operators see it. Plain data; no behaviour.

use super::super::link_id::LinkId;
use super::super::pending::{Held, HoldChange, HoldLimits};
#[cfg(doc)]
use super::Router;
use crate::routing::limits::RouterLimits;
use weft_plugin_api::Address;

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
    /// Caps and per-neighbour rates.
    pub limits: RouterLimits,
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
            limits: RouterLimits::default(),
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
    /// A node was forgotten to make room (its key is no longer known).
    KeyForgotten {
        /// The node.
        address: Address,
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

/// Why a flood cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoWayBack {
    /// This node sent the flood.
    #[error("the flood was sent by this node")]
    OwnFlood,
    /// The flood's way back is forgotten, or its link went down.
    #[error("the flood's way back is forgotten or its link is down")]
    Forgotten,
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
    /// Not sent, and counted lost: the destination's key is one nothing can
    /// be sealed to (a low-order point; announces with such keys fail strict
    /// verification, so a key in the table never is one).
    Lost,
    /// Not sent: the session with the destination has as many messages
    /// waiting as it may (`queue_limit`, behind the unacknowledged ones).
    /// The sender is told and may offer it again; nothing was kept.
    Congested,
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
    /// Floods and answers to floods whose signature failed under the key of
    /// the node they name (neither delivered nor relayed).
    pub floods_forged: u64,
    /// Floods and answers to floods naming a node whose key is known here
    /// without its signature (neither delivered nor relayed).
    pub floods_unsigned: u64,
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
    /// Announces not verified: their link was over its announce rate.
    pub announces_rate_limited: u64,
    /// Genuine announces refused: their origin was over its rate.
    pub announces_origin_limited: u64,
    /// New nodes refused: the table was full of nodes with routes.
    pub nodes_refused: u64,
    /// Nodes forgotten to make room for new ones.
    pub nodes_evicted: u64,
    /// Path requests dropped: their link was over its rate.
    pub path_requests_rate_limited: u64,
    /// Packets for unknown destinations dropped: their link was over its rate.
    pub unknown_rate_limited: u64,
    /// Searches (path requests for one destination) that gave up.
    pub searches_given_up: u64,
    /// Searches not started: `max_searches` were running.
    pub searches_refused: u64,
    /// Path requests put off: this node's own request rate was reached.
    pub path_requests_deferred: u64,
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
