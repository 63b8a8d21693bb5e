//! The attempts-per-hour chart as inline SVG: no scripts, fonts or external resources.

use std::fmt::Write;

use super::HourRow;
use super::html::escape;

/// Renders a bar chart of `hours`.
pub fn hours_svg(hours: &[HourRow]) -> String {
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 48.0_f64, 36.0_f64, 12.0_f64);
    let max = hours.iter().map(|x| x.attempts).max().unwrap_or(0).max(1);
    let n = hours.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let plot_h = h - bottom - top;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Failed attempts per hour" style="max-width:100%;height:auto;font-family:sans-serif;font-size:10px">"##
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
            let label = hour.start.get(11..13).unwrap_or(&hour.start);
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
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333333">hour ({} to {})</text></svg>"##,
        left + (w - left) / 2.0,
        h - 6.0,
        escape(hours.first().map_or("", |x| x.start.as_str())),
        escape(hours.last().map_or("", |x| x.start.as_str()))
    );
    svg
}
