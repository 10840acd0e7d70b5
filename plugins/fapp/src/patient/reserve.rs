//! The patient's reservations: sealing to the therapist, the reply key,
//! the confirmation.

use super::query::u64_arg;
use super::{GIVE_UP_MS, MAX_RESERVATIONS, Patient};
use crate::commands::{Answer, Args, parse_slot_id, slot_id};
use crate::counters::{Counters, name};
use crate::crypto::{self, NODE_SEAL_INFO, ReplyKey};
use crate::messages::{ConfirmPlain, Message, PORT, ReservePlain, SignedAnnounce, Slot};
use crate::time::{format_minutes, format_seconds};
use crate::timers;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_plugin_api::actions::Flood;
use weft_plugin_api::{Address, HostErrorCode, LogLevel, ServiceCtx};

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent; no answer yet.
    Pending,
    /// The therapist accepted: the slot is the patient's.
    Accepted,
    /// The therapist declined.
    Declined,
    /// No answer came while one could.
    NoAnswer,
}

impl Status {
    /// The name used in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::NoAnswer => "no_answer",
        }
    }
}

/// One reservation.
#[derive(Debug)]
pub struct Reservation {
    /// Short local number.
    pub number: u32,
    /// Random id sent (sealed) to the therapist.
    pub reservation: u64,
    /// The therapist.
    pub therapist: Address,
    /// The slot.
    pub slot: Slot,
    /// The reply key, while an answer may come.
    pub key: Option<ReplyKey>,
    /// Where it stands.
    pub status: Status,
    /// The therapist's note.
    pub note: Option<String>,
    /// Unix seconds.
    pub sent_s: u64,
    /// Who sealed the reservation: "host" or "plugin".
    pub sealed_by: &'static str,
    /// The command waiting for the answer: (id, JSON answer).
    pub waiting: Option<(u64, bool)>,
}

impl Patient {
    /// `reserve SLOT_ID` (or `{"slot": ID, "contact": TEXT, "wait_ms": N}`).
    /// Returns `Some(answer)` to answer the command now, `None` when the
    /// answer comes with the confirmation.
    pub fn reserve(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8, command: u64, args: &Args) -> Option<Answer> {
        match self.try_reserve(ctx, hops, command, args) {
            Ok(answer) => answer,
            Err(e) => Some(Answer::fail(e)),
        }
    }

    fn try_reserve(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        hops: u8,
        command: u64,
        args: &Args,
    ) -> Result<Option<Answer>, String> {
        let id = args.word_or("slot").ok_or("say which slot: reserve SLOT_ID (ids are listed by `query`)")?;
        let (prefix, start) =
            parse_slot_id(&id).ok_or(format!("bad slot id {id:?}: expected e.g. 3f2a9c1d-29654820"))?;
        let candidates: Vec<&SignedAnnounce> = self
            .offers
            .values()
            .filter(|a| a.therapist.to_string().starts_with(&prefix) && a.slot(start).is_some())
            .collect();
        let announce = match candidates.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(format!("no slot {id} among the offers found so far; run `query` first")),
            _ => return Err(format!("slot id {id} is ambiguous; give more digits of the therapist's address")),
        };
        let Some(slot) = announce.slot(start).copied() else { return Err(format!("no slot {id}")) };
        if let Some(r) = self.reservations.iter().find(|r| {
            r.therapist == announce.therapist
                && r.slot.start == start
                && matches!(r.status, Status::Pending | Status::Accepted)
        }) {
            return Err(format!("slot {id} is already {} (reservation #{})", r.status.as_str(), r.number));
        }
        let contact = args.fields.get("contact").map(|v| v.as_str().map(str::to_string).ok_or("`contact`: a text"));
        let contact = contact.transpose()?;
        if contact.as_ref().is_some_and(|c| c.len() > crate::messages::MAX_CONTACT) {
            return Err(format!("`contact`: at most {} bytes", crate::messages::MAX_CONTACT));
        }
        let wait_ms = u64_arg(args, "wait_ms")?.unwrap_or(self.config.reserve_wait_ms).min(60_000);

        let mut secret = [0u8; 32];
        ctx.fill_random(&mut secret);
        let key = ReplyKey::from_random(secret);
        zeroize::Zeroize::zeroize(&mut secret);
        let reservation = ctx.random_u64();
        let plain = ReservePlain {
            reservation,
            slot_start: start,
            sequence: announce.body.sequence,
            reply_key: key.public(),
            contact,
        };
        let plaintext = plain.encode();
        let (sealed, sealed_by) = match ctx.seal(announce.therapist, &plaintext) {
            Ok(sealed) => (sealed, "host"),
            // The node has not heard the therapist's routing announce yet:
            // seal to the key in the verified slot announce instead.
            Err(e) if e.code == HostErrorCode::NotFound => {
                let x25519 = crypto::node_x25519_key(&announce.body.therapist_key)
                    .ok_or("the therapist's key is not a valid Ed25519 point")?;
                let mut ephemeral = [0u8; 32];
                ctx.fill_random(&mut ephemeral);
                let sealed = crypto::seal(&x25519, &plaintext, ephemeral, NODE_SEAL_INFO);
                zeroize::Zeroize::zeroize(&mut ephemeral);
                (sealed.ok_or("the therapist's key is unusable")?, "plugin")
            }
            Err(e) => return Err(format!("cannot seal the reservation: {e}")),
        };
        ctx.push(weft_plugin_api::Action::Flood(Flood {
            port: PORT,
            payload: Message::Reserve(sealed).encode(),
            hops,
            anonymous: true,
        }));
        let number = self.next_number;
        self.next_number += 1;
        ctx.set_timer(timers::id(timers::RESERVE_GIVE_UP, number as u64), GIVE_UP_MS);
        let waiting = (wait_ms > 0).then_some((command, args.json()));
        if wait_ms > 0 {
            ctx.set_timer(timers::id(timers::RESERVE_WAIT, number as u64), wait_ms);
        }
        ctx.log(LogLevel::Info, format!("reservation #{number} for {id} sent (sealed by the {sealed_by})"));
        self.reservations.push(Reservation {
            number,
            reservation,
            therapist: announce.therapist,
            slot,
            key: Some(key),
            status: Status::Pending,
            note: None,
            sent_s: ctx.now_ms() / 1000,
            sealed_by,
            waiting,
        });
        if self.reservations.len() > MAX_RESERVATIONS {
            // Forget the oldest finished one.
            if let Some(i) = self.reservations.iter().position(|r| r.status != Status::Pending) {
                self.reservations.remove(i);
            }
        }
        if waiting.is_some() {
            return Ok(None);
        }
        let r = self.reservations.last().ok_or("reservation lost")?;
        Ok(Some(reservation_answer(r)))
    }

    /// A confirmation arrived: find the reservation whose key opens it.
    pub fn on_confirm(&mut self, ctx: &mut ServiceCtx<'_>, counters: &mut Counters, sealed: &[u8]) {
        let opened = self.reservations.iter_mut().find_map(|r| {
            let plaintext = r.key.as_ref()?.open_confirm(sealed)?;
            Some((r, plaintext))
        });
        let Some((r, plaintext)) = opened else {
            return counters.bump(ctx, name::UNSOLICITED);
        };
        let plain = match ConfirmPlain::decode(&plaintext) {
            Ok(plain) if plain.reservation == r.reservation && plain.slot_start == r.slot.start => plain,
            _ => return counters.bump(ctx, name::MALFORMED),
        };
        r.key = None; // the answer is in: the reply key is wiped
        r.status = if plain.accepted { Status::Accepted } else { Status::Declined };
        r.note = plain.note;
        ctx.cancel_timer(timers::id(timers::RESERVE_WAIT, r.number as u64));
        ctx.cancel_timer(timers::id(timers::RESERVE_GIVE_UP, r.number as u64));
        ctx.log(LogLevel::Info, format!("reservation #{} {}", r.number, r.status.as_str()));
        if let Some((command, json)) = r.waiting.take() {
            let answer = reservation_answer(r);
            ctx.command_reply(command, answer.ok, answer.body(json));
        }
    }

    /// A reservation's command has waited long enough.
    pub fn on_reserve_wait(&mut self, ctx: &mut ServiceCtx<'_>, number: u32) {
        if let Some(r) = self.reservations.iter_mut().find(|r| r.number == number)
            && let Some((command, json)) = r.waiting.take()
        {
            let mut answer = reservation_answer(r);
            answer.text = format!(
                "reservation #{} for {}: no answer yet; it stays pending and `status` shows the answer when it comes",
                r.number,
                slot_id(&r.therapist, r.slot.start)
            );
            ctx.command_reply(command, false, answer.body(json));
        }
    }

    /// No answer can come any more: drop the key.
    pub fn on_give_up(&mut self, ctx: &mut ServiceCtx<'_>, number: u32) {
        if let Some(r) = self.reservations.iter_mut().find(|r| r.number == number && r.status == Status::Pending) {
            r.key = None;
            r.status = Status::NoAnswer;
            if let Some((command, json)) = r.waiting.take() {
                let answer = reservation_answer(r);
                ctx.command_reply(command, false, answer.body(json));
            }
        }
    }
}

pub(super) fn reservation_json(r: &Reservation) -> Value {
    json!({
        "number": r.number,
        "slot": slot_id(&r.therapist, r.slot.start),
        "start": format_minutes(r.slot.start),
        "therapist": r.therapist.to_string(),
        "status": r.status.as_str(),
        "note": r.note,
        "sent": format_seconds(r.sent_s),
        "sealed_by": r.sealed_by,
    })
}

fn reservation_answer(r: &Reservation) -> Answer {
    let slot = format!("{} ({})", slot_id(&r.therapist, r.slot.start), format_minutes(r.slot.start));
    let note = r.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default();
    let text = match r.status {
        Status::Pending => {
            format!("reservation #{} for {slot} sent; waiting for the practice (see `status`)", r.number)
        }
        Status::Accepted => format!("reservation #{} for {slot} ACCEPTED{note}", r.number),
        Status::Declined => format!("reservation #{} for {slot} declined{note}", r.number),
        Status::NoAnswer => format!("reservation #{} for {slot}: no answer from the practice", r.number),
    };
    Answer { ok: r.status != Status::Declined && r.status != Status::NoAnswer, text, json: reservation_json(r) }
}
