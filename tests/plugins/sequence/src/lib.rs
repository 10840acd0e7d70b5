//! `sequence`: numbered messages, sent and checked. The operations and
//! radio tests use it to prove delivery is exactly once and in order, across
//! hot swaps, restarts and radio trouble.
//!
//! - **Sink**: messages on port 9 carry a decimal number as text, counting
//!   up from 1 per sender; anything else is counted as a duplicate (at or
//!   below the last seen) or a gap (skipping ahead); `distinct` and
//!   `repeats` count numbers regardless of order (exactly once: every number
//!   distinct, none repeated). The text `goodbye` is counted on its own.
//!   `stats` returns the counters as JSON.
//! - **Generator**: `blast {"to": ADDRESS, "count": N, "per_tick": K,
//!   "tick_ms": T}` sends 1..=N to `to`'s port 9, K messages every T ms.
//!   Each send carries its number as the tag; a send the host refuses (a
//!   full session queue says so) comes back as `ActionRefused` with that
//!   tag and is sent again on the next tick, before any new number, as a
//!   careful service would.
//! - **State**: the counters and a running blast are handed to the next
//!   instance on hot swap and persisted when the node stops.
//! - **Goodbye**: with config `goodbye_to = ADDRESS` the shutdown hook sends
//!   `goodbye` there (a final message on node stop).
//! - **Ballast**: config `ballast_bytes = N` makes the handed-over state N
//!   bytes larger (hot-swap benchmarks).
//!
//! Built with feature `broken-init` its `init` always fails (the rollback
//! test's "broken build" of the same plugin).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_plugin_api::prelude::*;

const PORT: u16 = 9;
const TICK: u64 = 1;
/// Numbers above this are counted but not tracked as distinct.
const MAX_TRACKED: u64 = 1 << 20;

/// What one sender's numbers looked like.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SenderStats {
    /// Messages received (goodbyes excluded).
    pub received: u64,
    /// The highest number seen.
    pub last: u64,
    /// Numbers at or below one already seen.
    pub duplicates: u64,
    /// Times a number skipped ahead of last + 1.
    pub gaps: u64,
    /// Different numbers received (order aside: a retransmitted message may
    /// arrive after later ones and count as a "duplicate" above, but only a
    /// number received twice counts in `repeats`).
    #[serde(default)]
    pub distinct: u64,
    /// Numbers received more than once.
    #[serde(default)]
    pub repeats: u64,
    /// Messages whose payload was not a number.
    pub malformed: u64,
    /// `goodbye` messages.
    pub goodbyes: u64,
    /// Host clock (ms) at the first message.
    pub first_ms: u64,
    /// Host clock (ms) at the latest message.
    pub latest_ms: u64,
}

/// A blast in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Blast {
    to: Address,
    next: u64,
    count: u64,
    per_tick: u64,
    tick_ms: u64,
    /// Numbers the host refused, to send again.
    #[serde(default)]
    retry: Vec<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    senders: BTreeMap<String, SenderStats>,
    blast: Option<Blast>,
    /// Per sender, a bitmap of the numbers seen (bit n-1 for number n, up to
    /// [`MAX_TRACKED`]).
    #[serde(default)]
    seen: BTreeMap<String, Vec<u64>>,
    /// Opaque bytes carried from instance to instance (config
    /// `ballast_bytes`): lets a benchmark hand over a state of a given size.
    #[serde(with = "serde_bytes", default)]
    ballast: Vec<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    goodbye_to: Option<Address>,
    ballast_bytes: usize,
}

#[derive(Deserialize)]
struct BlastArgs {
    to: Address,
    count: u64,
    #[serde(default = "default_per_tick")]
    per_tick: u64,
    #[serde(default = "default_tick_ms")]
    tick_ms: u64,
}

fn default_per_tick() -> u64 {
    100
}
fn default_tick_ms() -> u64 {
    10
}

/// The plugin.
pub struct Sequence {
    state: State,
    goodbye_to: Option<Address>,
}

impl Sequence {
    fn tick(&mut self, ctx: &mut ServiceCtx<'_>) {
        let Some(blast) = &mut self.state.blast else { return };
        let send = |ctx: &mut ServiceCtx<'_>, n: u64| ctx.request(blast.to, PORT, n.to_string().into_bytes(), n);
        if !blast.retry.is_empty() {
            // Refused before: those first, and nothing new while the host
            // pushes back.
            let take = blast.retry.len().min(usize::try_from(blast.per_tick).unwrap_or(usize::MAX));
            for n in blast.retry.drain(..take).collect::<Vec<_>>() {
                send(ctx, n);
            }
            ctx.set_timer(TICK, blast.tick_ms);
            return;
        }
        if blast.next > blast.count {
            // One quiet tick after the last number: any refusal of it is in.
            self.state.blast = None;
            return;
        }
        let end = (blast.next + blast.per_tick).min(blast.count + 1);
        for n in blast.next..end {
            send(ctx, n);
        }
        blast.next = end;
        ctx.set_timer(TICK, blast.tick_ms);
    }
}

impl Service for Sequence {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "sequence",
        version: if cfg!(feature = "broken-init") {
            concat!(env!("CARGO_PKG_VERSION"), "+broken")
        } else {
            env!("CARGO_PKG_VERSION")
        },
        description: "sends and checks numbered messages (test plugin)",
        ports: &[PORT],
        permissions: &[Permission::Send],
        commands: &[
            CommandDef { name: "stats", help: "per-sender counts as JSON" },
            CommandDef { name: "blast", help: "send {\"to\", \"count\", \"per_tick\", \"tick_ms\"} numbered messages" },
        ],
    };

    fn init(ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String> {
        if cfg!(feature = "broken-init") {
            return Err("sequence+broken: init refuses on purpose (rollback test)".into());
        }
        let config: Config = init.config_as().map_err(|e| format!("bad sequence config: {e}"))?;
        let state = match init.state.as_deref() {
            Some(blob) if !blob.is_empty() => {
                cbor::from_slice(blob).map_err(|e| format!("bad handed-over state: {e}"))?
            }
            _ => State::default(),
        };
        let mut plugin = Self { state, goodbye_to: config.goodbye_to };
        if plugin.state.ballast.len() != config.ballast_bytes {
            plugin.state.ballast = vec![0xa5; config.ballast_bytes];
        }
        if plugin.state.blast.is_some() {
            plugin.tick(ctx);
        }
        Ok(plugin)
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, msg: Message) {
        let sender = msg.from.map_or_else(|| "anonymous".to_string(), |a| a.to_string());
        let now = ctx.now_ms();
        let stats = self.state.senders.entry(sender.clone()).or_default();
        if msg.payload == b"goodbye" {
            stats.goodbyes += 1;
            return;
        }
        if stats.received == 0 {
            stats.first_ms = now;
        }
        stats.latest_ms = now;
        stats.received += 1;
        let Some(n) = std::str::from_utf8(&msg.payload).ok().and_then(|t| t.trim().parse::<u64>().ok()) else {
            stats.malformed += 1;
            return;
        };
        if (1..=MAX_TRACKED).contains(&n) {
            let bits = self.state.seen.entry(sender).or_default();
            let (word, bit) = (((n - 1) / 64) as usize, (n - 1) % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            if bits[word] & (1 << bit) == 0 {
                bits[word] |= 1 << bit;
                stats.distinct += 1;
            } else {
                stats.repeats += 1;
            }
        }
        if n <= stats.last {
            stats.duplicates += 1;
        } else {
            if n != stats.last + 1 {
                stats.gaps += 1;
            }
            stats.last = n;
        }
    }

    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, id: u64) {
        if id == TICK {
            self.tick(ctx);
        }
    }

    fn on_action_refused(&mut self, _ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        if let Some(blast) = &mut self.state.blast
            && refused.tag != 0
            && refused.tag <= blast.count
        {
            blast.retry.push(refused.tag);
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        match command.name.as_str() {
            "blast" => match command.args_as::<BlastArgs>() {
                Ok(args) => {
                    let tick_ms = args.tick_ms.max(1);
                    self.state.blast = Some(Blast {
                        to: args.to,
                        next: 1,
                        count: args.count,
                        per_tick: args.per_tick.max(1),
                        tick_ms,
                        retry: Vec::new(),
                    });
                    self.tick(ctx);
                    ctx.command_reply(command.id, true, format!("sending {} messages", args.count));
                }
                Err(e) => ctx.command_reply(command.id, false, e.to_string()),
            },
            _ => match serde_json::to_string(&self.state.senders) {
                Ok(body) => ctx.command_reply(command.id, true, body),
                Err(e) => ctx.command_reply(command.id, false, e.to_string()),
            },
        }
    }

    fn on_shutdown(&mut self, ctx: &mut ServiceCtx<'_>, _: ShutdownArgs) -> Vec<u8> {
        if let Some(to) = self.goodbye_to {
            ctx.send(to, PORT, b"goodbye".to_vec());
        }
        cbor::to_vec(&self.state).unwrap_or_default()
    }
}

export_service!(Sequence);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::actions::*;
    use weft_plugin_api::testing::{ServiceHarness, TestHost};
    use weft_plugin_api::*;

    fn message(id: u64, text: &str) -> Event {
        Event::Message(Message {
            id,
            from: Some(Address([1; 16])),
            port: PORT,
            payload: text.as_bytes().to_vec(),
            reply_to: None,
            sealed: false,
        })
    }

    fn stats(sink: &mut ServiceHarness<Sequence>) -> serde_json::Value {
        let actions = sink.event(Event::Command(Command { id: 9, name: "stats".into(), args: String::new() }));
        let Some(Action::CommandReply(reply)) = actions.expect("stats").pop() else { panic!("no reply") };
        let all: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
        all["01010101010101010101010101010101"].clone()
    }

    #[test]
    fn counts_duplicates_gaps_and_goodbyes_and_hands_them_over() {
        let (mut sink, _) = ServiceHarness::<Sequence>::init(TestHost::default(), &(), None).expect("init");
        for (id, text) in [(1, "1"), (2, "2"), (3, "2"), (4, "5"), (5, "x"), (6, "goodbye")] {
            sink.event(message(id, text)).expect("event");
        }
        let s = stats(&mut sink);
        assert_eq!((s["received"].as_u64(), s["last"].as_u64()), (Some(5), Some(5)));
        assert_eq!(
            (s["duplicates"].as_u64(), s["gaps"].as_u64(), s["malformed"].as_u64()),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(s["goodbyes"].as_u64(), Some(1));
        let (state, _) = sink.shutdown(ShutdownReason::Swap).expect("shutdown");
        let (mut next, _) = ServiceHarness::<Sequence>::init(TestHost::default(), &(), Some(state)).expect("init");
        next.event(message(7, "6")).expect("event");
        let s = stats(&mut next);
        assert_eq!((s["received"].as_u64(), s["last"].as_u64(), s["gaps"].as_u64()), (Some(6), Some(6), Some(1)));
    }

    #[test]
    fn a_blast_sends_in_ticks_and_survives_a_handover() {
        let (mut generator, _) = ServiceHarness::<Sequence>::init(TestHost::default(), &(), None).expect("init");
        let args = r#"{"to": "02020202020202020202020202020202", "count": 250, "per_tick": 100, "tick_ms": 5}"#;
        let sent = |actions: &[Action]| actions.iter().filter(|a| matches!(a, Action::Send(_))).count();
        let first =
            generator.event(Event::Command(Command { id: 1, name: "blast".into(), args: args.into() })).expect("blast");
        assert_eq!(sent(&first), 100);
        let (state, _) = generator.shutdown(ShutdownReason::Swap).expect("shutdown");
        let (mut next, resumed) =
            ServiceHarness::<Sequence>::init(TestHost::default(), &(), Some(state)).expect("init");
        assert_eq!(sent(&resumed), 100, "the successor goes on where the blast was");
        let last = next.event(Event::Timer(TimerFired { id: TICK })).expect("tick");
        assert_eq!(sent(&last), 50);
        let Some(Action::Send(send)) = last.iter().rev().find(|a| matches!(a, Action::Send(_))) else { panic!() };
        assert_eq!(send.payload, b"250");
    }

    #[test]
    fn a_refused_send_is_sent_again_before_anything_new() {
        let (mut generator, _) = ServiceHarness::<Sequence>::init(TestHost::default(), &(), None).expect("init");
        let args = r#"{"to": "02020202020202020202020202020202", "count": 4, "per_tick": 2, "tick_ms": 5}"#;
        let numbers = |actions: &[Action]| -> Vec<String> {
            actions
                .iter()
                .filter_map(|a| match a {
                    Action::Send(send) => Some(String::from_utf8_lossy(&send.payload).into_owned()),
                    _ => None,
                })
                .collect()
        };
        let first =
            generator.event(Event::Command(Command { id: 1, name: "blast".into(), args: args.into() })).expect("blast");
        assert_eq!(numbers(&first), ["1", "2"]);
        let refused = ActionRefused { action: 0, index: 1, reason: "congested".into(), tag: 2 };
        generator.event(Event::ActionRefused(refused)).expect("refused");
        let again = generator.event(Event::Timer(TimerFired { id: TICK })).expect("tick");
        assert_eq!(numbers(&again), ["2"], "the refused one, nothing new");
        let next = generator.event(Event::Timer(TimerFired { id: TICK })).expect("tick");
        assert_eq!(numbers(&next), ["3", "4"]);
        let done = generator.event(Event::Timer(TimerFired { id: TICK })).expect("tick");
        assert!(numbers(&done).is_empty() && !done.iter().any(|a| matches!(a, Action::SetTimer(_))), "finished");
    }
}
