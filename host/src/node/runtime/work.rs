//! The actor's one work queue: everything an input causes runs here,
//! breadth-first, under one step limit.
//!
//! Owns: executing the core's outputs (transmits, deliveries to plugins,
//! storage writes, holds, learned keys, answers to waiting requests, logs,
//! metrics, refusals) and radio links' outputs (driver calls, serial
//! writes, and what the links report: packets, neighbours, driver answers,
//! swap results), all as [`Work`] items in one queue. A transmit on a radio
//! link queues the link's outputs instead of running them on the spot, so
//! nothing recurses and the one step limit counts every consequence of one
//! input, service and driver calls alike. Refusals caused while handling a refusal
//! are logged, not delivered, so a plugin cannot loop on them. Must not:
//! decide anything the core decides.

use super::{Actor, MAX_CALLS_PER_INPUT};
use crate::control::{Answer, CallOutcome, TraceReport};
use crate::node::radio_host::{RadioNote, RadioWork};
use ed25519_dalek::VerifyingKey;
use std::collections::VecDeque;
use weft_core::node::Output;
use weft_core::routing::pending::HoldChange;
use weft_core::routing::{LinkId, LinkParams, Sent};
use weft_plugin_api::{ActionRefused, Address, Event};

/// One step of work.
pub(super) enum Work {
    /// A core output; `refusal_chain` when it was caused while handling a
    /// refusal.
    Output {
        /// What the core asked for.
        output: Output,
        /// Caused by a refusal (a further refusal is only logged).
        refusal_chain: bool,
    },
    /// An output of a radio link (a driver call, a serial write, a report).
    Radio(RadioWork),
}

/// The queue's buffer, kept between inputs (one allocation fewer per packet).
#[derive(Default)]
pub(super) struct Queue {
    items: VecDeque<Work>,
}

impl Actor {
    /// Commits what inputs caused since the last time: held-packet changes
    /// and the announce records of nodes learned or forgotten.
    pub(super) fn flush_holds(&mut self) {
        self.holds.flush(&self.store);
        if !self.announce_records.is_empty() {
            let records = std::mem::take(&mut self.announce_records);
            if let Err(e) = self.kv.commit(super::ROUTING_NAMESPACE, &records) {
                tracing::error!("could not persist {} new nodes' announces: {e}", records.len());
            }
        }
    }

    /// Runs `outputs` and everything they cause.
    pub(super) fn execute(&mut self, outputs: Vec<Output>, in_refusal: bool) {
        self.run_work(outputs.into_iter().map(|output| Work::Output { output, refusal_chain: in_refusal }));
    }

    /// Runs radio links' outputs and everything they cause.
    pub(super) fn on_radio_work(&mut self, items: Vec<RadioWork>) {
        self.run_work(items.into_iter().map(Work::Radio));
    }

    /// The one loop: takes items in order until none is left. Past
    /// [`MAX_CALLS_PER_INPUT`] plugin and driver calls, further calls are
    /// skipped (a transmit a driver was to get goes back to its link's
    /// queue); everything else still runs, and without calls the queue
    /// only drains.
    fn run_work(&mut self, items: impl IntoIterator<Item = Work>) {
        let mut queue = std::mem::take(&mut self.work.items);
        queue.clear();
        queue.extend(items);
        let mut calls = 0;
        while let Some(work) = queue.pop_front() {
            let is_call = match &work {
                Work::Output { output: Output::Deliver { .. }, .. } => true,
                Work::Radio(item) => item.is_driver_call(),
                Work::Output { .. } => false,
            };
            if is_call {
                calls += 1;
                if calls == MAX_CALLS_PER_INPUT + 1 {
                    tracing::error!(
                        "one input caused over {MAX_CALLS_PER_INPUT} plugin and driver calls; the rest of them are skipped"
                    );
                }
                if calls > MAX_CALLS_PER_INPUT {
                    if let Work::Radio(item) = work {
                        self.radios.skip(item, self.now_micros());
                    }
                    continue;
                }
            }
            match work {
                Work::Output { output, refusal_chain } => self.output(output, refusal_chain, &mut queue),
                Work::Radio(item) => {
                    let mut more = Vec::new();
                    let note = self.radios.step(item, self.now_micros(), &mut more);
                    queue.extend(more.into_iter().map(Work::Radio));
                    if let Some(note) = note {
                        self.radio_note(note, &mut queue);
                    }
                }
            }
        }
        queue.clear();
        self.work.items = queue;
    }

    /// Queues `packet` on link `id`; a radio link's notes join `queue`.
    fn transmit(&mut self, id: LinkId, packet: Vec<u8>, queue: &mut VecDeque<Work>) -> Result<(), String> {
        match id {
            LinkId::Radio { .. } | LinkId::RadioChannel(_) => {
                let items = self.radios.send(id, &packet, self.now_micros())?;
                queue.extend(items.into_iter().map(Work::Radio));
                Ok(())
            }
            LinkId::Quic(connection) => match self.links.by_id(connection) {
                Some(link) => link.send(crate::link::LinkFrame::Packet(packet)).map_err(|e| e.to_string()),
                None => Err("the link went down".to_string()),
            },
        }
    }

    /// Sends one message as the node (not a plugin), for the operator; a
    /// link that cannot take the frame is the operator's error.
    pub(super) fn operator_send(&mut self, to: Address, port: u16, payload: &[u8]) -> Result<Sent, String> {
        let send = self.core.operator_send(to, port, payload, self.now()).map_err(|e| e.to_string())?;
        let mut caused = VecDeque::new();
        let mut failure = None;
        for output in send.outputs {
            match output {
                Output::Transmit { link, packet, .. } if matches!(send.sent, Sent::Transmitted(l) if l == link) => {
                    if let Err(e) = self.transmit(link, packet, &mut caused) {
                        failure = Some(e);
                    }
                }
                output => caused.push_back(Work::Output { output, refusal_chain: false }),
            }
        }
        self.run_work(caused);
        match (failure, send.sent) {
            (Some(e), _) => Err(e),
            (None, Sent::Congested) => {
                Err(format!("congested: the session to {to} has as many messages waiting as it may; send again later"))
            }
            (None, sent) => Ok(sent),
        }
    }

    /// What a radio link reported: packets and neighbours go to the core
    /// like a QUIC link's; swap results and driver answers go to whoever
    /// waits for them.
    fn radio_note(&mut self, note: RadioNote, queue: &mut VecDeque<Work>) {
        let now = self.now();
        let outputs = match note {
            RadioNote::Packet { link, packet } => self.core.packet_received(link, packet, now),
            RadioNote::NeighbourUp { link, neighbour, cost, bandwidth_bps } => {
                self.core.link_up(link, LinkParams { neighbour, cost, bandwidth_bps }, now)
            }
            RadioNote::NeighbourDown { link } => self.core.link_down(link),
            RadioNote::CommandReply { reply, .. } => {
                if let Some((_, waiting)) = self.link_commands.remove(&reply.id) {
                    let _ = waiting.send(Ok(Answer::Called(CallOutcome { ok: reply.ok, body: reply.body })));
                }
                Vec::new()
            }
            RadioNote::DriverFaulted { index, fault } => {
                // Whoever waits for this driver's answers will not get one.
                let waiting: Vec<u64> =
                    self.link_commands.iter().filter(|(_, (link, _))| *link == index).map(|(id, _)| *id).collect();
                for id in waiting {
                    if let Some((_, reply)) = self.link_commands.remove(&id) {
                        let _ = reply.send(Err(format!("the driver failed: {fault}; it restarts after a pause")));
                    }
                }
                Vec::new()
            }
            RadioNote::SwapFinished { index, result } => {
                match &result {
                    Ok(report) => {
                        tracing::info!(link = %report.link, "driver swap finished: {} -> {}", report.from, report.to)
                    }
                    Err(e) => tracing::warn!("driver swap failed: {e}"),
                }
                if let Some(Some(waiting)) = self.swaps.remove(&index) {
                    let _ = waiting.send(result.map(Answer::Swapped));
                }
                Vec::new()
            }
        };
        queue.extend(outputs.into_iter().map(|output| Work::Output { output, refusal_chain: false }));
    }

    /// One core output.
    fn output(&mut self, output: Output, refusal_chain: bool, queue: &mut VecDeque<Work>) {
        match output {
            Output::Transmit { link, packet, on_behalf } => {
                if let (Err(reason), Some((plugin, refused))) = (self.transmit(link, packet, queue), on_behalf) {
                    let refused = ActionRefused { reason, ..refused };
                    queue.push_back(Work::Output { output: Output::Refuse { plugin, refused }, refusal_chain });
                }
            }
            Output::TransmitHeld { link, packet, held } => {
                let sent = match self.transmit(link, packet, queue) {
                    Ok(()) => true,
                    Err(reason) => {
                        tracing::debug!(%link, "a held packet's transmit was refused ({reason}); kept for a retry");
                        false
                    }
                };
                queue.extend(
                    self.core.held_outcome(held, sent).into_iter().map(|output| Work::Output { output, refusal_chain }),
                );
            }
            Output::Deliver { plugin, event } => {
                let is_refusal = refusal_chain || matches!(event, Event::ActionRefused(_));
                let actions = self.plugins.call(plugin, &event);
                if let Some(failure) = self.plugins.failure(plugin) {
                    // Whoever waits for this plugin's answers will not get one.
                    let failure = format!("plugin `{}` failed: {failure}", self.plugins.name(plugin));
                    let waiting: Vec<u64> =
                        self.pending.iter().filter(|(_, (p, _))| *p == plugin).map(|(id, _)| *id).collect();
                    for id in waiting {
                        if let Some((_, reply)) = self.pending.remove(&id) {
                            let _ = reply.send(Err(failure.clone()));
                        }
                    }
                }
                if !actions.is_empty() {
                    let now = self.now();
                    queue.extend(
                        self.core
                            .actions(plugin, actions, now)
                            .into_iter()
                            .map(|output| Work::Output { output, refusal_chain: is_refusal }),
                    );
                }
            }
            Output::Store { plugin, writes, on_refusal } => {
                let name = self.plugins.name(plugin).to_string();
                if let Some(quota) = self.plugins.spec(plugin).and_then(|s| s.storage_quota_bytes)
                    && let Err(reason) = self.quotas.admit(&*self.kv, &name, quota, &writes)
                {
                    let refused = ActionRefused { reason, ..on_refusal };
                    queue.push_back(Work::Output { output: Output::Refuse { plugin, refused }, refusal_chain });
                    return;
                }
                if let Err(e) = self.kv.commit(&name, &writes) {
                    tracing::error!(plugin = %name, "storage write failed: {e}");
                }
            }
            Output::Hold(change) => {
                if let HoldChange::Put(held) = &change {
                    tracing::debug!(destination = %held.destination, "packet held until a path appears");
                }
                // Committed with the rest of this input's changes (`holds`).
                self.holds.push(change);
            }
            Output::KeyLearned { address, signing_key } => match VerifyingKey::from_bytes(&signing_key) {
                Ok(key) => {
                    self.services.learn_key(key);
                    tracing::debug!(%address, "node key learned");
                    // A new node's announce goes to the store with this
                    // input's batch, not only at the next periodic write:
                    // after a crash the node must still know who its session
                    // peers were, to ask them for new sessions.
                    if let Some(entry) = self.core.router().table().entry(&address) {
                        let key = [super::ANNOUNCE_RECORD_PREFIX, &address.0[..]].concat();
                        self.announce_records.push((key, Some(entry.announce.to_body().to_vec())));
                    }
                }
                Err(_) => tracing::warn!(%address, "announce carried an unusable key"),
            },
            Output::KeyForgotten { address } => {
                self.services.forget_key(&address);
                let key = [super::ANNOUNCE_RECORD_PREFIX, &address.0[..]].concat();
                self.announce_records.push((key, None));
                tracing::debug!(%address, "node forgotten to make room in the routing table");
            }
            Output::TraceDone { id, path } => {
                if let Some((waiting, started, destination)) = self.traces.remove(&id) {
                    let report = TraceReport {
                        destination,
                        path,
                        rtt_us: started.elapsed().as_micros() as u64,
                        route: self.core.routes(self.now()).into_iter().find(|r| r.destination == destination),
                    };
                    let _ = waiting.send(Ok(Answer::Trace(report)));
                }
            }
            Output::CommandReply { plugin, reply } => match self.pending.get(&reply.id) {
                Some((asked, _)) if *asked == plugin => {
                    if let Some((_, waiting)) = self.pending.remove(&reply.id) {
                        let outcome = CallOutcome { ok: reply.ok, body: reply.body };
                        let _ = waiting.send(Ok(Answer::Called(outcome)));
                    }
                }
                _ => tracing::debug!(plugin = %self.plugins.name(plugin), "answer to a command it was not asked"),
            },
            Output::Log { plugin, level, message } => {
                let plugin = self.plugins.name(plugin);
                crate::plugin::log::emit(plugin, None, level, &message);
            }
            Output::Metric { plugin, metric } => self.plugins.record_metric(plugin, &metric),
            Output::Refuse { plugin, refused } => {
                self.plugins.count_refused(plugin);
                if refusal_chain {
                    tracing::warn!(plugin = %self.plugins.name(plugin), "action refused: {}", refused.reason);
                } else {
                    let event = Event::ActionRefused(refused);
                    queue.push_back(Work::Output { output: Output::Deliver { plugin, event }, refusal_chain: true });
                }
            }
        }
    }
}
