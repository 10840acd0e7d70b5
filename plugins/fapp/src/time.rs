//! Wall-clock times as FAPP writes them: whole minutes since the Unix epoch
//! on the wire, `YYYY-MM-DDTHH:MMZ` (UTC) for people.
//!
//! Owns: parsing and printing those texts ([`parse_minutes`],
//! [`format_minutes`]). A plugin has no time-zone database, so everything
//! shown is UTC; inputs may carry a `+HH:MM` / `-HH:MM` offset.

/// Converts a civil date to days since 1970-01-01 (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Converts days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(text: &str, what: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} {text:?}"));
    }
    text.parse().map_err(|_| format!("bad {what} {text:?}"))
}

/// Parses `YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]` (a space may replace the
/// `T`; no offset means UTC) into minutes since the epoch. Seconds must be 0.
pub fn parse_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("bad time {text:?}: expected YYYY-MM-DDTHH:MM[Z|+HH:MM] (UTC unless an offset is given)");
    let text = text.trim();
    let (date, rest) = text.split_once(['T', ' ']).ok_or_else(bad)?;
    let mut parts = date.split('-');
    let (Some(y), Some(mo), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (year, month, day) = (number(y, "year")? as i64, number(mo, "month")?, number(d, "day")?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad());
    }
    // Split off the offset.
    let (clock, offset_minutes) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, 0i64)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (clock, offset) = rest.split_at(pos);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':').ok_or_else(bad)?;
        let (h, m) = (number(h, "offset")?, number(m, "offset")?);
        if h > 14 || m > 59 {
            return Err(bad());
        }
        (clock, sign * (h as i64 * 60 + m as i64))
    } else {
        (rest, 0)
    };
    let mut fields = clock.split(':');
    let (Some(h), Some(m)) = (fields.next(), fields.next()) else { return Err(bad()) };
    let seconds = fields.next().map(|s| number(s, "seconds")).transpose()?.unwrap_or(0);
    if fields.next().is_some() || seconds != 0 {
        return Err(format!("{}; slots start on whole minutes", bad()));
    }
    let (hour, minute) = (number(h, "hour")?, number(m, "minute")?);
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    let minutes = days_from_civil(year, month, day) * 1440 + hour as i64 * 60 + minute as i64 - offset_minutes;
    u32::try_from(minutes).map_err(|_| bad())
}

/// Prints minutes since the epoch as `YYYY-MM-DDTHH:MMZ`.
pub fn format_minutes(minutes: u32) -> String {
    let days = (minutes / 1440) as i64;
    let rem = minutes % 1440;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}Z", rem / 60, rem % 60)
}

/// Prints seconds since the epoch the same way (to the minute, rounded down).
pub fn format_seconds(seconds: u64) -> String {
    format_minutes(u32::try_from(seconds / 60).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let m = parse_minutes("2026-06-01T09:00Z").unwrap();
        assert_eq!(m as u64 * 60, 1_780_304_400);
        assert_eq!(format_minutes(m), "2026-06-01T09:00Z");
        assert_eq!(parse_minutes("2026-06-01 11:00+02:00"), Ok(m));
        assert_eq!(parse_minutes("2026-06-01T09:00:00"), Ok(m));
        assert_eq!(format_minutes(parse_minutes("2024-02-29T23:59Z").unwrap()), "2024-02-29T23:59Z");
        assert_eq!(format_minutes(0), "1970-01-01T00:00Z");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in
            ["", "2026-13-01T09:00Z", "2026-02-30T09:00Z", "2026-06-01T24:00Z", "2026-06-01T09:00:30Z", "tomorrow"]
        {
            assert!(parse_minutes(bad).is_err(), "{bad}");
        }
    }
}
