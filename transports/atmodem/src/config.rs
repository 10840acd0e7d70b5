//! The driver's configuration.
//!
//! Owns: the config keys, their defaults and their validation. The table is
//! flat: the [`LoraParams`] fields plus this driver's extras. Any problem is
//! an `init` error naming the key.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `frequency_hz`, `bandwidth_hz`, `spreading_factor`, `coding_rate`, `tx_power_dbm`, `preamble_symbols` | [`LoraParams::default`] | the radio settings; `bandwidth_hz` must be 125000, 250000 or 500000 |
//! | `crc`, `implicit_header` | `true`, `false` | accepted for completeness; the modem only does these |
//! | `rnode_compatible` | `true` | put RNode's 1-byte header on air, so RNodes on the channel understand us (MTU 254) |
//! | `command_timeout_ms` | 1000 | how long the modem may take to answer one command |

use crate::at::P2p;
use weft_plugin_api::config_table::{ConfigError, Table};
use weft_plugin_api::radio::LoraParams;

/// The keys this driver reads besides the LoRa settings ([`LoraParams::KEYS`]).
pub const KEYS: &[&str] = &["rnode_compatible", "command_timeout_ms"];

/// Largest packet of one `AT+PSEND`.
pub const MODEM_MTU: u16 = 255;

/// The validated configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// The radio settings.
    pub radio: LoraParams,
    /// The same settings as the modem's `AT+P2P` takes them.
    pub p2p: P2p,
    /// Speak RNode's on-air framing.
    pub rnode_compatible: bool,
    /// How long one command may take, ms.
    pub command_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        let radio = LoraParams::default();
        Config {
            radio,
            // The defaults are within what AT+P2P takes.
            p2p: P2p::from_params(&radio).unwrap_or(P2p::FALLBACK),
            rnode_compatible: true,
            command_timeout_ms: 1_000,
        }
    }
}

impl Config {
    /// Parses and validates the CBOR config table.
    pub fn from_cbor(cbor: &[u8]) -> Result<Config, ConfigError> {
        let mut t = Table::decode(cbor)?;
        let d = Config::default();
        let radio = LoraParams::take_from(&mut t)?;
        if !radio.crc {
            return Err(ConfigError::invalid("crc", "the modem always sends a CRC in P2P mode; only true is possible"));
        }
        if radio.implicit_header {
            return Err(ConfigError::invalid(
                "implicit_header",
                "the modem uses explicit headers; only false is possible",
            ));
        }
        let config = Config {
            radio,
            p2p: P2p::from_params(&radio)?,
            rnode_compatible: t.bool("rnode_compatible")?.unwrap_or(d.rnode_compatible),
            command_timeout_ms: t.int("command_timeout_ms")?.unwrap_or(d.command_timeout_ms),
        };
        if !(50..=60_000).contains(&config.command_timeout_ms) {
            return Err(ConfigError::invalid(
                "command_timeout_ms",
                format!("{} is outside 50..=60000", config.command_timeout_ms),
            ));
        }
        t.finish(&[LoraParams::KEYS, KEYS].concat())?;
        Ok(config)
    }

    /// The largest frame the host may hand over: one byte less with the
    /// RNode header.
    pub fn mtu(&self) -> u16 {
        if self.rnode_compatible { MODEM_MTU - 1 } else { MODEM_MTU }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use weft_plugin_api::internal::codec;

    fn parse(pairs: &[(&str, i64)]) -> Result<Config, ConfigError> {
        let map: BTreeMap<&str, i64> = pairs.iter().copied().collect();
        Config::from_cbor(&codec::encode(&map).unwrap())
    }

    #[test]
    fn defaults_and_errors_naming_the_key() {
        let c = Config::from_cbor(&[]).unwrap();
        assert_eq!((c.mtu(), c.command_timeout_ms, c.p2p.bandwidth_khz), (254, 1000, 125));
        assert_eq!(parse(&[("bandwidth_hz", 250_000)]).unwrap().p2p.bandwidth_khz, 250);
        for (pairs, key) in [
            (vec![("bandwidth_hz", 62_500)], "`bandwidth_hz`"),
            (vec![("coding_rate", 9)], "`coding_rate`"),
            (vec![("command_timeout_ms", 1)], "`command_timeout_ms`"),
            (vec![("tx_power_dbm", 300)], "`tx_power_dbm`"),
            (vec![("baud", 9600)], "`baud`"),
        ] {
            let err = parse(&pairs).unwrap_err().to_string();
            assert!(err.contains(key), "{err} should name {key}");
        }
    }
}
