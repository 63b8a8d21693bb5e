use super::*;
use crate::report::tests::at;
use crate::report::{
    BackendOutages, Compromise, NewIps, PeriodInfo, ScanCoverage, ServiceRow, Totals, UserRow, html, text,
};

fn ip(ip: &str, attempts: u64) -> IpRow {
    IpRow {
        ip: ip.into(),
        attempts,
        accounts: 1,
        hostname: None,
        country_code: Some("CN".into()),
        asn: None,
        aso: None,
        first_seen: Some(at("2026-11-24 03:10:00")),
        last_seen: Some(at("2026-11-24 03:20:00")),
    }
}

/// A report with something in every section.
fn report(enrichment: bool) -> Report {
    Report {
        server: "mx1".into(),
        version: "0".into(),
        period: PeriodInfo {
            label: "2026-11-24".into(),
            start: "2026-11-24T00:00:00+00:00".into(),
            end: "2026-11-25T00:00:00+00:00".into(),
            timezone: "UTC".into(),
        },
        enrichment,
        totals: Totals { failed_attempts: 1_234, unique_ips: 2, mechanism_probes: 1, ..Totals::default() },
        compromises: vec![Compromise {
            username: Some("bob".into()),
            ip: "198.51.100.7".into(),
            first_login: at("2026-11-24 08:30:00"),
            logins: 1,
            service: "dovecot/imap-login".into(),
            why: vec![CompromiseWhy::FailedBefore, CompromiseWhy::NewCountry],
            failures_7d: 7,
            failed_accounts_7d: 2,
            hostname: None,
            country_code: Some("BR".into()),
            previous_countries: vec!["FR".into(), "DE".into()],
            asn: None,
            aso: None,
        }],
        top_ips: vec![ip("203.0.113.5", 1_000), ip("2001:db8::1", 234)],
        top_users: vec![UserRow { username: "admin".into(), attempts: 5, ips: 1 }],
        top_countries: vec![],
        top_asns: vec![],
        top_networks: vec![],
        bucket: Bucket::Hour,
        per_hour: vec![BucketRow { start: at("2026-11-24 03:00"), attempts: 1_234 }],
        new_ips: NewIps { count: 1, attempts: 234, top: vec![ip("2001:db8::1", 234)] },
        reverse_dns: vec![],
        services: vec![ServiceRow { service: "IMAP".into(), attempts: 1_234, ips: 2 }],
        backend_outages: BackendOutages {
            events: 1,
            first_seen: Some(at("2026-11-24 14:00:00")),
            last_seen: Some(at("2026-11-24 14:00:00")),
            services: vec![("dovecot/auth".into(), 1)],
            ..BackendOutages::default()
        },
        alerts: vec![],
        last_scan: Some(ScanCoverage { finished: at("2026-11-24 01:00:00"), problems: 3, stale: true }),
        notes: Vec::new(),
        fleet: None,
    }
}

fn titles(r: &Report) -> Vec<String> {
    sections(r).iter().map(|s| s.title.narrow().to_string()).collect()
}

#[test]
fn sections_come_in_one_order_with_warnings_first() {
    assert_eq!(
        titles(&report(true)),
        [
            "this report may be incomplete",
            "Summary",
            "Possible compromises: 1",
            "authentication backend errors",
            "Top attacker IPs",
            "Top usernames",
            "Top countries",
            "Top networks (AS)",
            "Top networks (/24, /64)",
            "Attempts per hour",
            "New IPs never seen before: 1",
            "Reverse DNS of attacker IPs",
            "Attempts per service",
        ]
    );
    let tones: Vec<Tone> = sections(&report(true)).iter().take(4).map(|s| s.tone).collect();
    assert_eq!(tones, [Tone::Warning, Tone::Plain, Tone::Alarm, Tone::Warning]);
}

#[test]
fn sections_that_need_enrichment_are_left_out_without_it() {
    let without = titles(&report(false));
    for needs in ["Top countries", "Top networks (AS)", "Reverse DNS of attacker IPs"] {
        assert!(!without.contains(&needs.to_string()), "{without:?}");
    }
    let r = report(false);
    let summary = sections(&r).into_iter().find(|s| s.title.wide() == "Summary").unwrap();
    assert!(summary.blocks.iter().any(|b| matches!(b, Block::Note(n) if n.starts_with("No enrichment"))));
}

#[test]
fn every_row_has_one_cell_per_column() {
    for enrichment in [true, false] {
        for s in sections(&report(enrichment)) {
            for block in &s.blocks {
                if let Block::Table(t) = block {
                    for row in &t.rows {
                        assert_eq!(row.len(), t.columns.len(), "{:?}", s.title);
                    }
                }
            }
        }
    }
}

#[test]
fn each_rendering_shows_its_own_columns_and_wording() {
    let r = report(true);
    let (text, html) = (text::render(&r), html::render(&r));
    // Only the wide rendering has room for these.
    for wide in ["Earlier countries", "Accounts failed", "this IP failed to log in during the 7 days before"] {
        assert!(html.contains(wide) && !text.contains(wide), "{wide}");
    }
    // The narrow wording of the same facts.
    assert!(text.contains("failed before, new") && html.contains("; first login from this country"));
    assert!(text.contains("Top networks (AS)") && html.contains("Top autonomous systems"));
    // The times tables are text's alone: HTML has the times in the IP tables.
    assert_eq!(text.matches("Last seen").count(), 2, "top IPs and new IPs");
    assert_eq!(text.matches("First seen").count(), 2, "{text}");
    assert_eq!(html.matches(">Last seen<").count(), 2, "top IPs and new IPs");
    // Counts are written the same way in both.
    assert!(text.contains("1,234") && html.contains("1,234"));
}

#[test]
fn without_enrichment_no_table_has_its_columns_and_empty_tables_say_none() {
    let mut r = report(false);
    r.top_users.clear();
    for s in sections(&r) {
        for block in &s.blocks {
            if let Block::Table(t) = block {
                assert!(t.columns.iter().all(|c| !c.enriched), "{:?}", s.title);
                assert!(!t.rows.is_empty() || !t.facts.is_empty(), "an empty table in {:?}", s.title);
            }
        }
    }
    let users = sections(&r).into_iter().find(|s| s.title.wide() == "Top usernames").unwrap();
    assert!(matches!(&users.blocks[..], [Block::Paragraph(p)] if p.wide() == NONE));
    // With enrichment, the same tables have them.
    let with = report(true);
    let top = sections(&with).into_iter().find(|s| s.title.wide() == "Top attacker IPs").unwrap();
    assert!(matches!(&top.blocks[0], Block::Table(t) if t.columns.iter().any(|c| c.enriched)));
}

#[test]
fn alerts_of_the_day_follow_what_needs_checking() {
    let mut r = report(true);
    r.alerts = vec![
        crate::report::AlertRow {
            rule: "brute".into(),
            kind: "threshold".into(),
            channel: "hook".into(),
            sent: 3,
            ..Default::default()
        },
        crate::report::AlertRow {
            rule: "takeover".into(),
            kind: "compromise".into(),
            channel: "mail".into(),
            dropped: 1,
            error: Some("not delivered within give_up_after (1d)".into()),
            ..Default::default()
        },
    ];
    let all = sections(&r);
    let i = all.iter().position(|s| s.title.wide() == "Alerts sent (some dropped)").unwrap();
    assert_eq!(all[i - 1].title.wide(), "authentication backend errors");
    assert_eq!(all[i].tone, Tone::Warning);
    let Block::Table(t) = &all[i].blocks[0] else { panic!("a table first") };
    assert_eq!(t.rows.len(), 2);
    assert!(
        all[i]
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Note(n) if n.contains("takeover on mail: dropped: not delivered"))),
        "{:?}",
        all[i].blocks
    );
    assert!(!titles(&report(true)).iter().any(|t| t.starts_with("Alerts")), "no alerts, no section");
}
