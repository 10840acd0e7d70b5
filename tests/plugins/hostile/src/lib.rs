//! `hostile`: misbehaves on request, to prove one plugin cannot take down the
//! host or its neighbours. The payload of a message on port 9 picks the act:
//! `panic`, `loop` (never returns, spinning), `hang` (never returns,
//! asleep: a deadlocked native plugin; wasm cannot sleep and spins), `oom` (allocates until the cap), `unknown`
//! (returns an action tag no host knows), anything else is echoed. Commands
//! report what the host refused. Config `slow_shutdown = true` makes the
//! shutdown hook overrun any deadline. Built with feature `abi-next-major` or
//! `abi-next-minor` it claims an ABI version this host must refuse.

use weft_plugin_api::Action;
use weft_plugin_api::prelude::*;

/// The hostile service.
pub struct Hostile {
    refused: Vec<String>,
    slow_shutdown: bool,
}

impl Service for Hostile {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "hostile",
        version: env!("CARGO_PKG_VERSION"),
        description: "misbehaves on request (test plugin)",
        ports: &[9],
        permissions: &[],
        commands: &[CommandDef { name: "refused", help: "list refused actions" }],
    };

    fn init(_ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String> {
        // Config `slow_shutdown = true`: the shutdown hook spins for 10 s,
        // far past any deadline (the host must cut it off and report it).
        let slow_shutdown = init
            .config_as::<std::collections::BTreeMap<String, bool>>()
            .ok()
            .and_then(|c| c.get("slow_shutdown").copied())
            .unwrap_or(false);
        Ok(Hostile { refused: Vec::new(), slow_shutdown })
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        match message.payload.as_slice() {
            b"panic" => panic!("asked to panic"),
            b"loop" => {
                let mut n = 0u64;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            b"hang" => loop {
                #[cfg(not(target_arch = "wasm32"))]
                std::thread::sleep(std::time::Duration::from_secs(3600));
                #[cfg(target_arch = "wasm32")]
                core::hint::black_box(());
            },
            b"oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(core::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            // Busy for 300 ms of host time, then answers: past a short
            // deadline (wasm is interrupted, a native call abandoned).
            b"slow" => {
                let until = ctx.now_ms() + 300;
                while ctx.now_ms() < until {}
                ctx.reply(&message, b"slow done".to_vec());
            }
            b"unknown" => {
                ctx.push(Action::Unknown(200));
                ctx.reply(&message, b"sent unknown".to_vec());
            }
            _ => ctx.reply(&message, message.payload.clone()),
        }
    }

    fn on_action_refused(&mut self, ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        self.refused.push(format!("{}: {}", refused.action, refused.reason));
        // A second unknown action while handling a refusal must not loop.
        ctx.push(Action::Unknown(201));
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        ctx.command_reply(command.id, true, self.refused.join("\n"));
    }

    fn on_shutdown(&mut self, ctx: &mut ServiceCtx<'_>, _: ShutdownArgs) -> Vec<u8> {
        if self.slow_shutdown {
            let until = ctx.now_ms() + 10_000;
            while ctx.now_ms() < until {}
        }
        Vec::new()
    }
}

#[cfg(not(any(feature = "abi-next-major", feature = "abi-next-minor")))]
export_service!(Hostile);

#[cfg(feature = "abi-next-major")]
weft_plugin_api::__export_plugin!(
    weft_plugin_api::internal::guest::AsService<Hostile>,
    weft_plugin_api::AbiVersion::new(weft_plugin_api::ABI_VERSION.major + 1, 0)
);

#[cfg(all(feature = "abi-next-minor", not(feature = "abi-next-major")))]
weft_plugin_api::__export_plugin!(
    weft_plugin_api::internal::guest::AsService<Hostile>,
    weft_plugin_api::AbiVersion::new(weft_plugin_api::ABI_VERSION.major, weft_plugin_api::ABI_VERSION.minor + 1)
);
