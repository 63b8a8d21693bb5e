//! Resolving timestamps to UTC instants.
//!
//! Classic syslog timestamps (`Nov 24 10:00:00`) carry neither year nor zone. The zone is the
//! configured one; the year is inferred per file: the scan knows (from `--year` or the file's
//! modification time) the year of the file's newest line, derives the year of its first line
//! ([`first_year`]) and then follows the lines forward, moving to the next year when the month
//! jumps back (`Dec 31` followed by `Jan 1`). The state is kept in the checkpoint, so a scan that
//! resumes in the middle of a file continues with the right year. Local times of the hour
//! repeated when daylight saving time ends are read in the order the log has them.

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil};
use serde::{Deserialize, Serialize};

use crate::model::event::RawTime;

/// The year assumed for the latest year-less line seen in a file, and that line's month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearState {
    /// Year of the latest line.
    pub year: i16,
    /// Month (1..=12) of the latest line.
    pub month: i8,
}

/// A month stepping back this far between consecutive lines means the year changed; smaller
/// backward steps are out-of-order lines (several processes writing to one log).
const ROLLOVER_MONTHS: i8 = 6;

/// A month this far *ahead* of the latest line's is a straggler from the end of the previous
/// year (`Dec 31` logged after `Jan 1`). Smaller forward steps are time passing: the resolver
/// only sees authentication lines, and a quiet server may log none for months.
const STRAGGLER_MONTHS: i8 = 10;

/// In the hour repeated when daylight saving time ends, a line whose first reading falls this
/// long before the latest line is read as the second pass of that hour. (So a second-pass line
/// that follows the latest one by over 50 minutes, with no line between, is still read as the
/// first pass: a log that quiet gives nothing better to go on.)
const FOLD_TOLERANCE: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// Resolves the timestamps of one file in order.
#[derive(Clone, Debug)]
pub struct TimeResolver {
    tz: TimeZone,
    state: YearState,
    /// The latest instant read from a zone-less time.
    latest: Option<Timestamp>,
    /// The local hour last read and the Unix second it starts at, when one offset holds for the
    /// whole hour.
    hour: Option<(civil::Date, i8, i64)>,
}

impl TimeResolver {
    /// A resolver that starts from `state` and reads zone-less times in `tz`.
    pub fn new(tz: TimeZone, state: YearState) -> TimeResolver {
        TimeResolver { tz, state, latest: None, hour: None }
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
                    self.state = YearState { year: self.state.year.checked_add(1)?, month };
                    self.state.year
                } else if month - self.state.month >= STRAGGLER_MONTHS {
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

    fn localize(&mut self, dt: civil::DateTime) -> Option<Timestamp> {
        // Successive lines mostly fall in the same local hour: its start is reused, rather than
        // looking up the zone's rules and converting a civil date for every line.
        if let Some((date, hour, start)) = self.hour
            && date == dt.date()
            && hour == dt.hour()
            && let Ok(instant) =
                Timestamp::new(start + i64::from(dt.minute()) * 60 + i64::from(dt.second()), dt.subsec_nanosecond())
        {
            self.latest = self.latest.max(Some(instant));
            return Some(instant);
        }
        let instant = self.localize_in_zone(dt)?;
        self.hour = self.whole_hour_offset(dt).and_then(|offset| {
            let start = offset.to_timestamp(dt.date().at(dt.hour(), 0, 0, 0)).ok()?;
            Some((dt.date(), dt.hour(), start.as_second()))
        });
        Some(instant)
    }

    /// The offset of the local hour of `dt`, if the hour has one offset from its first to its
    /// last nanosecond (no transition begins or ends in it; zones change offset at most once in
    /// an hour).
    fn whole_hour_offset(&self, dt: civil::DateTime) -> Option<jiff::tz::Offset> {
        let unambiguous = |t: civil::DateTime| match self.tz.to_ambiguous_timestamp(t).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => Some(offset),
            _ => None,
        };
        let first = unambiguous(dt.date().at(dt.hour(), 0, 0, 0))?;
        let last = unambiguous(dt.date().at(dt.hour(), 59, 59, 999_999_999))?;
        (first == last).then_some(first)
    }

    fn localize_in_zone(&mut self, dt: civil::DateTime) -> Option<Timestamp> {
        // In the skipped hour at the start of daylight saving time the later instant is taken
        // (jiff's "compatible" rule, as RFC 5545 and Temporal). In the hour repeated at its end,
        // the earlier one, unless the log has already moved past it: then the line is from the
        // second pass of that hour, and reading it as the first would send time back an hour.
        let ambiguous = self.tz.to_ambiguous_timestamp(dt);
        let mut instant = ambiguous.compatible().ok()?;
        if ambiguous.is_ambiguous()
            && let (Some(latest), Ok(later)) = (self.latest, ambiguous.later())
            && instant < latest - FOLD_TOLERANCE
        {
            instant = later;
        }
        self.latest = self.latest.max(Some(instant));
        Some(instant)
    }
}

/// The year of a file's first line, given its month and day, and the date of the file's newest
/// line. Assumes a file spans less than a year, as rotated logs do.
pub fn first_year(first: (i8, i8), newest: (i16, i8, i8)) -> i16 {
    let (year, month, day) = newest;
    if first > (month, day) { year - 1 } else { year }
}

#[cfg(test)]
mod tests;
