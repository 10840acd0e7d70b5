//! `broken-driver`: a driver whose `init` always fails, for the hot-swap
//! rollback tests. Swapping a working driver for this one must leave the
//! working driver in place (and its link up); starting it fresh must report
//! the message below. Nothing else about it matters: it never gets an event.

#![warn(missing_docs)]

use weft_plugin_api::driver_prelude::*;

/// What `init` answers, every time.
pub const INIT_ERROR: &str = "broken-driver: init refuses on purpose (rollback test)";

/// The driver that never starts.
pub struct BrokenDriver;

impl Driver for BrokenDriver {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "broken-driver",
        version: env!("CARGO_PKG_VERSION"),
        description: "a driver whose init always fails (test plugin)",
        ports: &[],
        permissions: &[Permission::Serial],
        commands: &[],
    };

    fn init(_ctx: &mut DriverCtx<'_>, _init: InitArgs) -> Result<Self, String> {
        Err(INIT_ERROR.to_string())
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
