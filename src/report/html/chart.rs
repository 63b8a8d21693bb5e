//! The chart of attempts per hour (or day, week, ...): inline SVG (no scripts, fonts or external resources) for
//! browsers and the mail clients that show it, and the same numbers as a table whose bars are
//! coloured cells for those that drop SVG (Gmail, Outlook).

use std::fmt::Write;

use super::escape;
use crate::report::format::thousands;
use crate::report::{Bucket, BucketRow};

/// Width in pixels of the longest bar of [`hours_table`].
const BAR_PX: u64 = 300;

/// Renders a bar chart of `hours`, buckets of `bucket` each.
pub fn hours_svg(bucket: Bucket, hours: &[BucketRow]) -> String {
    let noun = bucket.noun();
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 48.0_f64, 36.0_f64, 12.0_f64);
    let max = hours.iter().map(|x| x.attempts).max().unwrap_or(0).max(1);
    let n = hours.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let plot_h = h - bottom - top;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Failed attempts per {noun}" style="max-width:100%;height:auto;font-family:sans-serif;font-size:10px">"##
    );
    let _ = write!(svg, r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##);
    for tick in 0..=4 {
        let value = max as f64 * tick as f64 / 4.0;
        let y = top + plot_h - plot_h * tick as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555555">{}</text>"##,
            w - 8.0,
            left - 4.0,
            y + 3.0,
            value.round() as u64
        );
    }
    let label_every = (hours.len() / 12).max(1);
    for (i, hour) in hours.iter().enumerate() {
        let bh = plot_h * hour.attempts as f64 / max as f64;
        let x = left + slot * i as f64;
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#c0392b"><title>{}: {}</title></rect>"##,
            x + slot * 0.1,
            top + plot_h - bh,
            slot * 0.8,
            escape(&hour.start),
            hour.attempts
        );
        if i % label_every == 0 {
            // The part of the label that changes from bar to bar.
            let part = match bucket {
                Bucket::Hour => hour.start.get(11..13),
                Bucket::Day | Bucket::Week => hour.start.get(5..10),
                Bucket::Month | Bucket::Year => None,
            };
            let label = part.unwrap_or(&hour.start);
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555555">{}</text>"##,
                x + slot / 2.0,
                h - bottom + 14.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333333">{noun} ({} to {})</text></svg>"##,
        left + (w - left) / 2.0,
        h - 6.0,
        escape(hours.first().map_or("", |x| x.start.as_str())),
        escape(hours.last().map_or("", |x| x.start.as_str()))
    );
    svg
}

/// The hours with attempts as table rows: the hour, the count and a bar (a coloured cell
/// `BAR_PX` wide for the busiest hour). Tables, cell widths and background colours are what
/// every mail client renders.
pub fn hours_table(bucket: Bucket, hours: &[BucketRow]) -> String {
    let mut noun = bucket.noun().to_string();
    noun[..1].make_ascii_uppercase();
    let max = hours.iter().map(|x| x.attempts).max().unwrap_or(0).max(1);
    let cell = "padding:1px 8px 1px 0;white-space:nowrap";
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;margin:6px 0 14px 0;font-size:13px"><tr><th style="{cell};text-align:left">{noun}</th><th style="{cell};text-align:right">Attempts</th><th></th></tr>"#
    );
    for h in hours.iter().filter(|h| h.attempts > 0) {
        let px = (u128::from(h.attempts) * u128::from(BAR_PX)).div_ceil(u128::from(max)).max(1);
        let _ = write!(
            o,
            r##"<tr><td style="{cell}">{}</td><td style="{cell};text-align:right">{}</td><td style="padding:1px 0"><table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr><td width="{px}" height="10" bgcolor="#c0392b" style="width:{px}px;height:10px;background:#c0392b;font-size:1px;line-height:1px">&nbsp;</td></tr></table></td></tr>"##,
            escape(&h.start),
            thousands(h.attempts)
        );
    }
    o.push_str("</table>\n");
    o
}

#[cfg(test)]
mod tests;
