//! The metrics a plugin reports (`ctx.count`, `ctx.gauge`): kept per plugin
//! instance, bounded, and exported under the instance's name (`/metrics`,
//! `weft ctl metrics`, `weft ctl plugins --json`).
//!
//! Owns: [`PluginMetrics`]: the values, the naming rule and the bound. A
//! counter adds its (non-negative) increments; a gauge keeps its last value.
//! Must not: touch the registry (the metrics module renders what it reads).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_plugin_api::MetricKind;
use weft_plugin_api::actions::Metric;

/// Metric names one plugin may report; more are refused and counted.
pub const MAX_METRICS_PER_PLUGIN: usize = 64;
/// Longest metric name, bytes.
pub const MAX_METRIC_NAME: usize = 64;

/// One reported metric's current value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// `true` for a counter, `false` for a gauge.
    pub counter: bool,
    /// The counter's total or the gauge's value.
    pub value: f64,
}

/// Why a metric report was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricRefused {
    /// The name is empty, too long or not `[a-z0-9_]`.
    #[error("metric name {0:?}: expected 1 to {MAX_METRIC_NAME} of [a-z0-9_]")]
    Name(String),
    /// NaN or infinite.
    #[error("metric {0}: the value is not a finite number")]
    NotFinite(String),
    /// A counter report below zero.
    #[error("counter {name}: a counter only goes up ({value})")]
    CounterDown {
        /// The metric.
        name: String,
        /// The value reported.
        value: f64,
    },
    /// A new metric past the per-plugin bound.
    #[error("metric {0}: a plugin reports at most {MAX_METRICS_PER_PLUGIN} metrics")]
    TooMany(String),
    /// The metric was reported before with the other kind.
    #[error("metric {name} was a {was}")]
    KindChanged {
        /// The metric.
        name: String,
        /// `counter` or `gauge`.
        was: &'static str,
    },
}

/// A plugin's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PluginMetrics {
    /// By name.
    pub values: BTreeMap<String, MetricValue>,
    /// Reports refused: a bad name or value, a kind changed, or past the bound.
    pub refused: u64,
}

impl PluginMetrics {
    /// Takes one report; returns why it was refused, if it was.
    pub fn record(&mut self, metric: &Metric) -> Result<(), MetricRefused> {
        let result = self.check_and_apply(metric);
        if result.is_err() {
            self.refused += 1;
        }
        result
    }

    fn check_and_apply(&mut self, metric: &Metric) -> Result<(), MetricRefused> {
        let name = &metric.name;
        let valid = !name.is_empty()
            && name.len() <= MAX_METRIC_NAME
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(MetricRefused::Name(name.clone()));
        }
        if !metric.value.is_finite() {
            return Err(MetricRefused::NotFinite(name.clone()));
        }
        let counter = metric.kind == MetricKind::Counter;
        if counter && metric.value < 0.0 {
            return Err(MetricRefused::CounterDown { name: name.clone(), value: metric.value });
        }
        if !self.values.contains_key(name) && self.values.len() >= MAX_METRICS_PER_PLUGIN {
            return Err(MetricRefused::TooMany(name.clone()));
        }
        let entry = self.values.entry(name.clone()).or_insert(MetricValue { counter, value: 0.0 });
        if entry.counter != counter {
            return Err(MetricRefused::KindChanged {
                name: name.clone(),
                was: if entry.counter { "counter" } else { "gauge" },
            });
        }
        entry.value = if counter { entry.value + metric.value } else { metric.value };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, kind: MetricKind, value: f64) -> Metric {
        Metric { name: name.into(), kind, value }
    }

    #[test]
    fn counters_add_gauges_set_and_bad_reports_are_refused_and_counted() {
        let mut m = PluginMetrics::default();
        m.record(&metric("frames_tx", MetricKind::Counter, 1.0)).unwrap();
        m.record(&metric("frames_tx", MetricKind::Counter, 2.0)).unwrap();
        m.record(&metric("link_up", MetricKind::Gauge, 1.0)).unwrap();
        m.record(&metric("link_up", MetricKind::Gauge, 0.0)).unwrap();
        assert_eq!(m.values["frames_tx"], MetricValue { counter: true, value: 3.0 });
        assert_eq!(m.values["link_up"], MetricValue { counter: false, value: 0.0 });
        for bad in [
            metric("Bad-Name", MetricKind::Gauge, 1.0),
            metric("frames_tx", MetricKind::Counter, -1.0),
            metric("frames_tx", MetricKind::Gauge, 1.0),
            metric("nan", MetricKind::Gauge, f64::NAN),
        ] {
            assert!(m.record(&bad).is_err(), "{bad:?}");
        }
        for i in 0..MAX_METRICS_PER_PLUGIN {
            let _ = m.record(&metric(&format!("m{i}"), MetricKind::Gauge, 1.0));
        }
        assert_eq!(m.values.len(), MAX_METRICS_PER_PLUGIN);
        assert_eq!(m.refused, 4 + 2, "four bad reports, two names past the bound");
    }
}
