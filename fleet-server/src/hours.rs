//! Opening hours in Czech local time, e.g. `Mo-Fr 07:00-18:00; Sa 08:00-12:00`: the touchscreen
//! silence alert applies only while a kiosk is open, and availability counts only these minutes
//! where they are configured. An empty text means always open.

use protocol::UnixMillis;

const DAYS: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];

/// Weekly opening hours: for each weekday (Monday first), the open intervals in minutes of the
/// day, `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    days: [Vec<(u16, u16)>; 7],
    always: bool,
}

impl Default for OpeningHours {
    fn default() -> Self {
        OpeningHours {
            days: Default::default(),
            always: true,
        }
    }
}

fn day(name: &str) -> Result<usize, String> {
    DAYS.iter()
        .position(|d| *d == name)
        .ok_or_else(|| format!("unknown day {name:?}; use Mo Tu We Th Fr Sa Su"))
}

fn minute(hhmm: &str) -> Result<u16, String> {
    let bad = || format!("time {hhmm:?} is not HH:MM");
    let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m > 0) || h.to_string().len() > 2 || m.to_string().len() > 2
    {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl OpeningHours {
    /// Parses `Mo-Fr 07:00-18:00; Sa 08:00-12:00` (days or day ranges, comma-separated; one or
    /// more intervals, comma-separated; rules separated by `;`). Empty: always open.
    pub fn parse(text: &str) -> Result<OpeningHours, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(OpeningHours::default());
        }
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for rule in text.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (which, times) = rule
                .split_once(' ')
                .ok_or_else(|| format!("{rule:?}: expected days, a space, then hours"))?;
            let mut chosen = Vec::new();
            for part in which.split(',') {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a)?, day(b)?);
                        if a > b {
                            return Err(format!("{part:?}: the range runs backwards"));
                        }
                        chosen.extend(a..=b);
                    }
                    None => chosen.push(day(part)?),
                }
            }
            for interval in times.split(',').map(str::trim) {
                let (from, to) = interval
                    .split_once('-')
                    .ok_or_else(|| format!("{interval:?}: expected HH:MM-HH:MM"))?;
                let (from, to) = (minute(from)?, minute(to)?);
                if from >= to {
                    return Err(format!("{interval:?}: closes before it opens"));
                }
                for d in &chosen {
                    days[*d].push((from, to));
                }
            }
        }
        Ok(OpeningHours {
            days,
            always: false,
        })
    }

    /// Whether the kiosk is open at `ms`.
    pub fn is_open(&self, ms: UnixMillis) -> bool {
        if self.always {
            return true;
        }
        let local = ms + protocol::time::czech_offset_minutes(ms) * 60_000;
        let days = local.div_euclid(86_400_000);
        // 1 January 1970 was a Thursday.
        let weekday = (days + 3).rem_euclid(7) as usize;
        let minute = (local.rem_euclid(86_400_000) / 60_000) as u16;
        self.open_at(weekday, minute)
    }

    /// Whether the kiosk is open on `weekday` (0 = Monday) at `minute` of the local day.
    pub fn open_at(&self, weekday: usize, minute: u16) -> bool {
        self.always
            || self.days[weekday % 7]
                .iter()
                .any(|&(from, to)| from <= minute && minute < to)
    }

    /// The first moment at or after `ms` when it is open (`ms` itself when open then); `None`
    /// when it never opens.
    pub fn next_open(&self, ms: UnixMillis) -> Option<UnixMillis> {
        if self.is_open(ms) {
            return Some(ms);
        }
        // Minute by minute over eight days: every weekly rule and a change of summer time.
        let start = ms - ms.rem_euclid(60_000) + 60_000;
        (0..8 * 24 * 60)
            .map(|i| start + i * 60_000)
            .find(|&t| self.is_open(t))
    }

    /// Whether hours are configured at all.
    pub fn always_open(&self) -> bool {
        self.always
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_opening_is_found_across_midnight_and_the_weekend() {
        let h = OpeningHours::parse("Mo-Fr 08:00-20:00").unwrap();
        // Monday 23 Nov 2026, 22:30 local: Tuesday 08:00.
        assert_eq!(h.next_open(local(23, 22, 30)), Some(local(24, 8, 0)));
        // Friday 27 Nov, 21:00: Monday 30 Nov 08:00.
        assert_eq!(h.next_open(local(27, 21, 0)), Some(local(30, 8, 0)));
        // Open now: now.
        assert_eq!(
            h.next_open(local(24, 9, 15) + 7),
            Some(local(24, 9, 15) + 7)
        );
        assert_eq!(OpeningHours::default().next_open(5), Some(5));
    }

    /// Milliseconds of a Czech local time (winter, UTC+1) in the week of Monday 23 Nov 2026.
    fn local(day_of_month: i64, h: i64, m: i64) -> UnixMillis {
        // 2026-11-23 00:00 UTC
        let monday = 1_795_392_000_000;
        monday + (day_of_month - 23) * 86_400_000 + (h * 60 + m - 60) * 60_000
    }

    #[test]
    fn weekdays_and_intervals() {
        let h = OpeningHours::parse("Mo-Fr 07:00-18:00; Sa 08:00-12:00, 13:00-15:00").unwrap();
        assert!(h.is_open(local(23, 7, 0)), "Monday at opening");
        assert!(!h.is_open(local(23, 6, 59)));
        assert!(!h.is_open(local(23, 18, 0)), "closes at 18:00");
        assert!(h.is_open(local(27, 17, 59)), "Friday");
        assert!(h.is_open(local(28, 14, 0)), "Saturday afternoon");
        assert!(!h.is_open(local(28, 12, 30)), "Saturday lunch");
        assert!(!h.is_open(local(29, 10, 0)), "Sunday closed");
        assert!(OpeningHours::parse("").unwrap().is_open(local(29, 3, 0)));
        assert!(
            OpeningHours::parse("Su 00:00-24:00")
                .unwrap()
                .is_open(local(29, 23, 59))
        );
    }

    #[test]
    fn mistakes_are_named() {
        for bad in [
            "Mo-Fr",
            "Xx 07:00-08:00",
            "Fr-Mo 07:00-08:00",
            "Mo 8-9",
            "Mo 09:00-08:00",
            "Mo 25:00-26:00",
            "Mo 07:60-08:00",
        ] {
            assert!(OpeningHours::parse(bad).is_err(), "{bad}");
        }
    }
}
