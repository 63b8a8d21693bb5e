use super::*;

/// A [`When`] shown as `shown` (`YYYY-MM-DD HH:MM[:SS]`, read as UTC).
pub(crate) fn at(shown: &str) -> When {
    let dt: jiff::civil::DateTime = shown.parse().unwrap();
    let z = dt.to_zoned_datetime(TimeZone::UTC).unwrap();
    When {
        unix: z.timestamp().as_second(),
        shown: shown.into(),
        rfc3339: z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
    }
}

#[test]
fn the_default_period_is_yesterday_in_the_zone() {
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let now = "2026-03-30T00:30:00+02:00[Europe/Paris]".parse::<ZonedDateTime>().unwrap();
    let p = Period::previous_day(&now).unwrap();
    assert_eq!(p.label(), "2026-03-29");
    // The DST change day is 23 hours long.
    assert_eq!(p.secs(), 23 * 3600);
    assert_eq!(p.start.to_zoned_datetime(tz).hour(), 0);
}

fn paris() -> TimeZone {
    TimeZone::get("Europe/Paris").unwrap()
}

fn since_days(days: i64, now: &str, tz: &TimeZone) -> Period {
    Period::since(days * 86_400, now.parse::<Timestamp>().unwrap(), tz).unwrap()
}

/// The local times of a period's bucket starts.
fn local_starts(p: &Period) -> Vec<ZonedDateTime> {
    let bounds = p.bucket_bounds();
    bounds[..bounds.len() - 1]
        .iter()
        .map(|&t| Timestamp::from_second(t).unwrap().to_zoned_datetime(p.tz.clone()))
        .collect()
}

#[test]
fn a_dst_day_has_23_or_25_hour_buckets_each_at_a_local_full_hour() {
    let spring = Period::day("2026-03-29".parse().unwrap(), &paris()).unwrap();
    assert_eq!(spring.bucket(), Bucket::Hour);
    let starts = local_starts(&spring);
    assert_eq!(starts.len(), 23);
    assert!(starts.iter().all(|z| z.minute() == 0 && z.second() == 0));
    assert!(!starts.iter().any(|z| z.hour() == 2), "02:00 does not exist that day");
    let autumn = Period::day("2026-10-25".parse().unwrap(), &paris()).unwrap();
    let starts = local_starts(&autumn);
    assert_eq!(starts.len(), 25);
    let labels: Vec<String> =
        starts.iter().map(|z| autumn.format_bucket(z.timestamp().as_second(), Bucket::Hour)).collect();
    assert_eq!(labels.iter().filter(|l| *l == "2026-10-25 02:00").count(), 2, "{labels:?}");
    // The bounds are the period's own.
    let bounds = autumn.bucket_bounds();
    assert_eq!((bounds[0], bounds[25]), (autumn.start.as_second(), autumn.end.as_second()));
}

#[test]
fn hours_start_at_the_local_full_hour_even_in_half_hour_zones() {
    let p = since_days(1, "2026-11-24T05:54:17Z", &paris());
    let starts = local_starts(&p);
    assert!(starts.iter().all(|z| z.minute() == 0 && z.second() == 0), "{starts:?}");
    assert_eq!(starts.len(), 25, "the partial first and last hours");
    let india = TimeZone::get("Asia/Kolkata").unwrap();
    let p = since_days(2, "2026-11-24T05:54:17Z", &india);
    assert!(local_starts(&p).iter().all(|z| z.minute() == 0));
    assert!(p.bucket_bounds()[0] <= p.start.as_second());
    assert!(*p.bucket_bounds().last().unwrap() >= p.end.as_second());
}

#[test]
fn long_periods_have_at_most_about_a_hundred_buckets_at_local_midnight() {
    // 30 days: days (both DST changes of the year are inside some period below).
    let p = since_days(30, "2026-11-05T05:54:17Z", &paris());
    assert_eq!(p.bucket(), Bucket::Day);
    let starts = local_starts(&p);
    assert_eq!(starts.len(), 31);
    assert!(starts.iter().all(|z| (z.hour(), z.minute(), z.second()) == (0, 0, 0)), "{starts:?}");
    // One of them is 25 hours long: 2026-10-25.
    let bounds = p.bucket_bounds();
    assert!(bounds.windows(2).any(|w| w[1] - w[0] == 25 * 3600));
    // A year: weeks from Monday midnight.
    let p = since_days(365, "2026-11-05T05:54:17Z", &paris());
    assert_eq!(p.bucket(), Bucket::Week);
    let starts = local_starts(&p);
    assert!(starts.len() <= 54, "{}", starts.len());
    assert!(starts.iter().all(|z| z.weekday() == jiff::civil::Weekday::Monday && z.hour() == 0));
    // 3,000 days: months from the first at midnight.
    let p = since_days(3_000, "2026-11-05T05:54:17Z", &paris());
    assert_eq!(p.bucket(), Bucket::Month);
    let starts = local_starts(&p);
    assert!(starts.len() <= 100, "{}", starts.len());
    assert!(starts.iter().all(|z| z.day() == 1 && z.hour() == 0 && z.minute() == 0));
    assert_eq!(p.format_bucket(starts[0].timestamp().as_second(), Bucket::Month), "2018-08");
    // Longer still: years.
    let p = since_days(20_000, "2026-11-05T05:54:17Z", &paris());
    assert_eq!(p.bucket(), Bucket::Year);
    assert!(local_starts(&p).len() <= 56);
}
