//! The transmit queue of one radio link.
//!
//! Owns: frames waiting for the radio, in priority order (link control,
//! then unicast data, then floods and announces; first in, first out within
//! a priority, so the fragments of a packet keep their order), and the
//! duty-cycle gate in front of the radio: a frame whose airtime the rolling
//! hour cannot afford waits, it is never dropped. A full queue refuses new
//! frames with an error the sender sees. Sans-IO: time in microseconds.

use super::duty_cycle::{Clearance, DutyCycle};
use crate::time::Micros;
use std::collections::VecDeque;

/// How urgent a frame is. Lower goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Priority {
    /// Link control (the driver's own frames, acknowledgements).
    Control = 0,
    /// Unicast data.
    Data = 1,
    /// Floods and announces: bulk that may wait.
    Bulk = 2,
}

/// A frame waiting for the radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    /// The bytes for the driver.
    pub frame: Vec<u8>,
    /// Its priority.
    pub priority: Priority,
    /// Time on air, µs.
    pub airtime_us: u64,
    /// When it was queued.
    pub queued: Micros,
    /// When it was last handed to the radio (its airtime booked from then).
    pub started: Option<Micros>,
    /// The flood key of a managed relay that is this one frame: the link may
    /// still withdraw it when its turn comes (see `radio::link::relay`).
    pub relay: Option<u64>,
}

/// What the radio should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Transmit this frame now (its airtime is already booked).
    Send(TxFrame),
    /// The duty-cycle budget is spent: ask again at this time (µs).
    WaitUntil(Micros),
    /// Nothing to send.
    Idle,
}

/// The queue refused a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue holds its limit of bytes already.
    #[error("radio queue full ({queued} bytes waiting, limit {limit})")]
    Full {
        /// Bytes waiting.
        queued: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame needs more airtime than the rolling hour allows at all.
    #[error("a frame of {airtime_us} µs on air exceeds the hourly duty-cycle budget of {budget_us} µs")]
    OverBudget {
        /// The frame's airtime.
        airtime_us: u64,
        /// The hourly budget.
        budget_us: u64,
    },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TxCounters {
    /// Frames handed to the radio.
    pub sent: u64,
    /// Airtime of those frames, µs.
    pub airtime_us: u64,
    /// Frames that had to wait for the duty-cycle budget.
    pub held_for_budget: u64,
    /// Total time frames spent queued, µs.
    pub queued_us_total: u64,
    /// Longest time one frame spent queued, µs.
    pub queued_us_max: u64,
    /// Frames refused because the queue was full.
    pub refused: u64,
    /// Frames the radio failed to send and that were queued again.
    pub requeued: u64,
    /// Airtime booked for frames that never went on air and given back, µs.
    pub refunded_us: u64,
}

/// Whether a frame handed back to the queue may have gone on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaybeOnAir {
    /// The driver said it failed: nothing was transmitted.
    No,
    /// Unknown (the driver never answered): count it as sent.
    Perhaps,
}

/// One radio link's transmit queue.
#[derive(Debug)]
pub struct TxQueue {
    lanes: [VecDeque<TxFrame>; 3],
    ledger: DutyCycle,
    limit_bytes: usize,
    queued_bytes: usize,
    /// Whether the head frame already counted as held (counted once).
    head_held: bool,
    /// What happened so far.
    pub counters: TxCounters,
}

impl TxQueue {
    /// A queue holding at most `limit_bytes` of frames, gated by `ledger`.
    pub fn new(ledger: DutyCycle, limit_bytes: usize) -> Self {
        Self {
            lanes: Default::default(),
            ledger,
            limit_bytes,
            queued_bytes: 0,
            head_held: false,
            counters: TxCounters::default(),
        }
    }

    /// Queues a frame of `airtime_us` on air.
    pub fn push(&mut self, frame: Vec<u8>, priority: Priority, airtime_us: u64, now: Micros) -> Result<(), QueueError> {
        self.push_all(vec![frame], priority, &[airtime_us], now)
    }

    /// Queues several frames (the fragments of one packet) all or none, so a
    /// packet is never half queued.
    pub fn push_all(
        &mut self,
        frames: Vec<Vec<u8>>,
        priority: Priority,
        airtimes_us: &[u64],
        now: Micros,
    ) -> Result<(), QueueError> {
        let budget_us = self.ledger.budget_us();
        if let Some(&airtime_us) = airtimes_us.iter().find(|&&a| a > budget_us) {
            return Err(QueueError::OverBudget { airtime_us, budget_us });
        }
        let bytes: usize = frames.iter().map(Vec::len).sum();
        if self.queued_bytes + bytes > self.limit_bytes {
            self.counters.refused += frames.len() as u64;
            return Err(QueueError::Full { queued: self.queued_bytes, limit: self.limit_bytes });
        }
        self.queued_bytes += bytes;
        let lane = &mut self.lanes[priority as usize];
        for (frame, &airtime_us) in frames.into_iter().zip(airtimes_us) {
            lane.push_back(TxFrame { frame, priority, airtime_us, queued: now, started: None, relay: None });
        }
        Ok(())
    }

    /// Queues a managed relay that fits one frame, tagged with its flood
    /// key.
    pub fn push_relay(
        &mut self,
        frame: Vec<u8>,
        priority: Priority,
        airtime_us: u64,
        key: u64,
        now: Micros,
    ) -> Result<(), QueueError> {
        self.push(frame, priority, airtime_us, now)?;
        if let Some(last) = self.lanes[priority as usize].back_mut() {
            last.relay = Some(key);
        }
        Ok(())
    }

    /// The frame that goes next (duty cycle permitting).
    pub fn front(&self) -> Option<&TxFrame> {
        self.lanes.iter().find_map(VecDeque::front)
    }

    /// Takes the frame that would go next out of the queue unsent (nothing
    /// was booked for it).
    pub fn withdraw_front(&mut self) -> Option<TxFrame> {
        let frame = self.lanes.iter_mut().find(|l| !l.is_empty())?.pop_front()?;
        self.queued_bytes -= frame.frame.len();
        self.head_held = false;
        Some(frame)
    }

    /// The next frame for the radio at `now`, booking its airtime.
    pub fn next(&mut self, now: Micros) -> Next {
        let Some(lane) = self.lanes.iter_mut().find(|l| !l.is_empty()) else { return Next::Idle };
        let Some(head) = lane.front() else { return Next::Idle };
        match self.ledger.clearance(now, head.airtime_us) {
            Clearance::Now => {}
            Clearance::At(at) => {
                if !self.head_held {
                    self.head_held = true;
                    self.counters.held_for_budget += 1;
                }
                return Next::WaitUntil(at);
            }
            // `push` refuses such frames; nothing else can put one here.
            Clearance::Never => return Next::Idle,
        }
        let Some(mut frame) = lane.pop_front() else { return Next::Idle };
        self.head_held = false;
        self.queued_bytes -= frame.frame.len();
        self.ledger.record(now, frame.airtime_us);
        frame.started = Some(now);
        let waited = now.us_since(frame.queued);
        let counters = &mut self.counters;
        counters.sent += 1;
        counters.airtime_us += frame.airtime_us;
        counters.queued_us_total += waited;
        counters.queued_us_max = counters.queued_us_max.max(waited);
        Next::Send(frame)
    }

    /// Puts back a frame the radio could not send, at the head of its lane,
    /// so it goes next and keeps its order relative to its fragments.
    ///
    /// `air`: whether it may have gone on air. A frame the driver reported
    /// failed did not, and its airtime is refunded (a modem refusing every
    /// send must not spend the hour's budget); one whose fate is unknown (a
    /// driver swapped out before it answered) stays booked: the ledger errs
    /// on the side of the budget.
    pub fn requeue_front(&mut self, mut frame: TxFrame, air: MaybeOnAir) {
        if let (MaybeOnAir::No, Some(start)) = (air, frame.started.take())
            && self.ledger.refund(start, frame.airtime_us)
        {
            self.counters.airtime_us = self.counters.airtime_us.saturating_sub(frame.airtime_us);
            self.counters.refunded_us += frame.airtime_us;
        }
        self.queued_bytes += frame.frame.len();
        self.counters.sent = self.counters.sent.saturating_sub(1);
        self.counters.requeued += 1;
        self.lanes[frame.priority as usize].push_front(frame);
    }

    /// Changes the duty-cycle ledger (the radio moved to another sub-band),
    /// returning the old one so the caller can keep it for when it moves back.
    pub fn replace_ledger(&mut self, ledger: DutyCycle) -> DutyCycle {
        std::mem::replace(&mut self.ledger, ledger)
    }

    /// The ledger's hourly budget, µs.
    pub fn budget_us(&self) -> u64 {
        self.ledger.budget_us()
    }

    /// Airtime used in the last hour at `now`, µs.
    pub fn used_us(&mut self, now: Micros) -> u64 {
        self.ledger.used_us(now)
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(VecDeque::is_empty)
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Duty-cycle airtime still available at `now`, µs.
    pub fn budget_left_us(&mut self, now: Micros) -> u64 {
        self.ledger.available_us(now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::duty_cycle::HOUR_US;
    use super::*;

    fn queue(budget_us: u64) -> TxQueue {
        TxQueue::new(DutyCycle::new(budget_us), 10_000)
    }

    fn sent(next: Next) -> Vec<u8> {
        match next {
            Next::Send(f) => f.frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[test]
    fn control_before_data_before_bulk_and_fifo_within_each() {
        let mut q = queue(HOUR_US);
        q.push(vec![1], Priority::Bulk, 10, Micros::ZERO).unwrap();
        q.push(vec![2], Priority::Data, 10, Micros::ZERO).unwrap();
        q.push_all(vec![vec![3], vec![4]], Priority::Data, &[10, 10], Micros::ZERO).unwrap();
        q.push(vec![5], Priority::Control, 10, Micros::ZERO).unwrap();
        let order: Vec<u8> = (0..5).map(|_| sent(q.next(Micros::from_us(100)))[0]).collect();
        assert_eq!(order, vec![5, 2, 3, 4, 1]);
        assert_eq!(q.next(Micros::from_us(100)), Next::Idle);
        assert_eq!(q.counters.sent, 5);
    }

    #[test]
    fn a_spent_budget_holds_frames_and_releases_them_later_without_loss() {
        let mut q = queue(1_000);
        for i in 0..4u8 {
            q.push(vec![i], Priority::Data, 400, Micros::ZERO).unwrap();
        }
        assert_eq!(sent(q.next(Micros::ZERO)), vec![0]);
        assert_eq!(sent(q.next(Micros::from_us(400))), vec![1]);
        assert_eq!(q.next(Micros::from_us(800)), Next::WaitUntil(Micros::from_us(400 + HOUR_US)));
        assert_eq!(q.next(Micros::from_us(900)), Next::WaitUntil(Micros::from_us(400 + HOUR_US)));
        assert_eq!(q.counters.held_for_budget, 1, "one held frame counts once");
        assert_eq!(q.len(), 2, "held, not dropped");
        assert_eq!(sent(q.next(Micros::from_us(400 + HOUR_US))), vec![2]);
        assert_eq!(q.counters.queued_us_max, 400 + HOUR_US);
    }

    #[test]
    fn a_full_queue_refuses_whole_packets_and_says_so() {
        let mut q = TxQueue::new(DutyCycle::new(HOUR_US), 100);
        q.push(vec![0; 60], Priority::Data, 10, Micros::ZERO).unwrap();
        let err = q.push_all(vec![vec![0; 30], vec![0; 30]], Priority::Data, &[10, 10], Micros::ZERO).unwrap_err();
        assert_eq!(err, QueueError::Full { queued: 60, limit: 100 });
        assert_eq!(q.len(), 1, "none of the refused packet's fragments was queued");
        assert_eq!(q.counters.refused, 2);
        assert!(matches!(
            q.push(vec![0], Priority::Data, 2 * HOUR_US, Micros::ZERO),
            Err(QueueError::OverBudget { .. })
        ));
    }
}
