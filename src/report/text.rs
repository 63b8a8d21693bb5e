//! The plain-text report: aligned tables that fit 80 columns.

use std::fmt::Write;

use super::Report;
use super::format::thousands;
use super::format::{change, safe_text, truncate};

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
    headers: Vec<&'static str>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(cols: &[(&'static str, Align)]) -> Table {
        Table { headers: cols.iter().map(|c| c.0).collect(), aligns: cols.iter().map(|c| c.1).collect(), rows: vec![] }
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
        line(&mut self.headers.iter().copied(), out);
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

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn section(out: &mut String, title: &str) {
    let _ = write!(out, "\n{title}\n{}\n", "=".repeat(title.chars().count().min(WIDTH)));
}

/// Renders the report as text.
pub fn render(r: &Report) -> String {
    use Align::{Left as L, Right as R};
    let mut out = String::new();
    let _ = writeln!(out, "{}", truncate(&format!("MailLogSentinel report for {}", safe_text(&r.server)), WIDTH));
    let _ = writeln!(out, "Period: {} ({})", r.period.label, r.period.timezone);
    let _ = writeln!(out, "        {} to {}", r.period.start, r.period.end);
    let _ = writeln!(out, "maillogsentinel {}", r.version);
    if let Some(scan) = &r.last_scan {
        let _ = writeln!(out, "Logs read up to the last scan, at {}", scan.finished);
        let warnings = scan.warnings();
        if !warnings.is_empty() {
            section(&mut out, "WARNING: this report may be incomplete");
            for warning in warnings {
                let _ = writeln!(out, "{}", wrap(&warning, WIDTH));
            }
        }
    }
    let t = &r.totals;
    section(&mut out, "Summary");
    let mut s = Table::new(&[("", L), ("this period", R), ("previous", R), ("change", R)]);
    s.row(vec![
        "Failed login attempts".into(),
        thousands(t.failed_attempts),
        thousands(t.previous_failed_attempts),
        change(t.failed_attempts, t.previous_failed_attempts),
    ]);
    s.row(vec![
        "Unique attacker IPs".into(),
        thousands(t.unique_ips),
        thousands(t.previous_unique_ips),
        change(t.unique_ips, t.previous_unique_ips),
    ]);
    s.render(&mut out);
    let _ = writeln!(out, "Successful logins: {}", thousands(t.successful_logins));
    if t.mechanism_probes > 0 {
        let _ = writeln!(out, "Mechanism probes (not counted): {}", thousands(t.mechanism_probes));
    }
    if !r.enrichment {
        let _ = writeln!(out, "(No enrichment data yet: host names, countries and AS are not shown.)");
    }

    section(&mut out, &format!("Possible compromises: {}", r.compromises.len()));
    if r.compromises.is_empty() {
        out.push_str("None: no successful login from an IP that failed recently or from a new country.\n");
    } else {
        let mut c =
            Table::new(&[("Account", L), ("IP", L), ("First login", L), ("CC", L), ("Fails 7d", R), ("Why", L)]);
        for x in &r.compromises {
            let why: Vec<&str> = x
                .why
                .iter()
                .map(|w| match w {
                    super::CompromiseWhy::FailedBefore => "failed before",
                    super::CompromiseWhy::NewCountry => "new country",
                })
                .collect();
            c.row(vec![
                opt(&x.username),
                x.ip.clone(),
                x.first_login.clone(),
                opt(&x.country_code),
                thousands(x.failures_7d),
                why.join(", "),
            ]);
        }
        c.render(&mut out);
    }

    if r.backend_outages.events > 0 {
        let b = &r.backend_outages;
        section(&mut out, "WARNING: authentication backend errors");
        let _ = writeln!(
            out,
            "{} {} such as \"Connection lost to authentication server\"\nfrom {} to {}.\n\
             This is an operational problem on this server, not an attack;\nlogins may have failed.",
            thousands(b.events),
            if b.events == 1 { "event" } else { "events" },
            opt(&b.first_seen),
            opt(&b.last_seen)
        );
        let mut t = Table::new(&[("Service", L), ("Events", R)]);
        for (service, n) in &b.services {
            t.row(vec![service.clone(), thousands(*n)]);
        }
        t.render(&mut out);
    }

    let ip_table = |rows: &[super::IpRow], out: &mut String| {
        let mut t = Table::new(&[
            ("IP", L),
            ("Tries", R),
            ("Accts", R),
            ("Hostname", L),
            ("CC", L),
            ("ASN", L),
            ("Organisation", L),
            ("First seen", L),
        ]);
        for x in rows {
            t.row(vec![
                x.ip.clone(),
                thousands(x.attempts),
                thousands(x.accounts),
                opt(&x.hostname),
                opt(&x.country_code),
                opt(&x.asn),
                opt(&x.aso),
                x.first_seen.as_deref().map_or("-".into(), |s| s.chars().take(10).collect()),
            ]);
        }
        t.render(out);
    };
    section(&mut out, "Top attacker IPs");
    ip_table(&r.top_ips, &mut out);
    let mut t = Table::new(&[("IP", L), ("First seen", L), ("Last seen", L)]);
    for x in &r.top_ips {
        t.row(vec![x.ip.clone(), opt(&x.first_seen), opt(&x.last_seen)]);
    }
    t.render(&mut out);

    section(&mut out, "Top usernames");
    let mut t = Table::new(&[("Username", L), ("Attempts", R), ("IPs", R)]);
    for x in &r.top_users {
        t.row(vec![x.username.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.render(&mut out);

    if r.enrichment {
        section(&mut out, "Top countries");
        let mut t = Table::new(&[("Country", L), ("Attempts", R), ("IPs", R)]);
        for x in &r.top_countries {
            t.row(vec![x.country_code.clone(), thousands(x.attempts), thousands(x.ips)]);
        }
        t.render(&mut out);
        section(&mut out, "Top networks (AS)");
        let mut t = Table::new(&[("ASN", L), ("Organisation", L), ("Attempts", R), ("IPs", R)]);
        for x in &r.top_asns {
            t.row(vec![x.asn.clone(), x.aso.clone(), thousands(x.attempts), thousands(x.ips)]);
        }
        t.render(&mut out);
    }

    section(&mut out, "Top networks (/24, /64)");
    let mut t = Table::new(&[("Network", L), ("Attempts", R), ("IPs", R)]);
    for x in &r.top_networks {
        t.row(vec![x.network.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.render(&mut out);

    section(&mut out, "Attempts per hour");
    let max = r.per_hour.iter().map(|h| h.attempts).max().unwrap_or(0).max(1);
    for h in &r.per_hour {
        let bar = (h.attempts * 50).div_ceil(max) as usize;
        let line = format!("{}  {:>10}  {}", h.start, thousands(h.attempts), "#".repeat(bar));
        let _ = writeln!(out, "{}", line.trim_end());
    }

    section(&mut out, &format!("New IPs never seen before: {}", thousands(r.new_ips.count)));
    let _ = writeln!(out, "They made {} attempts. The busiest:", thousands(r.new_ips.attempts));
    ip_table(&r.new_ips.top, &mut out);

    if r.enrichment {
        section(&mut out, "Reverse DNS of attacker IPs");
        let mut t = Table::new(&[("Status", L), ("IPs", R), ("Attempts", R)]);
        for x in &r.reverse_dns {
            t.row(vec![x.status.clone(), thousands(x.ips), thousands(x.attempts)]);
        }
        t.render(&mut out);
    }

    section(&mut out, "Attempts per service");
    let mut t = Table::new(&[("Service", L), ("Attempts", R), ("IPs", R)]);
    for x in &r.services {
        t.row(vec![x.service.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.render(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_wrapped_at_spaces() {
        assert_eq!(wrap("one two three four", 9), "one two\nthree\nfour");
        assert_eq!(wrap("a verylongword b", 4), "a\nverylongword\nb");
        assert_eq!(wrap("fits", 80), "fits");
    }

    #[test]
    fn tables_fit_80_columns_and_cut_long_names_with_an_ellipsis() {
        let mut t = Table::new(&[("Name", Align::Left), ("Host", Align::Left), ("N", Align::Right)]);
        t.row(vec!["a".repeat(70), "b".repeat(40), "12,345".into()]);
        t.row(vec!["evil\x1b[2J".into(), "x".into(), "1".into()]);
        let mut out = String::new();
        t.render(&mut out);
        for line in out.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(out.contains('…') && out.contains("12,345"), "{out}");
        assert!(!out.contains('\x1b') && out.contains("evil\\u{001B}[2J"), "{out}");
    }
}
