//! Prometheus metrics of a node.
//!
//! Owns: the metric families (names, help, labels; the list operators read
//! in `docs/operations.md`), refreshing them from the node's counters when
//! scraped ([`NodeMetrics::render`]), and the HTTP endpoint ([`http`]).
//! Counters live where they are counted (links, router, plugin host, radio
//! links); this module copies them into the registry at scrape time, so the
//! hot paths pay nothing for metrics except the dispatch-latency histogram.
//! Must not: count anything itself or hold node state.

pub mod http;

use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Dispatch latency buckets, seconds: 1 µs to 100 ms.
const DISPATCH_BUCKETS: [f64; 12] = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 2e-2, 1e-1];

/// One snapshot of a plugin, for metrics.
pub struct PluginSample<'a> {
    /// Plugin name.
    pub name: &'a str,
    /// Whether it takes events.
    pub up: bool,
    /// Events delivered.
    pub events: u64,
    /// Actions returned.
    pub actions: u64,
    /// Faults.
    pub faults: u64,
    /// Restarts.
    pub restarts: u64,
    /// Events dropped.
    pub dropped: u64,
    /// Actions refused.
    pub refused: u64,
    /// Linear memory (wasm).
    pub memory_bytes: Option<u64>,
    /// Dispatch latencies since the last scrape, ns.
    pub dispatch_ns: &'a [u64],
    /// What the plugin reported (`ctx.count`, `ctx.gauge`).
    pub reported: &'a crate::plugin::metrics::PluginMetrics,
}

/// One QUIC link, for metrics.
pub struct LinkSample {
    /// Neighbour address (label).
    pub peer: String,
    /// Frame and byte counters.
    pub counters: crate::link::counters::CounterSnapshot,
    /// Smoothed round-trip time, seconds.
    pub rtt_s: f64,
}

/// One radio link, for metrics.
pub struct RadioSample<'a> {
    /// Link name (label).
    pub name: &'a str,
    /// Its status row.
    pub status: &'a weft_core::radio::link::RadioStatus,
    /// What its driver reported (`ctx.count`, `ctx.gauge`).
    pub reported: &'a crate::plugin::metrics::PluginMetrics,
}

/// The node-wide numbers.
pub struct NodeSample<'a> {
    /// Core counters.
    pub core: weft_core::node::CoreCounters,
    /// Router counters.
    pub routing: weft_core::routing::RouterCounters,
    /// End-to-end session counters.
    pub sessions: weft_core::session::SessionCounters,
    /// Store-and-forward counters.
    pub hold: weft_core::routing::pending::HoldCounters,
    /// Reachable destinations.
    pub routes: usize,
    /// Packets held now.
    pub held: usize,
    /// Plugins.
    pub plugins: Vec<PluginSample<'a>>,
    /// QUIC links.
    pub links: Vec<LinkSample>,
    /// Radio links.
    pub radios: Vec<RadioSample<'a>>,
}

/// The registry and every family.
pub struct NodeMetrics {
    registry: Registry,
    plugin_up: IntGaugeVec,
    plugin_events: IntCounterVec,
    plugin_actions: IntCounterVec,
    plugin_faults: IntCounterVec,
    plugin_restarts: IntCounterVec,
    plugin_dropped: IntCounterVec,
    plugin_refused: IntCounterVec,
    plugin_memory: IntGaugeVec,
    plugin_dispatch: HistogramVec,
    plugin_reported_counters: CounterVec,
    plugin_reported_gauges: GaugeVec,
    plugin_reports_refused: IntCounterVec,
    driver_reported_counters: CounterVec,
    driver_reported_gauges: GaugeVec,
    link_frames: IntCounterVec,
    link_bytes: IntCounterVec,
    link_errors: IntCounterVec,
    link_rtt: GaugeVec,
    radio_up: IntGaugeVec,
    radio_degraded: IntGaugeVec,
    radio_frames: IntCounterVec,
    radio_bytes: IntCounterVec,
    radio_airtime: GaugeVec,
    radio_budget: GaugeVec,
    radio_budget_used: GaugeVec,
    radio_queued: IntGaugeVec,
    radio_held: IntCounterVec,
    radio_hold_max: GaugeVec,
    radio_failed: IntCounterVec,
    radio_reassembly: IntCounterVec,
    radio_neighbours: IntGaugeVec,
    radio_refused: IntCounterVec,
    radio_relays: IntCounterVec,
    routes: IntGauge,
    routing: IntCounterVec,
    sessions: IntCounterVec,
    store_held: IntGauge,
    store: IntCounterVec,
    messages: IntCounterVec,
    scrape_seconds: Gauge,
}

/// Registers `family` in `registry` and hands it back.
fn registered<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, family: C) -> C {
    registry.register(Box::new(family.clone())).expect("unique metric name");
    family
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition"))
}

fn float_counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> CounterVec {
    registered(registry, CounterVec::new(Opts::new(name, help), labels).expect("static metric definition"))
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    registered(registry, GaugeVec::new(Opts::new(name, help), labels).expect("static metric definition"))
}

fn int_gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    registered(registry, IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition"))
}

/// Sets a counter (integer or float) to an absolute value counted
/// elsewhere. A source that started over (a plugin unloaded and loaded
/// again) resets the counter, which Prometheus' `rate()` understands.
fn set_counter<P: prometheus::core::Atomic>(
    family: &prometheus::core::GenericCounterVec<P>,
    labels: &[&str],
    value: P::T,
) {
    let c = family.with_label_values(labels);
    let current = c.get();
    if value < current {
        c.reset();
        c.inc_by(value);
    } else if value > current {
        let mut step = value;
        step -= current;
        c.inc_by(step);
    }
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeMetrics {
    /// Registers every family (names are static; registration cannot fail).
    pub fn new() -> Self {
        let r = Registry::new();
        let dispatch = HistogramVec::new(
            HistogramOpts::new(
                "weft_plugin_dispatch_seconds",
                "Time one plugin call took (event in, actions out); one call in 16 is timed.",
            )
            .buckets(DISPATCH_BUCKETS.to_vec()),
            &["plugin"],
        )
        .expect("static metric definition");
        r.register(Box::new(dispatch.clone())).expect("unique metric name");
        let routes = IntGauge::new("weft_routing_table_routes", "Destinations with a usable route.").expect("static");
        r.register(Box::new(routes.clone())).expect("unique metric name");
        let store_held =
            IntGauge::new("weft_store_held_packets", "Packets held for unreachable destinations.").expect("static");
        r.register(Box::new(store_held.clone())).expect("unique metric name");
        let scrape_seconds =
            Gauge::new("weft_metrics_render_seconds", "Time the previous scrape took to render.").expect("static");
        r.register(Box::new(scrape_seconds.clone())).expect("unique metric name");
        Self {
            plugin_up: int_gauge(
                &r,
                "weft_plugin_up",
                "1 when the plugin takes events, 0 when restarting or stopped.",
                &["plugin"],
            ),
            plugin_events: counter(&r, "weft_plugin_events_total", "Events delivered to the plugin.", &["plugin"]),
            plugin_actions: counter(&r, "weft_plugin_actions_total", "Actions the plugin returned.", &["plugin"]),
            plugin_faults: counter(
                &r,
                "weft_plugin_errors_total",
                "Plugin faults: traps, deadlines, out of memory, panics, failed hooks.",
                &["plugin"],
            ),
            plugin_restarts: counter(&r, "weft_plugin_restarts_total", "Restarts after faults.", &["plugin"]),
            plugin_dropped: counter(
                &r,
                "weft_plugin_dropped_events_total",
                "Events dropped: plugin stopped, or its restart backlog full.",
                &["plugin"],
            ),
            plugin_refused: counter(
                &r,
                "weft_plugin_refused_actions_total",
                "Actions refused: not permitted, over quota, link unavailable.",
                &["plugin"],
            ),
            plugin_memory: int_gauge(
                &r,
                "weft_plugin_memory_bytes",
                "Linear memory of a wasm plugin instance.",
                &["plugin"],
            ),
            plugin_dispatch: dispatch,
            plugin_reported_counters: float_counter(
                &r,
                "weft_plugin_reported_total",
                "A counter the plugin reports (ctx.count).",
                &["plugin", "metric"],
            ),
            plugin_reported_gauges: gauge(
                &r,
                "weft_plugin_reported",
                "A gauge the plugin reports (ctx.gauge).",
                &["plugin", "metric"],
            ),
            plugin_reports_refused: counter(
                &r,
                "weft_plugin_reports_refused_total",
                "Metric reports refused (bad name or value, kind changed, more than 64 names).",
                &["plugin"],
            ),
            driver_reported_counters: float_counter(
                &r,
                "weft_driver_reported_total",
                "A counter a radio driver reports (ctx.count).",
                &["link", "metric"],
            ),
            driver_reported_gauges: gauge(
                &r,
                "weft_driver_reported",
                "A gauge a radio driver reports (ctx.gauge).",
                &["link", "metric"],
            ),
            link_frames: counter(&r, "weft_link_frames_total", "Frames on a QUIC link.", &["peer", "direction"]),
            link_bytes: counter(&r, "weft_link_bytes_total", "Bytes on a QUIC link.", &["peer", "direction"]),
            link_errors: counter(
                &r,
                "weft_link_errors_total",
                "Frames dropped on a QUIC link, by reason.",
                &["peer", "reason"],
            ),
            link_rtt: gauge(&r, "weft_link_rtt_seconds", "Smoothed round-trip time of a QUIC link.", &["peer"]),
            radio_up: int_gauge(
                &r,
                "weft_radio_up",
                "1 when the radio link's driver reports the modem ready.",
                &["link"],
            ),
            radio_degraded: int_gauge(
                &r,
                "weft_radio_degraded",
                "1 while the driver reports ready but transmits keep failing.",
                &["link"],
            ),
            radio_frames: counter(
                &r,
                "weft_radio_frames_total",
                "Radio frames sent and received.",
                &["link", "direction"],
            ),
            radio_bytes: counter(
                &r,
                "weft_radio_bytes_total",
                "Radio frame bytes sent and received.",
                &["link", "direction"],
            ),
            radio_airtime: gauge(
                &r,
                "weft_radio_airtime_seconds_total",
                "Airtime of the frames handed to the radio.",
                &["link"],
            ),
            radio_budget: gauge(
                &r,
                "weft_radio_duty_cycle_budget_seconds",
                "Airtime allowed per rolling hour.",
                &["link"],
            ),
            radio_budget_used: gauge(
                &r,
                "weft_radio_duty_cycle_used_seconds",
                "Airtime used in the last hour.",
                &["link"],
            ),
            radio_queued: int_gauge(&r, "weft_radio_queued_frames", "Frames waiting for the radio.", &["link"]),
            radio_held: counter(
                &r,
                "weft_radio_held_for_budget_total",
                "Frames that waited for the duty-cycle budget.",
                &["link"],
            ),
            radio_hold_max: gauge(
                &r,
                "weft_radio_queue_wait_max_seconds",
                "Longest time one frame waited in the queue.",
                &["link"],
            ),
            radio_failed: counter(
                &r,
                "weft_radio_tx_failed_total",
                "Transmits the driver reported failed (queued again).",
                &["link"],
            ),
            radio_reassembly: counter(
                &r,
                "weft_radio_reassembly_total",
                "Fragmented packets, by outcome.",
                &["link", "outcome"],
            ),
            radio_neighbours: int_gauge(
                &r,
                "weft_radio_neighbours",
                "Neighbours on the radio: up (verified both ways), unconfirmed (heard, not yet shown to hear us), quiet.",
                &["link", "state"],
            ),
            radio_refused: counter(
                &r,
                "weft_radio_refused_total",
                "Radio frames and hellos ignored, by reason.",
                &["link", "reason"],
            ),
            radio_relays: counter(
                &r,
                "weft_radio_relays_total",
                "Floods relayed on the radio they were heard on (managed flooding): sent, or suppressed because every neighbour had them.",
                &["link", "outcome"],
            ),
            routes,
            routing: counter(&r, "weft_routing_packets_total", "Routed packets by what happened to them.", &["event"]),
            sessions: counter(
                &r,
                "weft_session_events_total",
                "End-to-end session events: handshakes, messages sealed and opened, refusals.",
                &["event"],
            ),
            store_held,
            store: counter(&r, "weft_store_packets_total", "Store-and-forward packets by outcome.", &["outcome"]),
            messages: counter(
                &r,
                "weft_messages_total",
                "Messages for this node's services, by outcome.",
                &["outcome"],
            ),
            scrape_seconds,
            registry: r,
        }
    }

    /// Refreshes every family from `sample` and renders the text format.
    pub fn render(&self, sample: NodeSample<'_>) -> String {
        let started = std::time::Instant::now();
        for p in &sample.plugins {
            let l = [p.name];
            self.plugin_up.with_label_values(&l).set(i64::from(p.up));
            set_counter(&self.plugin_events, &l, p.events);
            set_counter(&self.plugin_actions, &l, p.actions);
            set_counter(&self.plugin_faults, &l, p.faults);
            set_counter(&self.plugin_restarts, &l, p.restarts);
            set_counter(&self.plugin_dropped, &l, p.dropped);
            set_counter(&self.plugin_refused, &l, p.refused);
            if let Some(bytes) = p.memory_bytes {
                self.plugin_memory.with_label_values(&l).set(bytes as i64);
            }
            let histogram = self.plugin_dispatch.with_label_values(&l);
            for ns in p.dispatch_ns {
                histogram.observe(*ns as f64 / 1e9);
            }
            for (metric, v) in &p.reported.values {
                let labels = [p.name, metric.as_str()];
                if v.counter {
                    set_counter(&self.plugin_reported_counters, &labels, v.value);
                } else {
                    self.plugin_reported_gauges.with_label_values(&labels).set(v.value);
                }
            }
            set_counter(&self.plugin_reports_refused, &l, p.reported.refused);
        }
        for link in &sample.links {
            let peer = link.peer.as_str();
            let c = &link.counters;
            set_counter(&self.link_frames, &[peer, "in"], c.frames_in);
            set_counter(&self.link_frames, &[peer, "out"], c.frames_out);
            set_counter(&self.link_bytes, &[peer, "in"], c.bytes_in);
            set_counter(&self.link_bytes, &[peer, "out"], c.bytes_out);
            set_counter(&self.link_errors, &[peer, "oversize"], c.dropped_oversize);
            set_counter(&self.link_errors, &[peer, "undecodable"], c.dropped_undecodable);
            set_counter(&self.link_errors, &[peer, "congested"], c.dropped_congested);
            self.link_rtt.with_label_values(&[peer]).set(link.rtt_s);
        }
        for radio in &sample.radios {
            let (name, s) = (radio.name, radio.status);
            self.radio_up.with_label_values(&[name]).set(i64::from(s.driver_up));
            let degraded = s.health == weft_core::radio::link::LinkHealth::Degraded;
            self.radio_degraded.with_label_values(&[name]).set(i64::from(degraded));
            set_counter(&self.radio_frames, &[name, "out"], s.counters.frames_out);
            set_counter(&self.radio_frames, &[name, "in"], s.counters.frames_in);
            set_counter(&self.radio_bytes, &[name, "out"], s.counters.bytes_out);
            set_counter(&self.radio_bytes, &[name, "in"], s.counters.bytes_in);
            self.radio_airtime.with_label_values(&[name]).set(s.tx.airtime_us as f64 / 1e6);
            self.radio_budget.with_label_values(&[name]).set(s.budget_us as f64 / 1e6);
            self.radio_budget_used.with_label_values(&[name]).set(s.used_us as f64 / 1e6);
            self.radio_queued.with_label_values(&[name]).set(s.queued_frames as i64);
            set_counter(&self.radio_held, &[name], s.tx.held_for_budget);
            self.radio_hold_max.with_label_values(&[name]).set(s.tx.queued_us_max as f64 / 1e6);
            set_counter(&self.radio_failed, &[name], s.counters.tx_failed);
            set_counter(&self.radio_reassembly, &[name, "completed"], s.reassembly.completed);
            set_counter(&self.radio_reassembly, &[name, "timed_out"], s.reassembly.timed_out);
            set_counter(&self.radio_reassembly, &[name, "malformed"], s.reassembly.malformed);
            set_counter(&self.radio_reassembly, &[name, "refused"], s.reassembly.refused);
            let up = s.neighbours.iter().filter(|n| n.up).count();
            let unconfirmed = s.neighbours.iter().filter(|n| n.unconfirmed).count();
            let quiet = s.neighbours.len() - up - unconfirmed;
            for (state, count) in [("up", up), ("unconfirmed", unconfirmed), ("quiet", quiet)] {
                self.radio_neighbours.with_label_values(&[name, state]).set(count as i64);
            }
            let c = &s.counters;
            for (reason, value) in [
                ("hello_forged", c.hellos_forged),
                ("hello_replayed", c.hellos_replayed),
                ("hello_skewed", c.hellos_skewed),
                ("hello_rate_limited", c.hellos_rate_limited),
                ("hello_foreign", c.foreign),
                ("neighbour_refused", c.neighbours_refused),
                ("unverified", c.unverified),
                ("bad_tag", c.bad_tag),
                ("overheard", c.overheard),
                ("malformed", c.malformed),
            ] {
                set_counter(&self.radio_refused, &[name, reason], value);
            }
            set_counter(&self.radio_relays, &[name, "sent"], c.relays_sent);
            set_counter(&self.radio_relays, &[name, "suppressed"], c.relays_suppressed);
            set_counter(&self.radio_relays, &[name, "withdrawn"], c.relays_withdrawn);
            set_counter(&self.radio_relays, &[name, "stale"], c.relays_stale);
            for (metric, v) in &radio.reported.values {
                let labels = [name, metric.as_str()];
                if v.counter {
                    set_counter(&self.driver_reported_counters, &labels, v.value);
                } else {
                    self.driver_reported_gauges.with_label_values(&labels).set(v.value);
                }
            }
        }
        let r = &sample.routing;
        for (event, value) in [
            ("undecodable", r.undecodable),
            ("delivered", r.delivered),
            ("forwarded", r.forwarded),
            ("hop_limit", r.hop_limit),
            ("duplicate", r.duplicates),
            ("flood_forged", r.floods_forged),
            ("flood_unsigned", r.floods_unsigned),
            ("announce_accepted", r.announces_accepted),
            ("announce_forged", r.announces_forged),
            ("announce_stale", r.announces_stale),
            ("announce_implausible", r.announces_implausible),
            ("path_request_implausible", r.path_requests_implausible),
            ("hop_limit_capped", r.hop_limit_capped),
            ("path_request", r.path_requests),
            ("path_response", r.path_responses),
            ("unopenable", r.unopenable),
            ("lost", r.lost),
            ("announce_rate_limited", r.announces_rate_limited),
            ("announce_origin_limited", r.announces_origin_limited),
            ("node_refused", r.nodes_refused),
            ("node_evicted", r.nodes_evicted),
            ("path_request_rate_limited", r.path_requests_rate_limited),
            ("unknown_rate_limited", r.unknown_rate_limited),
            ("search_given_up", r.searches_given_up),
            ("search_refused", r.searches_refused),
            ("path_request_deferred", r.path_requests_deferred),
        ] {
            set_counter(&self.routing, &[event], value);
        }
        let s = &sample.sessions;
        for (event, value) in [
            ("handshake_started", s.handshakes_started),
            ("established", s.established),
            ("handshake_refused", s.handshakes_refused),
            ("handshake_unknown_peer", s.handshakes_unknown_peer),
            ("handshake_rate_limited", s.handshakes_rate_limited),
            ("sealed", s.sealed),
            ("opened", s.opened),
            ("replayed", s.replayed),
            ("unopenable", s.unopenable),
            ("unknown_session", s.unknown_session),
            ("reset_sent", s.resets_sent),
            ("reset_taken", s.resets_taken),
            ("reset_refused", s.resets_refused),
            ("resent", s.resent),
            ("retransmitted", s.retransmitted),
            ("ack_sent", s.acks_sent),
            ("ack_received", s.acks_received),
            ("queue_full", s.queue_full),
            ("given_up", s.given_up),
        ] {
            set_counter(&self.sessions, &[event], value);
        }
        self.routes.set(sample.routes as i64);
        self.store_held.set(sample.held as i64);
        let h = &sample.hold;
        for (outcome, value) in [
            ("queued", h.held),
            ("delivered", h.delivered),
            ("expired", h.expired),
            ("evicted", h.evicted),
            ("evicted_per_source", h.evicted_per_source),
            ("requeued", h.requeued),
        ] {
            set_counter(&self.store, &[outcome], value);
        }
        set_counter(&self.messages, &["delivered"], sample.core.delivered);
        set_counter(&self.messages, &["no_service"], sample.core.no_service);
        set_counter(&self.messages, &["stale_reply"], sample.core.stale_replies);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return format!("# metrics could not be encoded: {e}\n");
        }
        self.scrape_seconds.set(started.elapsed().as_secs_f64());
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(plugins: Vec<PluginSample<'a>>) -> NodeSample<'a> {
        NodeSample {
            core: Default::default(),
            routing: Default::default(),
            sessions: Default::default(),
            hold: Default::default(),
            routes: 3,
            held: 1,
            plugins,
            links: Vec::new(),
            radios: Vec::new(),
        }
    }

    #[test]
    fn counters_follow_the_node_and_reset_when_their_source_starts_over() {
        let metrics = NodeMetrics::new();
        let mut reported = crate::plugin::metrics::PluginMetrics::default();
        let count = |value| weft_plugin_api::actions::Metric {
            name: "slots".into(),
            kind: weft_plugin_api::MetricKind::Counter,
            value,
        };
        reported.record(&count(2.5)).unwrap();
        let reported = &reported;
        let plugin = |events, dispatch: &'static [u64]| PluginSample {
            name: "echo",
            up: true,
            events,
            actions: 0,
            faults: 0,
            restarts: 0,
            dropped: 0,
            refused: 0,
            memory_bytes: Some(65536),
            dispatch_ns: dispatch,
            reported,
        };
        let text = metrics.render(sample(vec![plugin(5, &[800, 1500])]));
        assert!(text.contains("weft_plugin_events_total{plugin=\"echo\"} 5"), "{text}");
        assert!(text.contains("weft_plugin_dispatch_seconds_count{plugin=\"echo\"} 2"), "{text}");
        assert!(text.contains("weft_plugin_reported_total{metric=\"slots\",plugin=\"echo\"} 2.5"), "{text}");
        assert!(text.contains("weft_routing_table_routes 3"), "{text}");
        let text = metrics.render(sample(vec![plugin(9, &[])]));
        assert!(text.contains("weft_plugin_events_total{plugin=\"echo\"} 9"), "{text}");
        // A plugin loaded again counts from zero: the counter resets with it.
        let text = metrics.render(sample(vec![plugin(2, &[])]));
        assert!(text.contains("weft_plugin_events_total{plugin=\"echo\"} 2"), "{text}");
    }
}
