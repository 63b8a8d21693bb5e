use super::*;

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
