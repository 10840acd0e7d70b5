//! The driver's configuration.
//!
//! Owns: the config keys, their defaults and their validation. The table is
//! flat: the [`LoraParams`] fields plus this driver's extras. Any problem is
//! an `init` error naming the key.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `frequency_hz`, `bandwidth_hz`, `spreading_factor`, `coding_rate`, `tx_power_dbm`, `preamble_symbols` | [`LoraParams::default`] | the radio settings |
//! | `crc`, `implicit_header` | `true`, `false` | accepted for completeness; RNode firmware only does these |
//! | `flow_control` | `true` | after each DATA frame, poll READY until the modem confirms it |
//! | `detect_retry_ms` | 500 | resend the detect burst this often until the RNode answers |
//! | `detect_attempts` | 10 | give up (link down) after this many unanswered bursts |
//! | `st_alock_percent`, `lt_alock_percent` | not sent | short/long-term airtime limit, percent (0.01..=100) |
//!
//! RNode firmware has no preamble command (it picks the preamble itself), so
//! `preamble_symbols` is what the host assumes for airtime until the modem
//! reports its own in a STAT_PHYPRM frame.

use weft_plugin_api::config_table::{ConfigError, Table};
use weft_plugin_api::radio::LoraParams;

/// The keys this driver reads besides the LoRa settings ([`LoraParams::KEYS`]).
pub const KEYS: &[&str] =
    &["flow_control", "detect_retry_ms", "detect_attempts", "st_alock_percent", "lt_alock_percent"];

/// The validated configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The radio settings to apply.
    pub radio: LoraParams,
    /// Confirm each transmitted frame with READY polls.
    pub flow_control: bool,
    /// Interval between detect bursts, ms.
    pub detect_retry_ms: u64,
    /// Detect bursts before giving up.
    pub detect_attempts: u32,
    /// Short-term airtime limit as sent to the modem (percent x 100).
    pub st_alock: Option<u16>,
    /// Long-term airtime limit as sent to the modem (percent x 100).
    pub lt_alock: Option<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            radio: LoraParams::default(),
            flow_control: true,
            detect_retry_ms: 500,
            detect_attempts: 10,
            st_alock: None,
            lt_alock: None,
        }
    }
}

impl Config {
    /// Parses and validates the CBOR config table.
    pub fn from_cbor(cbor: &[u8]) -> Result<Config, ConfigError> {
        let mut t = Table::decode(cbor)?;
        let d = Config::default();
        let radio = LoraParams::take_from(&mut t)?;
        if radio.tx_power_dbm < 0 {
            return Err(ConfigError::invalid(
                "tx_power_dbm",
                format!("{} dBm cannot be sent to an RNode (it takes 0 dBm and up)", radio.tx_power_dbm),
            ));
        }
        if !radio.crc {
            return Err(ConfigError::invalid("crc", "RNode firmware always sends a CRC; only true is possible"));
        }
        if radio.implicit_header {
            return Err(ConfigError::invalid(
                "implicit_header",
                "RNode firmware uses explicit headers; only false is possible",
            ));
        }
        let config = Config {
            radio,
            flow_control: t.bool("flow_control")?.unwrap_or(d.flow_control),
            detect_retry_ms: t.int("detect_retry_ms")?.unwrap_or(d.detect_retry_ms),
            detect_attempts: t.int("detect_attempts")?.unwrap_or(d.detect_attempts),
            st_alock: alock(&mut t, "st_alock_percent")?,
            lt_alock: alock(&mut t, "lt_alock_percent")?,
        };
        if !(10..=60_000).contains(&config.detect_retry_ms) {
            return Err(ConfigError::invalid(
                "detect_retry_ms",
                format!("{} is outside 10..=60000", config.detect_retry_ms),
            ));
        }
        if config.detect_attempts == 0 {
            return Err(ConfigError::invalid("detect_attempts", "must be at least 1"));
        }
        t.finish(&[LoraParams::KEYS, KEYS].concat())?;
        Ok(config)
    }
}

/// An airtime limit in percent, as the u16 (percent x 100) the modem takes.
fn alock(t: &mut Table, key: &str) -> Result<Option<u16>, ConfigError> {
    let Some(percent) = t.number(key)? else { return Ok(None) };
    if !(0.01..=100.0).contains(&percent) {
        return Err(ConfigError::invalid(key, format!("{percent} is outside 0.01..=100 (percent)")));
    }
    Ok(Some((percent * 100.0).round() as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use weft_plugin_api::internal::codec;

    fn parse<V: serde::Serialize>(pairs: &[(&str, V)]) -> Result<Config, ConfigError> {
        let map: BTreeMap<&str, &V> = pairs.iter().map(|(k, v)| (*k, v)).collect();
        Config::from_cbor(&codec::encode(&map).unwrap())
    }

    #[test]
    fn defaults_and_extras() {
        assert_eq!(Config::from_cbor(&[]), Ok(Config::default()));
        let c = parse(&[("st_alock_percent", 12.5), ("lt_alock_percent", 1.0)]).unwrap();
        assert_eq!((c.st_alock, c.lt_alock), (Some(1250), Some(100)));
        let c = parse(&[("spreading_factor", 9u32), ("detect_attempts", 3)]).unwrap();
        assert_eq!((c.radio.spreading_factor, c.detect_attempts), (9, 3));
    }

    #[test]
    fn every_error_names_its_key() {
        let cases: &[(Result<Config, ConfigError>, &str)] = &[
            (parse(&[("spreading_factor", 13u32)]), "`spreading_factor`"),
            (parse(&[("bandwidth_hz", 100_000u32)]), "`bandwidth_hz`"),
            (parse(&[("frequency_hz", -1i64)]), "`frequency_hz`"),
            (parse(&[("tx_power_dbm", -3i64)]), "`tx_power_dbm`"),
            (parse(&[("detect_attempts", 0u32)]), "`detect_attempts`"),
            (parse(&[("st_alock_percent", 250.0)]), "`st_alock_percent`"),
            (parse(&[("flow_control", 1u32)]), "`flow_control`"),
            (parse(&[("crc", false)]), "`crc`"),
            (parse(&[("frequncy_hz", 1u32)]), "`frequncy_hz`"),
        ];
        for (result, key) in cases {
            let err = result.as_ref().unwrap_err().to_string();
            assert!(err.contains(key), "{err:?} should name {key}");
        }
    }
}
