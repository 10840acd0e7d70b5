//! Reservations at the therapist: open, decide, confirm (sealed to the
//! patient's reply key, back along the reservation's path).

use super::{Booking, Pending, Therapist};
use crate::config::ConfirmMode;
use crate::counters::{Counters, name};
use crate::crypto::{self, CONFIRM_INFO};
use crate::messages::{ConfirmPlain, Message, ReservePlain};
use crate::time::format_minutes;
use crate::timers;
use weft_plugin_api::actions::Reply;
use weft_plugin_api::{Action, LogLevel, ServiceCtx};
use zeroize::Zeroize;

impl Therapist {
    /// A reservation arrived (a flood message with id `message`).
    pub fn on_reserve(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        hops: u8,
        message: u64,
        sealed: &[u8],
    ) {
        let opened = match ctx.open(sealed) {
            Ok(opened) => opened,
            Err(_) => return counters.bump(ctx, name::RESERVES_NOT_FOR_US),
        };
        let plain = match ReservePlain::decode(&opened.plaintext) {
            Ok(plain) => plain,
            Err(e) => {
                ctx.log(LogLevel::Debug, format!("malformed reservation: {e}"));
                return counters.bump(ctx, name::MALFORMED);
            }
        };
        counters.bump(ctx, name::RESERVES_RECEIVED);
        // A repeated reservation (the patient tried again) gets the same answer.
        if self.state.bookings.iter().any(|b| b.reservation == plain.reservation) {
            return self.send_confirm(ctx, counters, message, &plain, true, None);
        }
        if !self.state.offered.iter().any(|s| s.start == plain.slot_start) {
            let note = Some("this slot is no longer offered".to_string());
            return self.send_confirm(ctx, counters, message, &plain, false, note);
        }
        // Senders are anonymous: a reply key is all that tells them apart,
        // and a fresh one is free, so the hourly auto-accept budget and the
        // bounded waiting list are what keep one sender from taking every slot
        // or filling memory.
        let held = self.state.bookings.iter().filter(|b| b.reply_key == Some(plain.reply_key)).count()
            + self.pending.iter().filter(|p| p.reply_key == plain.reply_key).count();
        if held >= self.config.reservations_per_key {
            counters.bump(ctx, name::RESERVES_KEY_LIMITED);
            let note = Some("this reply key already holds a reservation".to_string());
            return self.send_confirm(ctx, counters, message, &plain, false, note);
        }
        let now_s = ctx.now_ms() / 1000;
        while self.auto_accepted_s.front().is_some_and(|&t| t.saturating_add(3600) <= now_s) {
            self.auto_accepted_s.pop_front();
        }
        let mode = match self.config.confirm {
            ConfirmMode::Auto if self.auto_accepted_s.len() < self.config.auto_accepts_per_hour => ConfirmMode::Auto,
            ConfirmMode::Auto => {
                counters.bump(ctx, name::RESERVES_RATE_LIMITED);
                ConfirmMode::Manual
            }
            ConfirmMode::Manual => ConfirmMode::Manual,
        };
        if mode == ConfirmMode::Manual {
            let waiting_for_slot = self.pending.iter().filter(|p| p.slot_start == plain.slot_start).count();
            if self.pending.len() >= self.config.max_pending || waiting_for_slot >= self.config.max_pending_per_slot {
                counters.bump(ctx, name::RESERVES_PENDING_FULL);
                let note = Some("too many requests are waiting; please try again later".to_string());
                return self.send_confirm(ctx, counters, message, &plain, false, note);
            }
        }
        match mode {
            ConfirmMode::Auto => {
                self.auto_accepted_s.push_back(now_s);
                self.accept(ctx, counters, hops, message, &plain)
            }
            ConfirmMode::Manual => {
                let number = self.next_pending;
                self.next_pending = self.next_pending.wrapping_add(1).max(1);
                ctx.log(
                    LogLevel::Info,
                    format!(
                        "reservation #{number} for {} waits for `accept {number}` or `decline {number}`",
                        format_minutes(plain.slot_start)
                    ),
                );
                self.pending.push(Pending {
                    number,
                    message,
                    reservation: plain.reservation,
                    slot_start: plain.slot_start,
                    reply_key: plain.reply_key,
                    contact: plain.contact,
                    received_s: now_s,
                });
                ctx.set_timer(timers::id(timers::PENDING, number as u64), self.config.manual_timeout_s * 1000);
            }
        }
    }

    pub(super) fn accept(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        hops: u8,
        message: u64,
        plain: &ReservePlain,
    ) {
        let Some(i) = self.state.offered.iter().position(|s| s.start == plain.slot_start) else { return };
        let slot = self.state.offered.remove(i);
        let booked_at_s = ctx.now_ms() / 1000;
        self.state.bookings.push(Booking {
            reservation: plain.reservation,
            slot,
            contact: plain.contact.clone(),
            booked_at_s,
            reply_key: Some(plain.reply_key),
        });
        self.send_confirm(ctx, counters, message, plain, true, None);
        ctx.log(LogLevel::Info, format!("slot {} booked; withdrawing it", format_minutes(slot.start)));
        if let Err(e) = self.resign(ctx, hops) {
            ctx.log(LogLevel::Error, format!("cannot withdraw the booked slot: {e}"));
            self.persist(ctx);
        }
    }

    pub(super) fn send_confirm(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        message: u64,
        plain: &ReservePlain,
        accepted: bool,
        note: Option<String>,
    ) {
        let body = ConfirmPlain { reservation: plain.reservation, accepted, slot_start: plain.slot_start, note };
        let mut ephemeral = [0u8; 32];
        ctx.fill_random(&mut ephemeral);
        let sealed = crypto::seal(&plain.reply_key, &body.encode(), ephemeral, CONFIRM_INFO);
        ephemeral.zeroize();
        match sealed {
            Some(sealed) => {
                ctx.push(Action::Reply(Reply { message, payload: Message::Confirm(sealed).encode() }));
                counters.bump(ctx, name::CONFIRMS_SENT);
            }
            // A low-order reply key: nobody can read an answer to it.
            None => counters.bump(ctx, name::MALFORMED),
        }
    }

    /// A manual reservation's deadline passed.
    pub fn on_pending_timeout(&mut self, ctx: &mut ServiceCtx<'_>, counters: &mut Counters, number: u32) {
        if let Some(i) = self.pending.iter().position(|p| p.number == number) {
            let p = self.pending.remove(i);
            let note = Some("the practice did not answer in time".to_string());
            self.send_confirm(ctx, counters, p.message, &pending_plain(&p), false, note);
        }
    }
}

pub(super) fn pending_plain(p: &Pending) -> ReservePlain {
    ReservePlain {
        reservation: p.reservation,
        slot_start: p.slot_start,
        sequence: 0,
        reply_key: p.reply_key,
        contact: p.contact.clone(),
    }
}
