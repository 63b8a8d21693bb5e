use super::*;

#[test]
fn sentences_are_wrapped_at_spaces() {
    assert_eq!(wrap("one two three four", 9), "one two\nthree\nfour");
    assert_eq!(wrap("a verylongword b", 4), "a\nverylongword\nb");
    assert_eq!(wrap("fits", 80), "fits");
}

#[test]
fn tables_fit_80_columns_and_cut_long_names_with_an_ellipsis() {
    let mut t = Table::new(&[("Name", Align::Left), ("Host", Align::Left), ("N", Align::Right)]);
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
