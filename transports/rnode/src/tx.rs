//! Transmitting, with optional READY flow control.
//!
//! Owns: the one outstanding transmit and the decision when it is done and
//! whether it went out. Without flow control a frame is done once written.
//! With it, the driver follows the DATA frame with a READY query: the first
//! READY 0x01 answered for it confirms the frame, READY 0x00 (queue full)
//! means poll again in [`READY_POLL_MS`], and an ERROR 0x02 (TX failed) or
//! 0x04 (queue full) before the confirmation fails it (`ok = false`, so the
//! host sends it again).
//!
//! READY answers carry nothing to say which query they answer, so answers
//! still owed to queries sent for an earlier frame are counted and skipped:
//! a late "ready" for frame 1 never confirms frame 2.

use crate::protocol::{self, ERROR_QUEUE_FULL, ERROR_TX_FAILED, READY_YES};
use crate::timer;
use weft_plugin_api::DriverCtx;

/// Interval of READY polls while the modem's queue is full.
pub const READY_POLL_MS: u64 = 10;

/// A finished transmit, for the driver to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The host's transmit id.
    pub id: u64,
    /// Whether the modem took it.
    pub ok: bool,
    /// The modem never confirmed it; it is assumed sent (see [`Transmitter::on_timer`]).
    pub unconfirmed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    id: u64,
    seq: u64,
}

/// The transmit side of the driver.
#[derive(Debug, Default)]
pub struct Transmitter {
    outstanding: Option<Outstanding>,
    /// Numbers transmissions, for timer ids.
    seq: u64,
    /// READY queries sent and not answered yet.
    queries_in_flight: u32,
    /// Of those, how many were sent before the current frame.
    stale_answers: u32,
}

impl Transmitter {
    /// The id of the transmit waiting for its confirmation.
    pub fn outstanding(&self) -> Option<u64> {
        self.outstanding.map(|o| o.id)
    }

    /// Writes `frame`. Without flow control it is done at once; with it, the
    /// answer comes later from [`Transmitter::on_ready`], [`Transmitter::on_error`]
    /// or [`Transmitter::on_timer`] (after `deadline_ms` at the latest).
    pub fn send(
        &mut self,
        ctx: &mut DriverCtx<'_>,
        id: u64,
        frame: &[u8],
        flow_control: bool,
        deadline_ms: u64,
    ) -> Option<Done> {
        let mut bytes = protocol::data(frame);
        if !flow_control {
            ctx.serial_write(bytes);
            return Some(Done { id, ok: true, unconfirmed: false });
        }
        bytes.extend_from_slice(&protocol::ready_query());
        ctx.serial_write(bytes);
        self.seq += 1;
        self.stale_answers = self.queries_in_flight;
        self.queries_in_flight += 1;
        self.outstanding = Some(Outstanding { id, seq: self.seq });
        ctx.set_timer(timer::id(timer::TX_DEADLINE, self.seq), deadline_ms);
        None
    }

    /// A READY answer arrived.
    pub fn on_ready(&mut self, ctx: &mut DriverCtx<'_>, value: u8) -> Option<Done> {
        self.queries_in_flight = self.queries_in_flight.saturating_sub(1);
        if self.stale_answers > 0 {
            self.stale_answers -= 1;
            return None;
        }
        let out = self.outstanding?;
        if value == READY_YES {
            return self.finish(ctx, true, false);
        }
        ctx.set_timer(timer::id(timer::READY_POLL, out.seq), READY_POLL_MS);
        None
    }

    /// An ERROR frame arrived: TX failed or queue full fail the outstanding frame.
    pub fn on_error(&mut self, ctx: &mut DriverCtx<'_>, code: u8) -> Option<Done> {
        if self.outstanding.is_some() && (code == ERROR_TX_FAILED || code == ERROR_QUEUE_FULL) {
            return self.finish(ctx, false, false);
        }
        None
    }

    /// A READY poll or deadline timer fired. At the deadline the frame is
    /// reported sent: it was handed to the modem and no error came back, and
    /// `ok = false` would make the host send a frame that most likely went
    /// out a second time.
    pub fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, kind: u8, seq: u64) -> Option<Done> {
        let out = self.outstanding?;
        if out.seq != seq {
            return None;
        }
        match kind {
            timer::READY_POLL => {
                ctx.serial_write(protocol::ready_query());
                self.queries_in_flight += 1;
                None
            }
            timer::TX_DEADLINE => {
                // Answers that never came will not come: start counting afresh.
                self.queries_in_flight = 0;
                self.stale_answers = 0;
                self.finish(ctx, true, true)
            }
            _ => None,
        }
    }

    /// The link went down: the outstanding frame (if any) is failed, and no
    /// answer to earlier queries is expected any more.
    pub fn fail(&mut self, ctx: &mut DriverCtx<'_>) -> Option<Done> {
        self.queries_in_flight = 0;
        self.stale_answers = 0;
        self.finish(ctx, false, false)
    }

    /// The instance is being replaced while a frame waits for READY. The
    /// modem has the frame and will send it; the successor cannot report it,
    /// so it is reported sent now (never `ok = false` for a frame that may
    /// have gone out).
    pub fn hand_over(&mut self, ctx: &mut DriverCtx<'_>) -> Option<Done> {
        self.finish(ctx, true, true)
    }

    fn finish(&mut self, ctx: &mut DriverCtx<'_>, ok: bool, unconfirmed: bool) -> Option<Done> {
        let out = self.outstanding.take()?;
        ctx.cancel_timer(timer::id(timer::TX_DEADLINE, out.seq));
        ctx.cancel_timer(timer::id(timer::READY_POLL, out.seq));
        Some(Done { id: out.id, ok, unconfirmed })
    }
}
