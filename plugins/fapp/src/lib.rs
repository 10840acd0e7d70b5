//! `fapp`: the Free Appointment Propagation Protocol as a Weft service.
//!
//! Therapists announce free appointment slots, relays keep and serve them,
//! patients find and reserve them — over a mesh, with no central server,
//! without patients ever revealing who they are to anyone but the therapist
//! they book with. `docs/fapp.md` is the protocol reference; this crate is
//! also the example to copy for a real service: one module per idea.
//!
//! | module       | idea |
//! |--------------|------|
//! | [`messages`] | the five messages and their exact bytes (tag + CBOR) |
//! | [`cbor`]     | the strict CBOR reader/writer the messages use |
//! | [`domain`]   | specialisms, modalities, payers, slot types |
//! | [`filter`]   | what a query matches |
//! | [`store`]    | the relay's announce store: dedup, TTL, capacity, eviction |
//! | [`crypto`]   | addresses from keys; sealed boxes to non-node keys |
//! | [`therapist`], [`relay`], [`patient`] | the three roles and their commands |
//! | [`config`], [`commands`], [`counters`], [`timers`], [`time`] | plumbing |
//!
//! This file wires the roles to the host: it decodes each payload once,
//! hands it to the roles the node holds, and routes timers and commands.
//!
//! Every payload from the network is decoded by [`messages::Message::decode`],
//! which rejects anything malformed with an error (counted as `malformed`),
//! never a panic; nothing from the network or the operator is unwrapped.

#![warn(missing_docs)]

pub mod cbor;
pub mod commands;
pub mod config;
pub mod counters;
pub mod crypto;
pub mod domain;
pub mod filter;
pub mod messages;
pub mod patient;
pub mod relay;
pub mod store;
pub mod therapist;
pub mod time;
pub mod timers;

use commands::{Answer, Args};
use config::{Config, Role};
use counters::{Counters, name};
use messages::{Message, PORT, SignedAnnounce};
use patient::Patient;
use relay::Relay;
use serde::{Deserialize, Serialize};
use serde_json::json;
use therapist::Therapist;
use weft_plugin_api::internal::codec;
use weft_plugin_api::{
    ActionRefused, Address, Command, CommandDef, InitArgs, LogLevel, ManifestDef, Message as HostMessage, Permission,
    Service, ServiceCtx, ShutdownArgs, ShutdownReason, export_service,
};

/// How often lapsed relay entries are purged.
const SWEEP_MS: u64 = 60_000;

/// Checks an announce's expiry and signature (the address needs no check:
/// it is derived from the signing key). The error is the counter to bump.
pub fn verify_announce(ctx: &mut ServiceCtx<'_>, announce: &SignedAnnounce, now_s: u64) -> Result<(), &'static str> {
    if announce.body.expires <= now_s {
        return Err(name::EXPIRED);
    }
    let input = SignedAnnounce::signing_input(&announce.signed);
    match ctx.verify(&announce.body.therapist_key, &input, &announce.signature) {
        Ok(true) => Ok(()),
        _ => Err(name::BAD_SIGNATURE),
    }
}

/// Everything handed to the next instance.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Handover {
    version: u8,
    therapist: Option<therapist::Handover>,
    relay: Vec<relay::SavedEntry>,
    patient: Option<patient::Handover>,
    counters: Counters,
}

const HANDOVER_VERSION: u8 = 1;

/// The FAPP service: the roles this node holds.
pub struct Fapp {
    hops: u8,
    therapist: Option<Therapist>,
    relay: Option<Relay>,
    patient: Option<Patient>,
    counters: Counters,
    own: Option<Address>,
}

impl Fapp {
    /// After any call that may have signed announces: keep our own in our store.
    fn absorb_own_announces(&mut self, ctx: &mut ServiceCtx<'_>) {
        let Some(therapist) = &mut self.therapist else { return };
        let signed = std::mem::take(&mut therapist.signed);
        if let Some(relay) = &mut self.relay {
            let now_s = ctx.now_ms() / 1000;
            for announce in &signed {
                relay.offer(ctx, &mut self.counters, announce, now_s);
            }
        }
    }

    fn roles(&self) -> Vec<&'static str> {
        let mut roles = Vec::new();
        if self.therapist.is_some() {
            roles.push("therapist");
        }
        if self.relay.is_some() {
            roles.push("relay");
        }
        if self.patient.is_some() {
            roles.push("patient");
        }
        roles
    }

    fn on_announce(&mut self, ctx: &mut ServiceCtx<'_>, announce: SignedAnnounce) {
        let Some(relay) = &mut self.relay else { return };
        let now_s = ctx.now_ms() / 1000;
        if let Err(reason) = verify_announce(ctx, &announce, now_s) {
            ctx.log(LogLevel::Debug, format!("announce from {} refused: {reason}", announce.therapist));
            return self.counters.bump(ctx, reason);
        }
        relay.offer(ctx, &mut self.counters, &announce, now_s);
    }

    /// Matching announces this node holds (store, or its own as therapist).
    fn local_matches(&self, filter: &messages::Filter, now_s: u64) -> Vec<Vec<u8>> {
        if let Some(relay) = &self.relay {
            return relay.store.query(filter, now_s).iter().map(|e| e.item.clone()).collect();
        }
        let now_minute = u32::try_from(now_s / 60).unwrap_or(u32::MAX);
        self.therapist
            .as_ref()
            .and_then(|t| t.current())
            .filter(|a| a.body.expires > now_s)
            .filter(|a| filter.matches(&filter::Summary::of(&a.body), &a.body.slots, now_minute).is_some())
            .map(|a| vec![a.item()])
            .unwrap_or_default()
    }

    fn on_query(&mut self, ctx: &mut ServiceCtx<'_>, message: &HostMessage, query: messages::SlotQuery) {
        if self.relay.is_none() && self.therapist.is_none() {
            return;
        }
        self.counters.bump(ctx, name::QUERIES);
        if message.from.is_some() {
            self.counters.bump(ctx, name::QUERIES_IDENTIFIED);
        }
        let now_s = ctx.now_ms() / 1000;
        let items = self.local_matches(&query.filter, now_s);
        if items.is_empty() {
            return;
        }
        let max_bytes = self.relay.as_ref().map_or(1000, Relay::max_response_bytes);
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        let sent = relay::respond(ctx, message, query.query_id, &refs, max_bytes);
        self.counters.bump(ctx, name::QUERIES_ANSWERED);
        self.counters.add(ctx, name::RESPONSES_SENT, sent as u64);
    }

    fn on_reserve(&mut self, ctx: &mut ServiceCtx<'_>, message: &HostMessage, sealed: &[u8]) {
        match &mut self.therapist {
            Some(therapist) => therapist.on_reserve(ctx, &mut self.counters, self.hops, message.id, sealed),
            // Not a therapist: the box is not for us and is never opened.
            None => self.counters.bump(ctx, name::RESERVES_PASSED),
        }
        self.absorb_own_announces(ctx);
    }

    fn status(&self, ctx: &mut ServiceCtx<'_>) -> Answer {
        let mut text = format!(
            "fapp on {} — roles: {}\n",
            self.own.map(|a| a.to_string()).unwrap_or_default(),
            self.roles().join(", ")
        );
        let mut json = json!({ "address": self.own.map(|a| a.to_string()), "roles": self.roles() });
        if let Some(t) = &self.therapist {
            let (t_text, t_json) = t.status(self.own);
            text.push_str(&t_text);
            text.push('\n');
            json["therapist"] = t_json;
        }
        if let Some(r) = &self.relay {
            let now_s = ctx.now_ms() / 1000;
            let live = r.store.entries().iter().filter(|e| e.lapses_at > now_s).count();
            text.push_str(&format!("relay: {live} announces stored (capacity {})\n", r.store.limits().capacity));
            json["relay"] = json!({ "stored": live, "capacity": r.store.limits().capacity });
        }
        if let Some(p) = &self.patient {
            let (p_text, p_json) = p.status();
            text.push_str(&p_text);
            text.push('\n');
            json["patient"] = p_json;
        }
        Answer::ok(text.trim_end(), json)
    }

    fn stats(&self, ctx: &mut ServiceCtx<'_>) -> Answer {
        let now_s = ctx.now_ms() / 1000;
        let mut json = json!({ "roles": self.roles(), "counters": self.counters.0 });
        let mut text = String::new();
        if let Some(r) = &self.relay {
            let entries = r.store.entries();
            let live: Vec<_> = entries.iter().filter(|e| e.lapses_at > now_s).collect();
            let slots: usize = live.iter().map(|e| e.slots.len()).sum();
            json["stored"] = json!(live.len());
            json["slots"] = json!(slots);
            json["capacity"] = json!(r.store.limits().capacity);
            json["evicted"] = json!(r.store.counters.evicted);
            json["purged"] = json!(r.store.counters.expired);
            json["therapists"] = json!(
                live.iter()
                    .map(|e| json!({
                "therapist": e.therapist.to_string(), "sequence": e.sequence, "slots": e.slots.len(),
                "lapses": time::format_seconds(e.lapses_at) }))
                    .collect::<Vec<_>>()
            );
            text.push_str(&format!(
                "relay: {} announces ({} slots) stored of {}; {} evicted, {} lapsed\n",
                live.len(),
                slots,
                r.store.limits().capacity,
                r.store.counters.evicted,
                r.store.counters.expired
            ));
        }
        let rows: Vec<Vec<String>> = self.counters.0.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
        text.push_str(&commands::table(&["COUNTER", "VALUE"], &rows));
        Answer::ok(text, json)
    }

    fn query(&mut self, ctx: &mut ServiceCtx<'_>, command: u64, args: &Args) -> Option<Answer> {
        let filter = match patient::filter_from_args(args) {
            Ok(filter) => filter,
            Err(e) => return Some(Answer::fail(e)),
        };
        let now_s = ctx.now_ms() / 1000;
        let local: Vec<SignedAnnounce> = self
            .local_matches(&filter, now_s)
            .iter()
            .filter_map(|item| SignedAnnounce::read_item(&mut cbor::Reader::new(item)).ok())
            .collect();
        let patient = self.patient.as_mut()?;
        match patient.start_query(ctx, self.hops, command, args, filter, local) {
            Ok(()) => None,
            Err(e) => Some(Answer::fail(e)),
        }
    }
}

const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "publish",
        help: "therapist: publish slots: {\"slots\": [{\"start\", \"duration\", \"type\"}]} (JSON or TOML)",
    },
    CommandDef { name: "withdraw", help: "therapist: withdraw one slot (SLOT_ID or start) or all" },
    CommandDef { name: "pending", help: "therapist (manual mode): reservations waiting for accept/decline" },
    CommandDef { name: "accept", help: "therapist: accept waiting reservation NUMBER" },
    CommandDef { name: "decline", help: "therapist: decline reservation {\"reservation\": NUMBER, \"note\": TEXT}" },
    CommandDef {
        name: "query",
        help: "patient: find slots {\"specialism\", \"modality\", \"payer\", \"plz\", \"from\", \"to\", \"type\", \"max_results\"}",
    },
    CommandDef { name: "reserve", help: "patient: reserve SLOT_ID (or {\"slot\", \"contact\", \"wait_ms\"})" },
    CommandDef { name: "status", help: "roles, offered slots, bookings, reservations" },
    CommandDef { name: "stats", help: "relay store and counters" },
];

impl Service for Fapp {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "fapp",
        version: env!("CARGO_PKG_VERSION"),
        description: "FAPP: signed slot announces, anonymous queries, end-to-end encrypted reservations",
        ports: &[PORT],
        permissions: &[Permission::Flood, Permission::Sign, Permission::Seal, Permission::Storage],
        commands: COMMANDS,
    };

    fn init(ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let config: Config = init.config_as().map_err(|e| format!("bad fapp config: {e}"))?;
        config.check().map_err(|e| format!("bad fapp config: {e}"))?;
        let handover: Handover = match &init.state {
            Some(blob) if !blob.is_empty() => {
                let h: Handover = codec::decode(blob).map_err(|e| format!("bad handed-over state: {e}"))?;
                if h.version != HANDOVER_VERSION {
                    return Err(format!("handed-over state version {} is not {HANDOVER_VERSION}", h.version));
                }
                h
            }
            _ => Handover::default(),
        };
        let own = ctx.own_address().ok();
        let therapist = match (&config.therapist, config.has(Role::Therapist)) {
            (Some(t), true) => Some(Therapist::new(ctx, t.clone(), handover.therapist)?),
            _ => None,
        };
        let relay = config.has(Role::Relay).then(|| {
            let mut relay = Relay::new(config.limits(), config.relay.max_response_bytes);
            relay.restore(handover.relay, ctx.now_ms() / 1000);
            relay
        });
        let patient = config.has(Role::Patient).then(|| Patient::new(config.patient, handover.patient));
        let mut fapp = Fapp { hops: config.hops, therapist, relay, patient, counters: handover.counters, own };
        if let Some(t) = &mut fapp.therapist {
            t.start(ctx, fapp.hops);
        }
        if let Some(p) = &mut fapp.patient {
            p.start(ctx);
        }
        fapp.absorb_own_announces(ctx);
        if fapp.relay.is_some() {
            ctx.set_timer(timers::id(timers::SWEEP, 0), SWEEP_MS);
        }
        ctx.log(LogLevel::Info, format!("fapp ready on port {PORT}; roles: {}", fapp.roles().join(", ")));
        Ok(fapp)
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: HostMessage) {
        let decoded = match Message::decode(&message.payload) {
            Ok(decoded) => decoded,
            Err(e) => {
                ctx.log(LogLevel::Debug, format!("malformed FAPP payload ({} bytes): {e}", message.payload.len()));
                return self.counters.bump(ctx, name::MALFORMED);
            }
        };
        // Fresh messages are floods (announce, query, reserve); answers come
        // back along a flood's path with `reply_to` set.
        match (decoded, message.reply_to.is_some()) {
            (Message::Announce(a), false) => self.on_announce(ctx, *a),
            (Message::Query(q), false) => self.on_query(ctx, &message, q),
            (Message::Reserve(sealed), false) => self.on_reserve(ctx, &message, &sealed),
            (Message::Response(r), true) => match &mut self.patient {
                Some(p) => p.on_response(ctx, &mut self.counters, message.from, r),
                None => self.counters.bump(ctx, name::UNSOLICITED),
            },
            (Message::Confirm(sealed), true) => match &mut self.patient {
                Some(p) => p.on_confirm(ctx, &mut self.counters, &sealed),
                None => self.counters.bump(ctx, name::UNSOLICITED),
            },
            _ => self.counters.bump(ctx, name::UNEXPECTED),
        }
    }

    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, id: u64) {
        let (kind, value) = timers::split(id);
        match kind {
            timers::REPUBLISH => {
                if let Some(t) = &mut self.therapist {
                    t.on_republish(ctx, self.hops);
                }
            }
            timers::SWEEP => {
                if let Some(r) = &mut self.relay {
                    let dropped = r.store.purge(ctx.now_ms() / 1000);
                    if dropped > 0 {
                        ctx.gauge("stored", r.store.len() as f64);
                    }
                    ctx.set_timer(timers::id(timers::SWEEP, 0), SWEEP_MS);
                }
            }
            timers::QUERY => {
                if let Some(p) = &mut self.patient {
                    p.on_query_done(ctx, value as u32);
                }
            }
            timers::RESERVE_WAIT => {
                if let Some(p) = &mut self.patient {
                    p.on_reserve_wait(ctx, value as u32);
                }
            }
            timers::RESERVE_GIVE_UP => {
                if let Some(p) = &mut self.patient {
                    p.on_give_up(ctx, value as u32);
                }
            }
            timers::PENDING => {
                if let Some(t) = &mut self.therapist {
                    t.on_pending_timeout(ctx, &mut self.counters, value as u32);
                }
            }
            _ => {}
        }
        self.absorb_own_announces(ctx);
    }

    fn on_peer_up(&mut self, ctx: &mut ServiceCtx<'_>, _peer: Address) {
        if let Some(t) = &mut self.therapist {
            t.on_peer_up(ctx, self.hops);
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        let role_missing = |role: &str, roles: Vec<&str>| {
            Answer::fail(format!("`{}` needs the {role} role; this node is: {}", command.name, roles.join(", ")))
        };
        let (answer, json) = match command.name.as_str() {
            "publish" | "withdraw" | "pending" | "accept" | "decline" => match &mut self.therapist {
                Some(t) => match t.command(ctx, &mut self.counters, self.hops, &command.name, &command.args) {
                    Some(result) => result,
                    None => (Answer::fail("unknown therapist command"), false),
                },
                None => (role_missing("therapist", self.roles()), false),
            },
            "query" | "reserve" | "status" | "stats" => {
                let args = match Args::parse(&command.args) {
                    Ok(args) => args,
                    Err(e) => return ctx.command_reply(command.id, false, e),
                };
                let json = args.json();
                let answer = match command.name.as_str() {
                    "status" => Some(self.status(ctx)),
                    "stats" => Some(self.stats(ctx)),
                    _ if self.patient.is_none() => Some(role_missing("patient", self.roles())),
                    "query" => self.query(ctx, command.id, &args),
                    _ => self.patient.as_mut().and_then(|p| p.reserve(ctx, self.hops, command.id, &args)),
                };
                match answer {
                    Some(answer) => (answer, json),
                    None => return, // answered later (query results, confirmation)
                }
            }
            other => (Answer::fail(format!("unknown command {other:?}")), false),
        };
        self.absorb_own_announces(ctx);
        ctx.command_reply(command.id, answer.ok, answer.body(json));
    }

    fn on_action_refused(&mut self, ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        self.counters.bump(ctx, name::REFUSED_ACTIONS);
        ctx.log(LogLevel::Warn, format!("the host refused action {}: {}", refused.action, refused.reason));
    }

    fn on_shutdown(&mut self, _ctx: &mut ServiceCtx<'_>, shutdown: ShutdownArgs) -> Vec<u8> {
        let handover = Handover {
            version: HANDOVER_VERSION,
            // Pending reservations refer to this host session's messages: kept only on a swap.
            therapist: self.therapist.as_ref().map(|t| t.handover(shutdown.reason == ShutdownReason::Swap)),
            relay: self.relay.as_ref().map(Relay::handover).unwrap_or_default(),
            // Reply keys stay in memory: handed over on a swap, never persisted.
            patient: self.patient.as_ref().map(|p| p.handover(shutdown.reason == ShutdownReason::Swap)),
            counters: self.counters.clone(),
        };
        codec::encode(&handover).unwrap_or_default()
    }
}

export_service!(Fapp);

#[cfg(test)]
mod tests;
