//! The [`Driver`] trait: what a radio modem driver author implements.
//!
//! Owns: the typed callbacks of a driver. The host owns the serial port and
//! passes bytes both ways, so a driver is a pure protocol state machine and
//! swapping it never closes the port.

use crate::call::{InitArgs, ShutdownArgs};
use crate::ctx::DriverCtx;
use crate::event::{ActionRefused, Command, SerialStatus};
use crate::{LogLevel, ManifestDef};

/// A driver plugin: turns frames into modem bytes and back.
pub trait Driver: Sized + Send + 'static {
    /// The manifest (kind and ABI version are added by the export macro).
    const MANIFEST: ManifestDef;

    /// Creates the instance; `init.state` holds the previous driver's state
    /// after a hot swap. Typically starts by (re)syncing with the modem.
    fn init(ctx: &mut DriverCtx<'_>, init: InitArgs) -> Result<Self, String>;

    /// Bytes arrived from the serial port.
    fn on_serial(&mut self, ctx: &mut DriverCtx<'_>, bytes: &[u8]);

    /// The host asks to transmit `frame`; answer with [`DriverCtx::transmit_done`](crate::DriverCtx::transmit_done).
    fn on_transmit(&mut self, ctx: &mut DriverCtx<'_>, id: u64, frame: Vec<u8>);

    /// A timer set with [`DriverCtx::set_timer`](crate::Ctx::set_timer) fired.
    fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, id: u64) {
        let _ = (ctx, id);
    }

    /// The serial port opened or closed.
    fn on_serial_status(&mut self, ctx: &mut DriverCtx<'_>, status: SerialStatus) {
        let _ = (ctx, status);
    }

    /// An operator invoked a command. The default answers "unknown command".
    fn on_command(&mut self, ctx: &mut DriverCtx<'_>, command: Command) {
        ctx.command_reply(command.id, false, format!("unknown command {:?}", command.name));
    }

    /// The host refused one of the driver's actions. The default logs it.
    fn on_action_refused(&mut self, ctx: &mut DriverCtx<'_>, refused: ActionRefused) {
        ctx.log(LogLevel::Warn, format!("action {} refused: {}", refused.action, refused.reason));
    }

    /// The driver is being replaced or stopped; return its state.
    fn on_shutdown(&mut self, ctx: &mut DriverCtx<'_>, shutdown: ShutdownArgs) -> Vec<u8> {
        let _ = (ctx, shutdown);
        Vec::new()
    }
}
