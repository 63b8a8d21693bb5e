use super::*;

#[test]
fn markup_and_controls_are_escaped() {
    assert_eq!(escape("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    assert_eq!(escape("a\x1bb"), "a\\u{001B}b");
}

#[test]
fn only_long_tokens_may_break_anywhere_and_numbers_never_break() {
    let v6 = cell_style(Kind::Whole, "2001:0db8:dead:beef:cafe:0123:4567:89ab");
    assert!(v6.contains("word-break:break-all"), "{v6}");
    for short in ["198.51.100.123", "2026-11-24 10:27:43", "this IP failed to log in"] {
        assert!(!cell_style(Kind::Whole, short).contains("break"), "{short}");
    }
    assert!(cell_style(Kind::Number, "1,234,567").contains("white-space:nowrap"));
}
