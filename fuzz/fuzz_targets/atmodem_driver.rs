//! The AT modem driver plugin (`weft_driver_atmodem::AtModem`, RAK3172) on
//! lines from its serial port, through `DriverHarness` like
//! transports/atmodem's tests: a scripted modem answers the commands the
//! driver writes so the link comes up, and arbitrary serial bytes, received
//! packets, transmit reports, timers, transmits, port changes, commands and
//! hot swaps arrive in any order. A first step with op 255 is a state blob
//! handed over to the first instance.
//!
//! Steps (`op | len | bytes`, see `weft_fuzz::Steps`), by `op % 10`:
//! 0 raw serial bytes; 1 the scripted modem answers what the driver wrote
//! last; 2 a line `bytes` + CR LF; 3 `+EVT:RXP2P:-37:11:` with `bytes` in
//! hex; 4 `+EVT:TXP2P DONE`; 5 a timer fires; 6 a transmit of `bytes`;
//! 7 the port closes or opens; 8 `status` or `resync`; 9 a hot swap.
//!
//! Properties: no panic, no failed call, transmits reported done once and
//! only when asked for, received frames non-empty and bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use weft_driver_atmodem::AtModem;
use weft_driver_atmodem::line::MAX_LINE;
use weft_fuzz::{DriverSession, Steps, number};
use weft_plugin_api::hex::encode_upper as hex_encode;

/// A scripted RAK3172 in P2P mode, like `FakeRak` in transports/atmodem/src/tests.rs.
#[derive(Default)]
struct Rak {
    applied: String,
}

impl Rak {
    fn answer(&mut self, written: &[u8]) -> Vec<u8> {
        let mut out = String::new();
        for cmd in String::from_utf8_lossy(written).split("\r\n").filter(|l| !l.is_empty()) {
            let reply = match cmd {
                "AT+P2P=?" => format!("AT+P2P={}\r\nOK", self.applied),
                _ if cmd.starts_with("AT+P2P=") => {
                    self.applied = cmd["AT+P2P=".len()..].to_string();
                    "OK".into()
                }
                _ if cmd.starts_with("AT+PSEND=") => "OK".into(),
                "AT+VER=?" => "AT+VER=RUI_4.2.1_RAK3172-E\r\nOK".into(),
                "AT+NWM=?" => "AT+NWM=0\r\nOK".into(),
                "AT" | "AT+NWM=0" | "AT+PRECV=0" | "AT+PRECV=65533" | "AT+PRECV=65534" => "OK".into(),
                _ => "AT_ERROR".into(),
            };
            out.push_str(&reply);
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

fuzz_target!(|data: &[u8]| {
    let config: BTreeMap<String, i64> = BTreeMap::new();
    let mut steps = Steps::new(data).peekable();
    let state = steps.next_if(|(op, _)| *op == 255).map(|(_, blob)| blob.to_vec());
    // A received line holds at most 300 bytes of hex payload (line::MAX_LINE)
    // and two split halves are joined (compat.rs): 600 bounds any frame.
    let Some(mut driver) = DriverSession::<AtModem>::start(&config, state, MAX_LINE) else {
        panic!("the driver refused to start");
    };
    let mut modem = Rak::default();
    driver.port(true);
    for (op, bytes) in steps {
        match op % 10 {
            0 => driver.serial(bytes),
            1 => {
                let reply = modem.answer(&driver.written);
                driver.serial(&reply);
            }
            2 => {
                let mut line = bytes.to_vec();
                line.extend_from_slice(b"\r\n");
                driver.serial(&line);
            }
            3 => driver.serial(format!("+EVT:RXP2P:-37:11:{}\r\n", hex_encode(bytes)).as_bytes()),
            4 => driver.serial(b"+EVT:TXP2P DONE\r\n"),
            5 => driver.fire_timer(number(bytes)),
            6 => driver.transmit(bytes),
            7 => driver.port(bytes.first().is_some_and(|b| b % 2 == 0)),
            8 => driver.command(if bytes.first().is_some_and(|b| b % 2 == 0) { "status" } else { "resync" }, ""),
            _ => driver.swap(&config),
        }
    }
});
