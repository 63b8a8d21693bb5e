//! Small formatting rules every report medium shares: how a count, a change and a value read
//! from a log are written.
//!
//! They live with the report (not with the command line, where they started) because the report
//! renderers and the mail subject must agree on them; the command line borrows them from here.

use std::borrow::Cow;

/// `1234567` → `1,234,567` (kept with the text helpers, below every stage that counts).
pub use crate::text::thousands;

/// Makes a value from a log safe for a terminal or a plain-text mail: control and invisible
/// formatting characters become `\u{XXXX}`. The parser already did this ([`crate::text::visible`]),
/// but a store written by an older or other tool must not be trusted to have.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() || crate::text::is_hidden(c);
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `+12%`, `-3%`, `new` (from zero), `±0%`: the change against the previous period.
pub fn change(now: u64, before: u64) -> String {
    if before == 0 {
        return if now == 0 { "±0%".into() } else { "new".into() };
    }
    let pct = (now as f64 - before as f64) * 100.0 / before as f64;
    if pct.abs() < 0.5 { "±0%".into() } else { format!("{pct:+.0}%") }
}

/// `s` cut to `width` characters, the last one `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests;
