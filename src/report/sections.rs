//! What a report shows and in which order, once for every rendering: [`sections`] turns a
//! [`Report`] into titled sections of paragraphs, tables and the hourly chart, and [`super::text`]
//! and [`super::html`] only draw them.
//!
//! One model rather than a walk of the report in each renderer, so that a section added shows in
//! text and HTML alike and titles, order and columns cannot drift apart. The two media still differ
//! where room differs: the text report must fit 80 columns, so some titles, headers and
//! cells have a shorter *narrow* wording ([`Wording`]), and a few columns are only shown in the
//! wide (HTML) or only in the narrow (text) rendering ([`Show`]). Those differences are data here,
//! next to the column they concern, rather than code in a renderer.
//!
//! Values are raw in the model: each renderer escapes every title, paragraph and cell for its
//! own medium (HTML escaping, visible control characters in text).

use super::format::{change, thousands};
use super::{Bucket, BucketRow, CompromiseWhy, FleetSection, IpRow, Report};

/// A text, with a shorter wording for the narrow (80-column text) rendering when it needs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wording {
    /// The full wording, used by the wide (HTML) rendering.
    pub wide: String,
    /// The wording of the narrow rendering, when it differs.
    pub narrow: Option<String>,
}

impl Wording {
    /// The same words in every rendering.
    pub fn same(s: impl Into<String>) -> Wording {
        Wording { wide: s.into(), narrow: None }
    }

    /// `wide` in the wide rendering, `narrow` in the narrow one.
    pub fn two(wide: impl Into<String>, narrow: impl Into<String>) -> Wording {
        Wording { wide: wide.into(), narrow: Some(narrow.into()) }
    }

    /// The words for the wide rendering.
    pub fn wide(&self) -> &str {
        &self.wide
    }

    /// The words for the narrow rendering.
    pub fn narrow(&self) -> &str {
        self.narrow.as_deref().unwrap_or(&self.wide)
    }
}

impl From<String> for Wording {
    fn from(s: String) -> Wording {
        Wording::same(s)
    }
}

impl From<&str> for Wording {
    fn from(s: &str) -> Wording {
        Wording::same(s)
    }
}

/// Which renderings show a column or a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Text and HTML.
    Both,
    /// Only HTML: a detail the 80 text columns have no room for.
    WideOnly,
    /// Only text: what HTML already shows elsewhere.
    NarrowOnly,
}

impl Show {
    /// Shown in the wide (HTML) rendering.
    pub fn wide(self) -> bool {
        self != Show::NarrowOnly
    }

    /// Shown in the narrow (text) rendering.
    pub fn narrow(self) -> bool {
        self != Show::WideOnly
    }
}

/// What a column holds, which decides how it is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Words: aligned left, and cut (with `…`) when a text table must shrink to fit.
    Text,
    /// What a reader acts on (an address, a time, an account, the reason a login is listed):
    /// aligned left and never cut; text wraps it onto more lines rather than cut it, HTML lets
    /// a long one break anywhere.
    Whole,
    /// A count or a change: aligned right and never cut, since a cut number reads as another.
    Number,
}

/// One column of a [`Table`].
#[derive(Clone, Debug)]
pub struct Column {
    /// The heading.
    pub header: Wording,
    /// Its layout.
    pub kind: Kind,
    /// Where it is shown.
    pub show: Show,
    /// Filled from the enrichment table (host names, countries, AS): left out of reports made
    /// without it, where it would only hold `-`.
    pub enriched: bool,
}

impl Column {
    fn text(header: impl Into<Wording>) -> Column {
        Column { header: header.into(), kind: Kind::Text, show: Show::Both, enriched: false }
    }

    fn whole(header: impl Into<Wording>) -> Column {
        Column { kind: Kind::Whole, ..Column::text(header) }
    }

    fn number(header: impl Into<Wording>) -> Column {
        Column { kind: Kind::Number, ..Column::text(header) }
    }

    fn wide_only(self) -> Column {
        Column { show: Show::WideOnly, ..self }
    }

    fn narrow_only(self) -> Column {
        Column { show: Show::NarrowOnly, ..self }
    }

    fn enriched(self) -> Column {
        Column { enriched: true, ..self }
    }
}

/// A figure that goes with a table but has nothing for its other columns.
#[derive(Clone, Debug)]
pub struct Fact {
    /// What it is.
    pub label: String,
    /// Its value, formatted.
    pub value: String,
}

/// Rows of cells under column headings.
#[derive(Clone, Debug)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// One cell per column in each row (including the columns a rendering does not show).
    pub rows: Vec<Vec<Wording>>,
    /// Figures shown with the table: HTML adds them as rows (label, value, then empty cells), text
    /// as `label: value` lines under it.
    pub facts: Vec<Fact>,
    /// Where the whole table is shown.
    pub show: Show,
    /// The wide rendering shows each row as a card of `heading: value` lines rather than as a
    /// line of a table: for a table of few rows and many columns, read one row at a time (the
    /// possible compromises), which as a table would be too wide for a mail client.
    pub cards: bool,
}

impl Table {
    fn new(columns: Vec<Column>) -> Table {
        Table { columns, rows: Vec::new(), facts: Vec::new(), show: Show::Both, cards: false }
    }

    fn row(&mut self, cells: Vec<Wording>) {
        debug_assert_eq!(cells.len(), self.columns.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// The table without its [enriched](Column::enriched) columns when the report has no
    /// enrichment table.
    fn enrichment(mut self, enrichment: bool) -> Table {
        if enrichment {
            return self;
        }
        let keep: Vec<bool> = self.columns.iter().map(|c| !c.enriched).collect();
        for row in &mut self.rows {
            *row = row.drain(..).zip(&keep).filter(|(_, k)| **k).map(|(cell, _)| cell).collect();
        }
        self.columns.retain(|c| !c.enriched);
        self
    }

    /// The table, or `None.` in its place when it has nothing to show (a table of headers only
    /// reads as broken).
    fn or_none<'r>(self) -> Block<'r> {
        if self.rows.is_empty() && self.facts.is_empty() { Block::Paragraph(NONE.into()) } else { Block::Table(self) }
    }
}

/// What an empty table says instead.
pub const NONE: &str = "None.";

/// One piece of a section's content.
#[derive(Clone, Debug)]
pub enum Block<'r> {
    /// Sentences. A `\n` in the narrow wording starts a new line.
    Paragraph(Wording),
    /// A table.
    Table(Table),
    /// An aside in a quieter voice: HTML greys it, text puts it in parentheses.
    Note(String),
    /// Failed attempts per bucket (hour, day, ...), drawn as a chart.
    Chart(Bucket, &'r [BucketRow]),
}

/// How a section's heading draws the eye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// An ordinary heading.
    Plain,
    /// Something to act on (possible compromises): HTML colours the heading red.
    Alarm,
    /// A warning about the report or the server, not about attackers: text prefixes the title with
    /// `WARNING: `, HTML puts the section in an orange box titled `Warning: `.
    Warning,
}

/// A titled part of the report.
#[derive(Clone, Debug)]
pub struct Section<'r> {
    /// The heading (without the `WARNING` prefix of a [`Tone::Warning`] section).
    pub title: Wording,
    /// How the heading draws the eye.
    pub tone: Tone,
    /// The content, in order.
    pub blocks: Vec<Block<'r>>,
}

impl<'r> Section<'r> {
    fn new(title: impl Into<Wording>, blocks: Vec<Block<'r>>) -> Section<'r> {
        Section { title: title.into(), tone: Tone::Plain, blocks }
    }
}

/// `s` with its first letter upper-case, as a sentence of its own.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// `-` for a value the store does not have.
fn opt<T: std::fmt::Display>(s: &Option<T>) -> String {
    s.as_ref().map_or_else(|| "-".into(), T::to_string)
}

/// The sections of `r`, in the order every rendering shows them: warnings about the report
/// first, then the headline numbers, what needs checking, and the detail.
pub fn sections(r: &Report) -> Vec<Section<'_>> {
    let mut out = Vec::new();
    if let Some(scan) = &r.last_scan {
        let warnings = scan.warnings();
        if !warnings.is_empty() {
            let blocks = warnings.into_iter().map(|w| Block::Paragraph(w.into())).collect();
            out.push(Section { tone: Tone::Warning, ..Section::new("this report may be incomplete", blocks) });
        }
    }
    out.push(summary(r));
    out.push(compromises(r));
    if let Some(fleet) = &r.fleet {
        out.extend(fleet_sections(fleet));
    }
    if r.backend_outages.events > 0 {
        out.push(backend_outages(r));
    }
    if !r.alerts.is_empty() {
        out.push(alerts(r));
    }
    out.push(Section::new("Top attacker IPs", ip_blocks(&r.top_ips, r.enrichment)));
    let counts = |first: Column, rows: Vec<(String, u64, u64)>| {
        let mut t = Table::new(vec![first, Column::number("Attempts"), Column::number("IPs")]);
        for (name, attempts, ips) in rows {
            t.row(vec![name.into(), thousands(attempts).into(), thousands(ips).into()]);
        }
        vec![t.or_none()]
    };
    out.push(Section::new(
        "Top usernames",
        counts(
            Column::whole("Username"),
            r.top_users.iter().map(|x| (x.username.clone(), x.attempts, x.ips)).collect(),
        ),
    ));
    if r.enrichment {
        out.push(Section::new(
            "Top countries",
            counts(
                Column::text("Country"),
                r.top_countries.iter().map(|x| (x.country_code.clone(), x.attempts, x.ips)).collect(),
            ),
        ));
        let mut t = Table::new(vec![
            Column::text("ASN"),
            Column::text("Organisation"),
            Column::number("Attempts"),
            Column::number("IPs"),
        ]);
        for x in &r.top_asns {
            t.row(vec![
                x.asn.clone().into(),
                x.aso.clone().into(),
                thousands(x.attempts).into(),
                thousands(x.ips).into(),
            ]);
        }
        out.push(Section::new(Wording::two("Top autonomous systems", "Top networks (AS)"), vec![t.or_none()]));
    }
    out.push(Section::new(
        "Top networks (/24, /64)",
        counts(
            Column::whole("Network"),
            r.top_networks.iter().map(|x| (x.network.clone(), x.attempts, x.ips)).collect(),
        ),
    ));
    let chart = if r.per_hour.iter().any(|h| h.attempts > 0) {
        Block::Chart(r.bucket, &r.per_hour)
    } else {
        Block::Paragraph(NONE.into())
    };
    out.push(Section::new(format!("Attempts per {}", r.bucket.noun()), vec![chart]));
    let new_ips = if r.new_ips.top.is_empty() {
        vec![Block::Paragraph(NONE.into())]
    } else {
        let mut blocks = vec![Block::Paragraph(
            format!("They made {} attempts. The busiest:", thousands(r.new_ips.attempts)).into(),
        )];
        blocks.extend(ip_blocks(&r.new_ips.top, r.enrichment));
        blocks
    };
    out.push(Section::new(format!("New IPs never seen before: {}", thousands(r.new_ips.count)), new_ips));
    if r.enrichment {
        let mut t = Table::new(vec![Column::text("Status"), Column::number("IPs"), Column::number("Attempts")]);
        for x in &r.reverse_dns {
            t.row(vec![x.status.clone().into(), thousands(x.ips).into(), thousands(x.attempts).into()]);
        }
        out.push(Section::new("Reverse DNS of attacker IPs", vec![t.or_none()]));
    }
    out.push(Section::new(
        "Attempts per service",
        counts(Column::text("Service"), r.services.iter().map(|x| (x.service.clone(), x.attempts, x.ips)).collect()),
    ));
    out
}

/// Each server's numbers, and the attackers several servers saw (`report --fleet`).
fn fleet_sections(f: &FleetSection) -> Vec<Section<'_>> {
    let mut t = Table::new(vec![
        Column::whole("Server"),
        Column::number(Wording::two("Failed attempts", "Failed")),
        Column::number(Wording::two("Attacker IPs", "IPs")),
        Column::number(Wording::two("Successful logins", "Logins")),
        Column::number(Wording::two("Backend errors", "Backend")).wide_only(),
        Column::text("Last shipment").wide_only(),
    ]);
    for s in &f.servers {
        t.row(vec![
            s.server.clone().into(),
            thousands(s.failed_attempts).into(),
            thousands(s.unique_ips).into(),
            thousands(s.successful_logins).into(),
            thousands(s.backend_errors).into(),
            s.last_shipment.as_ref().map_or_else(|| "never".to_string(), |w| w.shown.clone()).into(),
        ]);
    }
    let mut shared = Table::new(vec![
        Column::whole("IP"),
        Column::whole("Servers"),
        Column::number("Attempts"),
        Column::number("Accounts"),
    ]);
    for a in &f.shared {
        shared.row(vec![
            a.ip.to_string().into(),
            a.servers.join(", ").into(),
            thousands(a.attempts).into(),
            thousands(a.accounts).into(),
        ]);
    }
    vec![
        Section::new("Servers", vec![t.or_none()]),
        Section::new(
            format!("Attackers seen on several servers: {}", thousands(f.shared_count)),
            vec![shared.or_none()],
        ),
    ]
}

fn summary(r: &Report) -> Section<'_> {
    let t = &r.totals;
    let mut table = Table::new(vec![
        Column::text(""),
        Column::number(Wording::two("This period", "this period")),
        Column::number(Wording::two("Previous", "previous")),
        Column::number(Wording::two("Change", "change")),
    ]);
    for (label, now, before) in [
        ("Failed login attempts", t.failed_attempts, t.previous_failed_attempts),
        ("Unique attacker IPs", t.unique_ips, t.previous_unique_ips),
    ] {
        table.row(vec![label.into(), thousands(now).into(), thousands(before).into(), change(now, before).into()]);
    }
    let fact = |label: &str, n: u64| Fact { label: label.into(), value: thousands(n) };
    table.facts.push(fact("Successful logins", t.successful_logins));
    if t.mechanism_probes > 0 {
        table.facts.push(fact("Mechanism probes (not counted)", t.mechanism_probes));
    }
    let mut blocks = vec![Block::Table(table)];
    if !r.enrichment {
        blocks.push(Block::Note("No enrichment data yet: host names, countries and AS are not shown.".into()));
    }
    for note in &r.notes {
        blocks.push(Block::Note(capitalised(note)));
    }
    Section::new("Summary", blocks)
}

fn compromises(r: &Report) -> Section<'_> {
    let title = format!("Possible compromises: {}", r.compromises.len());
    if r.compromises.is_empty() {
        let none = "None: no successful login from an IP that failed recently or from a new country.";
        return Section::new(title, vec![Block::Paragraph(none.into())]);
    }
    let mut t = Table::new(vec![
        Column::whole("Account"),
        Column::whole("IP"),
        Column::whole("First login"),
        Column::number("Logins").wide_only(),
        Column::text("Service").wide_only(),
        Column::text(Wording::two("Country", "CC")).enriched(),
        Column::text("Earlier countries").wide_only().enriched(),
        Column::number(Wording::two("Failures 7 d", "Fails 7d")),
        Column::number("Accounts failed").wide_only(),
        Column::whole("Why"),
    ]);
    for x in &r.compromises {
        let (long, short): (Vec<&str>, Vec<&str>) = x
            .why
            .iter()
            .map(|w| match w {
                CompromiseWhy::FailedBefore => ("this IP failed to log in during the 7 days before", "failed before"),
                CompromiseWhy::NewCountry => ("first login from this country", "new country"),
            })
            .unzip();
        t.row(vec![
            opt(&x.username).into(),
            x.ip.clone().into(),
            x.first_login.to_string().into(),
            thousands(x.logins).into(),
            x.service.clone().into(),
            opt(&x.country_code).into(),
            if x.previous_countries.is_empty() { "-".to_string() } else { x.previous_countries.join(" ") }.into(),
            thousands(x.failures_7d).into(),
            thousands(x.failed_accounts_7d).into(),
            Wording::two(long.join("; "), short.join(", ")),
        ]);
    }
    let t = Table { cards: true, ..t.enrichment(r.enrichment) };
    Section { tone: Tone::Alarm, ..Section::new(title, vec![Block::Table(t)]) }
}

/// The alerts of the period: what each rule sent on each channel, and what was given up.
fn alerts(r: &Report) -> Section<'_> {
    let mut t = Table::new(vec![
        Column::whole("Rule"),
        Column::text("Kind"),
        Column::whole("Channel"),
        Column::number("Sent"),
        Column::number("Dropped"),
        Column::number("Pending"),
    ]);
    let mut notes = Vec::new();
    for a in &r.alerts {
        t.row(vec![
            a.rule.clone().into(),
            a.kind.clone().into(),
            a.channel.clone().into(),
            thousands(a.sent).into(),
            thousands(a.dropped).into(),
            thousands(a.pending).into(),
        ]);
        if let (Some(e), true) = (&a.error, a.dropped + a.pending > 0) {
            let what = if a.dropped > 0 { "dropped" } else { "not delivered yet" };
            notes.push(Block::Note(format!("{} on {}: {what}: {e}", a.rule, a.channel)));
        }
    }
    let dropped = r.alerts.iter().any(|a| a.dropped > 0);
    let mut blocks = vec![Block::Table(t)];
    blocks.extend(notes);
    let title = if dropped { Wording::same("Alerts sent (some dropped)") } else { Wording::same("Alerts sent") };
    Section { tone: if dropped { Tone::Warning } else { Tone::Plain }, ..Section::new(title, blocks) }
}

fn backend_outages(r: &Report) -> Section<'_> {
    let b = &r.backend_outages;
    let (events, first, last) = (thousands(b.events), opt(&b.first_seen), opt(&b.last_seen));
    let noun = if b.events == 1 { "event" } else { "events" };
    // A fleet's report adds up several servers: its Servers table says which.
    let place = if r.fleet.is_some() { "on the servers that logged them" } else { "on this server" };
    let said = Wording::two(
        format!(
            "{events} {noun} (e.g. \"Connection lost to authentication server\") from {first} to {last}. This is an \
             operational problem {place}, not an attack; logins may have failed."
        ),
        format!(
            "{events} {noun} such as \"Connection lost to authentication server\"\nfrom {first} to {last}.\n\
             This is an operational problem {place}, not an attack;\nlogins may have failed."
        ),
    );
    let mut t = Table::new(vec![Column::text("Service"), Column::number("Events")]);
    for (service, n) in &b.services {
        t.row(vec![service.clone().into(), thousands(*n).into()]);
    }
    let mut blocks = vec![Block::Paragraph(said)];
    if !t.rows.is_empty() {
        blocks.push(Block::Table(t));
    }
    Section { tone: Tone::Warning, ..Section::new("authentication backend errors", blocks) }
}

/// The tables of attacker IPs: what is known of each, and for text, which has no room for the
/// times in that table (HTML has them there), when each was first and last seen; `None.` without
/// any.
fn ip_blocks<'r>(rows: &[IpRow], enrichment: bool) -> Vec<Block<'r>> {
    if rows.is_empty() {
        return vec![Block::Paragraph(NONE.into())];
    }
    vec![Block::Table(ip_table(rows).enrichment(enrichment)), Block::Table(ip_times_table(rows))]
}

/// Attacker IPs with what is known of them.
fn ip_table(rows: &[IpRow]) -> Table {
    let mut t = Table::new(vec![
        Column::whole("IP"),
        Column::number(Wording::two("Attempts", "Tries")),
        Column::number(Wording::two("Accounts", "Accts")),
        Column::text("Hostname").enriched(),
        Column::text(Wording::two("Country", "CC")).enriched(),
        Column::text("ASN").enriched().narrow_only(),
        Column::text("Organisation").enriched().narrow_only(),
        // One column in HTML, to fit a mail client.
        Column::text("AS").enriched().wide_only(),
        Column::whole("First seen").wide_only(),
        Column::whole("Last seen").wide_only(),
    ]);
    for x in rows {
        t.row(vec![
            x.ip.clone().into(),
            thousands(x.attempts).into(),
            thousands(x.accounts).into(),
            opt(&x.hostname).into(),
            opt(&x.country_code).into(),
            opt(&x.asn).into(),
            opt(&x.aso).into(),
            match (&x.asn, &x.aso) {
                (Some(asn), Some(aso)) => format!("AS{asn} {aso}"),
                (Some(asn), None) => format!("AS{asn}"),
                (None, aso) => opt(aso),
            }
            .into(),
            opt(&x.first_seen).into(),
            opt(&x.last_seen).into(),
        ]);
    }
    t
}

/// When each IP of [`ip_table`] was first and last seen, for text.
fn ip_times_table(rows: &[IpRow]) -> Table {
    let mut t = Table::new(vec![Column::whole("IP"), Column::whole("First seen"), Column::whole("Last seen")]);
    for x in rows {
        t.row(vec![x.ip.clone().into(), opt(&x.first_seen).into(), opt(&x.last_seen).into()]);
    }
    Table { show: Show::NarrowOnly, ..t }
}

#[cfg(test)]
mod tests;
