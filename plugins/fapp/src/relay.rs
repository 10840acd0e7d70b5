//! The relay role: keep verified announces, answer queries from them.
//!
//! Owns: [`Relay`] (a [`Store`] plus the response size limit) and
//! [`respond`], which every answering node (relay or therapist) uses to
//! send matching announces back along a query's path.
//!
//! A relay only ever holds what it could read anyway: signed announces
//! (public by design) and counters. Reservations pass through it as
//! floods sealed to a therapist; it neither opens nor stores them.

use crate::counters::{Counters, name};
use crate::messages::{SignedAnnounce, encode_response, response_overhead};
use crate::store::{Entry, Inserted, Limits, Store};
use serde::{Deserialize, Serialize};
use weft_plugin_api::{Message as HostMessage, ServiceCtx};

/// The relay role.
pub struct Relay {
    /// The announces.
    pub store: Store,
    max_response_bytes: usize,
}

/// A stored entry in the handover blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEntry {
    /// The announce item (`[body, signature]`).
    pub item: serde_bytes::ByteBuf,
    /// Unix seconds.
    pub stored_at: u64,
    /// Unix seconds.
    pub lapses_at: u64,
}

impl Relay {
    /// A relay with an empty store.
    pub fn new(limits: Limits, max_response_bytes: usize) -> Relay {
        Relay { store: Store::new(limits), max_response_bytes }
    }

    /// Offers a verified announce to the store and counts the outcome.
    pub fn offer(&mut self, ctx: &mut ServiceCtx<'_>, counters: &mut Counters, announce: &SignedAnnounce, now_s: u64) {
        let counter = match self.store.insert(announce, now_s) {
            Inserted::New | Inserted::Replaced => name::STORED,
            Inserted::Duplicate => name::DUPLICATE,
            Inserted::Stale => name::STALE,
            Inserted::Expired => name::EXPIRED,
            Inserted::Refused => name::REFUSED,
        };
        counters.bump(ctx, counter);
        ctx.gauge("stored", self.store.len() as f64);
    }

    /// The entries to hand over.
    pub fn handover(&self) -> Vec<SavedEntry> {
        self.store
            .entries()
            .iter()
            .map(|e| SavedEntry {
                item: serde_bytes::ByteBuf::from(e.item.clone()),
                stored_at: e.stored_at,
                lapses_at: e.lapses_at,
            })
            .collect()
    }

    /// Restores handed-over entries (they were verified when first stored).
    pub fn restore(&mut self, saved: Vec<SavedEntry>, now_s: u64) {
        for s in saved {
            let mut r = crate::cbor::Reader::new(&s.item);
            if let Ok(announce) = SignedAnnounce::read_item(&mut r) {
                let mut entry = Store::entry(&announce, s.stored_at, self.store.limits());
                entry.lapses_at = s.lapses_at;
                self.store.insert_entry(entry, now_s);
            }
        }
    }

    /// The response size limit.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
}

/// Answers `query` (received as `message`) with `items`, packing as many
/// announces per response as fit in `max_bytes` (one always goes, however
/// large). Returns the number of responses sent.
pub fn respond(
    ctx: &mut ServiceCtx<'_>,
    message: &HostMessage,
    query_id: u32,
    items: &[&[u8]],
    max_bytes: usize,
) -> usize {
    let mut sent = 0;
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        let mut size = response_overhead(1) + items[start].len();
        // (+1: the array head may grow by a byte)
        while end < items.len() && size + items[end].len() < max_bytes {
            size += items[end].len();
            end += 1;
        }
        ctx.reply(message, encode_response(query_id, &items[start..end]));
        sent += 1;
        start = end;
    }
    sent
}

/// The items of store entries.
pub fn items<'a>(entries: &[&'a Entry]) -> Vec<&'a [u8]> {
    entries.iter().map(|e| e.item.as_slice()).collect()
}
