use super::*;
use crate::report::tests::at;

fn hour(start: &str, attempts: u64) -> BucketRow {
    BucketRow { start: at_or_label(start), attempts }
}

/// The bar widths of a rendered table, in order.
fn widths(html: &str) -> Vec<u64> {
    html.split(r#"<td width=""#).skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

#[test]
fn bars_are_proportional_and_empty_hours_are_left_out() {
    let html = hours_table(
        Bucket::Hour,
        &[
            hour("2026-11-24 00:00", 1_000),
            hour("2026-11-24 01:00", 0),
            hour("2026-11-24 02:00", 500),
            hour("2026-11-24 03:00", 1),
        ],
    );
    assert_eq!(widths(&html), [BAR_PX, BAR_PX / 2, 1]);
    assert!(html.contains(">1,000<") && !html.contains("01:00"), "{html}");
}

#[test]
fn huge_counts_do_not_overflow_and_text_is_escaped() {
    let html = hours_table(Bucket::Hour, &[hour("<b>", u64::MAX), hour("x", u64::MAX / 2)]);
    assert_eq!(widths(&html), [BAR_PX, BAR_PX / 2]);
    assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
    assert_eq!(hours_table(Bucket::Hour, &[]).matches("<tr>").count(), 1, "header only");
}

/// A bucket start shown as `label` (a time, or any text for the escaping test).
fn at_or_label(label: &str) -> crate::report::When {
    if label.len() >= 16 {
        return at(label);
    }
    crate::report::When { unix: 0, shown: label.into(), rfc3339: label.into() }
}
