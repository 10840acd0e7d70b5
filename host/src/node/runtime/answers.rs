//! Requests answered from the node's state ([`Query`]) or sent through it
//! ([`Traffic`]), and where each request goes.
//!
//! Owns: the dispatch of a [`Request`] (an exhaustive match: each group has
//! one handler, lifecycle requests are `lifecycle`'s), status, peers and
//! the metrics exposition, and starting sends, traces and commands whose
//! answers come back through the work queue. Must not: change what runs.

use super::Actor;
use crate::control::{Answer, PeerRow, PeerState, Query, ReplyTo, Request, SendOutcome, Status, Traffic};
use std::time::Instant;
use weft_core::node::Output;
use weft_plugin_api::{Command, Event};

impl Actor {
    /// Handles one request; true when the node should stop (drain).
    pub(super) fn on_request(&mut self, request: Request, reply: ReplyTo) -> bool {
        match request {
            Request::Query(query) => {
                let _ = reply.send(Ok(self.answer(query)));
                false
            }
            Request::Traffic(traffic) => {
                self.on_traffic(traffic, reply);
                false
            }
            Request::Lifecycle(lifecycle) => self.on_lifecycle_request(lifecycle, reply),
        }
    }

    /// A read-only answer.
    fn answer(&mut self, query: Query) -> Answer {
        match query {
            Query::Status => Answer::Status(Box::new(self.status())),
            Query::Peers => Answer::Peers(self.peers()),
            Query::Routes => Answer::Routes(self.core.routes(self.now())),
            Query::Links => Answer::Links(self.radios.rows(self.now_micros())),
            Query::Plugins => Answer::Plugins(self.plugins.rows()),
            Query::Metrics => Answer::Metrics(self.render_metrics()),
        }
    }

    /// Sends, traces and commands: answered now (sends) or when the trace,
    /// plugin or driver answers (through the work queue).
    fn on_traffic(&mut self, traffic: Traffic, reply: ReplyTo) {
        match traffic {
            Traffic::Send { to, port, payload } => {
                let sent = self.operator_send(to, port, payload.as_bytes());
                // What was held is on disk before the operator hears "held".
                self.flush_holds();
                let _ = reply.send(sent.map(|sent| Answer::Sent(SendOutcome::from(sent))));
            }
            Traffic::SendMany { to, port, payloads } => {
                // A slice now, the rest between other inputs (see `bulk`).
                self.bulk.push_back(super::bulk::BulkSend::new(to, port, payloads, reply));
                self.bulk_slice();
            }
            Traffic::Trace { to, .. } => {
                self.traces.retain(|_, (waiting, _, _)| !waiting.is_closed());
                let id = self.next_trace;
                self.next_trace += 1;
                self.traces.insert(id, (reply, Instant::now(), to));
                let outputs = self.core.trace(to, id, self.now());
                self.execute(outputs, false);
            }
            Traffic::Call { plugin, command, args, .. } => {
                let Some(id) = self.plugins.find(&plugin) else {
                    let _ = reply.send(Err(format!("no plugin named `{plugin}` is loaded")));
                    return;
                };
                if let Err(e) = self.plugins.check_command(id, &command) {
                    let _ = reply.send(Err(e));
                    return;
                }
                self.pending.retain(|_, (_, waiting)| !waiting.is_closed());
                let command_id = self.next_command;
                self.next_command += 1;
                self.pending.insert(command_id, (id, reply));
                let event = Event::Command(Command { id: command_id, name: command, args });
                self.execute(vec![Output::Deliver { plugin: id, event }], false);
            }
            Traffic::LinkCall { link, command, args } => {
                let Some(index) = self.radios.find(&link) else {
                    let _ = reply.send(Err(format!("no radio link named `{link}`")));
                    return;
                };
                self.link_commands.retain(|_, (_, waiting)| !waiting.is_closed());
                let command_id = self.next_command;
                self.next_command += 1;
                self.link_commands.insert(command_id, (index, reply));
                let items = self.radios.command(index, Command { id: command_id, name: command, args });
                self.on_radio_work(items);
            }
        }
    }

    /// Refreshes the metric families from every counter and renders them.
    fn render_metrics(&mut self) -> String {
        use crate::metrics::{LinkSample, NodeSample, PluginSample, RadioSample};
        let rows = self.plugins.rows();
        let samples = self.plugins.take_dispatch_samples();
        let radios = self.radios.rows(self.now_micros());
        let plugins = rows
            .iter()
            .map(|row| PluginSample {
                name: &row.name,
                up: row.state.is_running(),
                events: row.events,
                actions: row.actions,
                faults: row.faults,
                restarts: u64::from(row.restarts),
                dropped: row.dropped,
                refused: row.refused,
                memory_bytes: row.memory_bytes,
                dispatch_ns: samples.iter().find(|(n, _)| *n == row.name).map_or(&[], |(_, s)| s.as_slice()),
                reported: &row.metrics,
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|link| LinkSample {
                peer: link.peer().to_string(),
                counters: link.counters(),
                rtt_s: link.rtt().as_secs_f64(),
            })
            .collect();
        let router = self.core.router();
        let sample = NodeSample {
            core: self.core.counters(),
            routing: router.counters(),
            sessions: router.sessions().counters(),
            hold: router.hold_counters(),
            routes: router.table().reachable(self.now()),
            held: router.held(),
            plugins,
            links,
            radios: radios
                .iter()
                .map(|r| RadioSample { name: &r.name, status: &r.status, reported: &r.driver_metrics })
                .collect(),
        };
        self.metrics.render(sample)
    }

    fn status(&mut self) -> Status {
        Status {
            name: self.name.clone(),
            address: self.address,
            uptime_s: self.started.elapsed().as_secs(),
            listen: self.listen.to_string(),
            links_up: self.links.len(),
            links_refused: self.inbound.refused(),
            nodes_known: self.core.router().table().len(),
            peers_configured: self.peers_configured,
            plugins: self.plugins.rows(),
            counters: self.core.counters(),
            routes: self.core.router().table().reachable(self.now()),
            held: self.core.router().held(),
            routing: self.core.router().counters(),
            sessions: self.core.router().sessions().counters(),
            hold: self.core.router().hold_counters(),
        }
    }

    fn peers(&self) -> Vec<PeerRow> {
        let book = self.book.snapshot();
        let mut rows: Vec<PeerRow> = self
            .links
            .iter()
            .map(|link| {
                let info = link.info();
                let dial = book.get(&info.peer);
                PeerRow {
                    node: info.peer,
                    state: PeerState::Up,
                    source: dial.map(|d| d.source),
                    remote: Some(info.remote.to_string()),
                    direction: Some(info.direction),
                    up_s: info.since.elapsed().ok().map(|d| d.as_secs()),
                    rtt_us: Some(link.rtt().as_micros() as u64),
                    seen_as: info.reflexive.lock().ok().and_then(|s| s.map(|a| a.to_string())),
                    counters: Some(link.counters()),
                    failures: dial.map_or(0, |d| d.failures),
                    last_error: dial.and_then(|d| d.last_error.clone()),
                }
            })
            .collect();
        for (node, dial) in book {
            if self.links.get(&node).is_none() {
                rows.push(PeerRow {
                    node,
                    state: PeerState::Down,
                    source: Some(dial.source),
                    remote: Some(dial.address),
                    direction: None,
                    up_s: None,
                    rtt_us: None,
                    seen_as: None,
                    counters: None,
                    failures: dial.failures,
                    last_error: dial.last_error,
                });
            }
        }
        rows.sort_by_key(|r| r.node);
        rows
    }
}
