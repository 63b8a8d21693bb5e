//! The HTML report: one self-contained page (inline CSS and SVG, nothing fetched), readable in a
//! browser and in mail clients (the hourly chart is also drawn with table cells for those that
//! drop SVG). Every value is HTML-escaped.

use std::fmt::Write;

use super::format::change;
use super::format::thousands;
use super::{CompromiseWhy, IpRow, Report, chart};

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
const TABLE: &str = r#"style="border-collapse:collapse;margin:6px 0 14px 0;font-size:13px""#;
const TH: &str = r#"style="text-align:left;background:#f0f0f0;border:1px solid #cccccc;padding:3px 8px""#;
const TD: &str = r#"style="border:1px solid #dddddd;padding:3px 8px""#;
const TDN: &str = r#"style="border:1px solid #dddddd;padding:3px 8px;text-align:right""#;
const H2: &str = r#"style="font-size:17px;margin:18px 0 4px 0;color:#222222""#;

struct Table<'a> {
    out: &'a mut String,
    numeric: Vec<bool>,
}

impl<'a> Table<'a> {
    fn new(out: &'a mut String, cols: &[(&str, bool)]) -> Table<'a> {
        let _ = write!(out, "<table {TABLE}><tr>");
        for (name, _) in cols {
            let _ = write!(out, "<th {TH}>{}</th>", escape(name));
        }
        out.push_str("</tr>");
        Table { out, numeric: cols.iter().map(|c| c.1).collect() }
    }

    fn row(&mut self, cells: &[String]) {
        self.out.push_str("<tr>");
        for (i, cell) in cells.iter().enumerate() {
            let style = if self.numeric.get(i).copied().unwrap_or(false) { TDN } else { TD };
            let _ = write!(self.out, "<td {style}>{}</td>", escape(cell));
        }
        self.out.push_str("</tr>");
    }

    fn end(self) {
        self.out.push_str("</table>\n");
    }
}

/// Opens an orange box with a heading; the caller writes its content and `</div>`.
fn warning_box(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<div style=\"border:2px solid #e67e22;background:#fff4e5;padding:8px;margin:12px 0\">\
         <h2 style=\"font-size:17px;margin:0 0 4px 0;color:#a04000\">{}</h2>",
        escape(title)
    );
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn ip_table(out: &mut String, rows: &[IpRow]) {
    let mut t = Table::new(
        out,
        &[
            ("IP", false),
            ("Attempts", true),
            ("Accounts", true),
            ("Hostname", false),
            ("Country", false),
            ("ASN", false),
            ("Organisation", false),
            ("First seen", false),
            ("Last seen", false),
        ],
    );
    for x in rows {
        t.row(&[
            x.ip.clone(),
            thousands(x.attempts),
            thousands(x.accounts),
            opt(&x.hostname),
            opt(&x.country_code),
            opt(&x.asn),
            opt(&x.aso),
            opt(&x.first_seen),
            opt(&x.last_seen),
        ]);
    }
    t.end();
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
         background:#ffffff;margin:16px\">\n<h1 style=\"font-size:21px;margin:0 0 4px 0\">{}</h1>\n\
         <p style=\"margin:0;color:#555555\">Period {} to {} ({}) &middot; maillogsentinel {}</p>\n",
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
        let warnings = scan.warnings();
        if !warnings.is_empty() {
            warning_box(&mut o, "Warning: this report may be incomplete");
            for warning in warnings {
                let _ = write!(o, "<p>{}</p>", escape(&warning));
            }
            o.push_str("</div>\n");
        }
    }
    let t = &r.totals;
    let _ = write!(o, "<h2 {H2}>Summary</h2>");
    let mut s = Table::new(&mut o, &[("", false), ("This period", true), ("Previous", true), ("Change", true)]);
    s.row(&[
        "Failed login attempts".into(),
        thousands(t.failed_attempts),
        thousands(t.previous_failed_attempts),
        change(t.failed_attempts, t.previous_failed_attempts),
    ]);
    s.row(&[
        "Unique attacker IPs".into(),
        thousands(t.unique_ips),
        thousands(t.previous_unique_ips),
        change(t.unique_ips, t.previous_unique_ips),
    ]);
    s.row(&["Successful logins".into(), thousands(t.successful_logins), String::new(), String::new()]);
    if t.mechanism_probes > 0 {
        s.row(&["Mechanism probes (not counted)".into(), thousands(t.mechanism_probes), String::new(), String::new()]);
    }
    s.end();
    if !r.enrichment {
        o.push_str(
            "<p style=\"color:#555555\">No enrichment data yet: host names, countries and AS are not shown.</p>",
        );
    }

    let color = if r.compromises.is_empty() { "#222222" } else { "#b00020" };
    let _ = write!(
        o,
        "<h2 style=\"font-size:17px;margin:18px 0 4px 0;color:{color}\">Possible compromises: {}</h2>",
        r.compromises.len()
    );
    if r.compromises.is_empty() {
        o.push_str("<p>None: no successful login from an IP that failed recently or from a new country.</p>");
    } else {
        let mut c = Table::new(
            &mut o,
            &[
                ("Account", false),
                ("IP", false),
                ("First login", false),
                ("Logins", true),
                ("Service", false),
                ("Country", false),
                ("Earlier countries", false),
                ("Failures 7 d", true),
                ("Accounts failed", true),
                ("Why", false),
            ],
        );
        for x in &r.compromises {
            let why: Vec<&str> = x
                .why
                .iter()
                .map(|w| match w {
                    CompromiseWhy::FailedBefore => "this IP failed to log in during the 7 days before",
                    CompromiseWhy::NewCountry => "first login from this country",
                })
                .collect();
            c.row(&[
                opt(&x.username),
                x.ip.clone(),
                x.first_login.clone(),
                thousands(x.logins),
                x.service.clone(),
                opt(&x.country_code),
                x.previous_countries.join(" "),
                thousands(x.failures_7d),
                thousands(x.failed_accounts_7d),
                why.join("; "),
            ]);
        }
        c.end();
    }

    if r.backend_outages.events > 0 {
        let b = &r.backend_outages;
        warning_box(&mut o, "Warning: authentication backend errors");
        let _ = write!(
            o,
            "<p>{} {} (e.g. &quot;Connection lost to authentication server&quot;) from {} to {}. This is an \
             operational problem on this server, not an attack; logins may have failed.</p>",
            thousands(b.events),
            if b.events == 1 { "event" } else { "events" },
            escape(&opt(&b.first_seen)),
            escape(&opt(&b.last_seen))
        );
        let mut t = Table::new(&mut o, &[("Service", false), ("Events", true)]);
        for (service, n) in &b.services {
            t.row(&[service.clone(), thousands(*n)]);
        }
        t.end();
        o.push_str("</div>");
    }

    let _ = write!(o, "<h2 {H2}>Top attacker IPs</h2>");
    ip_table(&mut o, &r.top_ips);
    let _ = write!(o, "<h2 {H2}>Top usernames</h2>");
    let mut t = Table::new(&mut o, &[("Username", false), ("Attempts", true), ("IPs", true)]);
    for x in &r.top_users {
        t.row(&[x.username.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.end();
    if r.enrichment {
        let _ = write!(o, "<h2 {H2}>Top countries</h2>");
        let mut t = Table::new(&mut o, &[("Country", false), ("Attempts", true), ("IPs", true)]);
        for x in &r.top_countries {
            t.row(&[x.country_code.clone(), thousands(x.attempts), thousands(x.ips)]);
        }
        t.end();
        let _ = write!(o, "<h2 {H2}>Top autonomous systems</h2>");
        let mut t = Table::new(&mut o, &[("ASN", false), ("Organisation", false), ("Attempts", true), ("IPs", true)]);
        for x in &r.top_asns {
            t.row(&[x.asn.clone(), x.aso.clone(), thousands(x.attempts), thousands(x.ips)]);
        }
        t.end();
    }
    let _ = write!(o, "<h2 {H2}>Top networks (/24, /64)</h2>");
    let mut t = Table::new(&mut o, &[("Network", false), ("Attempts", true), ("IPs", true)]);
    for x in &r.top_networks {
        t.row(&[x.network.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.end();

    let _ = write!(o, "<h2 {H2}>Attempts per hour</h2>\n<div>{}</div>\n", chart::hours_svg(&r.per_hour));
    // The numbers again, with bars of coloured cells: Gmail and Outlook do not display SVG.
    o.push_str(&chart::hours_table(&r.per_hour));

    let _ = write!(
        o,
        "<h2 {H2}>New IPs never seen before: {}</h2><p>They made {} attempts. The busiest:</p>",
        thousands(r.new_ips.count),
        thousands(r.new_ips.attempts)
    );
    ip_table(&mut o, &r.new_ips.top);
    if r.enrichment {
        let _ = write!(o, "<h2 {H2}>Reverse DNS of attacker IPs</h2>");
        let mut t = Table::new(&mut o, &[("Status", false), ("IPs", true), ("Attempts", true)]);
        for x in &r.reverse_dns {
            t.row(&[x.status.clone(), thousands(x.ips), thousands(x.attempts)]);
        }
        t.end();
    }
    let _ = write!(o, "<h2 {H2}>Attempts per service</h2>");
    let mut t = Table::new(&mut o, &[("Service", false), ("Attempts", true), ("IPs", true)]);
    for x in &r.services {
        t.row(&[x.service.clone(), thousands(x.attempts), thousands(x.ips)]);
    }
    t.end();
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_controls_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\x1bb"), "a\\u{001B}b");
    }
}
