use super::*;

#[test]
fn markup_and_controls_are_escaped() {
    assert_eq!(escape("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    assert_eq!(escape("a\x1bb"), "a\\u{001B}b");
}
