//! The shared radio channel of the radio simulator: who hears whom, at
//! what SNR, and which frames survive.
//!
//! Owns: the frames on the air, the pairs in range, and the rules of a
//! LoRa channel as far as flooding cares:
//!
//! - **Range**: a node hears a frame only from a node within the
//!   placement's radius; the SNR falls off with distance (path-loss
//!   exponent [`PATH_LOSS_EXPONENT`], [`SNR_AT_RANGE_DB`] at the edge).
//! - **Half-duplex**: a node transmitting during any part of a frame does
//!   not receive it.
//! - **Collisions**: a frame that overlaps in time with another from a
//!   node in range of the receiver is lost there, unless it is at least
//!   [`CAPTURE_DB`] stronger than every such interferer (LoRa's capture
//!   effect, as LoRaSim models it).
//! - **Carrier sense**: a node about to transmit while it hears a frame
//!   on the air waits for its end plus a random backoff, as RNode firmware
//!   does (hidden nodes still collide).
//! - **Loss**: each reception that survived is lost with a fixed chance.
//!
//! Time on air comes from the Semtech formula (`LoraParams`). Must not:
//! know about routers, links or packets; it moves opaque frames.

use crate::sim::topology::Placement;
use weft_plugin_api::internal::rng::SplitMix64;

/// SNR at the edge of the range, dB (SF7's demodulation floor).
pub const SNR_AT_RANGE_DB: f64 = -7.5;
/// Path-loss exponent of the SNR model (free space is 2; 2.7 suburban).
pub const PATH_LOSS_EXPONENT: f64 = 2.7;
/// Highest SNR the model gives, dB.
pub const SNR_MAX_DB: f64 = 15.0;
/// How much stronger than every overlapping frame a frame must be to
/// survive the overlap, dB.
pub const CAPTURE_DB: f32 = 6.0;
/// Largest random backoff after a busy channel, µs.
pub const CSMA_BACKOFF_US: u64 = 100_000;

/// A frame on (or recently on) the air.
#[derive(Debug, Clone)]
struct OnAir {
    id: u64,
    from: usize,
    start: u64,
    end: u64,
    /// Its receptions were decided ([`Medium::finish`]).
    finished: bool,
}

/// What happened to receptions on the channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MediumStats {
    /// Frames transmitted.
    pub frames: u64,
    /// Time on air of those frames, µs (summed over transmitters).
    pub airtime_us: u64,
    /// Receptions that arrived intact.
    pub received: u64,
    /// Receptions lost to an overlapping frame.
    pub collided: u64,
    /// Receptions missed because the receiver was transmitting.
    pub deaf: u64,
    /// Receptions lost to the loss chance.
    pub lost: u64,
    /// Times a node found the channel busy and backed off.
    pub backoffs: u64,
}

/// The channel.
#[derive(Debug)]
pub struct Medium {
    nodes: usize,
    /// Per node: the nodes in range and the SNR they hear it at.
    in_range: Vec<Vec<(usize, f32)>>,
    /// `snr[a * nodes + b]`: the SNR `b` hears `a` at; NaN out of range.
    snr: Vec<f32>,
    on_air: Vec<OnAir>,
    next_id: u64,
    loss: f64,
    rng: SplitMix64,
    /// What happened so far.
    pub stats: MediumStats,
}

/// The SNR at distance `d` of a channel with range `range`, dB.
pub fn snr_at(d: f64, range: f64) -> f64 {
    let ratio = (range / d.max(range * 1e-3)).max(1e-9);
    (SNR_AT_RANGE_DB + 10.0 * PATH_LOSS_EXPONENT * ratio.log10()).min(SNR_MAX_DB)
}

impl Medium {
    /// The channel of `placement`, losing `loss` of surviving receptions.
    pub fn new(placement: &Placement, loss: f64, seed: u64) -> Medium {
        let nodes = placement.points.len();
        let mut in_range = vec![Vec::new(); nodes];
        let mut snr_of = vec![f32::NAN; nodes * nodes];
        for &(a, b) in &placement.topology.edges {
            let snr = snr_at(placement.distance(a, b), placement.radius) as f32;
            in_range[a].push((b, snr));
            in_range[b].push((a, snr));
            snr_of[a * nodes + b] = snr;
            snr_of[b * nodes + a] = snr;
        }
        Medium {
            nodes,
            in_range,
            snr: snr_of,
            on_air: Vec::new(),
            next_id: 1,
            loss,
            rng: SplitMix64::new(seed),
            stats: MediumStats::default(),
        }
    }

    /// The SNR `b` hears `a` at, if in range.
    fn snr(&self, a: usize, b: usize) -> Option<f32> {
        self.snr.get(a * self.nodes + b).copied().filter(|s| !s.is_nan())
    }

    fn in_range(&self, a: usize, b: usize) -> bool {
        self.snr(a, b).is_some()
    }

    /// When the channel `node` senses is free again, if it is busy at `now`
    /// (a frame from a node in range, or its own, is on the air).
    pub fn busy_until(&self, node: usize, now: u64) -> Option<u64> {
        self.on_air
            .iter()
            .filter(|f| f.start <= now && now < f.end && (f.from == node || self.in_range(f.from, node)))
            .map(|f| f.end)
            .max()
    }

    /// A random backoff after a busy channel, µs.
    pub fn backoff(&mut self) -> u64 {
        self.stats.backoffs += 1;
        self.rng.up_to(CSMA_BACKOFF_US)
    }

    /// Node `from` starts a frame of `airtime_us` at `now`; its id.
    pub fn start(&mut self, from: usize, now: u64, airtime_us: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.frames += 1;
        self.stats.airtime_us += airtime_us;
        self.on_air.push(OnAir { id, from, start: now, end: now.saturating_add(airtime_us), finished: false });
        id
    }

    /// Frame `id` ended: the nodes that received it, with the SNR.
    pub fn finish(&mut self, id: u64) -> Vec<(usize, f32)> {
        let Some(frame) = self.on_air.iter().find(|f| f.id == id).cloned() else { return Vec::new() };
        let overlapping: Vec<&OnAir> =
            self.on_air.iter().filter(|f| f.id != id && f.start < frame.end && frame.start < f.end).collect();
        let mut received = Vec::new();
        let (mut deaf, mut collided) = (0, 0);
        for &(to, snr) in &self.in_range[frame.from] {
            if overlapping.iter().any(|f| f.from == to) {
                deaf += 1;
            } else if overlapping.iter().filter_map(|f| self.snr(f.from, to)).any(|other| snr - other < CAPTURE_DB) {
                collided += 1;
            } else {
                received.push((to, snr));
            }
        }
        self.stats.deaf += deaf;
        self.stats.collided += collided;
        if self.loss > 0.0 {
            let before = received.len();
            let (loss, rng) = (self.loss, &mut self.rng);
            received.retain(|_| !rng.chance(loss));
            self.stats.lost += (before - received.len()) as u64;
        }
        self.stats.received += received.len() as u64;
        // Keep the frames not finished yet, and every finished one they
        // may overlap.
        if let Some(f) = self.on_air.iter_mut().find(|f| f.id == id) {
            f.finished = true;
        }
        let earliest_open = self.on_air.iter().filter(|f| !f.finished).map(|f| f.start).min();
        self.on_air.retain(|f| !f.finished || earliest_open.is_some_and(|start| f.end > start));
        received
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::topology::Topology;

    /// Three nodes on a line, each hearing only the next: 0 - 1 - 2.
    fn line() -> Placement {
        Placement {
            points: vec![(0.0, 0.0), (0.1, 0.0), (0.2, 0.0)],
            radius: 0.15,
            topology: Topology::from_edges(3, &[(0, 1), (1, 2)]),
        }
    }

    #[test]
    fn hidden_nodes_collide_at_the_middle_and_a_transmitter_is_deaf() {
        let mut medium = Medium::new(&line(), 0.0, 1);
        let a = medium.start(0, 0, 1_000);
        let c = medium.start(2, 500, 1_000);
        assert_eq!(medium.finish(a), vec![], "1 hears both ends at once");
        assert_eq!(medium.finish(c), vec![]);
        assert_eq!(medium.stats.collided, 2);
        // 1 transmits while 0 sends to it: 1 misses it, 0 is not disturbed
        // by anything 2 does (out of range).
        let a = medium.start(0, 10_000, 1_000);
        let b = medium.start(1, 10_200, 100);
        assert_eq!(medium.finish(a), vec![]);
        assert_eq!(medium.stats.deaf, 1);
        let received: Vec<usize> = medium.finish(b).into_iter().map(|(n, _)| n).collect();
        assert_eq!(received, vec![2], "0 was transmitting; 2 hears it");
    }

    #[test]
    fn carrier_sense_sees_only_nodes_in_range_and_snr_falls_with_distance() {
        let mut medium = Medium::new(&line(), 0.0, 1);
        medium.start(0, 0, 1_000);
        assert_eq!(medium.busy_until(1, 10), Some(1_000));
        assert_eq!(medium.busy_until(2, 10), None, "2 cannot hear 0");
        assert_eq!(medium.busy_until(1, 1_000), None, "free at the frame's end");
        assert!((snr_at(0.15, 0.15) - SNR_AT_RANGE_DB).abs() < 1e-9);
        assert!(snr_at(0.05, 0.15) > snr_at(0.1, 0.15));
        assert_eq!(snr_at(0.0, 0.15), SNR_MAX_DB);
    }
}
