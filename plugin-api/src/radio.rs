//! LoRa radio parameters and time on air, shared by the host (duty cycle,
//! fragmentation), driver plugins (what to configure on a modem) and the
//! virtual modem (how long a frame occupies the channel).
//!
//! Owns: [`LoraParams`], their validation, and the Semtech time-on-air
//! formula (SX1276/SX126x datasheets):
//!
//! ```text
//! Tsym     = 2^SF / BW
//! Tpre     = (Npreamble + 4.25) * Tsym
//! Npayload = 8 + max(ceil((8*PL - 4*SF + 28 + 16*CRC - 20*IH) / (4*(SF - 2*DE))) * (CR + 4), 0)
//! ToA      = Tpre + Npayload * Tsym
//! ```
//!
//! with `CR` 1..4 for 4/5..4/8 and `DE` (low data rate optimisation) on when
//! a symbol lasts 16 ms or more. Pure arithmetic: no I/O, no clock.

use serde::{Deserialize, Serialize};

/// The radio settings of one LoRa link. Both ends must match to hear each
/// other (frequency, bandwidth, spreading factor; coding rate is signalled in
/// the explicit header).
///
/// Missing fields take the [`Default`] values, so a driver config table only
/// names what differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraParams {
    /// Centre frequency, Hz.
    pub frequency_hz: u32,
    /// Bandwidth, Hz (7,800 .. 500,000; 125,000 is the usual).
    pub bandwidth_hz: u32,
    /// Spreading factor, 5..=12.
    pub spreading_factor: u8,
    /// Coding rate denominator, 5..=8 (5 means 4/5).
    pub coding_rate: u8,
    /// Transmit power, dBm.
    pub tx_power_dbm: i8,
    /// Preamble length, symbols (8 is the usual).
    pub preamble_symbols: u16,
    /// Whether frames carry the payload CRC (on for every Weft link).
    pub crc: bool,
    /// Implicit header mode (off for every Weft link).
    pub implicit_header: bool,
}

/// LoRa bandwidths the SX127x/SX126x chips offer, Hz.
pub const BANDWIDTHS_HZ: [u32; 10] = [7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500, 125_000, 250_000, 500_000];

/// The largest payload one LoRa frame carries, bytes.
pub const MAX_FRAME: usize = 255;

/// A setting outside what a LoRa radio can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct RadioParamError {
    /// The setting, as named in configs (`spreading_factor`, ...).
    pub setting: &'static str,
    /// What was wrong.
    pub message: String,
}

impl Default for LoraParams {
    /// EU868 g1, SF7, 125 kHz, CR 4/5, 14 dBm, 8-symbol preamble, CRC on.
    fn default() -> Self {
        LoraParams {
            frequency_hz: 868_100_000,
            bandwidth_hz: 125_000,
            spreading_factor: 7,
            coding_rate: 5,
            tx_power_dbm: 14,
            preamble_symbols: 8,
            crc: true,
            implicit_header: false,
        }
    }
}

impl LoraParams {
    /// Checks every setting against what the chips can do.
    pub fn validate(&self) -> Result<(), RadioParamError> {
        let error = |setting, message: String| Err(RadioParamError { setting, message });
        if !(5..=12).contains(&self.spreading_factor) {
            return error("spreading_factor", format!("{} is outside 5..=12", self.spreading_factor));
        }
        if !(5..=8).contains(&self.coding_rate) {
            return error(
                "coding_rate",
                format!("{} is outside 5..=8 (the denominator of 4/5..4/8)", self.coding_rate),
            );
        }
        if !BANDWIDTHS_HZ.contains(&self.bandwidth_hz) {
            return error(
                "bandwidth_hz",
                format!("{} Hz is not a LoRa bandwidth (one of {BANDWIDTHS_HZ:?})", self.bandwidth_hz),
            );
        }
        if !(137_000_000..=1_020_000_000).contains(&self.frequency_hz) {
            return error("frequency_hz", format!("{} Hz is outside 137..1020 MHz", self.frequency_hz));
        }
        if self.preamble_symbols < 6 {
            return error("preamble_symbols", format!("{} is below the minimum of 6", self.preamble_symbols));
        }
        Ok(())
    }

    /// The config keys [`LoraParams::take_from`] reads.
    pub const KEYS: &'static [&'static str] = &[
        "frequency_hz",
        "bandwidth_hz",
        "spreading_factor",
        "coding_rate",
        "tx_power_dbm",
        "preamble_symbols",
        "crc",
        "implicit_header",
    ];

    /// Takes the LoRa settings out of a driver's config table (missing keys
    /// keep the [`Default`] values) and validates them; errors name the key.
    /// The driver's own keys stay in the table for it to read.
    pub fn take_from(table: &mut crate::config_table::Table) -> Result<LoraParams, crate::config_table::ConfigError> {
        let d = LoraParams::default();
        let radio = LoraParams {
            frequency_hz: table.int("frequency_hz")?.unwrap_or(d.frequency_hz),
            bandwidth_hz: table.int("bandwidth_hz")?.unwrap_or(d.bandwidth_hz),
            spreading_factor: table.int("spreading_factor")?.unwrap_or(d.spreading_factor),
            coding_rate: table.int("coding_rate")?.unwrap_or(d.coding_rate),
            tx_power_dbm: table.int("tx_power_dbm")?.unwrap_or(d.tx_power_dbm),
            preamble_symbols: table.int("preamble_symbols")?.unwrap_or(d.preamble_symbols),
            crc: table.bool("crc")?.unwrap_or(d.crc),
            implicit_header: table.bool("implicit_header")?.unwrap_or(d.implicit_header),
        };
        radio.validate().map_err(|e| crate::config_table::ConfigError::invalid(e.setting, e.message))?;
        Ok(radio)
    }

    /// Duration of one symbol, microseconds (2^SF / BW).
    pub fn symbol_us(&self) -> f64 {
        (1u64 << self.spreading_factor.min(12)) as f64 * 1e6 / self.bandwidth_hz.max(1) as f64
    }

    /// Whether low data rate optimisation is on (symbols of 16 ms or more:
    /// SF11 and SF12 at 125 kHz).
    pub fn low_data_rate_optimize(&self) -> bool {
        self.symbol_us() >= 16_000.0
    }

    /// Time on air of one frame carrying `payload` bytes, microseconds
    /// (rounded up).
    pub fn time_on_air_us(&self, payload: usize) -> u64 {
        let sf = i64::from(self.spreading_factor.clamp(5, 12));
        let cr = i64::from(self.coding_rate.clamp(5, 8)) - 4;
        let de = i64::from(self.low_data_rate_optimize());
        let crc = i64::from(self.crc);
        let ih = i64::from(self.implicit_header);
        let numerator = 8 * payload as i64 - 4 * sf + 28 + 16 * crc - 20 * ih;
        let denominator = 4 * (sf - 2 * de);
        let blocks = if numerator > 0 { (numerator + denominator - 1) / denominator } else { 0 };
        let payload_symbols = 8 + blocks * (cr + 4);
        let symbols = f64::from(self.preamble_symbols) + 4.25 + payload_symbols as f64;
        (symbols * self.symbol_us()).ceil() as u64
    }

    /// Nominal bit rate, bits per second: (SF - 2*DE) * BW / 2^SF * 4 / CR
    /// (with low data rate optimisation each symbol carries two bits fewer).
    pub fn bitrate_bps(&self) -> f64 {
        let bits_per_symbol =
            f64::from(self.spreading_factor.clamp(5, 12)) - if self.low_data_rate_optimize() { 2.0 } else { 0.0 };
        bits_per_symbol * self.bandwidth_hz as f64 / (1u64 << self.spreading_factor.clamp(5, 12)) as f64 * 4.0
            / f64::from(self.coding_rate.clamp(5, 8))
    }

    /// Whether a receiver tuned to `other` hears frames sent with `self`:
    /// same spreading factor and bandwidth, and centre frequencies within a
    /// quarter of the bandwidth (the usual LoRa frequency-error tolerance).
    pub fn hears(&self, other: &LoraParams) -> bool {
        self.spreading_factor == other.spreading_factor
            && self.bandwidth_hz == other.bandwidth_hz
            && self.frequency_hz.abs_diff(other.frequency_hz) <= self.bandwidth_hz / 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sf: u8) -> LoraParams {
        LoraParams { spreading_factor: sf, ..LoraParams::default() }
    }

    #[test]
    fn time_on_air_matches_the_datasheet_check_values() {
        // (SF, payload bytes, milliseconds) at 125 kHz, CR 4/5, 8-symbol
        // preamble, explicit header, CRC on (lora-radio.md section 3).
        let cases = [
            (7, 10, 41.216),
            (11, 10, 577.536),
            (9, 12, 144.384),
            (7, 50, 97.5),
            (9, 50, 328.7),
            (12, 50, 2302.0),
            (7, 200, 317.7),
            (9, 200, 1004.5),
            (12, 200, 7217.2),
        ];
        for (sf, payload, ms) in cases {
            let got = at(sf).time_on_air_us(payload) as f64 / 1000.0;
            assert!((got - ms).abs() < 0.1, "SF{sf} {payload} B: {got} ms, expected {ms}");
        }
    }

    #[test]
    fn low_data_rate_optimisation_is_on_for_sf11_and_sf12_at_125_khz_only() {
        assert!(!at(10).low_data_rate_optimize());
        assert!(at(11).low_data_rate_optimize());
        assert!(at(12).low_data_rate_optimize());
        assert!(!LoraParams { bandwidth_hz: 250_000, ..at(11) }.low_data_rate_optimize());
    }

    #[test]
    fn nominal_bitrates_match_the_reference() {
        for (sf, bps) in [(7, 5470.0), (8, 3125.0), (9, 1760.0), (10, 980.0), (11, 440.0), (12, 250.0)] {
            let got = at(sf).bitrate_bps();
            // The reference rounds (SF12: 244 bit/s is listed as 250).
            assert!((got - bps).abs() / bps < 0.03, "SF{sf}: {got} bit/s, expected about {bps}");
        }
    }

    #[test]
    fn each_bad_setting_is_named() {
        let bad = [
            (LoraParams { spreading_factor: 13, ..LoraParams::default() }, "spreading_factor"),
            (LoraParams { coding_rate: 4, ..LoraParams::default() }, "coding_rate"),
            (LoraParams { bandwidth_hz: 100_000, ..LoraParams::default() }, "bandwidth_hz"),
            (LoraParams { frequency_hz: 2_400_000_000, ..LoraParams::default() }, "frequency_hz"),
            (LoraParams { preamble_symbols: 2, ..LoraParams::default() }, "preamble_symbols"),
        ];
        for (params, setting) in bad {
            assert_eq!(params.validate().unwrap_err().setting, setting);
        }
        assert_eq!(LoraParams::default().validate(), Ok(()));
    }

    #[test]
    fn settings_come_out_of_a_config_table_with_defaults_and_named_errors() {
        use crate::config_table::Table;
        let table = |pairs: &[(&str, i64)]| {
            let map: std::collections::BTreeMap<&str, i64> = pairs.iter().copied().collect();
            Table::decode(&crate::codec::encode(&map).expect("encode")).expect("table")
        };
        let mut t = table(&[("spreading_factor", 9), ("flow", 1)]);
        let params = LoraParams::take_from(&mut t).expect("valid");
        assert_eq!(params, LoraParams { spreading_factor: 9, ..LoraParams::default() });
        assert!(t.int::<i64>("flow").expect("still there").is_some(), "the driver's own keys stay");
        let err = LoraParams::take_from(&mut table(&[("spreading_factor", 13)])).unwrap_err();
        assert!(err.to_string().contains("`spreading_factor`"), "{err}");
    }

    #[test]
    fn only_matching_sf_bandwidth_and_frequency_hear_each_other() {
        let a = LoraParams::default();
        assert!(a.hears(&a));
        assert!(!a.hears(&at(8)), "a different spreading factor is not heard");
        assert!(!a.hears(&LoraParams { bandwidth_hz: 250_000, ..a }));
        assert!(!a.hears(&LoraParams { frequency_hz: 868_300_000, ..a }));
        assert!(a.hears(&LoraParams { frequency_hz: 868_100_100, tx_power_dbm: 2, coding_rate: 8, ..a }));
    }
}
