//! The therapist role: publish signed slots, answer reservations.
//!
//! Owns: [`Therapist`]: the offered slots, the signed announce, bookings and
//! (in manual mode) reservations waiting for the operator, and the commands
//! `publish`, `withdraw`, `pending`, `accept` and `decline`.
//!
//! - Every change to the offered slots signs a **new announce** (sequence =
//!   max(previous + 1, now in Unix seconds), so it grows across restarts)
//!   through the host (`Ctx::sign`, permission `sign`) and floods it
//!   anonymously: the announce names the therapist itself, the routing
//!   header need not (16 bytes saved on every LoRa frame).
//! - The same announce is re-flooded, unchanged, when a neighbour link comes
//!   up (at most every 10 s), and re-signed with a fresh expiry every
//!   `republish_s`.
//! - A reservation is a box sealed to this node: the host opens it
//!   (`Ctx::open`, permission `seal`). In auto mode a slot still offered is
//!   accepted at once, otherwise declined. An accepted slot is **withdrawn**:
//!   the next announce (higher sequence) no longer carries it, so relays
//!   replace the old one and stop offering it.
//! - The confirmation is sealed to the patient's one-time reply key with a
//!   fresh ephemeral key and sent back along the reservation's path
//!   (`Action::Reply`), so the therapist never learns the patient's address.
//!
//! Files: this one (state, publishing, status), `reservations` (opening
//! them, accepting, declining, the confirmation), `commands` (the operator's).

mod commands;
mod reservations;

use crate::commands::table;
use crate::config::{ConfirmMode, Profile, TherapistConfig, slots_from_specs};
use crate::domain::{Fachrichtung, Kostentraeger, Modalitaet, Vocabulary, slot_type_name};
use crate::messages::{AnnounceBody, PORT, SignedAnnounce, Slot};
use crate::time::{format_minutes, format_seconds};
use crate::timers;
use serde::{Deserialize, Serialize};
use serde_json::json;
use weft_plugin_api::internal::codec;
use weft_plugin_api::{Address, LogLevel, ServiceCtx};

/// Storage key of the therapist's state (slots, bookings, sequence).
pub const STATE_KEY: &[u8] = b"therapist";
/// Least time between two re-floods of the same announce.
const REFLOOD_MIN_MS: u64 = 10_000;

/// An accepted reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// The patient's reservation id.
    pub reservation: u64,
    /// The slot.
    pub slot: Slot,
    /// How to reach the patient, if given.
    pub contact: Option<String>,
    /// Unix seconds.
    pub booked_at_s: u64,
    /// The reply key the reservation came with (bookings persisted before
    /// this field have none).
    #[serde(default)]
    pub reply_key: Option<[u8; 32]>,
}

/// A reservation waiting for the operator (manual mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Short local number for `accept` / `decline`.
    pub number: u32,
    /// The host's id of the reservation message (to reply to it).
    pub message: u64,
    /// The patient's reservation id.
    pub reservation: u64,
    /// The slot asked for.
    pub slot_start: u32,
    /// The patient's reply key.
    pub reply_key: [u8; 32],
    /// How to reach the patient, if given.
    pub contact: Option<String>,
    /// Unix seconds.
    pub received_s: u64,
}

/// What survives restarts (in storage) and swaps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    /// Sequence of the newest announce.
    pub sequence: u64,
    /// Whether the operator (or the config) published slots at least once.
    pub published: bool,
    /// Slots on offer.
    pub offered: Vec<Slot>,
    /// Accepted reservations.
    pub bookings: Vec<Booking>,
    /// When the current announce is due to be re-signed (Unix seconds).
    pub next_republish_s: u64,
    /// The current announce's signed body.
    #[serde(with = "serde_bytes")]
    pub signed: Vec<u8>,
    /// Its signature.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// Everything a therapist hands to its successor on a hot swap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// The persisted part.
    pub state: Persisted,
    /// Reservations waiting for the operator.
    pub pending: Vec<Pending>,
    /// Next pending number.
    pub next_pending: u32,
}

/// The therapist role.
pub struct Therapist {
    config: TherapistConfig,
    profile: Profile,
    state: Persisted,
    current: Option<SignedAnnounce>,
    pending: Vec<Pending>,
    next_pending: u32,
    /// When the reservations accepted at once in the last hour were (Unix
    /// seconds, oldest first; at most `auto_accepts_per_hour`).
    auto_accepted_s: std::collections::VecDeque<u64>,
    last_flood_ms: u64,
    /// Announces signed during the current call (the node puts them in its
    /// own relay store too).
    pub signed: Vec<SignedAnnounce>,
}

fn to_announce(state: &Persisted) -> Option<SignedAnnounce> {
    let signature: [u8; 64] = state.signature.as_slice().try_into().ok()?;
    SignedAnnounce::from_parts(state.signed.clone(), signature).ok()
}

impl Therapist {
    /// Builds the role from its config and either handed-over or stored state.
    pub fn new(
        ctx: &mut ServiceCtx<'_>,
        config: TherapistConfig,
        handover: Option<Handover>,
    ) -> Result<Therapist, String> {
        let profile = config.profile()?;
        let handover = match handover {
            Some(h) => h,
            None => {
                let stored = ctx.kv_get(STATE_KEY).map_err(|e| format!("cannot read the therapist's state: {e}"))?;
                let state = match stored {
                    Some(bytes) => codec::decode(&bytes).map_err(|e| format!("stored therapist state: {e}"))?,
                    None => Persisted::default(),
                };
                Handover { state, pending: Vec::new(), next_pending: 1 }
            }
        };
        let current = to_announce(&handover.state);
        Ok(Therapist {
            config,
            profile,
            state: handover.state,
            current,
            pending: handover.pending,
            next_pending: handover.next_pending.max(1),
            auto_accepted_s: std::collections::VecDeque::new(),
            last_flood_ms: 0,
            signed: Vec::new(),
        })
    }

    /// What to hand to the next instance: with the reservations waiting for
    /// the operator on a hot swap (`swap`), which the host can still answer.
    pub fn handover(&self, swap: bool) -> Handover {
        let pending = if swap { self.pending.clone() } else { Vec::new() };
        Handover { state: self.state.clone(), pending, next_pending: self.next_pending }
    }

    /// The current announce, if any.
    pub fn current(&self) -> Option<&SignedAnnounce> {
        self.current.as_ref()
    }

    /// Called once after init: publishes the configured slots the first
    /// time, re-signs a lapsed announce, and arms the re-sign timer.
    pub fn start(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8) {
        let now_s = ctx.now_ms() / 1000;
        let result = if !self.state.published && !self.config.slots.is_empty() {
            slots_from_specs(&self.config.slots).and_then(|slots| self.publish(ctx, hops, slots))
        } else if self.state.published && (self.current.is_none() || self.state.next_republish_s <= now_s) {
            self.resign(ctx, hops)
        } else {
            if self.state.published {
                ctx.set_timer(timers::id(timers::REPUBLISH, 0), (self.state.next_republish_s - now_s) * 1000);
            }
            Ok(())
        };
        if let Err(e) = result {
            ctx.log(LogLevel::Error, format!("cannot publish the therapist's slots: {e}"));
        }
        // Reservations held across a swap keep their deadlines.
        for p in &self.pending {
            let due = p.received_s + self.config.manual_timeout_s;
            ctx.set_timer(timers::id(timers::PENDING, p.number as u64), due.saturating_sub(now_s) * 1000);
        }
    }

    /// Replaces the offered slots and publishes them.
    fn publish(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8, slots: Vec<Slot>) -> Result<(), String> {
        self.state.offered = slots;
        self.state.published = true;
        self.resign(ctx, hops)
    }

    /// Signs the current offer as a new announce, floods it and stores the state.
    fn resign(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8) -> Result<(), String> {
        let now_ms = ctx.now_ms();
        let now_s = now_ms / 1000;
        // Slots that have begun are no longer offered.
        let now_minute = u32::try_from(now_s / 60).unwrap_or(u32::MAX);
        self.state.offered.retain(|s| s.start > now_minute);
        // Bookings are kept for `status` until a week after their slot.
        self.state.bookings.retain(|b| b.slot.start.saturating_add(7 * 1440) > now_minute);
        let key: [u8; 32] = ctx
            .public_key()
            .map_err(|e| format!("no node key: {e}"))?
            .try_into()
            .map_err(|_| "the host's public key is not 32 bytes".to_string())?;
        let sequence = (self.state.sequence + 1).max(now_s);
        let body = AnnounceBody {
            therapist_key: key,
            sequence,
            expires: now_s + self.config.ttl_s,
            approbation: self.profile.approbation,
            specialisms: self.profile.specialisms,
            modalities: self.profile.modalities,
            payers: self.profile.payers,
            plz: self.profile.plz.clone(),
            slots: self.state.offered.clone(),
            profile_url: self.profile.profile_url.clone(),
        };
        let signed = body.encode();
        let signature: [u8; 64] = ctx
            .sign(&SignedAnnounce::signing_input(&signed))
            .map_err(|e| format!("the host would not sign: {e}"))?
            .try_into()
            .map_err(|_| "the host's signature is not 64 bytes".to_string())?;
        let announce = SignedAnnounce::from_parts(signed, signature).map_err(|e| format!("own announce: {e}"))?;
        self.state.sequence = sequence;
        self.state.next_republish_s = now_s + self.config.republish_s;
        self.state.signed = announce.signed.clone();
        self.state.signature = announce.signature.to_vec();
        ctx.flood_anonymous(PORT, announce.to_payload(), hops);
        self.last_flood_ms = now_ms;
        ctx.set_timer(timers::id(timers::REPUBLISH, 0), self.config.republish_s * 1000);
        self.persist(ctx);
        ctx.log(LogLevel::Info, format!("announce {sequence} flooded with {} slots", announce.body.slots.len()));
        self.current = Some(announce.clone());
        self.signed.push(announce);
        Ok(())
    }

    fn persist(&self, ctx: &mut ServiceCtx<'_>) {
        match codec::encode(&self.state) {
            Ok(bytes) => ctx.store(STATE_KEY, bytes),
            Err(e) => ctx.log(LogLevel::Error, format!("cannot encode the therapist's state: {e}")),
        }
    }

    /// The re-sign timer fired.
    pub fn on_republish(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8) {
        if let Err(e) = self.resign(ctx, hops) {
            ctx.log(LogLevel::Error, format!("cannot re-sign the announce: {e}"));
        }
    }

    /// A neighbour came up: give it (and the mesh behind it) the current
    /// announce, unchanged.
    pub fn on_peer_up(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8) {
        let now_ms = ctx.now_ms();
        let Some(current) = &self.current else { return };
        if now_ms.saturating_sub(self.last_flood_ms) < REFLOOD_MIN_MS || current.body.expires <= now_ms / 1000 {
            return;
        }
        ctx.flood_anonymous(PORT, current.to_payload(), hops);
        self.last_flood_ms = now_ms;
    }

    /// The therapist part of `status`.
    pub fn status(&self, own: Option<Address>) -> (String, serde_json::Value) {
        let slot_rows: Vec<Vec<String>> = self
            .state
            .offered
            .iter()
            .map(|s| {
                let id = own.map_or_else(|| s.start.to_string(), |a| crate::commands::slot_id(&a, s.start));
                vec![id, format_minutes(s.start), s.duration.to_string(), slot_type_name(s.kind)]
            })
            .collect();
        let booking_rows: Vec<Vec<String>> = self
            .state
            .bookings
            .iter()
            .map(|b| {
                vec![
                    format_minutes(b.slot.start),
                    b.slot.duration.to_string(),
                    slot_type_name(b.slot.kind),
                    b.contact.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let expires = self.current.as_ref().map(|a| a.body.expires);
        let mut text = format!(
            "therapist: announce {} (expires {}), {} / {} / {} in {}\n",
            self.state.sequence,
            expires.map_or("-".into(), format_seconds),
            Fachrichtung::set_names(self.profile.specialisms).join(","),
            Modalitaet::set_names(self.profile.modalities).join(","),
            Kostentraeger::set_names(self.profile.payers).join(","),
            self.profile.plz,
        );
        text.push_str(&format!("offered slots: {}\n", slot_rows.len()));
        if !slot_rows.is_empty() {
            text.push_str(&table(&["ID", "START (UTC)", "MIN", "TYPE"], &slot_rows));
            text.push('\n');
        }
        text.push_str(&format!("bookings: {}\n", booking_rows.len()));
        if !booking_rows.is_empty() {
            text.push_str(&table(&["START (UTC)", "MIN", "TYPE", "CONTACT"], &booking_rows));
            text.push('\n');
        }
        text.push_str(&format!("waiting for the operator: {}", self.pending.len()));
        let json = json!({
            "sequence": self.state.sequence,
            "expires": expires,
            "confirm": match self.config.confirm { ConfirmMode::Auto => "auto", ConfirmMode::Manual => "manual" },
            "offered": self.state.offered.iter().map(|s| json!({
                "id": own.map(|a| crate::commands::slot_id(&a, s.start)),
                "start": format_minutes(s.start), "start_minute": s.start,
                "duration": s.duration, "type": slot_type_name(s.kind) })).collect::<Vec<_>>(),
            "bookings": self.state.bookings.iter().map(|b| json!({
                "start": format_minutes(b.slot.start), "start_minute": b.slot.start, "duration": b.slot.duration,
                "type": slot_type_name(b.slot.kind), "contact": b.contact })).collect::<Vec<_>>(),
            "pending": self.pending.len(),
        });
        (text, json)
    }
}
