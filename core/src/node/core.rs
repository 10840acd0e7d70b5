//! The node core: sans-IO glue between the router and the plugins.
//!
//! Owns: which plugin serves which port, which neighbours are up (for
//! peer events), the table that lets a plugin answer a message (message id
//! -> way back, port, tag), plugin timers in virtual time, and turning
//! plugin actions into router calls and outputs. Inputs are plain calls with
//! the current time in milliseconds; outputs are [`Output`] values. No
//! sockets, clocks, threads or plugin calls in here: the runtime executes
//! outputs, which keeps every rule unit-testable.
//!
//! Must not: decide routes or touch packets; that is the [`Router`]'s.

use super::reply_book::ReplyBook;
use super::timers::{TimerKey, Timers};
use crate::routing::pending::HoldChange;
use crate::routing::{Delivery, LinkId, LinkParams, Outgoing, ReplyPath, RouteRow, Router, RouterOutput, Sent};
use crate::time::Millis;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use weft_plugin_api::actions::{CommandReply, Metric};
use weft_plugin_api::{Action, ActionRefused, Address, Event, LogLevel, Message, PeerChange, TimerFired};

pub use super::plugin_id::PluginId;

/// Replies remembered per node: enough for any realistic burst, bounded so
/// a flood of unanswered messages cannot grow memory.
const ORIGINS_KEPT: usize = 8192;

/// A port another plugin already serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("port {port} is already bound by another plugin")]
pub struct PortTaken {
    /// The port.
    pub port: u16,
}

/// A message for this node on a port no plugin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no plugin on this node serves port {port}")]
pub struct NoSuchPort {
    /// The port.
    pub port: u16,
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a packet on a link.
    Transmit {
        /// The link.
        link: LinkId,
        /// The packet.
        packet: Vec<u8>,
        /// The plugin and its action, to refuse if the link cannot take it.
        on_behalf: Option<(PluginId, ActionRefused)>,
    },
    /// Send a held packet on a link; report with [`NodeCore::held_outcome`]
    /// whether the link took it (only then does it leave the hold).
    TransmitHeld {
        /// The link.
        link: LinkId,
        /// The packet.
        packet: Vec<u8>,
        /// The hold entry.
        held: crate::routing::pending::Held,
    },
    /// Call a plugin with an event.
    Deliver {
        /// The plugin.
        plugin: PluginId,
        /// The event.
        event: Event,
    },
    /// Commit storage writes for a plugin.
    Store {
        /// The plugin.
        plugin: PluginId,
        /// Key and value (`None` deletes).
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        /// The refusal to deliver if the writes cannot be committed (over
        /// quota): names the first `Store` action; the runtime adds the reason.
        on_refusal: ActionRefused,
    },
    /// Persist a store-and-forward change.
    Hold(HoldChange),
    /// A node's key became known.
    KeyLearned {
        /// The node.
        address: Address,
        /// Its Ed25519 key.
        signing_key: [u8; 32],
    },
    /// A node was forgotten (the routing table made room): its key is no
    /// longer known.
    KeyForgotten {
        /// The node.
        address: Address,
    },
    /// A trace came back.
    TraceDone {
        /// The trace id.
        id: u64,
        /// The nodes after this one, the destination last.
        path: Vec<Address>,
    },
    /// A plugin answered an operator command.
    CommandReply {
        /// The plugin.
        plugin: PluginId,
        /// The answer.
        reply: CommandReply,
    },
    /// A plugin logged a line.
    Log {
        /// The plugin.
        plugin: PluginId,
        /// Level.
        level: LogLevel,
        /// Text.
        message: String,
    },
    /// A plugin reported a metric.
    Metric {
        /// The plugin.
        plugin: PluginId,
        /// The metric.
        metric: Metric,
    },
    /// Tell a plugin one of its actions could not be carried out.
    Refuse {
        /// The plugin.
        plugin: PluginId,
        /// What and why.
        refused: ActionRefused,
    },
}

/// Where a delivered message came from, so a reply can go back.
#[derive(Debug, Clone, Copy)]
struct Origin {
    reply: ReplyPath,
    port: u16,
    tag: u64,
}

/// Counters of the core, for status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CoreCounters {
    /// Messages delivered to plugins.
    pub delivered: u64,
    /// Messages for a port no plugin serves.
    pub no_service: u64,
    /// Replies whose message was unknown or already forgotten.
    pub stale_replies: u64,
}

/// What became of an operator's send.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorSend {
    /// Sent, delivered here, or held for later.
    pub sent: Sent,
    /// Outputs to execute.
    pub outputs: Vec<Output>,
}

/// The sans-IO node core.
#[derive(Debug)]
pub struct NodeCore {
    router: Router,
    ports: HashMap<u16, PluginId>,
    plugins: BTreeSet<PluginId>,
    links: BTreeMap<LinkId, Address>,
    origins: ReplyBook<Origin>,
    /// Scratch buffer for the router's outputs, kept between inputs.
    produced: Vec<RouterOutput>,
    timers: Timers,
    counters: CoreCounters,
}

impl NodeCore {
    /// A core around `router`.
    pub fn new(router: Router) -> Self {
        Self {
            router,
            ports: HashMap::new(),
            plugins: BTreeSet::new(),
            links: BTreeMap::new(),
            origins: ReplyBook::new(ORIGINS_KEPT),
            produced: Vec::new(),
            timers: Timers::default(),
            counters: CoreCounters::default(),
        }
    }

    /// The router (read-only: routes, counters).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Binds `plugin` to `ports`. Fails (binding nothing) if a port is taken.
    pub fn attach(&mut self, plugin: PluginId, ports: &[u16]) -> Result<(), PortTaken> {
        if let Some(&port) = ports.iter().find(|p| self.ports.contains_key(p)) {
            return Err(PortTaken { port });
        }
        for port in ports {
            self.ports.insert(*port, plugin);
        }
        self.plugins.insert(plugin);
        Ok(())
    }

    /// Unbinds `plugin` and drops its timers.
    pub fn detach(&mut self, plugin: PluginId) {
        self.ports.retain(|_, p| *p != plugin);
        self.plugins.remove(&plugin);
        self.timers.cancel_plugin(plugin);
    }

    /// Counters.
    pub fn counters(&self) -> CoreCounters {
        self.counters
    }

    /// Neighbours that are up.
    pub fn neighbours(&self) -> BTreeSet<Address> {
        self.links.values().copied().collect()
    }

    /// Usable routes.
    pub fn routes(&self, now: Millis) -> Vec<RouteRow> {
        self.router.routes(now)
    }

    /// The earliest deadline (plugin timers and router work).
    pub fn next_deadline(&self) -> Option<Millis> {
        [self.timers.next_deadline(), self.router.next_deadline()].into_iter().flatten().min()
    }

    /// A link came up: the router announces over it and, for a new
    /// neighbour, every plugin hears of it.
    pub fn link_up(&mut self, link: LinkId, params: LinkParams, now: Millis) -> Vec<Output> {
        let new_neighbour = !self.links.values().any(|a| *a == params.neighbour);
        self.links.insert(link, params.neighbour);
        self.router.link_up(link, params, now);
        let mut out = self.router_outputs(None);
        if new_neighbour {
            out.extend(self.broadcast(Event::PeerUp(PeerChange { peer: params.neighbour })));
        }
        out
    }

    /// A link went down.
    pub fn link_down(&mut self, link: LinkId) -> Vec<Output> {
        let Some(peer) = self.links.remove(&link) else { return Vec::new() };
        self.router.link_down(link);
        if self.links.values().any(|a| *a == peer) {
            return Vec::new();
        }
        self.broadcast(Event::PeerDown(PeerChange { peer }))
    }

    fn broadcast(&self, event: Event) -> Vec<Output> {
        self.plugins.iter().map(|&plugin| Output::Deliver { plugin, event: event.clone() }).collect()
    }

    /// A packet arrived on `link`.
    pub fn packet_received(&mut self, link: LinkId, packet: Vec<u8>, now: Millis) -> Vec<Output> {
        self.router.receive(link, packet, now);
        self.router_outputs(None)
    }

    /// Takes back the announces an earlier run persisted (see
    /// [`Router::export_announces`]); returns how many were taken and the
    /// outputs (keys learned) to execute.
    pub fn import_announces(&mut self, bodies: &[u8]) -> (usize, Vec<Output>) {
        let taken = self.router.import_announces(bodies);
        (taken, self.router_outputs(None))
    }

    /// Takes back a held packet persisted by an earlier run (false: the
    /// record is unreadable). Deletions a cap causes come out with the next
    /// call's outputs.
    pub fn restore_held(&mut self, key: u64, record: &[u8]) -> bool {
        self.router.restore(key, record)
    }

    /// Router work and plugin timers due at `now`.
    pub fn poll(&mut self, now: Millis) -> Vec<Output> {
        self.router.poll(now);
        let mut out = self.router_outputs(None);
        out.extend(
            self.timers
                .expire(now)
                .into_iter()
                .map(|TimerKey { plugin, id }| Output::Deliver { plugin, event: Event::Timer(TimerFired { id }) }),
        );
        out
    }

    /// Starts a trace to `to`; the answer is an [`Output::TraceDone`].
    pub fn trace(&mut self, to: Address, id: u64, now: Millis) -> Vec<Output> {
        self.router.trace(to, id, now);
        self.router_outputs(None)
    }

    /// The operator (`weft ctl send`) sends `payload` to `port` on `to`.
    pub fn operator_send(
        &mut self,
        to: Address,
        port: u16,
        payload: &[u8],
        now: Millis,
    ) -> Result<OperatorSend, NoSuchPort> {
        if to == self.router.address() && !self.ports.contains_key(&port) {
            return Err(NoSuchPort { port });
        }
        let message = Outgoing { to, port, payload, sealed: true, reveal: true, tag: 0, reply_to: None };
        let sent = self.router.send(message, now);
        Ok(OperatorSend { sent, outputs: self.router_outputs(None) })
    }

    /// Whether a link took a held packet ([`Output::TransmitHeld`]): sent,
    /// it leaves the hold; refused, it goes back and is tried again.
    pub fn held_outcome(&mut self, held: crate::routing::pending::Held, sent: bool) -> Vec<Output> {
        if sent {
            self.router.held_sent(&held);
        } else {
            self.router.held_refused(held);
        }
        self.router_outputs(None)
    }

    /// Converts what the router produced; transmits are attributed to
    /// `on_behalf` (a plugin's send) so a link that refuses them is reported.
    fn router_outputs(&mut self, on_behalf: Option<(PluginId, &ActionRefused)>) -> Vec<Output> {
        let mut produced = std::mem::take(&mut self.produced);
        self.router.drain_into(&mut produced);
        let mut out = Vec::with_capacity(produced.len());
        for output in produced.drain(..) {
            match output {
                RouterOutput::Transmit { link, packet } => {
                    let on_behalf = on_behalf.map(|(plugin, refused)| (plugin, refused.clone()));
                    out.push(Output::Transmit { link, packet, on_behalf });
                }
                RouterOutput::TransmitHeld { link, packet, held } => {
                    out.push(Output::TransmitHeld { link, packet, held })
                }
                RouterOutput::Deliver(delivery) => out.extend(self.deliver(delivery)),
                RouterOutput::Hold(change) => out.push(Output::Hold(change)),
                RouterOutput::KeyLearned { address, signing_key } => {
                    out.push(Output::KeyLearned { address, signing_key })
                }
                RouterOutput::KeyForgotten { address } => out.push(Output::KeyForgotten { address }),
                RouterOutput::TraceDone { id, path } => out.push(Output::TraceDone { id, path }),
            }
        }
        self.produced = produced;
        out
    }

    fn deliver(&mut self, delivery: Delivery) -> Option<Output> {
        let Some(&plugin) = self.ports.get(&delivery.port) else {
            self.counters.no_service += 1;
            return None;
        };
        let origin = Origin { reply: delivery.reply, port: delivery.port, tag: delivery.tag };
        let id = self.origins.record(origin);
        self.counters.delivered += 1;
        let message = Message {
            id,
            // An addressed message names its sender only when verified; a
            // flood (or an answer to one) names the source it claims.
            from: delivery.from.filter(|_| delivery.verified || delivery.flooded),
            port: delivery.port,
            payload: delivery.payload,
            reply_to: delivery.reply_to,
            sealed: delivery.sealed,
        };
        Some(Output::Deliver { plugin, event: Event::Message(message) })
    }

    /// Turns `plugin`'s gated actions into outputs.
    pub fn actions(&mut self, plugin: PluginId, actions: Vec<Action>, now: Millis) -> Vec<Output> {
        let mut out = Vec::new();
        let mut writes = Vec::new();
        let mut first_store = None;
        for (index, action) in actions.into_iter().enumerate() {
            let refuse = |reason: String| ActionRefused::of(&action, index as u32, reason);
            match &action {
                Action::Send(send) => {
                    let message = Outgoing {
                        to: send.to,
                        port: send.port,
                        payload: &send.payload,
                        // Every addressed message is sealed: in a session
                        // when the sender reveals itself, else in a one-shot
                        // box (`Send.sealed` from older plugins is moot).
                        sealed: true,
                        reveal: !send.anonymous,
                        tag: send.tag,
                        reply_to: None,
                    };
                    let sent = self.router.send(message, now);
                    let refused = refuse(String::new());
                    out.extend(self.router_outputs(Some((plugin, &refused))));
                    if sent == Sent::Congested {
                        out.push(Output::Refuse { plugin, refused: refuse(congested(send.to)) });
                    }
                }
                Action::Flood(flood) => {
                    self.router.flood(flood.port, &flood.payload, flood.hops, !flood.anonymous, now);
                    out.extend(self.router_outputs(None));
                }
                Action::Reply(reply) => match self.origins.get(reply.message) {
                    Some(origin) => {
                        let refused = refuse(String::new());
                        match origin.reply {
                            ReplyPath::Node(to) => {
                                let message = Outgoing {
                                    to,
                                    port: origin.port,
                                    payload: &reply.payload,
                                    sealed: true,
                                    reveal: true,
                                    tag: 0,
                                    reply_to: Some(origin.tag),
                                };
                                let sent = self.router.send(message, now);
                                out.extend(self.router_outputs(Some((plugin, &refused))));
                                if sent == Sent::Congested {
                                    out.push(Output::Refuse { plugin, refused: refuse(congested(to)) });
                                }
                            }
                            ReplyPath::Flood(flood) => {
                                let reply_to = Some(origin.tag);
                                match self.router.reply_to_flood(
                                    flood,
                                    origin.port,
                                    &reply.payload,
                                    true,
                                    reply_to,
                                    now,
                                ) {
                                    Ok(_) => out.extend(self.router_outputs(Some((plugin, &refused)))),
                                    Err(reason) => {
                                        out.push(Output::Refuse { plugin, refused: refuse(reason.to_string()) })
                                    }
                                }
                            }
                            ReplyPath::None => {
                                let reason = "the sender stayed anonymous; there is no way back".to_string();
                                out.push(Output::Refuse { plugin, refused: refuse(reason) });
                            }
                        }
                    }
                    None => {
                        self.counters.stale_replies += 1;
                        let reason = format!("message {} is unknown or too old to answer", reply.message);
                        out.push(Output::Refuse { plugin, refused: refuse(reason) });
                    }
                },
                Action::SetTimer(t) => self.timers.set(TimerKey { plugin, id: t.id }, now.after_ms(t.after_ms)),
                Action::CancelTimer(t) => self.timers.cancel(TimerKey { plugin, id: t.id }),
                Action::Store(store) => {
                    first_store.get_or_insert_with(|| refuse(String::new()));
                    writes.push((store.key.clone(), store.value.clone()));
                }
                Action::Log(log) => out.push(Output::Log { plugin, level: log.level, message: log.message.clone() }),
                Action::Metric(metric) => out.push(Output::Metric { plugin, metric: metric.clone() }),
                Action::CommandReply(reply) => out.push(Output::CommandReply { plugin, reply: reply.clone() }),
                other => {
                    let reason = format!("{} is not available to services on this node", other.kind_name());
                    out.push(Output::Refuse { plugin, refused: refuse(reason) });
                }
            }
        }
        if let Some(on_refusal) = first_store {
            // Writes commit once per call, before any message they caused is sent on.
            out.insert(0, Output::Store { plugin, writes, on_refusal });
        }
        out
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

/// Why a send to `to` was refused when its session had no room.
fn congested(to: Address) -> String {
    format!("congested: the session to {to} has as many messages waiting as it may; send again later")
}
