//! The HTML report: one self-contained page (inline CSS and SVG, nothing fetched), readable in a
//! browser and in mail clients (the hourly chart is also drawn with table cells for those that
//! drop SVG). It draws the [section model](super::sections) in its wide wording; every title,
//! paragraph and cell is HTML-escaped. It fits a 640 px mail window: a table of
//! [cards](super::sections::Table::cards) shows each row as a card, and long values wrap.

use std::fmt::Write;

use super::Report;
use super::sections::{Block, Kind, Section, Table, Tone, Wording, sections};

pub mod chart;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters would be invisible (or break the page): show their code.
            c if c.is_control() && c != '\n' => {
                let _ = write!(out, "\\u{{{:04X}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

// Styles are inline on each element because several mail clients drop <style> blocks.
//
// The page fits a 640 px mail client: a value with no space to break at that is longer than
// [`LONG_TOKEN`] (an IPv6 address, a 60-character host name from reverse DNS, an account) may
// break anywhere rather than widen its table; shorter words (times, IPv4 addresses, headings)
// and numbers break only at spaces, to stay readable.
/// Lets a long word of running text break where it must (`overflow-wrap:anywhere`, and its older
/// spellings for the clients that know only those).
const BREAK: &str = "overflow-wrap:anywhere;word-wrap:break-word;word-break:break-word";
/// Lets a cell holding a long token break anywhere: `word-break:break-all` is also the one the
/// webmail clients that drop `overflow-wrap` follow.
const BREAK_ALL: &str = "overflow-wrap:anywhere;word-wrap:break-word;word-break:break-all";
/// Characters a word may have before it may break anywhere: an IPv4 address (15) stays whole.
const LONG_TOKEN: usize = 15;
const TABLE: &str = r#"style="border-collapse:collapse;margin:6px 0 14px 0;font-size:12px;max-width:100%""#;
const TH: &str =
    r#"style="text-align:left;vertical-align:bottom;background:#f0f0f0;border:1px solid #cccccc;padding:3px 4px""#;
const TD: &str = "vertical-align:top;border:1px solid #dddddd;padding:3px 4px";
const TDN: &str = "vertical-align:top;border:1px solid #dddddd;padding:3px 4px;text-align:right;white-space:nowrap";
const H2: &str = r#"style="font-size:17px;margin:18px 0 4px 0;color:#222222""#;
const NOTE: &str = r#"style="color:#555555""#;

/// A card: a row of a [`Table::cards`] table, one `heading | value` line per column.
const CARD: &str = r#"style="border-collapse:collapse;margin:6px 0 12px 0;font-size:13px;max-width:100%;border-left:4px solid #b00020""#;
const CARD_TH: &str = r#"style="text-align:left;vertical-align:top;background:#f0f0f0;border:1px solid #dddddd;padding:3px 5px;white-space:nowrap""#;

/// The style of a cell holding `cell` in a column of `kind`.
fn cell_style(kind: Kind, cell: &str) -> String {
    match kind {
        Kind::Number => TDN.to_string(),
        _ if cell.split_whitespace().any(|w| w.chars().count() > LONG_TOKEN) => format!("{TD};{BREAK_ALL}"),
        _ => TD.to_string(),
    }
}

/// Writes a table: header cells escaped like the rest, numbers right-aligned.
fn table(o: &mut String, t: &Table) {
    let shown: Vec<usize> = (0..t.columns.len()).filter(|&i| t.columns[i].show.wide()).collect();
    if t.cards {
        return cards(o, t, &shown);
    }
    let _ = write!(o, "<table {TABLE}><tr>");
    for &i in &shown {
        let _ = write!(o, "<th {TH}>{}</th>", escape(t.columns[i].header.wide()));
    }
    o.push_str("</tr>");
    let style = |i: usize, cell: &str| cell_style(t.columns[i].kind, cell);
    for row in &t.rows {
        o.push_str("<tr>");
        for &i in &shown {
            let cell = row.get(i).map_or("", Wording::wide);
            let _ = write!(o, "<td style=\"{}\">{}</td>", style(i, cell), escape(cell));
        }
        o.push_str("</tr>");
    }
    // A fact is a row of its own: its label, its value under the first value column, the rest empty.
    for fact in &t.facts {
        o.push_str("<tr>");
        for (n, &i) in shown.iter().enumerate() {
            let cell = match n {
                0 => fact.label.as_str(),
                1 => fact.value.as_str(),
                _ => "",
            };
            let _ = write!(o, "<td style=\"{}\">{}</td>", style(i, cell), escape(cell));
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>\n");
}

/// Writes each row of `t` as a card, its columns `shown` one per line, values aligned left.
fn cards(o: &mut String, t: &Table, shown: &[usize]) {
    for row in &t.rows {
        let _ = write!(o, "<table {CARD}>");
        for &i in shown {
            let cell = row.get(i).map_or("", Wording::wide);
            let style = cell_style(Kind::Text, cell);
            let _ = write!(
                o,
                "<tr><th {CARD_TH}>{}</th><td style=\"{style}\">{}</td></tr>",
                escape(t.columns[i].header.wide()),
                escape(cell)
            );
        }
        o.push_str("</table>\n");
    }
    for fact in &t.facts {
        let _ = write!(o, "<p>{}: {}</p>", escape(&fact.label), escape(&fact.value));
    }
}

/// Renders the report as a complete HTML page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let title = format!("MailLogSentinel report for {} ({})", r.server, r.period.label);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;color:#222222;\
         background:#ffffff;margin:16px\">\n<h1 style=\"font-size:21px;margin:0 0 4px 0;{BREAK}\">{}</h1>\n\
         <p style=\"margin:0;color:#555555;{BREAK}\">Period {} to {} ({}) &middot; maillogsentinel {}</p>\n",
        escape(&title),
        escape(&title),
        escape(&r.period.start),
        escape(&r.period.end),
        escape(&r.period.timezone),
        escape(&r.version)
    );
    if let Some(scan) = &r.last_scan {
        let _ = writeln!(
            o,
            "<p style=\"margin:0;color:#555555\">Logs read up to the last scan, at {}</p>",
            escape(&scan.finished)
        );
    }
    for s in sections(r) {
        section(&mut o, &s);
    }
    o.push_str("</body></html>\n");
    o
}

fn section(o: &mut String, s: &Section<'_>) {
    let title = escape(s.title.wide());
    match s.tone {
        Tone::Warning => {
            let _ = write!(
                o,
                "<div style=\"border:2px solid #e67e22;background:#fff4e5;padding:8px;margin:12px 0\">\
                 <h2 style=\"font-size:17px;margin:0 0 4px 0;color:#a04000\">Warning: {title}</h2>"
            );
        }
        Tone::Alarm => {
            let _ = write!(o, "<h2 style=\"font-size:17px;margin:18px 0 4px 0;color:#b00020\">{title}</h2>");
        }
        Tone::Plain => {
            let _ = write!(o, "<h2 {H2}>{title}</h2>");
        }
    }
    for block in &s.blocks {
        match block {
            Block::Paragraph(words) => {
                let _ = write!(o, "<p style=\"{BREAK}\">{}</p>", escape(words.wide()));
            }
            Block::Note(note) => {
                let _ = write!(o, "<p {NOTE}>{}</p>", escape(note));
            }
            Block::Table(t) if t.show.wide() => table(o, t),
            Block::Table(_) => {}
            Block::Chart(bucket, hours) => {
                let _ = write!(o, "\n<div>{}</div>\n", chart::hours_svg(*bucket, hours));
                // The numbers again, with bars of coloured cells: Gmail and Outlook do not display SVG.
                o.push_str(&chart::hours_table(*bucket, hours));
            }
        }
    }
    if s.tone == Tone::Warning {
        // A line break after the box unless its last block (a table) already ended a line: the
        // markup of the reports before the section model, kept byte for byte.
        let newline = !o.ends_with('\n');
        o.push_str("</div>");
        if newline {
            o.push('\n');
        }
    }
}

#[cfg(test)]
mod tests;
