//! Traces: a probe toward a node that records the path and comes back.

use super::*;
use crate::time::Millis;

/// A trace probe as it arrived: the decoded fields of a trace packet.
pub(super) struct TraceProbe {
    /// On its way back.
    pub reply: bool,
    /// The tracer's id.
    pub id: u64,
    /// The node traced.
    pub destination: Address,
    /// The node tracing.
    pub origin: Address,
    /// Addresses of the nodes passed so far, concatenated.
    pub path: Vec<u8>,
}

impl<M: AnnounceCheck> Router<M> {
    /// Traces the path to `to`; the answer comes as [`RouterOutput::TraceDone`]
    /// with `id` (after a path request, if no route is known yet).
    pub fn trace(&mut self, to: Address, id: u64, now: Millis) {
        if to == self.own {
            self.out.push(RouterOutput::TraceDone { id, path: Vec::new() });
            return;
        }
        match self.table.route(&to, now) {
            Some(route) => self.start_trace(to, id, route),
            None => {
                self.traces.push(WaitingTrace { to, id, since: now });
                self.request_path(to, now);
            }
        }
    }

    pub(super) fn start_trace(&mut self, to: Address, id: u64, route: Route) {
        let packet = Packet {
            hops: Hops::fresh(self.config.max_hops),
            body: Body::Trace { reply: false, id, destination: to, origin: self.own, path: &[] },
        }
        .encode();
        self.out.push(RouterOutput::Transmit { link: route.link, packet });
    }

    pub(super) fn on_trace(&mut self, hops: Hops, probe: TraceProbe, now: Millis) {
        let TraceProbe { reply, id, destination, origin, mut path } = probe;
        if reply {
            if origin == self.own {
                let mut nodes = trace_path(&path);
                nodes.push(destination);
                self.out.push(RouterOutput::TraceDone { id, path: nodes });
                return;
            }
            self.route_trace(origin, Some(hops), Body::Trace { reply, id, destination, origin, path: &path }, now);
        } else if destination == self.own {
            let body = Body::Trace { reply: true, id, destination, origin, path: &path };
            self.route_trace(origin, None, body, now);
        } else {
            path.extend_from_slice(&self.own.0);
            let body = Body::Trace { reply, id, destination, origin, path: &path };
            self.route_trace(destination, Some(hops), body, now);
        }
    }

    /// Sends a trace toward `toward`: fresh (`None`) or one hop further.
    pub(super) fn route_trace(&mut self, toward: Address, hops: Option<Hops>, body: Body<'_>, now: Millis) {
        let hops = match hops {
            None => Hops::fresh(self.config.max_hops),
            Some(h) if h.count.saturating_add(1) < h.limit => Hops { count: h.count + 1, limit: h.limit },
            Some(_) => {
                self.counters.hop_limit += 1;
                return;
            }
        };
        let Some(route) = self.table.route(&toward, now) else {
            self.counters.lost += 1;
            return;
        };
        let packet = Packet { hops, body }.encode();
        self.out.push(RouterOutput::Transmit { link: route.link, packet });
    }
}
