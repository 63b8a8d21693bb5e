use super::*;

#[test]
fn sentences_are_wrapped_at_spaces() {
    assert_eq!(wrap("one two three four", 9), "one two\nthree\nfour");
    assert_eq!(wrap("a verylongword b", 4), "a\nverylongword\nb");
    assert_eq!(wrap("fits", 80), "fits");
}

#[test]
fn tables_fit_80_columns_and_cut_long_names_with_an_ellipsis() {
    let mut t = Table::new(&[("Name", Kind::Text), ("Host", Kind::Text), ("N", Kind::Number)]);
    t.row(vec!["a".repeat(70), "b".repeat(40), "12,345".into()]);
    t.row(vec!["evil\x1b[2J".into(), "x".into(), "1".into()]);
    let mut out = String::new();
    t.render(&mut out);
    for line in out.lines() {
        assert!(line.chars().count() <= WIDTH, "{line:?}");
    }
    assert!(out.contains('…') && out.contains("12,345"), "{out}");
    assert!(!out.contains('\x1b') && out.contains("evil\\u{001B}[2J"), "{out}");
}

#[test]
fn whole_values_are_never_cut_a_too_wide_row_goes_on_over_indented_lines() {
    let v6 = "2001:0db8:dead:beef:cafe:0123:4567:89ab";
    let mut t = Table::new(&[
        ("IP", Kind::Whole),
        ("Tries", Kind::Number),
        ("Host", Kind::Text),
        ("First seen", Kind::Whole),
        ("Last seen", Kind::Whole),
    ]);
    t.row(vec![v6.into(), "1,234".into(), "h".repeat(60), "2026-11-24 10:27:43".into(), "2026-11-24 22:41:07".into()]);
    let mut out = String::new();
    t.render(&mut out);
    for line in out.lines() {
        assert!(line.chars().count() <= WIDTH, "{line:?}");
    }
    let lines: Vec<&str> = out.lines().collect();
    // Headers, rules, one row: each over two lines, the second indented.
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[4].starts_with(v6) && lines[4].contains("1,234  hhh"), "{out}");
    assert!(lines[4].ends_with("2026-11-24 10:27:43") && lines[5] == "    2026-11-24 22:41:07", "{out}");
    // A value wider than a line is wrapped within its column.
    assert_eq!(wrap_hard(&"x".repeat(100), 76), ["x".repeat(76), "x".repeat(24)]);
}

#[test]
fn a_value_longer_than_any_address_wraps_within_its_column() {
    let long = format!("{}@{}", "u".repeat(70), "example.org");
    let mut t = Table::new(&[("Username", Kind::Whole), ("Attempts", Kind::Number), ("IPs", Kind::Number)]);
    t.row(vec![long.clone(), "123,456".into(), "1".into()]);
    t.row(vec!["admin".into(), "5".into(), "1".into()]);
    let mut out = String::new();
    t.render(&mut out);
    let lines: Vec<&str> = out.lines().collect();
    for line in &lines {
        assert!(line.chars().count() <= WIDTH, "{line:?}");
    }
    // The long name over two lines of its column, its counts on the first; no continuation line.
    assert!(lines[2].ends_with("123,456    1") && lines[3].trim_end().chars().all(|c| c != ' '), "{out}");
    assert_eq!(format!("{}{}", lines[2].split(' ').next().unwrap(), lines[3].trim_end()), long, "{out}");
    assert!(lines[4].starts_with("admin"), "{out}");
}
