//! The plain-text report, for terminals and the text part of the daily mail: the
//! [section model](super::sections) in its narrow wording, as aligned tables that fit 80 columns.
//! Every value is shown with control and invisible characters made visible ([`safe_text`]), since
//! an escape sequence in a username would otherwise act on the reader's terminal.

use std::fmt::Write;

use super::format::{safe_text, thousands, truncate};
use super::sections::{self, Block, Kind, Section, Tone, Wording, sections};
use super::{HourRow, Report};

/// Width every line fits in.
pub const WIDTH: usize = 80;

/// Column alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A table whose text columns shrink (longest first, truncated with `…`) until it fits.
struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(cols: &[(&str, Align)]) -> Table {
        Table {
            headers: cols.iter().map(|c| c.0.to_string()).collect(),
            aligns: cols.iter().map(|c| c.1).collect(),
            rows: vec![],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| safe_text(&c).into_owned()).collect());
    }

    fn render(&self, out: &mut String) {
        let n = self.headers.len();
        let len = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| len(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(len(cell));
            }
        }
        // Numbers are never cut; the widest text column gives way first.
        while widths.iter().sum::<usize>() + 2 * (n - 1) > WIDTH {
            let widest = (0..n).filter(|&i| self.aligns[i] == Align::Left && widths[i] > 4).max_by_key(|&i| widths[i]);
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
            let mut text = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let cell = truncate(cell, widths[i]);
                let pad = widths[i].saturating_sub(len(&cell));
                if self.aligns[i] == Align::Right {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(&cell);
                } else {
                    text.push_str(&cell);
                    text.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut self.headers.iter().map(String::as_str), out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut rule.iter().map(String::as_str), out);
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str), out);
        }
    }
}

/// `s` broken into lines of at most `width` characters at spaces (a longer word gets a line
/// of its own).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / width);
    let mut line_len = 0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let n = word.chars().count();
        if line_len > 0 && line_len + 1 + n > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += n;
    }
    out
}

fn title(out: &mut String, title: &str) {
    let _ = write!(out, "\n{title}\n{}\n", "=".repeat(title.chars().count().min(WIDTH)));
}

/// Renders the report as text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", truncate(&format!("MailLogSentinel report for {}", safe_text(&r.server)), WIDTH));
    let _ = writeln!(out, "Period: {} ({})", r.period.label, r.period.timezone);
    let _ = writeln!(out, "        {} to {}", r.period.start, r.period.end);
    let _ = writeln!(out, "maillogsentinel {}", r.version);
    if let Some(scan) = &r.last_scan {
        let _ = writeln!(out, "Logs read up to the last scan, at {}", scan.finished);
    }
    for s in sections(r) {
        section(&mut out, &s);
    }
    out
}

fn section(out: &mut String, s: &Section<'_>) {
    match s.tone {
        Tone::Warning => title(out, &format!("WARNING: {}", s.title.narrow())),
        // Text has no colour to raise an alarm with: the title says it.
        Tone::Plain | Tone::Alarm => title(out, s.title.narrow()),
    }
    for block in &s.blocks {
        match block {
            Block::Paragraph(words) => {
                for line in words.narrow().split('\n') {
                    let _ = writeln!(out, "{}", wrap(&safe_text(line), WIDTH));
                }
            }
            Block::Note(note) => {
                let _ = writeln!(out, "({})", safe_text(note));
            }
            Block::Table(t) if t.show.narrow() => table(out, t),
            Block::Table(_) => {}
            Block::HourChart(hours) => hour_bars(out, hours),
        }
    }
}

fn table(out: &mut String, t: &sections::Table) {
    let shown: Vec<usize> = (0..t.columns.len()).filter(|&i| t.columns[i].show.narrow()).collect();
    let cols: Vec<(&str, Align)> = shown
        .iter()
        .map(|&i| {
            let c = &t.columns[i];
            (c.header.narrow(), if c.kind == Kind::Number { Align::Right } else { Align::Left })
        })
        .collect();
    let mut layout = Table::new(&cols);
    for row in &t.rows {
        layout.row(shown.iter().map(|&i| row.get(i).map_or("", Wording::narrow).to_string()).collect());
    }
    layout.render(out);
    for fact in &t.facts {
        let _ = writeln!(out, "{}: {}", safe_text(&fact.label), safe_text(&fact.value));
    }
}

/// One line per hour: the count and a bar of `#`, 50 for the busiest hour.
fn hour_bars(out: &mut String, hours: &[HourRow]) {
    let max = hours.iter().map(|h| h.attempts).max().unwrap_or(0).max(1);
    for h in hours {
        let bar = (h.attempts * 50).div_ceil(max) as usize;
        let line = format!("{}  {:>10}  {}", h.start, thousands(h.attempts), "#".repeat(bar));
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests;
