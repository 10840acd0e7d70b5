//! Duty cycle: how much a radio may transmit in any rolling hour.
//!
//! Owns: the EU868 sub-band table ([`SubBand`], ETSI EN 300 220 / ERC 70-03)
//! and [`DutyCycle`], one sub-band's ledger of transmissions over the last
//! hour. The ledger answers "when may a frame of this airtime start?" so the
//! TX queue can hold frames back (never drop them) until the budget allows.
//! Sans-IO: times are microseconds on a clock the caller owns.
//!
//! Rule: a frame may start at `t` only if the airtime of every transmission
//! that ends after `t - 1 h`, plus its own, fits the budget. That bounds the
//! airtime inside every one-hour window, whichever window is looked at: the
//! last frame to start in a window checked all the others that overlap it.

use crate::time::Micros;
use std::collections::VecDeque;

/// One hour, in microseconds.
pub const HOUR_US: u64 = 3_600_000_000;

/// An EU868 sub-band with its duty-cycle limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubBand {
    /// Name used in logs and metrics (`g1`, ...).
    pub name: &'static str,
    /// Lowest frequency, Hz (inclusive).
    pub low_hz: u32,
    /// Highest frequency, Hz (inclusive).
    pub high_hz: u32,
    /// Limit in parts per million of the hour (1 % = 10,000).
    pub duty_ppm: u32,
}

/// EU868 sub-bands (lora-radio.md section 4).
pub const EU868: [SubBand; 4] = [
    SubBand { name: "g", low_hz: 863_000_000, high_hz: 865_000_000, duty_ppm: 1_000 },
    SubBand { name: "g1", low_hz: 868_000_000, high_hz: 868_600_000, duty_ppm: 10_000 },
    SubBand { name: "g2", low_hz: 868_700_000, high_hz: 869_200_000, duty_ppm: 1_000 },
    SubBand { name: "g3", low_hz: 869_400_000, high_hz: 869_650_000, duty_ppm: 100_000 },
];

impl SubBand {
    /// The EU868 sub-band holding `frequency_hz`, if any.
    pub fn eu868(frequency_hz: u32) -> Option<SubBand> {
        EU868.into_iter().find(|b| (b.low_hz..=b.high_hz).contains(&frequency_hz))
    }

    /// Airtime allowed per rolling hour, microseconds.
    pub fn budget_us(&self) -> u64 {
        HOUR_US / 1_000_000 * u64::from(self.duty_ppm)
    }
}

/// When a frame may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clearance {
    /// Now.
    Now,
    /// Not before this time: the budget is spent until then.
    At(Micros),
    /// Never: the frame alone needs more airtime than an hour allows.
    Never,
}

/// The transmissions of the last hour on one sub-band.
#[derive(Debug, Clone)]
pub struct DutyCycle {
    budget_us: u64,
    /// (end, airtime µs), oldest first.
    sent: VecDeque<(Micros, u64)>,
    /// Sum of the airtimes in `sent`.
    in_window_us: u64,
}

impl DutyCycle {
    /// A ledger allowing `budget_us` of airtime per rolling hour.
    pub fn new(budget_us: u64) -> Self {
        Self { budget_us, sent: VecDeque::new(), in_window_us: 0 }
    }

    /// The ledger of `band`.
    pub fn for_band(band: SubBand) -> Self {
        Self::new(band.budget_us())
    }

    /// Airtime allowed per rolling hour, µs.
    pub fn budget_us(&self) -> u64 {
        self.budget_us
    }

    fn forget_before(&mut self, now: Micros) {
        while let Some(&(end, airtime)) = self.sent.front() {
            if end.after_us(HOUR_US) > now {
                break;
            }
            self.sent.pop_front();
            self.in_window_us -= airtime;
        }
    }

    /// Airtime counted against the budget at `now`, µs.
    pub fn used_us(&mut self, now: Micros) -> u64 {
        self.forget_before(now);
        self.in_window_us
    }

    /// Airtime still available at `now`, µs.
    pub fn available_us(&mut self, now: Micros) -> u64 {
        self.budget_us.saturating_sub(self.used_us(now))
    }

    /// When a frame of `airtime_us` may start, asked at `now`.
    pub fn clearance(&mut self, now: Micros, airtime_us: u64) -> Clearance {
        if airtime_us > self.budget_us {
            return Clearance::Never;
        }
        self.forget_before(now);
        let mut counted = self.in_window_us;
        if counted + airtime_us <= self.budget_us {
            return Clearance::Now;
        }
        // Drop the oldest transmissions one by one until the frame fits:
        // the frame may start once the last dropped one left the window.
        for &(end, airtime) in &self.sent {
            counted -= airtime;
            if counted + airtime_us <= self.budget_us {
                return Clearance::At(end.after_us(HOUR_US).max(now));
            }
        }
        Clearance::At(now) // unreachable: an empty ledger fits any allowed frame
    }

    /// Records a transmission that started at `start` and lasts `airtime_us`.
    pub fn record(&mut self, start: Micros, airtime_us: u64) {
        self.sent.push_back((start.after_us(airtime_us), airtime_us));
        self.in_window_us += airtime_us;
    }

    /// Takes back a transmission [`DutyCycle::record`]ed with the same
    /// arguments that never went on air (the driver reported it failed).
    /// Returns whether it was still in the window (an entry that already
    /// left the hour costs nothing any more).
    pub fn refund(&mut self, start: Micros, airtime_us: u64) -> bool {
        let entry = (start.after_us(airtime_us), airtime_us);
        // The newest entries are the likely ones: search from the back.
        let Some(index) = self.sent.iter().rposition(|&e| e == entry) else { return false };
        self.sent.remove(index);
        self.in_window_us -= airtime_us;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu868_sub_bands_and_their_budgets() {
        assert_eq!(SubBand::eu868(868_100_000).map(|b| b.name), Some("g1"));
        assert_eq!(SubBand::eu868(868_100_000).map(|b| b.budget_us()), Some(36_000_000), "1 % is 36 s an hour");
        assert_eq!(SubBand::eu868(869_525_000).map(|b| b.budget_us()), Some(360_000_000));
        assert_eq!(SubBand::eu868(868_900_000).map(|b| b.budget_us()), Some(3_600_000));
        assert_eq!(SubBand::eu868(864_000_000).map(|b| b.name), Some("g"));
        assert_eq!(SubBand::eu868(915_000_000), None);
        assert_eq!(SubBand::eu868(868_650_000), None, "between g1 and g2");
    }

    #[test]
    fn a_refunded_transmission_frees_its_airtime_once() {
        let mut ledger = DutyCycle::new(1_000);
        ledger.record(Micros::ZERO, 400);
        ledger.record(Micros::from_us(10), 400);
        assert!(ledger.refund(Micros::from_us(10), 400));
        assert_eq!(ledger.used_us(Micros::from_us(20)), 400);
        assert!(!ledger.refund(Micros::from_us(10), 400), "refunded twice");
        assert!(!ledger.refund(Micros::from_us(5), 400), "never recorded");
        assert_eq!(ledger.clearance(Micros::from_us(20), 600), Clearance::Now);
    }

    #[test]
    fn a_spent_budget_clears_when_the_oldest_frames_leave_the_hour() {
        let mut ledger = DutyCycle::new(1_000);
        assert_eq!(ledger.clearance(Micros::ZERO, 400), Clearance::Now);
        ledger.record(Micros::ZERO, 400);
        ledger.record(Micros::from_us(10_000), 400);
        assert_eq!(ledger.available_us(Micros::from_us(20_000)), 200);
        // 400 more needs the first frame (ended at 400) out of the window.
        assert_eq!(ledger.clearance(Micros::from_us(20_000), 400), Clearance::At(Micros::from_us(400 + HOUR_US)));
        assert_eq!(ledger.clearance(Micros::from_us(400 + HOUR_US), 400), Clearance::Now);
        // 700 needs both gone.
        assert_eq!(ledger.clearance(Micros::from_us(20_000), 700), Clearance::At(Micros::from_us(10_400 + HOUR_US)));
        assert_eq!(ledger.clearance(Micros::ZERO, 1_001), Clearance::Never);
    }

    /// Offers frames back to back for a simulated hour and more, starting
    /// each as early as the ledger allows; then checks every one-hour window
    /// that starts or ends at a frame edge (where the maximum lies).
    #[test]
    fn full_offered_load_for_hours_never_exceeds_the_budget_in_any_window() {
        let band = SubBand::eu868(868_100_000).unwrap();
        let mut ledger = DutyCycle::for_band(band);
        let params = weft_plugin_api::radio::LoraParams::default();
        let mut now = 0u64;
        let mut sent: Vec<(u64, u64)> = Vec::new();
        let mut rng = 7u64;
        let mut offered = 0;
        while now < 3 * HOUR_US {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let airtime = params.time_on_air_us(10 + (rng >> 56) as usize % 245);
            offered += 1;
            let start = match ledger.clearance(Micros::from_us(now), airtime) {
                Clearance::Now => now,
                Clearance::At(t) => t.as_us(),
                Clearance::Never => panic!("a LoRa frame always fits 1 %"),
            };
            assert!(start >= now);
            ledger.record(Micros::from_us(start), airtime);
            sent.push((start, start + airtime));
            now = start + airtime; // the radio is busy until the frame ends
        }
        assert_eq!(sent.len(), offered, "every offered frame was sent: held, never dropped");
        let used_in =
            |from: u64, to: u64| -> u64 { sent.iter().map(|&(s, e)| e.min(to).saturating_sub(s.max(from))).sum() };
        let mut worst = 0;
        for &(s, e) in &sent {
            worst = worst.max(used_in(s, s + HOUR_US)).max(used_in(e.saturating_sub(HOUR_US), e));
        }
        assert!(worst <= band.budget_us(), "{worst} µs in one hour, budget {}", band.budget_us());
        assert!(worst > band.budget_us() * 99 / 100, "the budget is used, not wasted: {worst}");
    }
}
