//! `sequence`: a sink for numbered messages, used by the hot-swap tests to
//! prove delivery is exactly once and in order.
//!
//! Messages on port 9 carry a decimal number as text. Numbers are expected
//! to count up from 1 per sender; anything else is counted as a duplicate
//! (at or below the last seen) or a gap (skipping ahead). The `stats`
//! command returns the counters as JSON.

use serde::Serialize;
use std::collections::BTreeMap;
use weft_plugin_api::*;

/// What one sender's numbers looked like.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SenderStats {
    /// Messages received.
    pub received: u64,
    /// The highest number seen.
    pub last: u64,
    /// Numbers at or below one already seen.
    pub duplicates: u64,
    /// Times a number skipped ahead of last + 1.
    pub gaps: u64,
    /// Messages whose payload was not a number.
    pub malformed: u64,
    /// Host clock (ms) at the first message.
    pub first_ms: u64,
    /// Host clock (ms) at the latest message.
    pub latest_ms: u64,
}

/// The sink.
pub struct Sequence {
    /// Per sender (text address, or "anonymous").
    senders: BTreeMap<String, SenderStats>,
}

impl Service for Sequence {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "sequence",
        version: env!("CARGO_PKG_VERSION"),
        description: "checks numbered messages arrive exactly once and in order",
        ports: &[9],
        permissions: &[],
        commands: &[CommandDef { name: "stats", help: "per-sender counts as JSON" }],
    };

    fn init(_: &mut Ctx<'_>, _: InitArgs) -> Result<Self, String> {
        Ok(Self { senders: BTreeMap::new() })
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, msg: Message) {
        let sender = msg.from.map_or_else(|| "anonymous".to_string(), |a| a.to_string());
        let now = ctx.now_ms();
        let stats = self.senders.entry(sender).or_default();
        if stats.received == 0 {
            stats.first_ms = now;
        }
        stats.latest_ms = now;
        stats.received += 1;
        let Some(n) = std::str::from_utf8(&msg.payload).ok().and_then(|t| t.trim().parse::<u64>().ok()) else {
            stats.malformed += 1;
            return;
        };
        if n <= stats.last {
            stats.duplicates += 1;
        } else {
            if n != stats.last + 1 {
                stats.gaps += 1;
            }
            stats.last = n;
        }
    }

    fn on_command(&mut self, ctx: &mut Ctx<'_>, command: Command) {
        match serde_json::to_string(&self.senders) {
            Ok(body) => ctx.command_reply(command.id, true, body),
            Err(e) => ctx.command_reply(command.id, false, e.to_string()),
        }
    }
}

export_service!(Sequence);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::testing::{ServiceHarness, TestHost};

    fn message(id: u64, text: &str) -> Event {
        Event::Message(Message {
            id,
            from: Some(Address([1; 16])),
            port: 9,
            payload: text.as_bytes().to_vec(),
            reply_to: None,
            sealed: false,
        })
    }

    #[test]
    fn counts_duplicates_and_gaps() {
        let (mut sink, _) = ServiceHarness::<Sequence>::init(TestHost::default(), &(), None).expect("init");
        for (id, text) in [(1, "1"), (2, "2"), (3, "2"), (4, "5"), (5, "x")] {
            sink.event(message(id, text)).expect("event");
        }
        let actions = sink.event(Event::Command(Command { id: 9, name: "stats".into(), args: String::new() }));
        let Some(Action::CommandReply(reply)) = actions.expect("stats").pop() else { panic!("no reply") };
        let stats: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
        let s = &stats["01010101010101010101010101010101"];
        assert_eq!((s["received"].as_u64(), s["last"].as_u64()), (Some(5), Some(5)));
        assert_eq!(
            (s["duplicates"].as_u64(), s["gaps"].as_u64(), s["malformed"].as_u64()),
            (Some(1), Some(1), Some(1))
        );
    }
}
