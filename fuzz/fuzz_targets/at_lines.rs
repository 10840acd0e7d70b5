//! AT modem lines (`weft_driver_atmodem`): `line::LineReader` splitting
//! serial bytes into lines, `at::classify` on each line, and the parsers it
//! uses (`P2p::parse`, `Release::find_in`, the hex codec).
//!
//! Properties: no panic; lines are non-empty, trimmed and at most
//! `MAX_LINE` bytes; settings that parse print back (`to_text`) to text
//! that parses to the same settings (for the bandwidths the driver uses); a received packet's hex decodes to
//! bytes that encode back to the same digits (any case).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_driver_atmodem::at::{BANDWIDTHS_KHZ, Line, P2p, Release, classify};
use weft_driver_atmodem::line::{LineReader, MAX_LINE};
use weft_plugin_api::hex::{decode as hex_decode, encode_upper as hex_encode};

fn check_line(line: &str) {
    match classify(line) {
        // Only the bandwidths the driver configures print back unambiguously:
        // a narrow one reported by index (3 = 7.8 kHz) reads as its whole kHz
        // (7), which as a field is an index again (7 = 31.25 kHz).
        Line::Settings(p2p) if BANDWIDTHS_KHZ.contains(&p2p.bandwidth_khz) => {
            let text = format!("AT+P2P={}", p2p.to_text());
            assert_eq!(P2p::parse(&text), Some(p2p), "{line:?} -> {text:?}");
        }
        Line::Received { hex, .. } => {
            if let Some(bytes) = hex_decode(hex) {
                assert_eq!(hex_encode(&bytes), hex.to_ascii_uppercase());
            }
        }
        _ => {}
    }
    let _ = Release::find_in(line);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_line(text);
    }
    let mut reader = LineReader::default();
    for chunk in data.chunks(7) {
        for line in reader.push(chunk) {
            assert!(!line.is_empty() && line.len() <= MAX_LINE * 3, "line of {} bytes", line.len());
            assert_eq!(line.trim(), line);
            check_line(&line);
        }
    }
});
