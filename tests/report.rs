//! `maillogsentinel report` on a store written through the real store API.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;

use std::process::Command;

use fixture::{EVIL_USER, FAILED, IPS, PREVIOUS_FAILED, SCRIPT_USER};
use serde_json::Value;

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setup(enrich: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fixture::fill(&dir.path().join("data"), enrich);
    let config = fixture::config(dir.path(), "");
    (dir, config)
}

#[test]
fn json_report_has_the_facts_of_the_day() {
    let (_dir, config) = setup(true);
    let day = fixture::day().to_string();
    let json: Value = serde_json::from_str(&ok(&fixture::run(&config, &["report", "--format", "json"]))).unwrap();
    assert_eq!(json["server"], "mx1");
    assert_eq!(json["period"]["label"], day.as_str(), "the default period is yesterday");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    let t = &json["totals"];
    assert_eq!(t["failed_attempts"], FAILED);
    assert_eq!(t["unique_ips"], IPS);
    assert_eq!(t["previous_failed_attempts"], PREVIOUS_FAILED);
    assert_eq!(t["previous_unique_ips"], 1);
    assert_eq!(t["successful_logins"], 2);
    assert_eq!(t["mechanism_probes"], 1);

    let c = json["compromises"].as_array().unwrap();
    assert_eq!(c.len(), 2, "{c:#?}");
    assert_eq!(c[0]["username"], "bob");
    assert_eq!(c[0]["ip"], "198.51.100.7");
    assert_eq!(c[0]["why"], serde_json::json!(["failed_before"]));
    // 4 the day before and 3 the same day, for two accounts.
    assert_eq!(c[0]["failures_7d"], 7);
    assert_eq!(c[0]["failed_accounts_7d"], 2);
    assert_eq!(c[1]["username"], "alice");
    assert_eq!(c[1]["why"], serde_json::json!(["new_country"]));
    assert_eq!(c[1]["country_code"], "RU");
    assert_eq!(c[1]["previous_countries"], serde_json::json!(["FR"]));

    let top = &json["top_ips"][0];
    assert_eq!(top["ip"], "203.0.113.5");
    assert_eq!((top["attempts"].as_u64(), top["accounts"].as_u64()), (Some(10), Some(2)));
    assert_eq!(top["hostname"], "scanner.example.net");
    assert_eq!((top["country_code"].as_str(), top["asn"].as_str()), (Some("CN"), Some("64500")));
    // RFC 3339 with the zone's offset (the fixture's zone is UTC).
    assert_eq!(top["first_seen"], format!("{day}T03:10:00+00:00"));
    assert_eq!(top["last_seen"], format!("{day}T03:20:00+00:00"));
    assert_eq!(json["top_users"][0]["username"], "admin");
    assert_eq!(json["top_users"][0]["attempts"], 5);
    assert_eq!(json["top_countries"][0]["country_code"], "CN");
    assert_eq!(json["top_asns"][0]["aso"], "Evil Hosting <b>Ltd</b>");
    assert_eq!(json["top_networks"][0]["network"], "203.0.113.0/24");
    assert!(json["top_networks"].as_array().unwrap().iter().any(|n| n["network"] == "2001:db8::/64"));
    let hours = json["per_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[3]["attempts"], 10);
    assert_eq!(hours[8]["attempts"], 3);
    assert_eq!(hours.iter().map(|h| h["attempts"].as_u64().unwrap()).sum::<u64>(), FAILED);
    // 198.51.100.7 was already seen the day before.
    assert_eq!(json["new_ips"]["count"], 2);
    assert_eq!(json["new_ips"]["attempts"], 12);
    let dns: Vec<(&str, u64)> = json["reverse_dns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["status"].as_str().unwrap(), d["ips"].as_u64().unwrap()))
        .collect();
    assert_eq!(dns, vec![("ok", 1), ("nxdomain", 1), ("timeout", 1)]);
    let services: Vec<(&str, u64)> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["service"].as_str().unwrap(), d["attempts"].as_u64().unwrap()))
        .collect();
    assert_eq!(services, vec![("SMTP submission (587)", 10), ("IMAP", 3), ("POP3", 2)]);
    assert_eq!(json["backend_outages"]["events"], 2);
    assert_eq!(json["backend_outages"]["first_seen"], format!("{day}T14:00:00+00:00"));
}

#[test]
fn reports_work_without_the_enrichment_table() {
    let (_dir, config) = setup(false);
    let day = fixture::day().to_string();
    let out = ok(&fixture::run(&config, &["report", "--day", &day, "--format", "json"]));
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["enrichment"], false);
    assert_eq!(json["totals"]["failed_attempts"], FAILED);
    assert_eq!(json["top_ips"][0]["hostname"], Value::Null);
    // Only the rule that needs no country applies.
    assert_eq!(json["compromises"].as_array().unwrap().len(), 1);
    let text = ok(&fixture::run(&config, &["report", "--day", &day]));
    assert!(text.contains("No enrichment data"), "{text}");
}

#[test]
fn text_report_fits_80_columns_and_shows_controls() {
    let (_dir, config) = setup(true);
    let day = fixture::day();
    let text = ok(&fixture::run(&config, &["report"]));
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too long: {line:?}");
    }
    assert!(!text.contains('\x1b'), "raw escape in the text report");
    assert!(text.contains("evil\\u{001B}[31m"), "{text}");
    assert!(text.contains("Failed login attempts") && text.contains("15") && text.contains("+275%"), "{text}");
    let compromises = text.find("Possible compromises: 2").expect("compromises section");
    assert!(compromises < text.find("Top attacker IPs").unwrap(), "compromises come first");
    assert!(text.contains("WARNING: authentication backend errors"), "{text}");
    assert!(text.contains("2 events such as"), "{text}");
    // With room to spare, host names are whole; the times of the IPs are in full.
    assert!(text.contains("scanner.example.net"), "{text}");
    assert!(text.contains(&format!("{}  {day} 03:10:00  {day} 03:20:00", "203.0.113.5 ")), "{text}");
}

#[test]
fn html_report_is_self_contained_and_escaped() {
    let (dir, config) = setup(true);
    let file = dir.path().join("report.html");
    ok(&fixture::run(&config, &["report", "--format", "html", "--output", file.to_str().unwrap()]));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains(SCRIPT_USER) && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<b>Ltd</b>") && html.contains("&lt;b&gt;Ltd&lt;/b&gt;"));
    assert!(!html.contains(EVIL_USER));
    assert!(html.contains("<svg"), "the chart is inline SVG");
    assert!(html.contains("bgcolor=\"#c0392b\""), "and bars of table cells for clients without SVG");
    for external in ["src=\"http", "href=\"http", "url(", "<link", "<script"] {
        assert!(!html.contains(external), "external resource or script: {external}");
    }
}

#[test]
fn the_report_says_how_far_the_logs_were_read_and_warns_when_it_may_be_incomplete() {
    let (dir, config) = setup(false);
    let store_path = dir.path().join("data").join(maillogsentinel::store::STORE_FILE);
    let json = |args: &[&str]| -> Value {
        let mut all = vec!["report", "--format", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(&fixture::run(&config, &all))).unwrap()
    };
    // A store no scan has finished in says nothing either way.
    assert_eq!(json(&[])["last_scan"], Value::Null);

    // A scan that just finished, without problems: nothing to warn about.
    maillogsentinel::store::Store::open(&store_path).unwrap().record_scan(0).unwrap();
    let scan = &json(&[])["last_scan"];
    assert_eq!((scan["problems"].as_u64(), scan["stale"].as_bool()), (Some(0), Some(false)), "{scan}");
    let text = ok(&fixture::run(&config, &["report"]));
    assert!(text.contains("Logs read up to the last scan, at "), "{text}");
    assert!(!text.contains("incomplete"), "{text}");

    // The last scan ran during the report's day (the timer stopped) and missed three things.
    let during = fixture::day().to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_second() + 3_600;
    let db = rusqlite::Connection::open(&store_path).unwrap();
    db.execute("UPDATE meta SET value = ?1 WHERE key = 'last_scan_at'", [during]).unwrap();
    db.execute("UPDATE meta SET value = 3 WHERE key = 'last_scan_problems'", []).unwrap();
    let scan = &json(&[])["last_scan"];
    assert_eq!((scan["problems"].as_u64(), scan["stale"].as_bool()), (Some(3), Some(true)), "{scan}");
    assert_eq!(scan["finished"], format!("{}T01:00:00+00:00", fixture::day()));
    let text = ok(&fixture::run(&config, &["report"]));
    let warning = text.find("WARNING: this report may be incomplete").expect(&text);
    assert!(warning < text.find("Summary").unwrap(), "the warning comes before the numbers: {text}");
    assert!(text.contains("last read at") && text.contains("(3 problems)"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    let html = ok(&fixture::run(&config, &["report", "--format", "html"]));
    assert!(html.contains("Warning: this report may be incomplete") && html.contains("(3 problems)"), "{html}");
    // A day the scan had read to its end is complete, whatever came after.
    let before = fixture::day().checked_sub(jiff::ToSpan::day(1)).unwrap().to_string();
    assert_eq!(json(&["--day", &before])["last_scan"]["stale"], false);
}

#[test]
fn bad_periods_and_a_missing_store_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture::config(dir.path(), "");
    let out = fixture::run(&config, &["report"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `maillogsentinel scan` first"));
    fixture::fill(&dir.path().join("data"), false);
    let out = fixture::run(&config, &["report", "--since", "3 days"]);
    assert_eq!(out.status.code(), Some(2), "a bad --since is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("24h"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = fixture::run(&config, &["report", "--since", "48h", "--format", "json"]);
    let json: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["bucket"], "hour");
    let hours = json["per_hour"].as_array().unwrap();
    // Whole local hours: the partial first one too, unless the report was made at a full hour.
    assert!((48..=49).contains(&hours.len()), "{}", hours.len());
    assert!(hours.iter().all(|h| h["start"].as_str().unwrap().ends_with(":00:00+00:00")), "{hours:?}");
}

#[test]
fn long_periods_are_charted_in_days_weeks_or_months_not_thousands_of_hours() {
    let (_dir, config) = setup(false);
    for (since, bucket, most) in [("30d", "day", 31), ("365d", "week", 54), ("3000d", "month", 100)] {
        let out = fixture::run(&config, &["report", "--since", since, "--format", "json"]);
        let json: Value = serde_json::from_str(&ok(&out)).unwrap();
        assert_eq!(json["bucket"], bucket, "{since}");
        let rows = json["per_hour"].as_array().unwrap();
        assert!(rows.len() <= most, "{since}: {} rows", rows.len());
        let total = json["totals"]["failed_attempts"].as_u64().unwrap();
        assert_eq!(rows.iter().map(|h| h["attempts"].as_u64().unwrap()).sum::<u64>(), total, "{since}");
        let text = ok(&fixture::run(&config, &["report", "--since", since]));
        assert!(text.contains(&format!("Attempts per {bucket}")), "{text}");
        assert!(text.lines().count() < 200, "{since}: {} lines", text.lines().count());
        let html = ok(&fixture::run(&config, &["report", "--since", since, "--format", "html"]));
        assert!(html.len() < 100_000, "{since}: {} bytes", html.len());
        assert!(html.contains(&format!("Failed attempts per {bucket}")));
    }
}

/// Renders the HTML report in a real headless browser and checks the screenshot is not blank.
#[test]
fn html_report_renders_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !fixture::require("chromium", chromium.is_some(), "apt-get install chromium") {
        return;
    }
    let (dir, config) = setup(true);
    let html = dir.path().join("report.html");
    ok(&fixture::run(&config, &["report", "--format", "html", "--output", html.to_str().unwrap()]));
    let shot = dir.path().join("shot.png");
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium.unwrap_or("chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("screenshot written");
    if let Ok(keep) = std::env::var("MAILLOGSENTINEL_KEEP_SCREENSHOT") {
        let _ = std::fs::write(keep, &png);
    }
    let (w, h, pixels) = decode_png(&png);
    assert!(w >= 800 && h >= 800, "{w}x{h}");
    // Not blank: many pixels differ from the background, some of them the chart's red bars.
    let dark = pixels.chunks(3).filter(|p| p.iter().map(|&c| u32::from(c)).sum::<u32>() < 300).count();
    let red = pixels.chunks(3).filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90).count();
    assert!(dark > 2_000, "almost no text drawn ({dark} dark pixels)");
    assert!(red > 200, "no chart bars drawn ({red} red pixels)");
}

/// A minimal PNG decoder (8-bit RGB/RGBA, non-interlaced): enough for Chromium's screenshots.
fn decode_png(png: &[u8]) -> (usize, usize, Vec<u8>) {
    use std::io::Read;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut pos, mut idat, mut w, mut h, mut channels) = (8, Vec::new(), 0, 0, 0);
    while pos + 8 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!((data[8], data[12]), (8, 0), "8-bit non-interlaced expected");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = w * channels;
    let mut out = vec![0u8; h * stride];
    for y in 0..h {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels { out[y * stride + x - channels] } else { 0 };
            let b = if y > 0 { out[(y - 1) * stride + x] } else { 0 };
            let c = if y > 0 && x >= channels { out[(y - 1) * stride + x - channels] } else { 0 };
            let v = match filter {
                0 => line[x],
                1 => line[x].wrapping_add(a),
                2 => line[x].wrapping_add(b),
                3 => line[x].wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    let pred = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    line[x].wrapping_add(pred)
                }
                f => panic!("PNG filter {f}"),
            };
            out[y * stride + x] = v;
        }
    }
    let rgb = out.chunks(channels).flat_map(|p| p[..3].to_vec()).collect();
    (w, h, rgb)
}
