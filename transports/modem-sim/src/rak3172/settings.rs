//! The P2P radio settings of the emulated RAK3172 as `AT+P2P` takes and
//! prints them, including the two ways releases write the bandwidth.
//!
//! Owns: [`P2pSettings`], [`BandwidthForm`] and the parsing of command
//! arguments. RUI3 releases differ in the `bw` field (RAK's source,
//! `mode/cli/atcmd_p2p.c` and the `AT+PBW` help in `atcmd.c`):
//!
//! - 3.2.0 to 3.4.x: kHz, only 125, 250 and 500 ([`BandwidthForm::Khz`]);
//! - 3.5.0b, 3.5.1, 3.5.3, 3.5.5: an index 0..=9 only ([`BandwidthForm::IndexOnly`]);
//! - 3.5.1b and later, all 4.x and 5.x: an index, with 125, 250 and 500
//!   accepted as aliases of 0, 1 and 2; always printed as the index
//!   ([`BandwidthForm::Index`]).

use weft_plugin_api::radio::LoraParams;

/// Bandwidth of each index, Hz: 0..=2 are 125, 250 and 500 kHz, 3..=9 the
/// narrow ones (7.8 to 62.5 kHz).
pub const BANDWIDTH_INDEX_HZ: [u32; 10] =
    [125_000, 250_000, 500_000, 7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500];

/// How a release writes and reads the bandwidth field of `AT+P2P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BandwidthForm {
    /// kHz (125, 250, 500), in and out.
    Khz,
    /// An index (0..=9), in and out.
    IndexOnly,
    /// An index or 125/250/500 in; the index out (current releases).
    #[default]
    Index,
}

impl BandwidthForm {
    /// The bandwidth a `bw` field means, Hz; `None` if this form refuses it.
    fn read(self, field: u32) -> Option<u32> {
        let khz = [125, 250, 500].contains(&field).then_some(field * 1000);
        let index = usize::try_from(field).ok().and_then(|i| BANDWIDTH_INDEX_HZ.get(i).copied());
        match self {
            BandwidthForm::Khz => khz,
            BandwidthForm::IndexOnly => index,
            BandwidthForm::Index => index.or(khz),
        }
    }

    /// The `bw` field printed for `bandwidth_hz`.
    fn write(self, bandwidth_hz: u32) -> u32 {
        match self {
            BandwidthForm::Khz => bandwidth_hz / 1000,
            BandwidthForm::IndexOnly | BandwidthForm::Index => {
                BANDWIDTH_INDEX_HZ.iter().position(|&hz| hz == bandwidth_hz).unwrap_or(0) as u32
            }
        }
    }
}

/// P2P radio settings as `AT+P2P` sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2pSettings {
    /// Centre frequency, Hz.
    pub frequency_hz: u32,
    /// Spreading factor, 5..=12.
    pub spreading_factor: u8,
    /// Bandwidth, Hz (one of [`BANDWIDTH_INDEX_HZ`]).
    pub bandwidth_hz: u32,
    /// Coding rate index, 0..=3 for 4/5..4/8.
    pub coding_rate: u8,
    /// Preamble length, symbols.
    pub preamble: u16,
    /// TX power, dBm.
    pub tx_power_dbm: i8,
}

impl Default for P2pSettings {
    /// `868100000:7:125 kHz:0:8:14`.
    fn default() -> Self {
        P2pSettings {
            frequency_hz: 868_100_000,
            spreading_factor: 7,
            bandwidth_hz: 125_000,
            coding_rate: 0,
            preamble: 8,
            tx_power_dbm: 14,
        }
    }
}

impl P2pSettings {
    /// The same settings as [`LoraParams`].
    pub fn params(&self) -> LoraParams {
        LoraParams {
            frequency_hz: self.frequency_hz,
            bandwidth_hz: self.bandwidth_hz,
            spreading_factor: self.spreading_factor,
            coding_rate: self.coding_rate + 5,
            tx_power_dbm: self.tx_power_dbm,
            preamble_symbols: self.preamble,
            crc: true,
            implicit_header: false,
        }
    }

    /// `freq:sf:bw:cr:preamble:power`, as `AT+P2P=?` prints it in `form`.
    pub fn to_at(&self, form: BandwidthForm) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.frequency_hz,
            self.spreading_factor,
            form.write(self.bandwidth_hz),
            self.coding_rate,
            self.preamble,
            self.tx_power_dbm
        )
    }

    /// Parses `AT+P2P=` arguments; `None` when malformed or out of range.
    pub fn parse(arg: &str, max_power_dbm: i8, form: BandwidthForm) -> Option<P2pSettings> {
        let fields: Vec<&str> = arg.split(':').collect();
        let [freq, sf, bw, cr, preamble, power] = fields[..] else { return None };
        let settings = P2pSettings {
            frequency_hz: number(freq)?,
            spreading_factor: number(sf)?,
            bandwidth_hz: form.read(number(bw)?)?,
            coding_rate: number(cr)?,
            preamble: number(preamble)?,
            tx_power_dbm: number(power)?,
        };
        let ok = (150_000_000..=960_000_000).contains(&settings.frequency_hz)
            && (5..=12).contains(&settings.spreading_factor)
            && settings.coding_rate <= 3
            && settings.preamble >= 5
            && (super::MIN_POWER_DBM..=max_power_dbm.min(super::MAX_POWER_DBM)).contains(&settings.tx_power_dbm);
        ok.then_some(settings)
    }
}

/// Parses a plain decimal number (optional sign for signed types, nothing
/// else around it).
pub fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.starts_with('+') || !s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_form_reads_and_writes_its_own_bandwidth_field() {
        let parse = |arg, form| P2pSettings::parse(arg, 22, form).map(|s| s.bandwidth_hz);
        assert_eq!(parse("868100000:7:125:0:8:14", BandwidthForm::Khz), Some(125_000));
        assert_eq!(parse("868100000:7:0:0:8:14", BandwidthForm::Khz), None);
        assert_eq!(parse("868100000:7:125:0:8:14", BandwidthForm::IndexOnly), None);
        assert_eq!(parse("868100000:7:1:0:8:14", BandwidthForm::IndexOnly), Some(250_000));
        assert_eq!(parse("868100000:7:500:0:8:14", BandwidthForm::Index), Some(500_000));
        assert_eq!(parse("868100000:7:9:0:8:14", BandwidthForm::Index), Some(62_500));
        assert_eq!(parse("868100000:7:10:0:8:14", BandwidthForm::Index), None);
        let s = P2pSettings { bandwidth_hz: 250_000, ..P2pSettings::default() };
        assert_eq!(s.to_at(BandwidthForm::Khz), "868100000:7:250:0:8:14");
        assert_eq!(s.to_at(BandwidthForm::Index), "868100000:7:1:0:8:14");
    }
}
