//! What the driver counts, and the `status` command's JSON.
//!
//! Owns: [`Counters`] (carried across hot swaps in the state blob) and a
//! minimal JSON object writer, so the driver needs no JSON library.

use crate::session::Stats;
use serde::{Deserialize, Serialize};
use std::fmt::{Display, Write};

/// The driver's counters. The session's, the line reader's and the
/// joiner's own counts are gathered into this when it is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Frames the modem sent (TXP2P DONE).
    pub frames_tx: u64,
    /// Frames received and delivered.
    pub frames_rx: u64,
    /// Transmits reported `ok = false`.
    pub tx_failed: u64,
    /// Transmits refused for their size (empty or over the MTU).
    pub tx_rejected: u64,
    /// Times the modem printed its boot banner.
    pub resets: u64,
    /// The session's counters.
    pub session: Stats,
    /// Lines over the length cap.
    pub overlong_lines: u64,
    /// Lines the driver did not understand.
    pub unrecognised_lines: u64,
    /// Received payloads that were not valid hex.
    pub bad_hex: u64,
    /// Received frames with nothing to deliver.
    pub empty_frames: u64,
    /// RNode-compatible mode: packets joined from two halves.
    pub joined: u64,
    /// RNode-compatible mode: halves dropped without their partner.
    pub dropped_halves: u64,
}

/// Builds one JSON object.
pub struct Json {
    out: String,
    empty: bool,
}

impl Default for Json {
    fn default() -> Self {
        Json { out: "{".to_string(), empty: true }
    }
}

impl Json {
    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        push_string(&mut self.out, key);
        self.out.push(':');
    }

    /// A string member.
    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.out, value);
        self
    }

    /// A number member (`value` must display as a JSON number).
    pub fn num(mut self, key: &str, value: impl Display) -> Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A number member, or null.
    pub fn opt_num(self, key: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(v) => self.num(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// A boolean member.
    pub fn bool(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A member whose value is already JSON (another object, null).
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_nests() {
        let inner = Json::default().num("a", 1).finish();
        let json = Json::default().str("s", "q\"\\\n\u{1}").raw("o", &inner).opt_num("n", None::<u8>).finish();
        assert_eq!(json, r#"{"s":"q\"\\\n\u0001","o":{"a":1},"n":null}"#);
    }
}
