//! Named event counters, shown by `stats` and exported as plugin metrics.
//!
//! Owns: [`Counters`]. Every count goes to the host as a counter metric of
//! the same name (`[a-z0-9_]`) and is kept here too, so `weft ctl call fapp
//! stats` works without a metrics endpoint.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_plugin_api::ServiceCtx;

/// Counter names, in one place so `stats` and `docs/fapp.md` agree.
pub mod name {
    /// A payload that is not a valid FAPP message (any role).
    pub const MALFORMED: &str = "malformed";
    /// An announce whose signature does not verify.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// An announce past its expiry on arrival.
    pub const EXPIRED: &str = "expired";
    /// An announce stored (new therapist or newer sequence).
    pub const STORED: &str = "announces_stored";
    /// An announce with the sequence already stored.
    pub const DUPLICATE: &str = "announces_duplicate";
    /// An announce older than the stored one.
    pub const STALE: &str = "announces_stale";
    /// An announce refused because the store is full of better entries.
    pub const REFUSED: &str = "announces_refused";
    /// A query answered (with at least one response).
    pub const QUERIES_ANSWERED: &str = "queries_answered";
    /// A query seen (matching or not).
    pub const QUERIES: &str = "queries";
    /// A query that arrived carrying its sender's address (should stay 0).
    pub const QUERIES_IDENTIFIED: &str = "queries_identified";
    /// Responses sent.
    pub const RESPONSES_SENT: &str = "responses_sent";
    /// A reservation this node could not open: sealed to another node.
    pub const RESERVES_NOT_FOR_US: &str = "reserves_not_for_us";
    /// A reservation received by a node without the therapist role (never opened).
    pub const RESERVES_PASSED: &str = "reserves_passed";
    /// A reservation opened by this therapist.
    pub const RESERVES_RECEIVED: &str = "reserves_received";
    /// Reservations declined: the reply key already holds its share.
    pub const RESERVES_KEY_LIMITED: &str = "reserves_key_limited";
    /// Auto mode: reservations past the hourly auto-accept budget, left to the operator.
    pub const RESERVES_RATE_LIMITED: &str = "reserves_rate_limited";
    /// Reservations declined because the waiting list (or the slot's) is full.
    pub const RESERVES_PENDING_FULL: &str = "reserves_pending_full";
    /// Confirmations sent (accept or decline).
    pub const CONFIRMS_SENT: &str = "confirms_sent";
    /// A response, confirmation or late answer nobody waits for any more.
    pub const UNSOLICITED: &str = "unsolicited";
    /// A message of a kind that should not arrive the way it did.
    pub const UNEXPECTED: &str = "unexpected";
    /// An action the host refused (e.g. a confirmation whose way back is gone).
    pub const REFUSED_ACTIONS: &str = "refused_actions";
}

/// Counts by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// Adds one to `name` here and in the host's metrics.
    pub fn bump(&mut self, ctx: &mut ServiceCtx<'_>, name: &str) {
        self.add(ctx, name, 1);
    }

    /// Adds `by` to `name` here and in the host's metrics.
    pub fn add(&mut self, ctx: &mut ServiceCtx<'_>, name: &str, by: u64) {
        if by == 0 {
            return;
        }
        *self.0.entry(name.to_string()).or_default() += by;
        ctx.count(name, by as f64);
    }

    /// The count of `name`.
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}
