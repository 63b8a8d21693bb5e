//! Year resolution across new year and summer time, and dates that do not exist.

use super::*;

fn yearless(month: i8, day: i8, h: i8) -> RawTime {
    RawTime::YearLess { month, day, time: civil::time(h, 0, 0, 0) }
}

fn utc(start: YearState) -> TimeResolver {
    TimeResolver::new(TimeZone::UTC, start)
}

#[test]
fn rollover_from_december_to_january_moves_to_next_year() {
    let mut r = utc(YearState { year: 2025, month: 12 });
    assert_eq!(r.resolve(&yearless(12, 31, 23)).unwrap().to_string(), "2025-12-31T23:00:00Z");
    assert_eq!(r.resolve(&yearless(1, 1, 0)).unwrap().to_string(), "2026-01-01T00:00:00Z");
    assert_eq!(r.state(), YearState { year: 2026, month: 1 });
}

#[test]
fn a_late_december_line_after_new_year_stays_in_the_old_year() {
    let mut r = utc(YearState { year: 2026, month: 1 });
    assert_eq!(r.resolve(&yearless(12, 31, 23)).unwrap().to_string(), "2025-12-31T23:00:00Z");
    assert_eq!(r.state(), YearState { year: 2026, month: 1 });
}

#[test]
fn small_backward_steps_do_not_change_the_year() {
    let mut r = utc(YearState { year: 2026, month: 3 });
    r.resolve(&yearless(3, 1, 0)).unwrap();
    assert_eq!(r.resolve(&yearless(2, 28, 0)).unwrap().to_string(), "2026-02-28T00:00:00Z");
}

#[test]
fn months_without_a_single_login_line_stay_in_the_same_year() {
    let mut r = utc(YearState { year: 2026, month: 3 });
    r.resolve(&yearless(3, 29, 0)).unwrap();
    assert_eq!(r.resolve(&yearless(10, 25, 0)).unwrap().to_string(), "2026-10-25T00:00:00Z");
    assert_eq!(r.state(), YearState { year: 2026, month: 10 });
}

#[test]
fn the_repeated_hour_at_the_end_of_summer_time_is_read_in_log_order() {
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let mut r = TimeResolver::new(tz, YearState { year: 2026, month: 10 });
    let at = |h, m, s| RawTime::YearLess { month: 10, day: 25, time: civil::time(h, m, s, 0) };
    let mut read = |t| r.resolve(&t).unwrap().to_string();
    // First pass (CEST, UTC+2), a straggler, then the clock goes back to 02:00 (CET, UTC+1).
    assert_eq!(read(at(2, 10, 0)), "2026-10-25T00:10:00Z");
    assert_eq!(read(at(2, 59, 59)), "2026-10-25T00:59:59Z");
    assert_eq!(read(at(2, 59, 50)), "2026-10-25T00:59:50Z", "a line a few seconds late");
    assert_eq!(read(at(2, 0, 1)), "2026-10-25T01:00:01Z");
    assert_eq!(read(at(2, 9, 0)), "2026-10-25T01:09:00Z");
    assert_eq!(read(at(2, 30, 0)), "2026-10-25T01:30:00Z");
    assert_eq!(read(at(2, 59, 58)), "2026-10-25T01:59:58Z");
    assert_eq!(read(at(3, 0, 0)), "2026-10-25T02:00:00Z");
}

#[test]
fn the_reused_hour_offset_gives_what_the_zone_rules_give() {
    // Zones with whole- and half-hour offsets, one-hour, 30-minute and no DST shifts; local times in
    // uneven steps across both transitions of 2026, each hour's lines running back and forth
    // (the same hour read twice, as in the repeated hour of autumn), some with a fraction.
    let zones = ["UTC", "Europe/Paris", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata", "America/New_York"];
    for zone in zones {
        let tz = TimeZone::get(zone).unwrap();
        let mut cached = TimeResolver::new(tz.clone(), YearState { year: 2026, month: 1 });
        let mut fresh = TimeResolver::new(tz, YearState { year: 2026, month: 1 });
        let mut n = 0;
        for (month, day) in [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1)] {
            let mut t = 0;
            while t < 2 * 86_400 {
                let back = if n % 5 == 4 { 2400 } else { 0 };
                let s = (t - back).max(0);
                let day = day + (s / 86_400) as i8;
                let (h, m, sec) = ((s % 86_400 / 3600) as i8, (s % 3600 / 60) as i8, (s % 60) as i8);
                let dt = civil::date(2026, month, day).at(h, m, sec, (n % 3) * 250_000_001);
                fresh.hour = None;
                assert_eq!(cached.localize(dt), fresh.localize(dt), "{zone} {dt}");
                t += 613;
                n += 1;
            }
        }
        assert!(cached.hour.is_some(), "{zone}: the hour is reused");
    }
}

#[test]
fn impossible_dates_are_rejected() {
    let mut r = utc(YearState { year: 2025, month: 2 });
    assert_eq!(r.resolve(&yearless(2, 29, 0)), None);
    assert_eq!(r.resolve(&yearless(2, 30, 0)), None);
}

#[test]
fn zone_less_times_are_read_in_the_configured_zone() {
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let mut r = TimeResolver::new(tz, YearState { year: 2026, month: 7 });
    assert_eq!(r.resolve(&yearless(7, 1, 12)).unwrap().to_string(), "2026-07-01T10:00:00Z");
    let civil = RawTime::Civil(civil::datetime(2026, 1, 1, 12, 0, 0, 0));
    assert_eq!(r.resolve(&civil).unwrap().to_string(), "2026-01-01T11:00:00Z");
}

#[test]
fn first_year_steps_back_when_the_file_crosses_new_year() {
    assert_eq!(first_year((12, 30), (2026, 1, 2)), 2025);
    assert_eq!(first_year((3, 1), (2026, 11, 24)), 2026);
    assert_eq!(first_year((11, 24), (2026, 11, 24)), 2026);
}
