//! The [`Service`] trait: what a service plugin author implements.
//!
//! Owns: the typed callbacks of a service and their defaults. How calls reach
//! these methods is the guest runtime's business (`guest`).

use crate::call::{InitArgs, ShutdownArgs};
use crate::ctx::ServiceCtx;
use crate::event::{ActionRefused, Command, Message};
use crate::{Address, LogLevel, ManifestDef};

/// A service plugin: a state machine that binds service ports.
///
/// One instance handles one call at a time; no locks are needed. Export it
/// with [`crate::export_service!`] to build it as wasm or as a native library.
pub trait Service: Sized + Send + 'static {
    /// The manifest (kind and ABI version are added by the export macro).
    const MANIFEST: ManifestDef;

    /// Creates the instance from its config and, after a swap or restart,
    /// the state the previous instance returned from `on_shutdown`.
    /// Returning `Err` refuses to start; the message reaches the operator.
    fn init(ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String>;

    /// A message arrived for one of the plugin's ports.
    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        let _ = (ctx, message);
    }

    /// A timer set with [`ServiceCtx::set_timer`](crate::Ctx::set_timer) fired.
    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, id: u64) {
        let _ = (ctx, id);
    }

    /// A neighbour link came up.
    fn on_peer_up(&mut self, ctx: &mut ServiceCtx<'_>, peer: Address) {
        let _ = (ctx, peer);
    }

    /// A neighbour link went down.
    fn on_peer_down(&mut self, ctx: &mut ServiceCtx<'_>, peer: Address) {
        let _ = (ctx, peer);
    }

    /// An operator invoked a command. The default answers "unknown command".
    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        ctx.command_reply(command.id, false, format!("unknown command {:?}", command.name));
    }

    /// The host refused one of the plugin's actions. The default logs it.
    fn on_action_refused(&mut self, ctx: &mut ServiceCtx<'_>, refused: ActionRefused) {
        ctx.log(LogLevel::Warn, format!("action {} refused: {}", refused.action, refused.reason));
    }

    /// The instance is being stopped. Return the state the next instance
    /// should receive in `init` (empty for none). May emit final actions.
    fn on_shutdown(&mut self, ctx: &mut ServiceCtx<'_>, shutdown: ShutdownArgs) -> Vec<u8> {
        let _ = (ctx, shutdown);
        Vec::new()
    }
}
