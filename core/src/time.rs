//! Points in time, typed by clock and unit.
//!
//! The core never reads a clock: every input carries the current time. Three
//! clocks reach it, and a bare `u64` would let them mix:
//!
//! - [`Millis`]: the node's monotonic clock in milliseconds (routing,
//!   sessions, plugin timers). Zero is the node's start, or a simulation's.
//! - [`Micros`]: the same monotonic clock in microseconds, for radio links,
//!   where airtime and duty cycle need the finer unit.
//! - [`UnixMillis`]: wall-clock milliseconds since the Unix epoch, for what
//!   outlives a process (held packets' expiry, boot times in resets).
//!
//! Durations stay plain `u64` named with their unit (`ttl_ms`, `airtime_us`);
//! a point plus a duration is a point ([`Millis::after_ms`]), the distance
//! between two points is a duration ([`Millis::ms_since`]). All arithmetic
//! saturates: times come from clocks and from the wire, and neither may panic
//! the node or wrap around.
//!
//! Owns: these three types. Must not: read a clock.

use core::fmt;

macro_rules! time_point {
    ($(#[$doc:meta])* $name:ident, $unit:literal, $new:ident, $get:ident, $after:ident, $before:ident, $since:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u64);

        impl $name {
            /// The clock's origin.
            pub const ZERO: $name = $name(0);
            /// The latest representable time; "never" for deadlines.
            pub const MAX: $name = $name(u64::MAX);

            #[doc = concat!("The point `", $unit, "` units after the origin.")]
            pub const fn $new(value: u64) -> $name {
                $name(value)
            }

            #[doc = concat!("This point as ", $unit, " since the origin.")]
            pub const fn $get(self) -> u64 {
                self.0
            }

            #[doc = concat!("The point `duration` ", $unit, " later (saturating).")]
            #[must_use]
            pub const fn $after(self, duration: u64) -> $name {
                $name(self.0.saturating_add(duration))
            }

            #[doc = concat!("The point `duration` ", $unit, " earlier (saturating at the origin).")]
            #[must_use]
            pub const fn $before(self, duration: u64) -> $name {
                $name(self.0.saturating_sub(duration))
            }

            #[doc = concat!("How many ", $unit, " passed since `earlier`; zero if `earlier` is later.")]
            pub const fn $since(self, earlier: $name) -> u64 {
                self.0.saturating_sub(earlier.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $unit)
            }
        }
    };
}

time_point!(
    /// A point on the node's monotonic clock, in milliseconds.
    Millis, "ms", from_ms, as_ms, after_ms, before_ms, ms_since
);

time_point!(
    /// A point on the node's monotonic clock, in microseconds (radio links).
    Micros, "µs", from_us, as_us, after_us, before_us, us_since
);

time_point!(
    /// Wall-clock milliseconds since the Unix epoch.
    UnixMillis, "ms since 1970", from_unix_ms, as_unix_ms, after_ms, before_ms, ms_since
);

impl Millis {
    /// The same point in microseconds (saturating).
    pub const fn to_micros(self) -> Micros {
        Micros(self.0.saturating_mul(1000))
    }
}

impl Micros {
    /// The same point in whole milliseconds (rounded down).
    pub const fn to_millis(self) -> Millis {
        Millis(self.0 / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Millis::MAX.after_ms(1), Millis::MAX);
        assert_eq!(Millis::from_ms(5).before_ms(9), Millis::ZERO);
        assert_eq!(Millis::from_ms(5).ms_since(Millis::from_ms(9)), 0);
        assert_eq!(Millis::from_ms(9).ms_since(Millis::from_ms(5)), 4);
        assert_eq!(Micros::MAX.after_us(u64::MAX), Micros::MAX);
        assert_eq!(Millis::MAX.to_micros(), Micros::MAX);
    }

    #[test]
    fn units_convert_between_the_two_monotonic_types() {
        assert_eq!(Millis::from_ms(1_500).to_micros(), Micros::from_us(1_500_000));
        assert_eq!(Micros::from_us(1_500_999).to_millis(), Millis::from_ms(1_500));
        assert_eq!(Millis::from_ms(3).to_string(), "3 ms");
    }
}
