//! The patient role: query anonymously, collect offers, reserve, learn the answer.
//!
//! Owns: [`Patient`]: queries in flight, the verified offers they found, and
//! reservations with their one-time reply keys; the commands `query`,
//! `reserve` and the patient part of `status`.
//!
//! - A query is an **anonymous flood** (no source address in the routing
//!   header) carrying a random query id and the filters. Relays and
//!   therapists answer back along the flood's path; the patient collects for
//!   `query_wait_ms`, **verifies every announce itself** (a relay cannot
//!   forge or alter slots), keeps the newest per therapist, re-applies the
//!   filters and prints the slots.
//! - A reservation carries a fresh X25519 reply key and is sealed to the
//!   therapist's node key: by the host (`Ctx::seal`) when the node knows
//!   that key from routing, else by the plugin to the key in the verified
//!   announce (the same box format; the announce's key is what the
//!   therapist's address is derived from). It is flooded anonymously too,
//!   so no relay learns who reserves, and only the therapist can read it.
//! - The confirmation comes back along that flood's path, sealed to the
//!   reply key; the key is dropped (and wiped) as soon as it has opened its
//!   answer, or after [`GIVE_UP_MS`].
//!
//! Files: `query` (filters from the command, the query, collecting and
//! listing answers), `reserve` (reservations, their reply keys, the
//! confirmation).

mod query;
mod reserve;

pub use query::filter_from_args;
use reserve::reservation_json;
pub use reserve::{Reservation, Status};

use crate::commands::{slot_id, table};
use crate::config::PatientConfig;
use crate::crypto::ReplyKey;
use crate::messages::{Filter, SignedAnnounce, Slot};
use crate::time::format_minutes;
use crate::timers;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use weft_plugin_api::{Address, ServiceCtx};

/// How long a reservation's reply key is kept waiting for an answer: past
/// the two minutes the mesh remembers a flood's way back, none can come.
pub const GIVE_UP_MS: u64 = 180_000;
/// Most reservations remembered for `status`.
const MAX_RESERVATIONS: usize = 64;
/// Most offers (announces found by queries) remembered for `reserve`.
const MAX_OFFERS: usize = 1000;

/// A reservation in the handover blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReservation {
    number: u32,
    reservation: u64,
    therapist: Address,
    slot: Slot,
    /// The reply key's secret: only ever handed over in memory on a hot
    /// swap, never written to storage.
    secret: Option<[u8; 32]>,
    status: Status,
    note: Option<String>,
    sent_s: u64,
    sealed_by: String,
}

/// What a patient hands to its successor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    reservations: Vec<SavedReservation>,
    /// Offers as announce items (`[body, signature]`).
    offers: Vec<serde_bytes::ByteBuf>,
    next_number: u32,
}

struct QueryRun {
    command: u64,
    json: bool,
    filter: Filter,
    found: BTreeMap<Address, SignedAnnounce>,
    responders: BTreeSet<Address>,
    responses: u32,
}

/// The patient role.
pub struct Patient {
    config: PatientConfig,
    queries: BTreeMap<u32, QueryRun>,
    offers: BTreeMap<Address, SignedAnnounce>,
    reservations: Vec<Reservation>,
    next_number: u32,
}

impl Patient {
    /// A patient with no history, or the one handed over.
    pub fn new(config: PatientConfig, handover: Option<Handover>) -> Patient {
        let mut patient = Patient {
            config,
            queries: BTreeMap::new(),
            offers: BTreeMap::new(),
            reservations: Vec::new(),
            next_number: 1,
        };
        if let Some(h) = handover {
            patient.next_number = h.next_number.max(1);
            for item in h.offers {
                let mut r = crate::cbor::Reader::new(&item);
                if let Ok(a) = SignedAnnounce::read_item(&mut r) {
                    patient.offers.insert(a.therapist, a);
                }
            }
            for s in h.reservations {
                patient.reservations.push(Reservation {
                    number: s.number,
                    reservation: s.reservation,
                    therapist: s.therapist,
                    slot: s.slot,
                    key: s.secret.map(ReplyKey::from_random),
                    status: s.status,
                    note: s.note,
                    sent_s: s.sent_s,
                    sealed_by: if s.sealed_by == "host" { "host" } else { "plugin" },
                    waiting: None,
                });
            }
        }
        patient
    }

    /// Called once after init: re-arms the give-up timers of reservations
    /// handed over (a new instance cannot rely on its predecessor's timers).
    pub fn start(&mut self, ctx: &mut ServiceCtx<'_>) {
        let now_ms = ctx.now_ms();
        for r in &mut self.reservations {
            if r.status != Status::Pending {
                continue;
            }
            if r.key.is_none() {
                r.status = Status::NoAnswer;
                continue;
            }
            let due = (r.sent_s * 1000).saturating_add(GIVE_UP_MS);
            ctx.set_timer(timers::id(timers::RESERVE_GIVE_UP, r.number as u64), due.saturating_sub(now_ms));
        }
    }

    /// What to hand over; reply-key secrets only when `with_secrets` (a hot
    /// swap keeps them in memory; a node stop would write them to disk).
    pub fn handover(&self, with_secrets: bool) -> Handover {
        Handover {
            reservations: self
                .reservations
                .iter()
                .map(|r| SavedReservation {
                    number: r.number,
                    reservation: r.reservation,
                    therapist: r.therapist,
                    slot: r.slot,
                    secret: if with_secrets { r.key.as_ref().map(ReplyKey::secret_bytes) } else { None },
                    status: if r.key.is_none() && r.status == Status::Pending { Status::NoAnswer } else { r.status },
                    note: r.note.clone(),
                    sent_s: r.sent_s,
                    sealed_by: r.sealed_by.into(),
                })
                .collect(),
            offers: self.offers.values().map(|a| serde_bytes::ByteBuf::from(a.item())).collect(),
            next_number: self.next_number,
        }
    }

    /// Reservations so far (for tests and `status`).
    pub fn reservations(&self) -> &[Reservation] {
        &self.reservations
    }

    /// The patient part of `status`.
    pub fn status(&self) -> (String, Value) {
        let rows: Vec<Vec<String>> = self
            .reservations
            .iter()
            .map(|r| {
                vec![
                    r.number.to_string(),
                    slot_id(&r.therapist, r.slot.start),
                    format_minutes(r.slot.start),
                    r.status.as_str().to_string(),
                    r.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut text = format!("patient: {} offers known, {} reservations\n", self.offers.len(), rows.len());
        if !rows.is_empty() {
            text.push_str(&table(&["#", "SLOT ID", "START (UTC)", "STATUS", "NOTE"], &rows));
        }
        let json = json!({
            "offers": self.offers.len(),
            "reservations": self.reservations.iter().map(reservation_json).collect::<Vec<_>>(),
        });
        (text.trim_end().to_string(), json)
    }
}
