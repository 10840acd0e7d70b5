//! The RNode driver plugin (`weft_driver_rnode::RNode`) on bytes from its
//! serial port, through `DriverHarness` (the encoded calls a host makes),
//! as transports/rnode's tests drive it: a scripted modem answers detect
//! and configuration so the link comes up, and arbitrary serial bytes,
//! KISS frames, timers, transmits, port changes, commands and hot swaps
//! arrive in any order. A first step with op 255 is a state blob handed
//! over to the first instance (`Handoff::decode`).
//!
//! Steps (`op | len | bytes`, see `weft_fuzz::Steps`), by `op % 9`:
//! 0 raw serial bytes; 1 the scripted modem answers what the driver wrote
//! last; 2 a KISS frame `bytes[0]`, `bytes[1..]`; 3 a timer fires; 4 a
//! transmit of `bytes`; 5 the port closes or opens; 6 `status`; 7 `resync`;
//! 8 a hot swap through the driver's own state blob.
//!
//! Properties: no panic, no failed call, transmits reported done once and
//! only when asked for, received frames 1..=MTU bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use weft_driver_rnode::RNode;
use weft_driver_rnode::protocol::MTU;
use weft_fuzz::{DriverSession, Steps, number};

/// A scripted RNode (firmware 1.74): answers detect queries and echoes
/// settings, like `FakeRNode` in transports/rnode/src/tests.rs.
fn answer(written: &[u8]) -> Vec<u8> {
    let kiss = weft_kiss::encode;
    let mut out = Vec::new();
    for f in weft_kiss::Decoder::new(600).push(written) {
        match f.cmd {
            0x08 => out.extend(kiss(0x08, &[0x46])),
            0x50 => out.extend(kiss(0x50, &[1, 74])),
            0x48 => out.extend(kiss(0x48, &[0x80])),
            0x49 => out.extend(kiss(0x49, &[0x81])),
            0x03 => out.extend(kiss(0x03, &[f.payload.first().copied().unwrap_or(0).min(22)])),
            0x01 | 0x02 | 0x04 | 0x05 | 0x06 | 0x0B | 0x0C => out.extend(kiss(f.cmd, &f.payload)),
            0x0F => out.extend(kiss(0x0F, &[1])),
            _ => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let config: BTreeMap<String, i64> = BTreeMap::new();
    let mut steps = Steps::new(data).peekable();
    let state = steps.next_if(|(op, _)| *op == 255).map(|(_, blob)| blob.to_vec());
    let Some(mut driver) = DriverSession::<RNode>::start(&config, state, usize::from(MTU)) else {
        panic!("the driver refused to start");
    };
    driver.port(true);
    for (op, bytes) in steps {
        match op % 9 {
            0 => driver.serial(bytes),
            1 => {
                let reply = answer(&driver.written);
                driver.serial(&reply);
            }
            2 => {
                let Some((&cmd, payload)) = bytes.split_first() else { continue };
                driver.serial(&weft_kiss::encode(cmd, payload));
            }
            3 => driver.fire_timer(number(bytes)),
            4 => driver.transmit(bytes),
            5 => driver.port(bytes.first().is_some_and(|b| b % 2 == 0)),
            6 => driver.command("status", ""),
            7 => driver.command("resync", ""),
            _ => driver.swap(&config),
        }
    }
});
