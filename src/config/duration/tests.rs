use super::*;

fn secs(text: &str) -> u64 {
    match text.parse::<Duration>() {
        Ok(d) => d.as_secs(),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[test]
fn units_and_sums_are_read() {
    assert_eq!(secs("30s"), 30);
    assert_eq!(secs("90m"), 5_400);
    assert_eq!(secs("24h"), 86_400);
    assert_eq!(secs("7d"), 7 * 86_400);
    assert_eq!(secs("2w"), 14 * 86_400);
    assert_eq!(secs("1d12h"), 129_600);
    assert_eq!(secs("1h30m15s"), 5_415);
    assert_eq!(secs("0s"), 0);
}

#[test]
fn spaces_around_numbers_and_units_are_allowed() {
    assert_eq!(secs(" 24h "), 86_400);
    assert_eq!(secs("7 d"), 7 * 86_400);
    assert_eq!(secs("1d 12h"), 129_600);
}

#[test]
fn mistakes_are_refused_with_the_reason() {
    assert_eq!("".parse::<Duration>(), Err(DurationError::Empty));
    assert_eq!("  ".parse::<Duration>(), Err(DurationError::Empty));
    assert!(matches!("5x".parse::<Duration>(), Err(DurationError::Unit { unit, .. }) if unit == "x"));
    assert!(matches!("1y".parse::<Duration>(), Err(DurationError::Unit { .. })));
    assert!(matches!("3 days".parse::<Duration>(), Err(DurationError::Unit { .. })));
    assert!(matches!("15min".parse::<Duration>(), Err(DurationError::Unit { .. })));
    assert!(matches!("24".parse::<Duration>(), Err(DurationError::NoUnit { .. })));
    assert!(matches!("1h30".parse::<Duration>(), Err(DurationError::NoUnit { .. })));
    for bad in ["h", "-1h", "1.5h", "1h;rm", "1h\n2h", "+1h"] {
        assert!(
            matches!(bad.parse::<Duration>(), Err(DurationError::Syntax { .. } | DurationError::Unit { .. })),
            "{bad:?}"
        );
    }
    let e = "5x".parse::<Duration>().unwrap_err().to_string();
    assert!(e.contains("\"5x\"") && e.contains("90m, 1d12h, 2w"), "{e}");
}

#[test]
fn overflow_is_refused_not_wrapped() {
    for bad in [
        "99999999999999999999d",
        "18446744073709551615s",
        "9223372036854775808s",
        "15250284452472w",
        "1w9223372036854775807s",
    ] {
        assert!(matches!(bad.parse::<Duration>(), Err(DurationError::Overflow { .. })), "{bad:?}");
    }
    assert_eq!("9223372036854775807s".parse::<Duration>(), Ok(Duration::MAX));
    assert_eq!(Duration::MAX.as_secs_i64(), i64::MAX);
    assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
}

#[test]
fn the_configuration_also_takes_bare_seconds() {
    assert_eq!(Duration::parse_config("3600"), Ok(Duration::from_secs(3600)));
    assert_eq!(Duration::parse_config(" 0 "), Ok(Duration::from_secs(0)));
    assert_eq!(Duration::parse_config("1d12h"), Ok(Duration::from_secs(129_600)));
    assert!(matches!(Duration::parse_config("99999999999999999999"), Err(DurationError::Overflow { .. })));
    assert_eq!(Duration::parse_config(""), Err(DurationError::Empty));
    assert!(Duration::parse_config("5x").is_err());
}

#[test]
fn command_line_spans_must_be_positive_and_bounded() {
    let max = Duration::from_secs(100 * 86_400);
    assert_eq!(Duration::parse_within("90m", max), Ok(Duration::from_secs(5_400)));
    assert!(matches!(Duration::parse_within("0h", max), Err(DurationError::Zero { .. })));
    assert!(matches!(Duration::parse_within("101d", max), Err(DurationError::TooLong { .. })));
    assert!(matches!(Duration::parse_within("24", max), Err(DurationError::NoUnit { .. })));
}

#[test]
fn display_writes_the_shortest_spelling_that_parses_back() {
    for (secs, text) in
        [(0, "0s"), (30, "30s"), (5_400, "1h30m"), (86_400, "1d"), (129_600, "1d12h"), (1_209_600, "2w")]
    {
        let d = Duration::from_secs(secs);
        assert_eq!(d.to_string(), text);
        assert_eq!(text.parse::<Duration>(), Ok(d));
    }
    let d = Duration::MAX;
    assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
}

#[test]
fn serde_reads_a_string_with_the_configuration_grammar() {
    #[derive(serde::Deserialize)]
    struct T {
        d: Duration,
    }
    let t: T = toml::from_str("d = \"1d12h\"").unwrap();
    assert_eq!(t.d.as_secs(), 129_600);
    let t: T = toml::from_str("d = \"60\"").unwrap();
    assert_eq!(t.d.as_secs(), 60);
    let e = toml::from_str::<T>("d = \"5x\"").err().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(e.contains("\"5x\" is not a duration"), "{e}");
}
