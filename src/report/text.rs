//! The plain-text report, for terminals and the text part of the daily mail: the
//! [section model](super::sections) in its narrow wording, as aligned tables that fit 80 columns.
//! Every value is shown with control and invisible characters made visible ([`safe_text`]), since
//! an escape sequence in a username would otherwise act on the reader's terminal.

use std::fmt::Write;

use super::format::{safe_text, thousands, truncate};
use super::sections::{self, Block, Kind, Section, Tone, Wording, sections};
use super::{BucketRow, Report};

/// Width every line fits in.
pub const WIDTH: usize = 80;

/// Narrowest a cut ([`Kind::Text`]) column gets before a table wraps its rows instead.
const MIN_CUT: usize = 10;

/// Narrowest a [`Kind::Whole`] column gets by wrapping its values within it: wider than any
/// address (an IPv6 address has up to 39 characters) or time, which are never broken.
const MIN_WRAP: usize = 40;

/// Indent of the continuation lines of a row too wide for one line.
const INDENT: usize = 4;

/// A table laid out to fit [`WIDTH`]. Numbers and [`Kind::Whole`] values (addresses, times,
/// accounts) are never cut; other text columns shrink, longest first and down to [`MIN_CUT`],
/// their cells cut with `…`. A table that still does not fit puts the gaps at one space; then
/// wraps the whole values longer than [`MIN_WRAP`] within their columns; and then wraps rows: each
/// row goes on over indented continuation lines, the columns that did not fit on the first,
/// aligned row to row (a value wider than a whole line is wrapped within its column).
struct Table {
    headers: Vec<String>,
    kinds: Vec<Kind>,
    rows: Vec<Vec<String>>,
}

/// Columns that share a line of the layout.
struct Line {
    /// The columns, in order.
    cols: Vec<usize>,
    /// Spaces before the first.
    indent: usize,
}

impl Table {
    fn new(cols: &[(&str, Kind)]) -> Table {
        Table {
            headers: cols.iter().map(|c| c.0.to_string()).collect(),
            kinds: cols.iter().map(|c| c.1).collect(),
            rows: vec![],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| safe_text(&c).into_owned()).collect());
    }

    /// The column widths and how the columns share lines.
    fn layout(&self) -> (Vec<usize>, Vec<Line>, usize) {
        let n = self.headers.len();
        let len = |s: &str| s.chars().count();
        let natural: Vec<usize> = (0..n)
            .map(|i| self.rows.iter().map(|r| r.get(i).map_or(0, |c| len(c))).fold(len(&self.headers[i]), usize::max))
            .collect();
        let min = |i: usize| match self.kinds[i] {
            Kind::Text => natural[i].min(MIN_CUT.max(len(&self.headers[i]))),
            Kind::Number | Kind::Whole => natural[i],
        };
        let mut widths = natural.clone();
        let total = |widths: &[usize], gap: usize| widths.iter().sum::<usize>() + gap * (n - 1);
        // The widest text column gives way first.
        while total(&widths, 2) > WIDTH {
            match (0..n).filter(|&i| widths[i] > min(i)).max_by_key(|&i| widths[i]) {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
        let one_line = |gap| (widths.clone(), vec![Line { cols: (0..n).collect(), indent: 0 }], gap);
        if total(&widths, 2) <= WIDTH {
            return one_line(2);
        }
        if total(&widths, 1) <= WIDTH {
            return one_line(1);
        }
        // A whole value longer than any address (a long account, a reason) may wrap within its
        // column, keeping its row on one line, when that is enough.
        let mut within = widths.clone();
        while total(&within, 2) > WIDTH {
            let wrappable = |i: usize| self.kinds[i] == Kind::Whole && within[i] > MIN_WRAP.max(len(&self.headers[i]));
            match (0..n).filter(|&i| wrappable(i)).max_by_key(|&i| within[i]) {
                Some(i) => within[i] -= 1,
                None => break,
            }
        }
        if total(&within, 2) <= WIDTH {
            return (within, vec![Line { cols: (0..n).collect(), indent: 0 }], 2);
        }
        // Wrap: as many columns per line as fit.
        let mut lines: Vec<Line> = vec![Line { cols: vec![], indent: 0 }];
        let mut used = 0;
        for (i, w) in widths.iter_mut().enumerate() {
            let line = lines.last_mut().expect("a line");
            if !line.cols.is_empty() && used + 2 + *w > WIDTH {
                lines.push(Line { cols: vec![], indent: INDENT });
                used = INDENT;
            }
            let line = lines.last_mut().expect("a line");
            *w = (*w).min(WIDTH - line.indent);
            used += if line.cols.is_empty() { *w } else { 2 + *w };
            line.cols.push(i);
        }
        // The room a line has left goes back to its cut columns.
        for line in &lines {
            let mut spare =
                WIDTH - line.indent - line.cols.iter().map(|&i| widths[i]).sum::<usize>() - 2 * (line.cols.len() - 1);
            for &i in &line.cols {
                let more = (natural[i] - widths[i]).min(spare);
                widths[i] += more;
                spare -= more;
            }
        }
        (widths, lines, 2)
    }

    fn render(&self, out: &mut String) {
        let (widths, lines, gap) = self.layout();
        let len = |s: &str| s.chars().count();
        // One row of cells, over as many lines of text as its layout and its values need.
        let row = |cells: &[&str], out: &mut String| {
            for line in &lines {
                let parts: Vec<Vec<String>> = line
                    .cols
                    .iter()
                    .map(|&i| {
                        let cell = cells.get(i).copied().unwrap_or("");
                        match self.kinds[i] {
                            Kind::Text => vec![truncate(cell, widths[i])],
                            Kind::Number => vec![cell.to_string()],
                            Kind::Whole => wrap_hard(cell, widths[i]),
                        }
                    })
                    .collect();
                let height = parts.iter().map(Vec::len).max().unwrap_or(1).max(1);
                for k in 0..height {
                    let mut text = " ".repeat(line.indent);
                    for (p, &i) in line.cols.iter().enumerate() {
                        if p > 0 {
                            text.push_str(&" ".repeat(gap));
                        }
                        let cell = parts[p].get(k).map_or("", String::as_str);
                        let pad = " ".repeat(widths[i].saturating_sub(len(cell)));
                        if self.kinds[i] == Kind::Number {
                            text.push_str(&pad);
                            text.push_str(cell);
                        } else {
                            text.push_str(cell);
                            text.push_str(&pad);
                        }
                    }
                    out.push_str(text.trim_end());
                    out.push('\n');
                }
            }
        };
        let headers: Vec<&str> = self.headers.iter().map(String::as_str).collect();
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
        row(&headers, out);
        row(&rule, out);
        for cells in &self.rows {
            row(&cells.iter().map(String::as_str).collect::<Vec<_>>(), out);
        }
    }
}

/// `s` in lines of at most `width` characters: broken at spaces, and a longer word anywhere.
fn wrap_hard(s: &str, width: usize) -> Vec<String> {
    if s.chars().count() <= width {
        return vec![s.to_string()];
    }
    let mut out = Vec::new();
    for line in wrap(s, width).split('\n') {
        let chars: Vec<char> = line.chars().collect();
        for chunk in chars.chunks(width.max(1)) {
            out.push(chunk.iter().collect());
        }
    }
    out
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
            Block::Chart(_, rows) => bars(out, rows),
        }
    }
}

fn table(out: &mut String, t: &sections::Table) {
    let shown: Vec<usize> = (0..t.columns.len()).filter(|&i| t.columns[i].show.narrow()).collect();
    let cols: Vec<(&str, Kind)> = shown.iter().map(|&i| (t.columns[i].header.narrow(), t.columns[i].kind)).collect();
    let mut layout = Table::new(&cols);
    for row in &t.rows {
        layout.row(shown.iter().map(|&i| row.get(i).map_or("", Wording::narrow).to_string()).collect());
    }
    layout.render(out);
    for fact in &t.facts {
        let _ = writeln!(out, "{}: {}", safe_text(&fact.label), safe_text(&fact.value));
    }
}

/// One line per bucket: the count and a bar of `#`, 50 for the busiest.
fn bars(out: &mut String, hours: &[BucketRow]) {
    let max = hours.iter().map(|h| h.attempts).max().unwrap_or(0).max(1);
    for h in hours {
        let bar = (h.attempts * 50).div_ceil(max) as usize;
        let line = format!("{}  {:>10}  {}", h.start, thousands(h.attempts), "#".repeat(bar));
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests;
