//! The node core: sans-IO message handling between links and plugins.
//!
//! Owns: which plugin serves which port, which neighbours are up, the table
//! that lets a plugin reply to a message (handle -> sender, port, tag),
//! plugin timers in virtual time, and turning plugin actions into outputs.
//! Inputs are plain calls with the current time in milliseconds; outputs are
//! [`Output`] values. No sockets, clocks, threads or plugin calls in here:
//! the runtime executes outputs, which keeps every rule unit-testable.
//!
//! Delivery today is to neighbours only; the routing issue replaces
//! `Send` to a non-neighbour with multi-hop delivery.

use super::timers::Timers;
use crate::link::{LinkFrame, ServiceFrame};
use std::collections::{BTreeSet, HashMap, VecDeque};
use weft_plugin_api::{
    Action, ActionRefused, Address, CommandReply, Event, LogLevel, Message, Metric, PeerChange, TimerFired,
};

/// Index of a plugin in the node's plugin list.
pub type PluginId = usize;

/// Replies remembered per node: enough for any realistic burst, bounded so
/// a flood of unanswered messages cannot grow memory.
const ORIGINS_KEPT: usize = 8192;

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a frame to a neighbour.
    Transmit {
        /// The neighbour.
        to: Address,
        /// The frame.
        frame: LinkFrame,
        /// The plugin and its action, to refuse if the link cannot take it.
        on_behalf: Option<(PluginId, ActionRefused)>,
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
    from: Address,
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

/// The sans-IO node core.
#[derive(Debug)]
pub struct NodeCore {
    own: Address,
    ports: HashMap<u16, PluginId>,
    plugins: BTreeSet<PluginId>,
    neighbours: BTreeSet<Address>,
    origins: HashMap<u64, Origin>,
    origin_order: VecDeque<u64>,
    next_message: u64,
    timers: Timers,
    counters: CoreCounters,
}

impl NodeCore {
    /// A core for the node with address `own`.
    pub fn new(own: Address) -> Self {
        Self {
            own,
            ports: HashMap::new(),
            plugins: BTreeSet::new(),
            neighbours: BTreeSet::new(),
            origins: HashMap::new(),
            origin_order: VecDeque::new(),
            next_message: 1,
            timers: Timers::default(),
            counters: CoreCounters::default(),
        }
    }

    /// Binds `plugin` to `ports`. Fails (binding nothing) if a port is taken.
    pub fn attach(&mut self, plugin: PluginId, ports: &[u16]) -> Result<(), String> {
        if let Some(port) = ports.iter().find(|p| self.ports.contains_key(p)) {
            return Err(format!("port {port} is already bound by another plugin"));
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
    pub fn neighbours(&self) -> &BTreeSet<Address> {
        &self.neighbours
    }

    /// The earliest timer deadline, for the runtime's sleep.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    /// A neighbour came up: every plugin hears of it.
    pub fn peer_up(&mut self, peer: Address) -> Vec<Output> {
        if !self.neighbours.insert(peer) {
            return Vec::new();
        }
        self.broadcast(Event::PeerUp(PeerChange { peer }))
    }

    /// A neighbour went down.
    pub fn peer_down(&mut self, peer: Address) -> Vec<Output> {
        if !self.neighbours.remove(&peer) {
            return Vec::new();
        }
        self.broadcast(Event::PeerDown(PeerChange { peer }))
    }

    fn broadcast(&self, event: Event) -> Vec<Output> {
        self.plugins.iter().map(|&plugin| Output::Deliver { plugin, event: event.clone() }).collect()
    }

    /// A service frame arrived from neighbour `from`.
    pub fn frame_received(&mut self, from: Address, frame: ServiceFrame) -> Vec<Output> {
        self.deliver_local(Some(from), frame)
    }

    fn deliver_local(&mut self, from: Option<Address>, frame: ServiceFrame) -> Vec<Output> {
        let Some(&plugin) = self.ports.get(&frame.port) else {
            self.counters.no_service += 1;
            return Vec::new();
        };
        let id = self.next_message;
        self.next_message += 1;
        if let Some(from) = from {
            self.remember(id, Origin { from, port: frame.port, tag: frame.tag });
        }
        self.counters.delivered += 1;
        let message = Message { id, from, port: frame.port, payload: frame.payload, reply_to: frame.reply_to };
        vec![Output::Deliver { plugin, event: Event::Message(message) }]
    }

    fn remember(&mut self, id: u64, origin: Origin) {
        if self.origin_order.len() >= ORIGINS_KEPT
            && let Some(oldest) = self.origin_order.pop_front()
        {
            self.origins.remove(&oldest);
        }
        self.origins.insert(id, origin);
        self.origin_order.push_back(id);
    }

    /// The operator (`weft ctl send`) sends `payload` to `port` on `to`: a
    /// transmit to a neighbour, or a local delivery for this node's address.
    pub fn operator_send(&mut self, to: Address, port: u16, payload: Vec<u8>) -> Result<Vec<Output>, String> {
        let frame = ServiceFrame { port, tag: 0, reply_to: None, payload };
        if to == self.own {
            if !self.ports.contains_key(&port) {
                return Err(format!("no plugin on this node serves port {port}"));
            }
            return Ok(self.deliver_local(Some(self.own), frame));
        }
        if !self.neighbours.contains(&to) {
            return Err(format!("{to} is not a neighbour of this node (no link to it is up)"));
        }
        Ok(vec![Output::Transmit { to, frame: LinkFrame::Service(frame), on_behalf: None }])
    }

    /// Timers due at `now_ms` become timer events.
    pub fn poll_timers(&mut self, now_ms: u64) -> Vec<Output> {
        self.timers
            .expire(now_ms)
            .into_iter()
            .map(|(plugin, id)| Output::Deliver { plugin, event: Event::Timer(TimerFired { id }) })
            .collect()
    }

    /// Turns `plugin`'s gated actions into outputs.
    pub fn actions(&mut self, plugin: PluginId, actions: Vec<Action>, now_ms: u64) -> Vec<Output> {
        let mut out = Vec::new();
        let mut writes = Vec::new();
        for (index, action) in actions.into_iter().enumerate() {
            let refuse = |reason: String| ActionRefused::of(&action, index as u32, reason);
            match &action {
                Action::Send(send) => {
                    let frame = ServiceFrame { port: send.port, tag: send.tag, reply_to: None, payload: Vec::new() };
                    if send.to == self.own {
                        let frame = ServiceFrame { payload: send.payload.clone(), ..frame };
                        out.extend(self.deliver_local(Some(self.own), frame));
                    } else if send.sealed {
                        let refused = refuse("sealed delivery needs the routing layer (not in this build)".into());
                        out.push(Output::Refuse { plugin, refused });
                    } else if self.neighbours.contains(&send.to) {
                        let refused = refuse(String::new());
                        let frame = LinkFrame::Service(ServiceFrame { payload: send.payload.clone(), ..frame });
                        out.push(Output::Transmit { to: send.to, frame, on_behalf: Some((plugin, refused)) });
                    } else {
                        let reason = format!("{} is not a neighbour of this node (no link to it is up)", send.to);
                        out.push(Output::Refuse { plugin, refused: refuse(reason) });
                    }
                }
                Action::Flood(flood) => {
                    for &to in &self.neighbours {
                        let frame =
                            ServiceFrame { port: flood.port, tag: 0, reply_to: None, payload: flood.payload.clone() };
                        out.push(Output::Transmit { to, frame: LinkFrame::Service(frame), on_behalf: None });
                    }
                }
                Action::Reply(reply) => match self.origins.get(&reply.message).copied() {
                    Some(origin) => {
                        let frame = ServiceFrame {
                            port: origin.port,
                            tag: 0,
                            reply_to: Some(origin.tag),
                            payload: reply.payload.clone(),
                        };
                        if origin.from == self.own {
                            out.extend(self.deliver_local(Some(self.own), frame));
                        } else if self.neighbours.contains(&origin.from) {
                            let refused = refuse(String::new());
                            out.push(Output::Transmit {
                                to: origin.from,
                                frame: LinkFrame::Service(frame),
                                on_behalf: Some((plugin, refused)),
                            });
                        } else {
                            let reason = format!("the sender {} is no longer a neighbour", origin.from);
                            out.push(Output::Refuse { plugin, refused: refuse(reason) });
                        }
                    }
                    None => {
                        self.counters.stale_replies += 1;
                        let reason = format!("message {} is unknown or too old to answer", reply.message);
                        out.push(Output::Refuse { plugin, refused: refuse(reason) });
                    }
                },
                Action::SetTimer(t) => self.timers.set((plugin, t.id), now_ms.saturating_add(t.after_ms)),
                Action::CancelTimer(t) => self.timers.cancel((plugin, t.id)),
                Action::Store(store) => writes.push((store.key.clone(), store.value.clone())),
                Action::Log(log) => out.push(Output::Log { plugin, level: log.level, message: log.message.clone() }),
                Action::Metric(metric) => out.push(Output::Metric { plugin, metric: metric.clone() }),
                Action::CommandReply(reply) => out.push(Output::CommandReply { plugin, reply: reply.clone() }),
                other => {
                    let reason = format!("{} is not available to services on this node", other.kind_name());
                    out.push(Output::Refuse { plugin, refused: refuse(reason) });
                }
            }
        }
        if !writes.is_empty() {
            // Writes commit once per call, before any message they caused is sent on.
            out.insert(0, Output::Store { plugin, writes });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::{Flood, Reply, Send, SetTimer, Store};

    const OWN: Address = Address([1; 16]);
    const B: Address = Address([2; 16]);
    const C: Address = Address([3; 16]);

    fn core() -> NodeCore {
        let mut core = NodeCore::new(OWN);
        core.attach(0, &[7]).unwrap();
        core.attach(1, &[8]).unwrap();
        core
    }

    fn service(port: u16, tag: u64, reply_to: Option<u64>, payload: &[u8]) -> ServiceFrame {
        ServiceFrame { port, tag, reply_to, payload: payload.to_vec() }
    }

    fn delivered(outputs: &[Output]) -> Vec<(PluginId, Message)> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Deliver { plugin, event: Event::Message(m) } => Some((*plugin, m.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_request_is_delivered_and_the_reply_goes_back_with_the_senders_tag() {
        let mut core = core();
        core.peer_up(B);
        let out = core.frame_received(B, service(7, 42, None, b"hi"));
        let [(0, message)] = &delivered(&out)[..] else { panic!("{out:?}") };
        assert_eq!((message.from, message.port, message.reply_to), (Some(B), 7, None));
        let out = core.actions(0, vec![Action::Reply(Reply { message: message.id, payload: b"hi".to_vec() })], 0);
        let [Output::Transmit { to, frame: LinkFrame::Service(frame), .. }] = &out[..] else { panic!("{out:?}") };
        assert_eq!((*to, frame.port, frame.reply_to, frame.payload.as_slice()), (B, 7, Some(42), &b"hi"[..]));
    }

    #[test]
    fn sends_reach_neighbours_only_and_refusals_name_the_reason_and_tag() {
        let mut core = core();
        core.peer_up(B);
        let send = |to, tag| Action::Send(Send { to, port: 7, payload: b"x".to_vec(), sealed: false, tag });
        let out = core.actions(0, vec![send(B, 1), send(C, 2)], 0);
        assert!(matches!(&out[0], Output::Transmit { to, .. } if *to == B));
        let Output::Refuse { plugin: 0, refused } = &out[1] else { panic!("{out:?}") };
        assert_eq!((refused.index, refused.tag), (1, 2));
        assert!(refused.reason.contains("not a neighbour"), "{}", refused.reason);
        core.peer_down(B);
        assert!(matches!(&core.actions(0, vec![send(B, 3)], 0)[..], [Output::Refuse { .. }]));
    }

    #[test]
    fn unknown_ports_stale_replies_and_flood_fan_out() {
        let mut core = core();
        core.peer_up(B);
        core.peer_up(C);
        assert!(core.frame_received(B, service(99, 0, None, b"")).is_empty());
        assert_eq!(core.counters().no_service, 1);
        let out = core.actions(1, vec![Action::Reply(Reply { message: 12345, payload: vec![] })], 0);
        assert!(matches!(&out[..], [Output::Refuse { plugin: 1, .. }]));
        let out = core.actions(1, vec![Action::Flood(Flood { port: 8, payload: b"f".to_vec(), hops: 1 })], 0);
        let targets: BTreeSet<Address> = out
            .iter()
            .map(|o| match o {
                Output::Transmit { to, .. } => *to,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(targets, BTreeSet::from([B, C]));
    }

    #[test]
    fn peers_ports_timers_and_storage() {
        let mut core = core();
        assert!(core.attach(2, &[7]).is_err(), "port 7 is taken");
        let ups = core.peer_up(B);
        assert_eq!(ups.len(), 2, "both plugins hear of the neighbour");
        assert!(core.peer_up(B).is_empty(), "no duplicate event");
        let out = core.actions(
            1,
            vec![
                Action::SetTimer(SetTimer { id: 5, after_ms: 100 }),
                Action::Store(Store { key: b"k".to_vec(), value: Some(b"v".to_vec()) }),
            ],
            1_000,
        );
        assert!(matches!(&out[..], [Output::Store { plugin: 1, writes }] if writes.len() == 1));
        assert_eq!(core.next_deadline(), Some(1_100));
        assert!(core.poll_timers(1_099).is_empty());
        assert_eq!(
            core.poll_timers(1_100),
            vec![Output::Deliver { plugin: 1, event: Event::Timer(TimerFired { id: 5 }) }]
        );
        core.detach(1);
        assert!(core.frame_received(B, service(8, 0, None, b"")).is_empty());
    }

    #[test]
    fn the_reply_table_is_bounded() {
        let mut core = core();
        core.peer_up(B);
        for _ in 0..ORIGINS_KEPT + 10 {
            core.frame_received(B, service(7, 1, None, b""));
        }
        assert_eq!(core.origins.len(), ORIGINS_KEPT);
        let out = core.actions(0, vec![Action::Reply(Reply { message: 1, payload: vec![] })], 0);
        assert!(matches!(&out[..], [Output::Refuse { .. }]), "the oldest was forgotten");
    }
}
