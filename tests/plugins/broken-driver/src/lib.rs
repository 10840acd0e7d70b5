//! `broken-driver`: a driver that breaks on purpose.
//!
//! By default its `init` fails, for the hot-swap rollback tests: swapping a
//! working driver for this one must leave the working driver in place (and
//! its link up); starting it fresh must report the message below.
//!
//! With `fault_on_command = true` in its driver config it starts, counts
//! its starts in its log, and panics on the `panic` command, for the
//! restart tests: the host must restart a faulted driver (with backoff),
//! as it restarts services.

#![warn(missing_docs)]

use weft_plugin_api::driver_prelude::*;

/// What `init` answers, every time.
pub const INIT_ERROR: &str = "broken-driver: init refuses on purpose (rollback test)";

/// The driver that never starts (or, configured so, faults on command).
pub struct BrokenDriver;

/// The config key that lets it start.
pub const FAULT_ON_COMMAND: &str = "fault_on_command";
/// The command that makes it panic.
pub const PANIC_COMMAND: &str = "panic";

impl Driver for BrokenDriver {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "broken-driver",
        version: env!("CARGO_PKG_VERSION"),
        description: "a driver whose init always fails (test plugin)",
        ports: &[],
        permissions: &[Permission::Serial],
        commands: &[CommandDef { name: PANIC_COMMAND, help: "panic (with fault_on_command = true)" }],
    };

    fn init(ctx: &mut DriverCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let starts = weft_plugin_api::config_table::Table::decode(&init.config)
            .ok()
            .and_then(|mut table| table.bool(FAULT_ON_COMMAND).ok().flatten())
            .unwrap_or(false);
        if !starts {
            return Err(INIT_ERROR.to_string());
        }
        ctx.log(LogLevel::Info, "broken-driver started (fault_on_command)");
        Ok(BrokenDriver)
    }

    fn on_command(&mut self, ctx: &mut DriverCtx<'_>, command: Command) {
        if command.name == PANIC_COMMAND {
            panic!("broken-driver: panics on command (restart test)");
        }
        ctx.command_reply(command.id, false, format!("no command `{}`", command.name));
    }

    fn on_serial(&mut self, _ctx: &mut DriverCtx<'_>, _bytes: &[u8]) {}

    fn on_transmit(&mut self, ctx: &mut DriverCtx<'_>, id: u64, _frame: Vec<u8>) {
        // Unreachable (init never succeeds), but a driver answers every transmit.
        ctx.transmit_done(id, false);
    }
}

export_driver!(BrokenDriver);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_api::FailureKind;
    use weft_plugin_api::testing::{DriverHarness, TestHost};

    #[test]
    fn init_fails_with_the_documented_message_whatever_it_is_given() {
        for state in [None, Some(b"a predecessor's state".to_vec())] {
            let err = DriverHarness::<BrokenDriver>::init(TestHost::default(), &(), state).err().expect("init fails");
            assert_eq!(err.kind, FailureKind::InitRefused);
            assert_eq!(err.message, INIT_ERROR);
        }
        assert_eq!(BrokenDriver::MANIFEST.name, "broken-driver");
    }
}
