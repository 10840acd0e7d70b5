//! `counter`: the stateful example. Counts messages on port 8 and replies with
//! the running total; persists the total to key/value storage on a timer;
//! hands the total (and its message log) to its successor on hot swap.
//!
//! It shows the three stateful tools a service has:
//! - **timers**: `flush_interval_ms` (config, default 1000) re-arms a timer
//!   that writes the total to storage only when it changed;
//! - **storage**: on a cold start the total is read back with `kv_get`;
//! - **state handoff**: `on_shutdown` returns the full state, which the next
//!   instance's `init` restores, so nothing is lost between flushes.

use serde::{Deserialize, Serialize};
use weft_plugin_api::prelude::*;

const FLUSH_TIMER: u64 = 1;
const TOTAL_KEY: &[u8] = b"total";

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    flush_interval_ms: u64,
    /// Answer each message with the running total (off: count silently).
    reply: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self { flush_interval_ms: 1000, reply: true }
    }
}

/// Everything the counter hands to its successor.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// Messages counted so far.
    pub total: u64,
    /// The total most recently written to storage.
    pub flushed: u64,
}

/// The counter service.
pub struct Counter {
    state: State,
    flush_interval_ms: u64,
    reply: bool,
}

impl Counter {
    fn flush(&mut self, ctx: &mut ServiceCtx<'_>) {
        if self.state.total != self.state.flushed {
            ctx.store(TOTAL_KEY, self.state.total.to_be_bytes());
            self.state.flushed = self.state.total;
        }
    }
}

impl Service for Counter {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "counter",
        version: env!("CARGO_PKG_VERSION"),
        description: "counts messages, persists the total, hands it over on swap",
        ports: &[8],
        permissions: &[Permission::Storage],
        commands: &[
            CommandDef { name: "get", help: "print the total as JSON" },
            CommandDef { name: "reset", help: "set the total to zero" },
        ],
    };

    fn init(ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let config: Config = init.config_as().map_err(|e| format!("bad counter config: {e}"))?;
        let state = match &init.state {
            Some(blob) => cbor::from_slice(blob).map_err(|e| format!("bad handed-over state: {e}"))?,
            None => {
                let stored = ctx.kv_get(TOTAL_KEY).map_err(|e| format!("cannot read stored total: {e}"))?;
                let total = match stored {
                    Some(bytes) => u64::from_be_bytes(bytes.try_into().map_err(|_| "stored total is not 8 bytes")?),
                    None => 0,
                };
                State { total, flushed: total }
            }
        };
        ctx.set_timer(FLUSH_TIMER, config.flush_interval_ms);
        Ok(Counter { state, flush_interval_ms: config.flush_interval_ms, reply: config.reply })
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        self.state.total += 1;
        if self.reply {
            ctx.reply(&message, self.state.total.to_string());
        }
    }

    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, id: u64) {
        if id == FLUSH_TIMER {
            self.flush(ctx);
            ctx.set_timer(FLUSH_TIMER, self.flush_interval_ms);
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        match command.name.as_str() {
            "get" => ctx.command_reply(command.id, true, format!("{{\"total\":{}}}", self.state.total)),
            "reset" => {
                self.state.total = 0;
                ctx.command_reply(command.id, true, "{\"total\":0}");
            }
            other => ctx.command_reply(command.id, false, format!("unknown command {other:?}")),
        }
    }

    fn on_shutdown(&mut self, ctx: &mut ServiceCtx<'_>, _shutdown: ShutdownArgs) -> Vec<u8> {
        self.flush(ctx);
        cbor::to_vec(&self.state).unwrap_or_default()
    }
}

export_service!(Counter);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::actions::*;
    use weft_plugin_api::testing::{ServiceHarness, TestHost};
    use weft_plugin_api::*;

    fn message(id: u64) -> Event {
        Event::Message(Message { id, from: None, port: 8, payload: vec![], reply_to: None, sealed: false })
    }

    #[derive(Serialize)]
    struct Cfg {
        flush_interval_ms: u64,
    }

    #[test]
    fn counts_flushes_on_timer_and_hands_over() {
        let (mut c, actions) =
            ServiceHarness::<Counter>::init(TestHost::default(), &Cfg { flush_interval_ms: 50 }, None).unwrap();
        assert_eq!(actions, vec![Action::SetTimer(SetTimer { id: FLUSH_TIMER, after_ms: 50 })]);
        for id in 0..3 {
            c.event(message(id)).unwrap();
        }
        assert!(c.host.kv.is_empty(), "nothing is written before the timer");
        c.event(Event::Timer(TimerFired { id: FLUSH_TIMER })).unwrap();
        assert_eq!(c.host.kv.get(TOTAL_KEY), Some(&3u64.to_be_bytes().to_vec()));
        c.event(message(3)).unwrap();
        let (blob, _) = c.shutdown(ShutdownReason::Swap).unwrap();
        let (mut next, _) = ServiceHarness::<Counter>::init(TestHost::default(), &(), Some(blob)).unwrap();
        let actions = next.event(message(9)).unwrap();
        assert_eq!(actions, vec![Action::Reply(Reply { message: 9, payload: b"5".to_vec() })]);
    }

    #[test]
    fn cold_start_reads_storage_and_bad_config_is_refused() {
        let mut host = TestHost::default();
        host.kv.insert(TOTAL_KEY.to_vec(), 41u64.to_be_bytes().to_vec());
        let (mut c, _) = ServiceHarness::<Counter>::init(host, &(), None).unwrap();
        let actions = c.event(message(1)).unwrap();
        assert_eq!(actions, vec![Action::Reply(Reply { message: 1, payload: b"42".to_vec() })]);

        #[derive(Serialize)]
        struct Wrong {
            flush_every: u64,
        }
        let err = ServiceHarness::<Counter>::init(TestHost::default(), &Wrong { flush_every: 1 }, None).err().unwrap();
        assert_eq!(err.kind, FailureKind::InitRefused);
        assert!(err.message.contains("flush_every"), "{}", err.message);
    }

    #[test]
    fn with_reply_off_it_counts_silently() {
        #[derive(Serialize)]
        struct Quiet {
            reply: bool,
        }
        let (mut c, _) = ServiceHarness::<Counter>::init(TestHost::default(), &Quiet { reply: false }, None).unwrap();
        assert!(c.event(message(1)).unwrap().is_empty());
        let get = Event::Command(Command { id: 2, name: "get".into(), args: String::new() });
        let actions = c.event(get).unwrap();
        assert!(matches!(&actions[..], [Action::CommandReply(r)] if r.body == "{\"total\":1}"), "{actions:?}");
    }
}
