//! `weft ctl send` with many payloads, sent a slice at a time.
//!
//! Owns: bulk sends in progress. One request may carry 100,000 payloads;
//! sending them in one go kept the actor from everything else (status,
//! links' keepalives) for as long as it took. They go [`SLICE`] at a time,
//! one slice per turn of the event loop, so other inputs are served between
//! slices; the operator gets the answer when the last slice is done.
//! Must not: send differently from a single `send` (both go through
//! `Actor::operator_send`).

use super::{Actor, ReplyTo};
use crate::control::{Answer, SendManyOutcome};
use std::collections::VecDeque;
use weft_plugin_api::Address;

/// Payloads sent per turn of the event loop.
pub(super) const SLICE: usize = 256;

/// One bulk send in progress.
pub(super) struct BulkSend {
    to: Address,
    port: u16,
    payloads: VecDeque<String>,
    outcome: SendManyOutcome,
    reply: ReplyTo,
}

impl BulkSend {
    pub(super) fn new(to: Address, port: u16, payloads: Vec<String>, reply: ReplyTo) -> BulkSend {
        let outcome = SendManyOutcome { accepted: 0, stopped: None };
        BulkSend { to, port, payloads: payloads.into(), outcome, reply }
    }
}

impl Actor {
    /// Sends the next slice of the oldest bulk send; answers it when done.
    pub(super) fn bulk_slice(&mut self) {
        let Some(mut bulk) = self.bulk.pop_front() else { return };
        for _ in 0..SLICE {
            let Some(payload) = bulk.payloads.pop_front() else { break };
            match self.operator_send(bulk.to, bulk.port, payload.as_bytes()) {
                Ok(_) => bulk.outcome.accepted += 1,
                Err(e) => {
                    bulk.outcome.stopped = Some(e);
                    bulk.payloads.clear();
                    break;
                }
            }
        }
        if bulk.payloads.is_empty() {
            // What was held is on disk before the operator hears "accepted".
            self.flush_holds();
            let _ = bulk.reply.send(Ok(Answer::SentMany(bulk.outcome)));
        } else {
            self.bulk.push_back(bulk);
        }
    }
}
