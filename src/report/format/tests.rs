use super::*;

#[test]
fn thousands_are_separated() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1234567), "1,234,567");
}

#[test]
fn control_characters_are_made_visible() {
    assert_eq!(safe_text("adm\x1b[31min"), "adm\\u{001B}[31min");
    assert_eq!(safe_text("a\u{202e}b"), "a\\u{202E}b");
    assert_eq!(safe_text("josé"), "josé");
}

#[test]
fn change_is_a_signed_percentage() {
    assert_eq!(change(150, 100), "+50%");
    assert_eq!(change(50, 100), "-50%");
    assert_eq!(change(5, 0), "new");
    assert_eq!(change(0, 0), "±0%");
}
