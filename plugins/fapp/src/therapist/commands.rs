//! The therapist's operator commands: `publish`, `withdraw`, `pending`,
//! `accept`, `decline`.

use super::Therapist;
use super::reservations::pending_plain;
use crate::commands::{Answer, Args, table};
use crate::config::{SlotSpec, slots_from_specs};
use crate::counters::Counters;
use crate::domain::slot_type_name;
use crate::time::{format_minutes, format_seconds, parse_minutes};
use crate::timers;
use serde::Deserialize;
use serde_json::json;
use weft_plugin_api::ServiceCtx;

impl Therapist {
    /// Runs a therapist command; `None` if `command` is not one.
    pub fn command(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        hops: u8,
        command: &str,
        text: &str,
    ) -> Option<(Answer, bool)> {
        let parsed = if command == "publish" { Args::parse_document(text) } else { Args::parse(text) };
        let args = match parsed {
            Ok(args) => args,
            Err(e) => return Some((Answer::fail(e), false)),
        };
        let answer = match command {
            "publish" => self.cmd_publish(ctx, hops, &args),
            "withdraw" => self.cmd_withdraw(ctx, hops, &args),
            "pending" => Ok(self.cmd_pending()),
            "accept" | "decline" => self.cmd_answer(ctx, counters, hops, &args, command == "accept"),
            _ => return None,
        };
        Some((answer.unwrap_or_else(Answer::fail), args.json()))
    }

    fn announced(&self, what: &str) -> Answer {
        let (sequence, slots) = self.current.as_ref().map_or((0, 0), |a| (a.body.sequence, a.body.slots.len()));
        let bytes = self.current.as_ref().map_or(0, |a| a.to_payload().len());
        Answer::ok(
            format!("{what}: announce {sequence} with {slots} slots flooded ({bytes} bytes)"),
            json!({ "sequence": sequence, "slots": slots, "payload_bytes": bytes }),
        )
    }

    fn cmd_publish(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8, args: &Args) -> Result<Answer, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Publish {
            slots: Vec<SlotSpec>,
        }
        let specs = if args.fields.is_empty() && args.word.is_none() {
            if self.config.slots.is_empty() {
                return Err("give the slots: publish '{\"slots\": [{\"start\": \"2026-06-01T09:00Z\", \
                            \"duration\": 50, \"type\": \"erstgespraech\"}]}' (or TOML, e.g. \"$(cat slots.toml)\")"
                    .into());
            }
            self.config.slots.clone()
        } else {
            args.to::<Publish>()?.slots
        };
        let slots = slots_from_specs(&specs)?;
        let now_minute = u32::try_from(ctx.now_ms() / 60_000).unwrap_or(u32::MAX);
        if let Some(past) = slots.iter().find(|s| s.start <= now_minute) {
            return Err(format!("slot {} has already begun", format_minutes(past.start)));
        }
        self.publish(ctx, hops, slots)?;
        Ok(self.announced("published"))
    }

    fn cmd_withdraw(&mut self, ctx: &mut ServiceCtx<'_>, hops: u8, args: &Args) -> Result<Answer, String> {
        if !self.state.published {
            return Err("nothing published yet".into());
        }
        let all = args.fields.get("all").and_then(serde_json::Value::as_bool).unwrap_or(false);
        match args.word_or("slot") {
            Some(text) if !all && text != "all" => {
                let start = parse_slot_ref(&text)?;
                let before = self.state.offered.len();
                self.state.offered.retain(|s| s.start != start);
                if self.state.offered.len() == before {
                    return Err(format!("no slot starting at {} is offered", format_minutes(start)));
                }
            }
            _ => self.state.offered.clear(),
        }
        self.resign(ctx, hops)?;
        Ok(self.announced("withdrawn"))
    }

    fn cmd_pending(&self) -> Answer {
        let rows: Vec<Vec<String>> = self
            .pending
            .iter()
            .map(|p| {
                let slot = self.state.offered.iter().find(|s| s.start == p.slot_start);
                vec![
                    p.number.to_string(),
                    format_minutes(p.slot_start),
                    slot.map_or("-".into(), |s| slot_type_name(s.kind)),
                    p.contact.clone().unwrap_or_else(|| "-".into()),
                    format_seconds(p.received_s),
                ]
            })
            .collect();
        let text = if rows.is_empty() {
            "no reservations waiting".to_string()
        } else {
            table(&["#", "SLOT (UTC)", "TYPE", "CONTACT", "RECEIVED"], &rows)
        };
        let json: Vec<_> = self
            .pending
            .iter()
            .map(|p| {
                json!({ "number": p.number, "slot": format_minutes(p.slot_start), "slot_start": p.slot_start,
                        "contact": p.contact, "received": format_seconds(p.received_s) })
            })
            .collect();
        Answer::ok(text, json!({ "pending": json }))
    }

    fn cmd_answer(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        hops: u8,
        args: &Args,
        accept: bool,
    ) -> Result<Answer, String> {
        let number = args
            .word
            .as_deref()
            .map(|w| w.trim_start_matches('#').parse::<u32>().map_err(|_| format!("bad reservation number {w:?}")))
            .or_else(|| args.fields.get("reservation").and_then(serde_json::Value::as_u64).map(|n| Ok(n as u32)))
            .ok_or("say which reservation: accept NUMBER (see `pending`)")??;
        let i =
            self.pending.iter().position(|p| p.number == number).ok_or(format!("no reservation #{number} waits"))?;
        let p = self.pending.remove(i);
        ctx.cancel_timer(timers::id(timers::PENDING, number as u64));
        let plain = pending_plain(&p);
        let offered = self.state.offered.iter().any(|s| s.start == p.slot_start);
        if accept && offered {
            self.accept(ctx, counters, hops, p.message, &plain);
            return Ok(Answer::ok(
                format!("reservation #{number} accepted; slot {} withdrawn", format_minutes(p.slot_start)),
                json!({ "number": number, "accepted": true }),
            ));
        }
        let note = args.fields.get("note").and_then(serde_json::Value::as_str).map(str::to_string);
        let note = if accept { Some("this slot is no longer offered".to_string()) } else { note };
        self.send_confirm(ctx, counters, p.message, &plain, false, note);
        if accept {
            return Err(format!("slot {} is no longer offered; reservation #{number} declined", p.slot_start));
        }
        Ok(Answer::ok(format!("reservation #{number} declined"), json!({ "number": number, "accepted": false })))
    }
}

/// A slot given by the operator: a slot id (`3f2a9c1d-29654820`), a start
/// minute, or a time (`2026-06-01T09:00Z`).
fn parse_slot_ref(text: &str) -> Result<u32, String> {
    if let Some((_, start)) = crate::commands::parse_slot_id(text) {
        return Ok(start);
    }
    if let Ok(start) = text.parse::<u32>() {
        return Ok(start);
    }
    parse_minutes(text)
}
