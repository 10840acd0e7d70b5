//! `echo`: the hello-world Weft service. Replies to every message on port 7
//! with the same payload, and offers one operator command, `ping`, that sends
//! a message to another node's echo and reports the answer. Copy this file to
//! start your own service.

use serde::Deserialize;
use std::collections::HashMap;
use weft_plugin_api::prelude::*;

const PORT: u16 = 7;
const PING_TIMEOUT_MS: u64 = 5_000;

/// Arguments of `weft ctl call echo ping '{"to": "<address>", "text": "hi"}'`.
#[derive(Deserialize)]
struct Ping {
    to: Address,
    text: String,
}

/// The echo service: remembers which operator command waits for which ping.
#[derive(Default)]
pub struct Echo {
    waiting: HashMap<u64, (u64, u64)>, // ping tag -> (command id, sent at ms)
    next_tag: u64,
}

impl Service for Echo {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "echo",
        version: env!("CARGO_PKG_VERSION"),
        description: "replies to every message with the same payload",
        ports: &[PORT],
        permissions: &[Permission::Send],
        commands: &[CommandDef { name: "ping", help: "send {\"to\": ADDRESS, \"text\": TEXT} and wait for the echo" }],
    };

    fn init(_ctx: &mut ServiceCtx<'_>, _init: InitArgs) -> Result<Self, String> {
        Ok(Echo::default())
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        let Some(tag) = message.reply_to else { return ctx.reply(&message, message.payload.clone()) };
        if let Some((command, sent_ms)) = self.waiting.remove(&tag) {
            let text = String::from_utf8_lossy(&message.payload);
            let rtt = ctx.now_ms().saturating_sub(sent_ms);
            ctx.command_reply(command, true, format!("{text:?} echoed by {} in {rtt} ms", address_text(&message)));
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        match command.args_as::<Ping>() {
            Ok(ping) => {
                self.next_tag += 1;
                self.waiting.insert(self.next_tag, (command.id, ctx.now_ms()));
                ctx.request(ping.to, PORT, ping.text, self.next_tag);
                ctx.set_timer(self.next_tag, PING_TIMEOUT_MS);
            }
            Err(e) => ctx.command_reply(command.id, false, e.to_string()),
        }
    }

    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, tag: u64) {
        if let Some((command, _)) = self.waiting.remove(&tag) {
            ctx.command_reply(command, false, format!("no echo within {PING_TIMEOUT_MS} ms"));
        }
    }

    fn on_action_refused(&mut self, ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        // A refused ping (e.g. no link to that node) fails its command at once.
        if let Some((command, _)) = self.waiting.remove(&refused.tag) {
            ctx.command_reply(command, false, format!("not sent: {}", refused.reason));
        }
    }
}

fn address_text(message: &Message) -> String {
    message.from.map(|a| a.to_string()).unwrap_or_else(|| "an anonymous node".into())
}

export_service!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::actions::*;
    use weft_plugin_api::testing::{ServiceHarness, TestHost};
    use weft_plugin_api::*;

    fn message(id: u64, reply_to: Option<u64>) -> Event {
        Event::Message(Message {
            id,
            from: Some(Address([2; 16])),
            port: 7,
            payload: b"hi".to_vec(),
            reply_to,
            sealed: false,
        })
    }

    #[test]
    fn replies_with_the_same_payload() {
        let (mut echo, _) = ServiceHarness::<Echo>::init(TestHost::default(), &(), None).unwrap();
        let actions = echo.event(message(9, None)).unwrap();
        assert_eq!(actions, vec![Action::Reply(Reply { message: 9, payload: b"hi".to_vec() })]);
    }

    #[test]
    fn ping_sends_a_request_and_the_echo_answers_the_command() {
        let (mut echo, _) = ServiceHarness::<Echo>::init(TestHost::default(), &(), None).unwrap();
        let to = Address([2; 16]);
        let args = format!("{{\"to\": \"{to}\", \"text\": \"hi\"}}");
        let actions = echo.event(Event::Command(Command { id: 4, name: "ping".into(), args })).unwrap();
        assert_eq!(
            actions[0],
            Action::Send(Send { to, port: 7, payload: b"hi".to_vec(), sealed: false, tag: 1, anonymous: false })
        );
        assert_eq!(actions[1], Action::SetTimer(SetTimer { id: 1, after_ms: PING_TIMEOUT_MS }));
        // The echo of the ping is not answered again, it completes command 4.
        let actions = echo.event(message(10, Some(1))).unwrap();
        let [Action::CommandReply(reply)] = actions.as_slice() else { panic!("{actions:?}") };
        assert!(reply.ok && reply.id == 4 && reply.body.starts_with("\"hi\" echoed by"), "{reply:?}");
        // The timer for an answered ping does nothing.
        assert!(echo.event(Event::Timer(TimerFired { id: 1 })).unwrap().is_empty());
    }

    #[test]
    fn unanswered_ping_times_out_and_bad_arguments_are_reported() {
        let (mut echo, _) = ServiceHarness::<Echo>::init(TestHost::default(), &(), None).unwrap();
        let args = format!("{{\"to\": \"{}\", \"text\": \"hi\"}}", Address([3; 16]));
        echo.event(Event::Command(Command { id: 5, name: "ping".into(), args })).unwrap();
        let actions = echo.event(Event::Timer(TimerFired { id: 1 })).unwrap();
        assert!(matches!(&actions[..], [Action::CommandReply(r)] if !r.ok && r.id == 5));
        let bad = Command { id: 6, name: "ping".into(), args: "{\"to\": 3}".into() };
        let actions = echo.event(Event::Command(bad)).unwrap();
        assert!(matches!(&actions[..], [Action::CommandReply(r)] if !r.ok && r.body.contains("bad arguments")));
    }
}
