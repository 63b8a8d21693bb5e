//! Resolving timestamps to UTC instants.
//!
//! Classic syslog timestamps (`Nov 24 10:00:00`) carry neither year nor zone. The zone is the
//! configured one; the year is inferred per file: the scan knows (from `--year` or the file's
//! modification time) the year of the file's newest line, derives the year of its first line
//! ([`first_year`]) and then follows the lines forward, moving to the next year when the month
//! jumps back (`Dec 31` followed by `Jan 1`). The state is kept in the checkpoint, so a scan that
//! resumes in the middle of a file continues with the right year.

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil};
use serde::{Deserialize, Serialize};

use crate::event::RawTime;

/// The year assumed for the latest year-less line seen in a file, and that line's month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearState {
    /// Year of the latest line.
    pub year: i16,
    /// Month (1..=12) of the latest line.
    pub month: i8,
}

/// A month difference this large between consecutive lines means the year changed; smaller
/// backward steps are out-of-order lines (several processes writing to one log).
const ROLLOVER_MONTHS: i8 = 6;

/// Resolves the timestamps of one file in order.
#[derive(Clone, Debug)]
pub struct TimeResolver {
    tz: TimeZone,
    state: YearState,
}

impl TimeResolver {
    /// A resolver that starts from `state` and reads zone-less times in `tz`.
    pub fn new(tz: TimeZone, state: YearState) -> TimeResolver {
        TimeResolver { tz, state }
    }

    /// Where the resolver stands now, to be saved with the checkpoint.
    pub fn state(&self) -> YearState {
        self.state
    }

    /// The instant of `raw`, or `None` for a date that does not exist (`Feb 30`, `Feb 29` in a
    /// non-leap year).
    pub fn resolve(&mut self, raw: &RawTime) -> Option<Timestamp> {
        match *raw {
            RawTime::Instant(ts) => Some(ts),
            RawTime::Civil(dt) => self.localize(dt),
            RawTime::YearLess { month, day, time } => {
                let year = if self.state.month - month >= ROLLOVER_MONTHS {
                    self.state = YearState {
                        year: self.state.year.checked_add(1)?,
                        month,
                    };
                    self.state.year
                } else if month - self.state.month >= ROLLOVER_MONTHS {
                    // A straggler from before the new year, logged after it: it belongs to the
                    // previous year and must not move the state back.
                    self.state.year - 1
                } else {
                    self.state.month = month;
                    self.state.year
                };
                let date = civil::Date::new(year, month, day).ok()?;
                self.localize(date.to_datetime(time))
            }
        }
    }

    fn localize(&self, dt: civil::DateTime) -> Option<Timestamp> {
        // In the repeated hour at the end of daylight saving time the earlier instant is taken,
        // in the skipped hour the later one (jiff's "compatible" rule, as RFC 5545 and Temporal).
        self.tz.to_ambiguous_timestamp(dt).compatible().ok()
    }
}

/// The year of a file's first line, given its month and day, and the date of the file's newest
/// line. Assumes a file spans less than a year, as rotated logs do.
pub fn first_year(first: (i8, i8), newest: (i16, i8, i8)) -> i16 {
    let (year, month, day) = newest;
    if first > (month, day) { year - 1 } else { year }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yearless(month: i8, day: i8, h: i8) -> RawTime {
        RawTime::YearLess {
            month,
            day,
            time: civil::time(h, 0, 0, 0),
        }
    }

    fn utc(start: YearState) -> TimeResolver {
        TimeResolver::new(TimeZone::UTC, start)
    }

    #[test]
    fn rollover_from_december_to_january_moves_to_next_year() {
        let mut r = utc(YearState {
            year: 2025,
            month: 12,
        });
        assert_eq!(
            r.resolve(&yearless(12, 31, 23)).unwrap().to_string(),
            "2025-12-31T23:00:00Z"
        );
        assert_eq!(
            r.resolve(&yearless(1, 1, 0)).unwrap().to_string(),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            r.state(),
            YearState {
                year: 2026,
                month: 1
            }
        );
    }

    #[test]
    fn a_late_december_line_after_new_year_stays_in_the_old_year() {
        let mut r = utc(YearState {
            year: 2026,
            month: 1,
        });
        assert_eq!(
            r.resolve(&yearless(12, 31, 23)).unwrap().to_string(),
            "2025-12-31T23:00:00Z"
        );
        assert_eq!(
            r.state(),
            YearState {
                year: 2026,
                month: 1
            }
        );
    }

    #[test]
    fn small_backward_steps_do_not_change_the_year() {
        let mut r = utc(YearState {
            year: 2026,
            month: 3,
        });
        r.resolve(&yearless(3, 1, 0)).unwrap();
        assert_eq!(
            r.resolve(&yearless(2, 28, 0)).unwrap().to_string(),
            "2026-02-28T00:00:00Z"
        );
    }

    #[test]
    fn impossible_dates_are_rejected() {
        let mut r = utc(YearState {
            year: 2025,
            month: 2,
        });
        assert_eq!(r.resolve(&yearless(2, 29, 0)), None);
        assert_eq!(r.resolve(&yearless(2, 30, 0)), None);
    }

    #[test]
    fn zone_less_times_are_read_in_the_configured_zone() {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let mut r = TimeResolver::new(
            tz,
            YearState {
                year: 2026,
                month: 7,
            },
        );
        assert_eq!(
            r.resolve(&yearless(7, 1, 12)).unwrap().to_string(),
            "2026-07-01T10:00:00Z"
        );
        let civil = RawTime::Civil(civil::datetime(2026, 1, 1, 12, 0, 0, 0));
        assert_eq!(
            r.resolve(&civil).unwrap().to_string(),
            "2026-01-01T11:00:00Z"
        );
    }

    #[test]
    fn first_year_steps_back_when_the_file_crosses_new_year() {
        assert_eq!(first_year((12, 30), (2026, 1, 2)), 2025);
        assert_eq!(first_year((3, 1), (2026, 11, 24)), 2026);
        assert_eq!(first_year((11, 24), (2026, 11, 24)), 2026);
    }
}
