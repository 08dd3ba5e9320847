//! Civil time for people: the kiosks serve Czech cities, so times shown to citizens (status
//! page, kiosk screens, receipts) are in Central European time, CET (UTC+1) with summer time
//! CEST (UTC+2) by the EU rule: from the last Sunday of March to the last Sunday of October,
//! switching at 01:00 UTC. Pure arithmetic, no time-zone database.

use crate::UnixMillis;

/// A calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
}

/// Milliseconds since the Unix epoch now (0 on a clock before 1970).
pub fn now_ms() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as UnixMillis)
        .unwrap_or(0)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC civil time of a timestamp.
pub fn civil_utc(ms: UnixMillis) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs / 60 % 60) as u32,
    }
}

/// The timestamp of 01:00 UTC on the last Sunday of `month` in `year`.
fn last_sunday_0100_utc(year: i64, month: u32) -> UnixMillis {
    let last = days_from_civil(year, month, 31);
    let weekday = (last + 4).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Sunday
    (last - weekday) * 86_400_000 + 3_600_000
}

/// Minutes east of UTC in Czechia at `ms`: 120 in summer time, 60 otherwise.
pub fn czech_offset_minutes(ms: UnixMillis) -> i64 {
    let year = civil_utc(ms).year;
    let summer = last_sunday_0100_utc(year, 3) <= ms && ms < last_sunday_0100_utc(year, 10);
    if summer { 120 } else { 60 }
}

/// The civil time in Czechia at `ms`.
pub fn czech(ms: UnixMillis) -> Civil {
    civil_utc(ms + czech_offset_minutes(ms) * 60_000)
}

/// A length of time as `2 d 5 h 17 min` (uptimes).
pub fn days_hours_minutes(seconds: u64) -> String {
    format!(
        "{} d {} h {} min",
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60
    )
}

/// Czech form of the local time, `23. 11. 2026 20:34`.
pub fn format_czech(ms: UnixMillis) -> String {
    let c = czech(ms);
    format!(
        "{}. {}. {} {}:{:02}",
        c.day, c.month, c.year, c.hour, c.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn at(y: i64, m: u32, d: u32, h: i64) -> UnixMillis {
        days_from_civil(y, m, d) * 86_400_000 + h * H
    }

    #[test]
    fn civil_round_trips() {
        assert_eq!(
            civil_utc(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0
            }
        );
        for (y, m, d) in [(2026, 3, 1), (2024, 2, 29), (2000, 12, 31), (1969, 7, 20)] {
            let c = civil_utc(at(y, m, d, 13) + 5 * 60_000);
            assert_eq!((c.year, c.month, c.day, c.hour, c.minute), (y, m, d, 13, 5));
        }
    }

    #[test]
    fn summer_time_follows_the_eu_rule() {
        // 2026: summer time from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
        assert_eq!(czech_offset_minutes(at(2026, 3, 29, 1) - 1), 60);
        assert_eq!(czech_offset_minutes(at(2026, 3, 29, 1)), 120);
        assert_eq!(czech_offset_minutes(at(2026, 10, 25, 1) - 1), 120);
        assert_eq!(czech_offset_minutes(at(2026, 10, 25, 1)), 60);
        // 2027: 28 March and 31 October.
        assert_eq!(czech_offset_minutes(at(2027, 3, 28, 1)), 120);
        assert_eq!(czech_offset_minutes(at(2027, 10, 31, 0)), 120);
        assert_eq!(czech_offset_minutes(at(2027, 10, 31, 1)), 60);
        assert_eq!(
            format_czech(at(2026, 3, 29, 1) - 60_000),
            "29. 3. 2026 1:59"
        );
        assert_eq!(format_czech(at(2026, 3, 29, 1)), "29. 3. 2026 3:00");
        assert_eq!(
            format_czech(at(2026, 11, 23, 19) + 34 * 60_000),
            "23. 11. 2026 20:34"
        );
        assert_eq!(format_czech(at(2026, 12, 31, 23)), "1. 1. 2027 0:00");
    }
}
