//! `echo`: the hello-world Weft service. Replies to every message on port 7
//! with the same payload. Copy this file to start your own service.

use weft_plugin_api::*;

/// The echo service. It keeps no state.
pub struct Echo;

impl Service for Echo {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "echo",
        version: env!("CARGO_PKG_VERSION"),
        description: "replies to every message with the same payload",
        ports: &[7],
        permissions: &[],
        commands: &[],
    };

    fn init(_ctx: &mut Ctx<'_>, _init: InitArgs) -> Result<Self, String> {
        Ok(Echo)
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, message: Message) {
        ctx.reply(&message, message.payload.clone());
    }
}

export_service!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::testing::{ServiceHarness, TestHost};

    #[test]
    fn replies_with_the_same_payload() {
        let (mut echo, _) = ServiceHarness::<Echo>::init(TestHost::default(), &(), None).unwrap();
        let message = Message { id: 9, from: None, port: 7, payload: b"hi".to_vec() };
        let actions = echo.event(Event::Message(message)).unwrap();
        assert_eq!(actions, vec![Action::Reply(Reply { message: 9, payload: b"hi".to_vec() })]);
    }
}
