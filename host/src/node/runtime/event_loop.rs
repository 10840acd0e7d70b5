//! The actor's loop: one input at a time from links, requests, serial
//! ports, background work and the one timer; then a clean stop.
//!
//! Owns: fairness between inputs (a bounded burst of one kind, then the
//! others), the timer re-armed only when the next deadline moves, periodic
//! persistence of the routing state, and the stop sequence (shutdown hooks,
//! routing state, links closed). Must not: decide what an input means (the
//! core's) or run its consequences (the work queue's).

use super::{Actor, BURST, Inputs, QuicLinkParams, TURN_BUDGET};
use crate::link::table::Offer;
use crate::link::{LinkEvent, connection::close_code};
use std::collections::HashSet;
use std::time::Duration;
use weft_core::routing::{LinkId, LinkParams};
use weft_core::time::Micros;
use weft_plugin_api::Address;

impl Actor {
    pub(super) async fn run(
        mut self,
        inputs: Inputs,
        init_actions: crate::node::plugin_host::PluginActions,
        endpoint: quinn::Endpoint,
        admin_task: tokio::task::JoinHandle<()>,
    ) {
        let Inputs { mut link_events, mut serial, mut background, mut requests, mut shutdown } = inputs;
        // What the plugins asked for in `init` (timers, first messages).
        for (plugin, actions) in init_actions {
            let outputs = self.core.actions(plugin, actions, self.now());
            self.execute(outputs, false);
        }
        // One timer for the whole run, moved only when the next deadline
        // changes (re-arming a fresh one per input costs a timer-wheel insert
        // and removal per message).
        let timer = tokio::time::sleep_until(self.started.into());
        tokio::pin!(timer);
        let mut armed: Option<Micros> = None;
        loop {
            // What the last input held goes to disk in one transaction.
            self.flush_holds();
            let deadline = self.next_deadline();
            if deadline != armed {
                if let Some(at) = deadline {
                    timer.as_mut().reset((self.started + Duration::from_micros(at.as_us())).into());
                }
                armed = deadline;
            }
            tokio::select! {
                Some(event) = link_events.recv() => {
                    let turn = std::time::Instant::now();
                    self.on_link_event(event);
                    // Take what else is already waiting before re-arming
                    // anything, within the turn's budget.
                    for _ in 1..BURST {
                        if turn.elapsed() >= TURN_BUDGET {
                            break;
                        }
                        let Ok(event) = link_events.try_recv() else { break };
                        self.on_link_event(event);
                    }
                }
                Some((request, reply)) = requests.recv() => {
                    if self.on_request(request, reply) {
                        break;
                    }
                    for _ in 1..BURST {
                        let Ok((request, reply)) = requests.try_recv() else { break };
                        if self.on_request(request, reply) {
                            break;
                        }
                    }
                    if self.draining {
                        break;
                    }
                }
                Some(done) = background.recv() => {
                    if self.on_background(done) {
                        break;
                    }
                }
                Some((link, event)) = serial.recv() => {
                    let items = self.radios.serial_event(link, event);
                    self.on_radio_work(items);
                }
                _ = &mut timer, if armed.is_some() => {
                    armed = None; // fired: re-arm from the next deadline
                    let outputs = self.core.poll(self.now());
                    self.execute(outputs, false);
                    // The router's housekeeping wakes this timer every second.
                    if self.now() >= self.next_routing_persist {
                        let interval_ms = self.config.routing.persist_interval_s.saturating_mul(1000).max(1000);
                        self.next_routing_persist = self.now().after_ms(interval_ms);
                        self.persist_routing("periodic");
                    }
                    for (plugin, actions) in self.plugins.poll(self.now()) {
                        let outputs = self.core.actions(plugin, actions, self.now());
                        self.execute(outputs, false);
                    }
                    let items = self.radios.poll(self.now_micros());
                    self.on_radio_work(items);
                }
                // A bulk send's next slice. `yield_now` first lets the
                // runtime run other tasks: an admin reply the actor woke
                // waits in this worker's queue until the actor yields.
                _ = tokio::task::yield_now(), if !self.bulk.is_empty() => self.bulk_slice(),
                _ = crate::shutdown::stopped(&mut shutdown) => break,
            }
        }
        self.flush_holds();
        admin_task.abort();
        let _ = std::fs::remove_file(&self.admin_socket);
        for (plugin, actions) in self.plugins.shutdown_all(self.config.shutdown_deadline) {
            let outputs = self.core.actions(plugin, actions, self.now());
            self.execute(outputs, true);
        }
        self.radios.shutdown_all(self.config.shutdown_deadline);
        self.persist_routing("node stopping");
        self.flush_holds();
        // Let final messages leave before the links close.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for link in self.links.iter() {
            link.close(close_code::SHUTDOWN, "node stopping");
        }
        endpoint.close(close_code::SHUTDOWN.into(), b"node stopping");
        let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        tracing::info!(node = %self.name, "node stopped");
    }

    fn publish_connected(&self) {
        let set: HashSet<Address> = self.links.peers().collect();
        self.connected.send_replace(set);
    }

    fn on_link_event(&mut self, event: LinkEvent) {
        let now = self.now();
        let QuicLinkParams { cost, bandwidth_bps } = self.quic_link;
        match event {
            LinkEvent::Up(link) => {
                let peer = link.peer();
                let remote = link.info().remote;
                let id = LinkId::Quic(link.id());
                let params = LinkParams { neighbour: peer, cost, bandwidth_bps };
                match self.links.offer(link) {
                    Offer::Accepted => {
                        tracing::info!(%peer, %remote, "link up");
                        self.publish_connected();
                        let outputs = self.core.link_up(id, params, now);
                        self.execute(outputs, false);
                    }
                    Offer::Replaced(old) => {
                        tracing::info!(%peer, %remote, "link replaced by a newer connection");
                        old.close(close_code::DUPLICATE, "replaced by a newer connection");
                        let mut outputs = self.core.link_up(id, params, now);
                        outputs.extend(self.core.link_down(LinkId::Quic(old.id())));
                        self.execute(outputs, false);
                    }
                    Offer::Rejected(new) => {
                        tracing::debug!(%peer, %remote, "duplicate connection closed");
                        new.close(close_code::DUPLICATE, "a connection already exists");
                    }
                }
            }
            // The batch's credit returns to its link when this arm ends.
            LinkEvent::Frames { link, peer, frames, credit: _credit } => {
                if self.links.get(&peer).is_none_or(|l| l.id() != link) {
                    return; // a replaced link's last frames
                }
                for packet in frames {
                    let outputs = self.core.packet_received(LinkId::Quic(link), packet, now);
                    self.execute(outputs, false);
                }
            }
            LinkEvent::Down { link, peer, reason } => {
                if self.links.remove(peer, link) {
                    tracing::info!(%peer, "link down: {reason}");
                    self.publish_connected();
                    let outputs = self.core.link_down(LinkId::Quic(link));
                    self.execute(outputs, false);
                }
            }
        }
    }
}
