//! The renderers on reports built by hand, with the long values real attacks bring: full-length
//! IPv6 addresses, 60-character host names from reverse DNS, long account names, and an empty
//! report. Text must fit 80 columns without cutting an address or a time, HTML must fit a 640 px
//! mail client (checked in headless Chromium), and JSON must carry the stored values as they are.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;

use std::process::Command;

use maillogsentinel::report::{
    AsnRow, BackendOutages, Bucket, BucketRow, Compromise, CompromiseWhy, CountryRow, DnsRow, IpRow, NetworkRow,
    NewIps, PeriodInfo, Report, ScanCoverage, ServiceRow, Totals, UserRow, When, html, json, text,
};
use serde_json::Value;

/// A time shown as `shown` (`YYYY-MM-DD HH:MM[:SS]`, in UTC).
fn at(shown: &str) -> When {
    let dt: jiff::civil::DateTime = shown.parse().unwrap();
    When::new(
        dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_second(),
        &jiff::tz::TimeZone::UTC,
        if shown.len() > 16 { "%Y-%m-%d %H:%M:%S" } else { "%Y-%m-%d %H:%M" },
    )
}

const V6: &str = "2001:0db8:dead:beef:cafe:0123:4567:89ab";
const V4: &str = "198.51.100.123";
/// 60 characters without a space, as reverse DNS gives them.
const HOST: &str = "static-198-51-100-123.customer.dynamic-pool.eu-west.examp.net";
const ACCOUNT: &str = "firstname.lastname@mail.example.org";
const FIRST_LOGIN: &str = "2026-11-24 10:27:43";
const FIRST_SEEN: &str = "2026-11-17 23:59:58";
const LAST_SEEN: &str = "2026-11-24 22:41:07";
/// A username as logged, with a literal backslash, and one with a real escape character.
const BACKSLASH_USER: &str = "\\x1b[31mroot";
const ESC_USER: &str = "\x1b[31mroot";

fn period() -> PeriodInfo {
    PeriodInfo {
        label: "2026-11-24".into(),
        start: "2026-11-24T00:00:00+00:00".into(),
        end: "2026-11-25T00:00:00+00:00".into(),
        timezone: "UTC".into(),
    }
}

fn ip(ip: &str, attempts: u64) -> IpRow {
    IpRow {
        ip: ip.into(),
        attempts,
        accounts: 12,
        hostname: Some(HOST.into()),
        country_code: Some("NL".into()),
        asn: Some("4200000001".into()),
        aso: Some("Some Very Long Hosting Organisation Name B.V.".into()),
        first_seen: Some(at(FIRST_SEEN)),
        last_seen: Some(at(LAST_SEEN)),
    }
}

/// A report whose every table has the longest values it can meet.
fn long_report() -> Report {
    let compromise = |ip: &str| Compromise {
        username: Some(ACCOUNT.into()),
        ip: ip.into(),
        first_login: at(FIRST_LOGIN),
        logins: 1_234,
        service: "postfix/submission-haproxy/smtpd".into(),
        why: vec![CompromiseWhy::FailedBefore, CompromiseWhy::NewCountry],
        failures_7d: 123_456,
        failed_accounts_7d: 1_234,
        hostname: Some(HOST.into()),
        country_code: Some("BR".into()),
        previous_countries: vec!["FR".into(), "DE".into(), "US".into()],
        asn: Some("4200000001".into()),
        aso: Some("Some Very Long Hosting Organisation Name B.V.".into()),
    };
    Report {
        server: "mx1.a-rather-long-server-name.example.org".into(),
        version: "0".into(),
        period: period(),
        enrichment: true,
        totals: Totals {
            failed_attempts: 1_234_567,
            unique_ips: 12_345,
            previous_failed_attempts: 1_000_000,
            previous_unique_ips: 10_000,
            successful_logins: 4_321,
            mechanism_probes: 7,
        },
        compromises: vec![compromise(V6), compromise(V4)],
        top_ips: vec![ip(V6, 1_234_567), ip(V4, 123_456), ip("2001:db8::1", 12)],
        top_users: vec![
            UserRow { username: ACCOUNT.into(), attempts: 123_456, ips: 1_234 },
            UserRow { username: BACKSLASH_USER.into(), attempts: 2, ips: 1 },
            UserRow { username: ESC_USER.into(), attempts: 1, ips: 1 },
        ],
        top_countries: vec![
            CountryRow { country_code: "NL".into(), attempts: 1_000_000, ips: 10_000 },
            CountryRow { country_code: "unknown".into(), attempts: 12, ips: 1 },
        ],
        top_asns: vec![
            AsnRow {
                asn: "4200000001".into(),
                aso: "Some Very Long Hosting Organisation Name B.V.".into(),
                attempts: 1_000_000,
                ips: 10_000,
            },
            AsnRow { asn: "unknown".into(), aso: String::new(), attempts: 12, ips: 1 },
        ],
        top_networks: vec![NetworkRow { network: "2001:db8:dead:beef::/64".into(), attempts: 1_234_567, ips: 12 }],
        bucket: Bucket::Hour,
        per_hour: (0..24)
            .map(|h| BucketRow { start: at(&format!("2026-11-24 {h:02}:00")), attempts: 1_000 * (h % 5) })
            .collect(),
        new_ips: NewIps { count: 2, attempts: 1_234_579, top: vec![ip(V6, 1_234_567), ip(V4, 12)] },
        reverse_dns: vec![DnsRow { status: "nxdomain".into(), attempts: 1_234_567, ips: 12 }],
        services: vec![ServiceRow { service: "SMTP submission (587)".into(), attempts: 1_234_567, ips: 12_345 }],
        backend_outages: BackendOutages {
            events: 2,
            first_seen: Some(at("2026-11-24 14:00:00")),
            last_seen: Some(at("2026-11-24 14:05:00")),
            services: vec![("dovecot/auth".into(), 2)],
            ..BackendOutages::default()
        },
        alerts: vec![],
        last_scan: Some(ScanCoverage { finished: at("2026-11-25 00:05:00"), problems: 0, stale: false }),
        notes: vec![],
        fleet: None,
    }
}

/// A day without any event.
fn empty_report(enrichment: bool) -> Report {
    Report {
        server: "mx1".into(),
        version: "0".into(),
        period: period(),
        enrichment,
        totals: Totals::default(),
        compromises: vec![],
        top_ips: vec![],
        top_users: vec![],
        top_countries: vec![],
        top_asns: vec![],
        top_networks: vec![],
        bucket: Bucket::Hour,
        per_hour: (0..24).map(|h| BucketRow { start: at(&format!("2026-11-24 {h:02}:00")), attempts: 0 }).collect(),
        new_ips: NewIps::default(),
        reverse_dns: vec![],
        services: vec![],
        backend_outages: BackendOutages::default(),
        alerts: vec![],
        last_scan: None,
        notes: vec![],
        fleet: None,
    }
}

#[test]
fn text_never_cuts_an_address_or_a_time_and_fits_80_columns() {
    let r = long_report();
    let out = text::render(&r);
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "too long ({}): {line:?}\n{out}", line.chars().count());
    }
    // Each address and time whole, on one line.
    for whole in [V6, V4, "2001:db8::1", FIRST_LOGIN, FIRST_SEEN, LAST_SEEN, ACCOUNT, "2001:db8:dead:beef::/64"] {
        assert!(out.lines().any(|l| l.contains(whole)), "{whole} is cut or missing:\n{out}");
    }
    // Twice in the compromises (once per address), and the reason with each.
    assert_eq!(out.matches(FIRST_LOGIN).count(), 2, "{out}");
    assert_eq!(out.matches("failed before, new country").count(), 2, "{out}");
    // Every value of a row is still there: the counts in full.
    for n in ["1,234,567", "123,456", "1,234"] {
        assert!(out.contains(n), "{n}:\n{out}");
    }
    // Host names and organisations may be shortened, and say so.
    assert!(out.contains("static-198-51-10") && out.contains('…'), "{out}");
    // Control characters stay visible; a literal backslash is shown as it was logged.
    assert!(!out.contains('\x1b') && out.contains("\\u{001B}[31mroot") && out.contains(BACKSLASH_USER), "{out}");
}

#[test]
fn text_tables_of_short_values_stay_one_line_per_row() {
    let mut r = long_report();
    for row in r.top_ips.iter_mut() {
        row.ip = "203.0.113.5".into();
        row.hostname = Some("scanner.example.net".into());
        row.aso = Some("Evil Hosting".into());
    }
    let out = text::render(&r);
    let top = &out[out.find("Top attacker IPs").unwrap()..out.find("Top usernames").unwrap()];
    let rows = top.lines().filter(|l| l.starts_with("203.0.113.5")).count();
    assert_eq!(rows, 6, "three in the IP table, three in the times table:\n{top}");
    assert!(top.lines().all(|l| l.is_empty() || !l.starts_with("    ")), "no continuation line:\n{top}");
}

#[test]
fn an_empty_report_says_none_instead_of_empty_tables() {
    for enrichment in [true, false] {
        let r = empty_report(enrichment);
        let out = text::render(&r);
        let lines: Vec<&str> = out.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let rule = !line.is_empty() && line.chars().all(|c| c == '-' || c == ' ');
            if rule {
                let next = lines.get(i + 1).copied().unwrap_or("");
                assert!(!next.is_empty() && !next.starts_with('='), "a table with only headers:\n{out}");
            }
        }
        for header in ["Tries", "Username", "Network", "Service"] {
            assert!(!out.contains(header), "{header}: an empty table\n{out}");
        }
        assert!(out.matches("None.").count() >= 4, "{out}");

        let page = html::render(&r);
        for table in page.split("<table").skip(1) {
            let table = &table[..table.find("</table>").unwrap()];
            assert!(table.matches("<tr>").count() + table.matches("<tr ").count() > 1, "only headers: {table}");
        }
        assert!(page.matches("None.").count() >= 4, "{page}");
    }
}

#[test]
fn without_enrichment_its_columns_are_not_shown() {
    let mut r = long_report();
    r.enrichment = false;
    let strip = |row: &mut IpRow| {
        (row.hostname, row.country_code, row.asn, row.aso) = (None, None, None, None);
    };
    r.top_ips.iter_mut().for_each(strip);
    r.new_ips.top.iter_mut().for_each(strip);
    for c in r.compromises.iter_mut() {
        (c.hostname, c.country_code, c.asn, c.aso) = (None, None, None, None);
        c.previous_countries.clear();
        c.why = vec![CompromiseWhy::FailedBefore];
    }
    let (out, page) = (text::render(&r), html::render(&r));
    assert!(out.contains("No enrichment data yet") && page.contains("No enrichment data yet"));
    for header in ["Hostname", "Organisation", "ASN", "CC", "Country", "Earlier countries"] {
        assert!(!out.contains(header), "text shows {header}:\n{out}");
        assert!(!page.contains(&format!(">{header}<")), "HTML shows {header}");
    }
    // The columns that need no enrichment are all there.
    for header in ["Tries", "Accts", "First login", "Fails 7d", "Why"] {
        assert!(out.contains(header), "{header}:\n{out}");
    }
    // With room freed, the IPs of the text IP table fit whole.
    assert!(out.lines().any(|l| l.starts_with(V6)), "{out}");
}

#[test]
fn json_carries_stored_values_escaped_only_by_json() {
    let mut r = long_report();
    // The store holds texts made visible (the literal backslash doubled, the ESC written out, a
    // byte that was not UTF-8 as \xNN); JSON gives them as logged.
    let stored = |logged: &[u8]| maillogsentinel::text::visible(logged);
    r.top_users = [ACCOUNT.as_bytes(), BACKSLASH_USER.as_bytes(), ESC_USER.as_bytes(), b"caf\xe9"]
        .map(|u| UserRow { username: stored(u), attempts: 1, ips: 1 })
        .into();
    assert_eq!(r.top_users[1].username, "\\\\x1b[31mroot");
    r.compromises[0].username = Some(stored(b"a\\b"));
    r.compromises[0].service = stored(b"imap\x7f");
    r.top_ips[0].hostname = Some(stored("x\u{202e}y".as_bytes()));
    r.top_asns[0].aso = stored(b"Evil\x00 Ltd");
    r.backend_outages.services = vec![(stored(b"dovecot\\auth"), 2)];
    let json: Value = serde_json::from_str(&json::render(&r)).unwrap();
    let users: Vec<&str> =
        json["top_users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(users, [ACCOUNT, BACKSLASH_USER, ESC_USER, "caf\u{fffd}"]);
    assert_eq!(json["compromises"][0]["username"], "a\\b");
    assert_eq!(json["compromises"][0]["service"], "imap\x7f");
    assert_eq!(json["top_ips"][0]["hostname"], "x\u{202e}y");
    assert_eq!(json["top_asns"][0]["aso"], "Evil\0 Ltd");
    assert_eq!(json["backend_outages"]["services"][0]["service"], "dovecot\\auth");
    // Text still shows the stored, visible form.
    assert!(text::render(&r).contains("\\\\x1b[31mroot"));
    let r = long_report();
    let json: Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(json["top_ips"][0]["hostname"], HOST);
    // A list of objects like every other list in the report.
    assert_eq!(json["backend_outages"]["services"], serde_json::json!([{"service": "dovecot/auth", "events": 2}]));
    // Unknown is null everywhere, as in the IP rows.
    assert_eq!(json["top_countries"][1]["country_code"], Value::Null);
    assert_eq!(json["top_countries"][1]["attempts"], 12);
    assert_eq!(json["top_asns"][1]["asn"], Value::Null);
    assert_eq!(json["top_asns"][1]["aso"], Value::Null);
    assert_eq!(json["top_countries"][0]["country_code"], "NL");
    // Times are RFC 3339 with the offset.
    assert_eq!(json["top_ips"][0]["first_seen"], "2026-11-17T23:59:58+00:00");
    assert_eq!(json["compromises"][0]["first_login"], "2026-11-24T10:27:43+00:00");
    assert_eq!(json["per_hour"][3]["start"], "2026-11-24T03:00:00+00:00");
    assert_eq!(json["backend_outages"]["first_seen"], "2026-11-24T14:00:00+00:00");
    assert_eq!(json["last_scan"]["finished"], "2026-11-25T00:05:00+00:00");
    let mut r = empty_report(true);
    r.top_ips = vec![IpRow { country_code: None, ..ip(V4, 1) }];
    let json: Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(json["top_ips"][0]["country_code"], Value::Null);
}
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

fn chromium_args(profile: &std::path::Path, width: u32) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--window-size={width},2400"), format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// The HTML report with long values, laid out by a real browser 640 px wide: nothing reaches
/// past the window (no sideways scrolling in a mail client, the "Why" column in view).
#[test]
fn html_fits_a_640_px_mail_client_in_headless_chromium() {
    let browser = chromium();
    if !fixture::require("chromium", browser.is_some(), "apt-get install chromium") {
        return;
    }
    let browser = browser.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = html::render(&long_report());
    // A copy of the page that measures itself: the widest extent of the document and of any
    // element, written into the DOM that --dump-dom prints.
    let probe = "<script>window.addEventListener('load',function(){var w=document.documentElement.scrollWidth,\
                 r=0,els=document.querySelectorAll('body *');for(var i=0;i<els.length;i++){var b=els[i].\
                 getBoundingClientRect();if(b.right>r)r=b.right;}var p=document.createElement('pre');\
                 p.id='measure';p.textContent='scroll='+w+' right='+Math.ceil(r)+' inner='+window.innerWidth;\
                 document.body.appendChild(p);});</script>";
    assert!(!page.contains("<script"), "the report itself has no script");
    let measured = page.replace("</body>", &format!("{probe}</body>"));
    let file = dir.path().join("report.html");
    std::fs::write(&file, &measured).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args(chromium_args(profile.path(), 640))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let at = dom.find("<pre id=\"measure\">").unwrap_or_else(|| panic!("no measure in the DOM: {dom}")) + 17;
    let measure: Vec<u64> = dom[at..dom[at..].find('<').map_or(dom.len(), |e| at + e)]
        .split(' ')
        .map(|kv| kv.split('=').nth(1).unwrap().trim().parse().unwrap())
        .collect();
    if let Ok(keep) = std::env::var("MAILLOGSENTINEL_KEEP_SCREENSHOT") {
        let src = dir.path().join("plain.html");
        std::fs::write(&src, &page).unwrap();
        let _ = Command::new(browser)
            .args(chromium_args(profile.path(), 640))
            .arg(format!("--screenshot={keep}"))
            .arg(format!("file://{}", src.display()))
            .output();
    }
    let (scroll, right, inner) = (measure[0], measure[1], measure[2]);
    eprintln!("scrollWidth {scroll}, rightmost element {right}, window {inner}");
    assert_eq!(inner, 640, "the window is 640 px wide");
    assert!(scroll <= 640 && right <= 640, "wider than 640 px: scrollWidth {scroll}, rightmost element {right}");
    // Every long value is on the page, whole (broken only by the browser).
    for whole in [V6, HOST, ACCOUNT, FIRST_LOGIN] {
        assert!(page.contains(whole), "{whole}");
    }
}

#[test]
fn the_missing_geolocation_note_is_in_every_format() {
    let mut r = empty_report(true);
    r.notes.push(maillogsentinel::report::GEO_MISSING_NOTE.to_string());
    let text = text::render(&r);
    assert!(text.contains("No geolocation database: countries and AS are unknown"), "{text}");
    assert!(text.contains("maillogsentinel geo update"), "{text}");
    let html = html::render(&r);
    assert!(html.contains("No geolocation database: countries and AS are unknown"), "{html}");
    let v: serde_json::Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(v["notes"][0], maillogsentinel::report::GEO_MISSING_NOTE);
    // Without the note, nothing is said.
    let plain = text::render(&empty_report(true));
    assert!(!plain.contains("geolocation"), "{plain}");
}
