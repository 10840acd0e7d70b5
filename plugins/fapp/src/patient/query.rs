//! The patient's queries: filters from the command, the anonymous flood,
//! collecting and verifying answers, the listing.

use super::{MAX_OFFERS, Patient, QueryRun};
use crate::commands::{Answer, Args, slot_id, table};
use crate::counters::{Counters, name};
use crate::domain::{
    Fachrichtung, Kostentraeger, Mask, Modalitaet, SlotType, Vocabulary, parse_modalities, slot_type_name,
};
use crate::messages::{Filter, Message, PORT, SignedAnnounce, Slot, SlotResponse};
use crate::time::{format_minutes, parse_minutes};
use crate::timers;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use weft_plugin_api::{Address, ServiceCtx};

/// Results a query asks for unless told otherwise.
const DEFAULT_RESULTS: u8 = 10;

fn strings(args: &Args, keys: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for key in keys {
        match args.fields.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    out.push(item.as_str().ok_or(format!("`{key}`: a list of names"))?.to_string());
                }
            }
            Some(_) => return Err(format!("`{key}`: a name or a list of names")),
        }
    }
    Ok(out)
}

fn time_arg(args: &Args, key: &str) -> Result<u32, String> {
    match args.fields.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => parse_minutes(s),
        Some(Value::Number(n)) => {
            n.as_u64().and_then(|s| u32::try_from(s / 60).ok()).ok_or(format!("`{key}`: a time or Unix seconds"))
        }
        Some(_) => Err(format!("`{key}`: a time like 2026-06-01T09:00Z")),
    }
}

pub(super) fn u64_arg(args: &Args, key: &str) -> Result<Option<u64>, String> {
    match args.fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(format!("`{key}`: a non-negative integer")),
    }
}

/// Reads the filters of a `query` command.
pub fn filter_from_args(args: &Args) -> Result<Filter, String> {
    const KNOWN: &[&str] = &[
        "specialism",
        "specialisms",
        "modality",
        "modalities",
        "payer",
        "payers",
        "plz",
        "from",
        "to",
        "type",
        "types",
        "max_results",
        "wait_ms",
        "json",
    ];
    if let Some(unknown) = args.fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown query argument `{unknown}` (known: {})", KNOWN.join(", ")));
    }
    let plz = args.fields.get("plz").map_or(Ok(""), |v| v.as_str().ok_or("`plz`: a text"))?;
    if plz.len() > crate::messages::MAX_PLZ || !plz.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("`plz` {plz:?}: up to {} letters or digits", crate::messages::MAX_PLZ));
    }
    let max_results = u64_arg(args, "max_results")?.unwrap_or(DEFAULT_RESULTS as u64);
    if !(1..=crate::messages::MAX_RESULTS as u64).contains(&max_results) {
        return Err(format!("`max_results`: 1..={}", crate::messages::MAX_RESULTS));
    }
    Ok(Filter {
        specialisms: Fachrichtung::parse_set(&strings(args, &["specialism", "specialisms"])?)?,
        modalities: parse_modalities(&strings(args, &["modality", "modalities"])?)?,
        payers: Kostentraeger::parse_set(&strings(args, &["payer", "payers"])?)?,
        plz_prefix: plz.to_string(),
        from: time_arg(args, "from")?,
        to: time_arg(args, "to")?,
        slot_types: SlotType::parse_set(&strings(args, &["type", "types"])?)?,
        max_results: max_results as u8,
    })
}

fn names<V: Vocabulary>(mask: Mask) -> String {
    V::set_names(mask).join(",")
}

/// One slot of one announce, as listed.
fn slot_json(announce: &SignedAnnounce, slot: &Slot) -> Value {
    let b = &announce.body;
    json!({
        "id": slot_id(&announce.therapist, slot.start),
        "start": format_minutes(slot.start),
        "start_minute": slot.start,
        "duration": slot.duration,
        "type": slot_type_name(slot.kind),
        "therapist": announce.therapist.to_string(),
        "sequence": b.sequence,
        "specialisms": Fachrichtung::set_names(b.specialisms),
        "modalities": Modalitaet::set_names(b.modalities),
        "payers": Kostentraeger::set_names(b.payers),
        "plz": b.plz,
        "profile_url": b.profile_url,
    })
}

impl Patient {
    /// Starts a query: floods it and collects until the timer fires.
    /// `local` are matching announces this node holds itself (as relay or
    /// therapist): the flood does not come back to its sender.
    #[allow(clippy::too_many_arguments)]
    pub fn start_query(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        hops: u8,
        command: u64,
        args: &Args,
        filter: Filter,
        local: Vec<SignedAnnounce>,
    ) -> Result<(), String> {
        let wait_ms = u64_arg(args, "wait_ms")?.unwrap_or(self.config.query_wait_ms).min(60_000);
        let mut query_id = ctx.random_u64() as u32;
        while self.queries.contains_key(&query_id) {
            query_id = query_id.wrapping_add(1);
        }
        let query = crate::messages::SlotQuery { query_id, filter: filter.clone() };
        ctx.flood_anonymous(PORT, Message::Query(query).encode(), hops);
        let mut run = QueryRun {
            command,
            json: args.json(),
            filter,
            found: BTreeMap::new(),
            responders: BTreeSet::new(),
            responses: 0,
        };
        for a in local {
            run.found.insert(a.therapist, a);
        }
        self.queries.insert(query_id, run);
        ctx.set_timer(timers::id(timers::QUERY, query_id as u64), wait_ms);
        Ok(())
    }

    /// A response to one of our queries arrived.
    pub fn on_response(
        &mut self,
        ctx: &mut ServiceCtx<'_>,
        counters: &mut Counters,
        from: Option<Address>,
        r: SlotResponse,
    ) {
        let Some(run) = self.queries.get_mut(&r.query_id) else {
            return counters.bump(ctx, name::UNSOLICITED);
        };
        run.responses += 1;
        if let Some(from) = from {
            run.responders.insert(from);
        }
        let now_s = ctx.now_ms() / 1000;
        let now_minute = u32::try_from(now_s / 60).unwrap_or(u32::MAX);
        for announce in r.announces {
            if run.found.get(&announce.therapist).is_some_and(|known| known.body.sequence >= announce.body.sequence) {
                continue;
            }
            match crate::verify_announce(ctx, &announce, now_s) {
                Ok(()) => {}
                Err(reason) => {
                    counters.bump(ctx, reason);
                    continue;
                }
            }
            let summary = crate::filter::Summary::of(&announce.body);
            if run.filter.matches(&summary, &announce.body.slots, now_minute).is_none() {
                continue; // a relay answered with something not asked for
            }
            run.found.insert(announce.therapist, announce);
        }
    }

    /// A query's collection window closed: answer the command.
    pub fn on_query_done(&mut self, ctx: &mut ServiceCtx<'_>, query_id: u32) {
        let Some(run) = self.queries.remove(&query_id) else { return };
        let now_minute = u32::try_from(ctx.now_ms() / 60_000).unwrap_or(u32::MAX);
        let mut found: Vec<&SignedAnnounce> = run.found.values().collect();
        // Keep the max_results therapists with the earliest matching slots.
        found.sort_by_key(|a| run.filter.matching_slots(&a.body.slots, now_minute).next().map(|s| s.start));
        found.truncate(run.filter.max_results as usize);
        let mut slots: Vec<(&SignedAnnounce, &Slot)> = found
            .iter()
            .flat_map(|a| run.filter.matching_slots(&a.body.slots, now_minute).map(move |s| (*a, s)))
            .collect();
        slots.sort_by_key(|(a, s)| (s.start, a.therapist));
        let rows: Vec<Vec<String>> = slots
            .iter()
            .map(|(a, s)| {
                let b = &a.body;
                vec![
                    slot_id(&a.therapist, s.start),
                    format_minutes(s.start),
                    s.duration.to_string(),
                    slot_type_name(s.kind),
                    b.plz.clone(),
                    names::<Fachrichtung>(b.specialisms),
                    names::<Modalitaet>(b.modalities),
                    names::<Kostentraeger>(b.payers),
                ]
            })
            .collect();
        let mut text = if rows.is_empty() {
            "no matching slots".to_string()
        } else {
            table(&["SLOT ID", "START (UTC)", "MIN", "TYPE", "PLZ", "SPECIALISMS", "MODALITIES", "PAYERS"], &rows)
        };
        text.push_str(&format!(
            "\n{} slots from {} therapists; {} responses from {} nodes",
            rows.len(),
            found.len(),
            run.responses,
            run.responders.len()
        ));
        let json = json!({
            "query_id": query_id,
            "responses": run.responses,
            "responders": run.responders.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "therapists": found.len(),
            "slots": slots.iter().map(|(a, s)| slot_json(a, s)).collect::<Vec<_>>(),
        });
        let answer = Answer::ok(text, json);
        ctx.command_reply(run.command, true, answer.body(run.json));
        for a in found {
            if self.offers.get(&a.therapist).is_none_or(|known| known.body.sequence < a.body.sequence) {
                self.offers.insert(a.therapist, a.clone());
            }
        }
        // Forget lapsed offers, and the soonest to lapse beyond the cap.
        let now_s = ctx.now_ms() / 1000;
        self.offers.retain(|_, a| a.body.expires > now_s);
        while self.offers.len() > MAX_OFFERS {
            let Some(first) = self.offers.values().min_by_key(|a| a.body.expires).map(|a| a.therapist) else { break };
            self.offers.remove(&first);
        }
    }
}
