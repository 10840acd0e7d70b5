//! The shared radio channel, sans-IO with explicit time in microseconds.
//!
//! Owns: airtime, who hears what, collisions, per-link loss and the on-air
//! counters. No clock and no threads: the caller passes `now` (monotonic,
//! microseconds of simulated time) to every call and takes due events with
//! [`Medium::pop_due`].
//!
//! A transmission occupies `[start, start + airtime)` with airtime from
//! [`LoraParams::time_on_air_us`]. A node hears it when, at its start, the
//! node is powered, receiving on parameters that [`LoraParams::hears`] the
//! transmitter's, not transmitting itself, and the per-pair loss roll
//! spares it (lost frames are invisible to that receiver: they neither
//! arrive nor collide). Frames a receiver hears that overlap in time collide:
//! all of them are lost for that receiver. A receiver that starts
//! transmitting, stops receiving, retunes or loses power during a frame
//! loses it. Surviving frames are delivered at the end of their airtime
//! with the pair's RSSI and SNR.

use std::collections::HashMap;

use weft_plugin_api::radio::LoraParams;

use weft_plugin_api::internal::rng::SplitMix64;

/// Index of a node on the medium (the order of [`Medium::add_node`] calls).
pub type NodeId = usize;

/// Quality of the path from one node to another (one direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkQuality {
    /// Probability that a frame is not received at all, 0..=1.
    pub loss: f64,
    /// Received signal strength, dBm.
    pub rssi_dbm: i16,
    /// Signal-to-noise ratio, dB.
    pub snr_db: f32,
}

impl Default for LinkQuality {
    /// No loss, -60 dBm, 9.5 dB.
    fn default() -> Self {
        LinkQuality { loss: 0.0, rssi_dbm: -60, snr_db: 9.5 }
    }
}

/// On-air counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AirStats {
    /// Frames this node transmitted.
    pub frames_sent: u64,
    /// Bytes in them.
    pub bytes_sent: u64,
    /// Airtime they used, microseconds.
    pub airtime_us: u64,
    /// Frames this node received intact.
    pub frames_received: u64,
    /// Bytes in them.
    pub bytes_received: u64,
    /// Frames lost at this node because they overlapped another frame.
    pub collisions: u64,
    /// Frames lost at this node to the link's loss probability.
    pub losses: u64,
    /// Frames this node would have heard but missed because it was
    /// transmitting (half-duplex).
    pub missed_while_transmitting: u64,
    /// Frames abandoned because this node stopped receiving, retuned or lost
    /// power while they were on air (at this node as receiver), or its own
    /// transmissions cut short by losing power.
    pub aborted: u64,
}

/// Something that happened on the medium.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `node` finished transmitting.
    TxDone {
        /// The transmitter.
        node: NodeId,
    },
    /// `node` received a frame intact.
    Received {
        /// The receiver.
        node: NodeId,
        /// The transmitter.
        from: NodeId,
        /// The frame, as transmitted.
        frame: Vec<u8>,
        /// RSSI, dBm.
        rssi_dbm: i16,
        /// SNR, dB.
        snr_db: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RxState {
    Receiving,
    Collided,
    Aborted,
}

#[derive(Debug, Clone)]
struct Reception {
    node: NodeId,
    state: RxState,
    quality: LinkQuality,
}

#[derive(Debug, Clone)]
struct Transmission {
    from: NodeId,
    end: u64,
    frame: Vec<u8>,
    receptions: Vec<Reception>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    powered: bool,
    rx: Option<LoraParams>,
    stats: AirStats,
}

/// The radio channel shared by every node.
#[derive(Debug, Clone)]
pub struct Medium {
    nodes: Vec<Node>,
    links: HashMap<(NodeId, NodeId), LinkQuality>,
    rng: SplitMix64,
    /// Frames on air, in start order.
    on_air: Vec<Transmission>,
    now: u64,
}

impl Medium {
    /// An empty medium; `seed` drives the loss rolls.
    pub fn new(seed: u64) -> Medium {
        Medium { nodes: Vec::new(), links: HashMap::new(), rng: SplitMix64::new(seed), on_air: Vec::new(), now: 0 }
    }

    /// Adds a powered node that is not receiving.
    pub fn add_node(&mut self) -> NodeId {
        self.nodes.push(Node { powered: true, ..Node::default() });
        self.nodes.len() - 1
    }

    /// Sets the quality of the path from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: NodeId, to: NodeId, quality: LinkQuality) {
        self.links.insert((from, to), quality);
    }

    /// The quality of the path from `from` to `to` (the default if never set).
    pub fn link(&self, from: NodeId, to: NodeId) -> LinkQuality {
        self.links.get(&(from, to)).copied().unwrap_or_default()
    }

    /// Tunes `node`'s receiver (`None`: not receiving). A change abandons the
    /// frames it was receiving.
    pub fn set_receiving(&mut self, node: NodeId, rx: Option<LoraParams>) {
        let Some(n) = self.nodes.get_mut(node) else { return };
        if n.rx == rx {
            return;
        }
        n.rx = rx;
        self.abort_receptions(node);
    }

    /// Powers `node` off (abandoning its own frame on air and what it was
    /// receiving) or on (not receiving until [`Medium::set_receiving`]).
    pub fn set_powered(&mut self, node: NodeId, powered: bool) {
        let Some(n) = self.nodes.get_mut(node) else { return };
        n.powered = powered;
        n.rx = None;
        self.abort_receptions(node);
        if !powered {
            self.cancel_transmission(node);
        }
    }

    /// Stops `node`'s frame on air, if any, without a [`Event::TxDone`]
    /// (a reset radio); nobody receives it.
    pub fn cancel_transmission(&mut self, node: NodeId) {
        let before = self.on_air.len();
        self.on_air.retain(|t| t.from != node);
        if self.on_air.len() != before
            && let Some(n) = self.nodes.get_mut(node)
        {
            n.stats.aborted += (before - self.on_air.len()) as u64;
        }
    }

    fn abort_receptions(&mut self, node: NodeId) {
        let mut aborted = 0;
        for t in &mut self.on_air {
            for r in &mut t.receptions {
                if r.node == node && r.state != RxState::Aborted {
                    if r.state == RxState::Receiving {
                        aborted += 1;
                    }
                    r.state = RxState::Aborted;
                }
            }
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.stats.aborted += aborted;
        }
    }

    /// Whether `node` has a frame on air.
    pub fn is_transmitting(&self, node: NodeId) -> bool {
        self.on_air.iter().any(|t| t.from == node)
    }

    /// Puts `frame` on air from `node` at `now` with `params`; returns the
    /// time its airtime ends. The transmitter stops hearing anything it was
    /// receiving (half-duplex). A node without power transmits nothing (no
    /// [`Event::TxDone`] either).
    pub fn transmit(&mut self, node: NodeId, params: LoraParams, frame: Vec<u8>, now: u64) -> u64 {
        let now = now.max(self.now);
        self.now = now;
        let airtime = params.time_on_air_us(frame.len());
        let end = now + airtime;
        if node >= self.nodes.len() || !self.nodes[node].powered {
            return end;
        }
        // Half-duplex: what this node was receiving is lost.
        let mut missed = 0;
        for t in &mut self.on_air {
            for r in &mut t.receptions {
                if r.node == node {
                    if r.state == RxState::Receiving {
                        missed += 1;
                    }
                    r.state = RxState::Aborted;
                }
            }
        }
        let stats = &mut self.nodes[node].stats;
        stats.missed_while_transmitting += missed;
        stats.frames_sent += 1;
        stats.bytes_sent += frame.len() as u64;
        stats.airtime_us += airtime;

        let mut receptions = Vec::new();
        for other in 0..self.nodes.len() {
            if other == node || !self.nodes[other].powered {
                continue;
            }
            let Some(rx) = self.nodes[other].rx else { continue };
            if !rx.hears(&params) {
                continue;
            }
            if self.is_transmitting(other) {
                self.nodes[other].stats.missed_while_transmitting += 1;
                continue;
            }
            let quality = self.link(node, other);
            if quality.loss > 0.0 && self.rng.unit() < quality.loss {
                self.nodes[other].stats.losses += 1;
                continue;
            }
            let mut state = RxState::Receiving;
            for t in &mut self.on_air {
                for r in &mut t.receptions {
                    if r.node == other && r.state != RxState::Aborted {
                        if r.state == RxState::Receiving {
                            r.state = RxState::Collided;
                            self.nodes[other].stats.collisions += 1;
                        }
                        state = RxState::Collided;
                    }
                }
            }
            if state == RxState::Collided {
                self.nodes[other].stats.collisions += 1;
            }
            receptions.push(Reception { node: other, state, quality });
        }
        self.on_air.push(Transmission { from: node, end, frame, receptions });
        end
    }

    /// When the channel at `node` is busy with frames it hears (intact or
    /// colliding) that are still on air at `now`: the latest end of them.
    pub fn busy_until(&self, node: NodeId, now: u64) -> Option<u64> {
        self.on_air
            .iter()
            .filter(|t| t.end > now && t.receptions.iter().any(|r| r.node == node && r.state != RxState::Aborted))
            .map(|t| t.end)
            .max()
    }

    /// The end of the earliest frame on air.
    pub fn next_deadline(&self) -> Option<u64> {
        self.on_air.iter().map(|t| t.end).min()
    }

    /// Ends the earliest frame whose airtime is over by `now`: its time and
    /// events (the transmitter's [`Event::TxDone`], then one
    /// [`Event::Received`] per receiver that got it intact, in node order).
    /// Call repeatedly until `None`; frames ending together come out in the
    /// order they started.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Vec<Event>)> {
        let (index, end) = self.on_air.iter().enumerate().map(|(i, t)| (i, t.end)).min_by_key(|&(i, end)| (end, i))?;
        if end > now {
            return None;
        }
        self.now = self.now.max(end);
        let t = self.on_air.remove(index);
        let mut events = vec![Event::TxDone { node: t.from }];
        for r in &t.receptions {
            if r.state != RxState::Receiving {
                continue;
            }
            let Some(n) = self.nodes.get_mut(r.node) else { continue };
            n.stats.frames_received += 1;
            n.stats.bytes_received += t.frame.len() as u64;
            events.push(Event::Received {
                node: r.node,
                from: t.from,
                frame: t.frame.clone(),
                rssi_dbm: r.quality.rssi_dbm,
                snr_db: r.quality.snr_db,
            });
        }
        Some((end, events))
    }

    /// The on-air counters of `node`.
    pub fn stats(&self, node: NodeId) -> AirStats {
        self.nodes.get(node).map(|n| n.stats).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(sf: u8) -> LoraParams {
        LoraParams { spreading_factor: sf, ..LoraParams::default() }
    }

    /// `n` powered nodes all receiving on `p`.
    fn medium(n: usize, p: LoraParams) -> Medium {
        let mut m = Medium::new(1);
        for _ in 0..n {
            let id = m.add_node();
            m.set_receiving(id, Some(p));
        }
        m
    }

    fn drain(m: &mut Medium, now: u64) -> Vec<(u64, Event)> {
        let mut all = Vec::new();
        while let Some((at, events)) = m.pop_due(now) {
            all.extend(events.into_iter().map(|e| (at, e)));
        }
        all
    }

    fn received(events: &[(u64, Event)]) -> Vec<(NodeId, Vec<u8>)> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Received { node, frame, .. } => Some((*node, frame.clone())),
                Event::TxDone { .. } => None,
            })
            .collect()
    }

    #[test]
    fn matching_params_hear_each_other_at_the_end_of_airtime() {
        let p = params(7);
        let mut m = medium(3, p);
        let end = m.transmit(0, p, b"hello".to_vec(), 1_000);
        assert_eq!(end, 1_000 + p.time_on_air_us(5));
        assert_eq!(m.busy_until(1, 1_000), Some(end));
        assert_eq!(m.busy_until(0, 1_000), None, "the transmitter does not hear itself");
        assert!(m.pop_due(end - 1).is_none(), "nothing before the airtime is over");
        let events = drain(&mut m, end);
        assert_eq!(events[0], (end, Event::TxDone { node: 0 }));
        assert_eq!(received(&events), vec![(1, b"hello".to_vec()), (2, b"hello".to_vec())]);
        let Event::Received { rssi_dbm, snr_db, from, .. } = &events[1].1 else { panic!("not a reception") };
        assert_eq!((*rssi_dbm, *snr_db, *from), (-60, 9.5, 0));
        assert_eq!(m.stats(0).frames_sent, 1);
        assert_eq!(m.stats(0).airtime_us, p.time_on_air_us(5));
        assert_eq!(m.stats(1).frames_received, 1);
        assert_eq!(m.stats(1).bytes_received, 5);
    }

    #[test]
    fn airtime_matches_time_on_air_for_each_spreading_factor_and_size() {
        for sf in 5..=12 {
            for len in [1usize, 10, 50, 200, 255] {
                let p = params(sf);
                let mut m = medium(2, p);
                let end = m.transmit(0, p, vec![0; len], 0);
                assert_eq!(end, p.time_on_air_us(len));
                assert_eq!(m.stats(0).airtime_us, p.time_on_air_us(len));
            }
        }
        // The reference's check value: 10 bytes at SF7/125 kHz is 41.216 ms.
        assert_eq!(params(7).time_on_air_us(10), 41_216);
    }

    #[test]
    fn a_different_spreading_factor_bandwidth_or_channel_is_not_heard() {
        let p = params(7);
        let others =
            [params(8), LoraParams { bandwidth_hz: 250_000, ..p }, LoraParams { frequency_hz: 868_300_000, ..p }];
        for other in others {
            let mut m = medium(2, p);
            m.set_receiving(1, Some(other));
            let end = m.transmit(0, p, vec![1, 2, 3], 0);
            assert!(received(&drain(&mut m, end)).is_empty(), "{other:?} heard {p:?}");
            assert_eq!(m.busy_until(1, 0), None, "an unheard frame does not make the channel busy");
        }
    }

    #[test]
    fn a_node_that_is_not_receiving_or_is_powered_off_hears_nothing() {
        let p = params(7);
        let mut m = medium(3, p);
        m.set_receiving(1, None);
        m.set_powered(2, false);
        let end = m.transmit(0, p, vec![1], 0);
        assert!(received(&drain(&mut m, end)).is_empty());
    }

    #[test]
    fn half_duplex_a_transmitting_node_hears_nothing() {
        let p = params(7);
        // Node 1 transmits first: it cannot hear node 0's later frame.
        let mut m = medium(3, p);
        let end1 = m.transmit(1, p, vec![9; 50], 0);
        let end0 = m.transmit(0, p, vec![1; 5], 10);
        assert!(end0 < end1);
        let events = drain(&mut m, end1);
        assert!(!received(&events).iter().any(|(n, _)| *n == 1), "node 1 was transmitting");
        assert_eq!(m.stats(1).missed_while_transmitting, 1);
        // Node 2 heard both overlapping frames: both collided there.
        assert_eq!(m.stats(2).collisions, 2);

        // Node 1 starts transmitting while receiving: it loses that frame.
        let mut m = medium(2, p);
        let end0 = m.transmit(0, p, vec![1; 50], 0);
        m.transmit(1, p, vec![2; 5], 100);
        let events = drain(&mut m, end0 + 1_000_000);
        assert!(!received(&events).iter().any(|(n, _)| *n == 1));
        assert_eq!(m.stats(1).missed_while_transmitting, 1);
        assert_eq!(m.stats(1).collisions, 0);
    }

    #[test]
    fn overlapping_frames_collide_at_a_receiver_that_hears_both() {
        let p = params(7);
        let mut m = medium(3, p);
        let end_a = m.transmit(0, p, vec![1; 20], 0);
        let end_b = m.transmit(1, p, vec![2; 20], end_a - 1);
        let events = drain(&mut m, end_b);
        assert!(received(&events).iter().all(|(n, _)| *n != 2), "both lost at node 2");
        assert_eq!(m.stats(2).collisions, 2);
        // Back to back (no overlap: half-open intervals) both arrive.
        let mut m = medium(3, p);
        let end_a = m.transmit(0, p, vec![1; 20], 0);
        drain(&mut m, end_a);
        let end_b = m.transmit(1, p, vec![2; 20], end_a);
        let mut events = drain(&mut m, end_b);
        events.retain(|(_, e)| matches!(e, Event::Received { node: 2, .. }));
        assert_eq!(events.len(), 1);
        assert_eq!(m.stats(2).collisions, 0);
        assert_eq!(m.stats(2).frames_received, 2);
    }

    #[test]
    fn a_frame_on_other_params_does_not_collide() {
        let p = params(7);
        let mut m = medium(4, p);
        let end_a = m.transmit(0, p, vec![1; 20], 0);
        m.transmit(3, params(9), vec![2; 20], 10);
        let events = drain(&mut m, end_a);
        assert_eq!(received(&events), vec![(1, vec![1; 20]), (2, vec![1; 20])]);
    }

    #[test]
    fn loss_probability_is_roughly_honoured_and_reproducible() {
        let p = LoraParams { spreading_factor: 5, bandwidth_hz: 500_000, ..LoraParams::default() };
        let run = |seed| {
            let mut m = Medium::new(seed);
            for _ in 0..2 {
                let id = m.add_node();
                m.set_receiving(id, Some(p));
            }
            m.set_link(0, 1, LinkQuality { loss: 0.3, rssi_dbm: -100, snr_db: -3.25 });
            let mut now = 0;
            let mut got = 0;
            for _ in 0..4_000 {
                now = m.transmit(0, p, vec![7; 10], now);
                for (_, e) in drain(&mut m, now) {
                    if let Event::Received { rssi_dbm, snr_db, .. } = e {
                        assert_eq!((rssi_dbm, snr_db), (-100, -3.25));
                        got += 1;
                    }
                }
            }
            (got, m.stats(1).losses)
        };
        let (got, lost) = run(42);
        assert_eq!(got + lost, 4_000);
        let rate = lost as f64 / 4_000.0;
        assert!((rate - 0.3).abs() < 0.03, "loss rate {rate}");
        assert_eq!(run(42), (got, lost), "same seed, same outcome");
        // The reverse direction keeps the default (no loss).
        let mut m = medium(2, p);
        m.set_link(0, 1, LinkQuality { loss: 1.0, ..LinkQuality::default() });
        let end = m.transmit(1, p, vec![1], 0);
        assert_eq!(received(&drain(&mut m, end)), vec![(0, vec![1])]);
        let end = m.transmit(0, p, vec![1], end);
        assert!(received(&drain(&mut m, end)).is_empty());
    }

    #[test]
    fn retuning_or_losing_power_mid_frame_loses_it_and_cancelled_frames_never_arrive() {
        let p = params(7);
        let mut m = medium(3, p);
        let end = m.transmit(0, p, vec![1; 20], 0);
        m.set_receiving(1, Some(params(8)));
        m.set_powered(2, false);
        assert!(received(&drain(&mut m, end)).is_empty());
        assert_eq!(m.stats(1).aborted, 1);

        let mut m = medium(2, p);
        m.transmit(0, p, vec![1; 20], 0);
        m.set_powered(0, false);
        assert_eq!(m.next_deadline(), None);
        assert!(drain(&mut m, u64::MAX).is_empty(), "no TxDone, no delivery");
    }
}
