use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/test.toml"))
}

#[test]
fn an_empty_file_gives_the_documented_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(c.logs, vec![PathBuf::from(DEFAULT_LOG)]);
    assert_eq!(c.timezone_name, "system");
    assert!(!c.server_name.is_empty());
    assert!(!c.scan.invalid_mechanism_is_intrusion);
    assert_eq!(c.scan.correlation_window_secs, 10);
}

#[test]
fn keys_are_read() {
    let c = parse(
        "data_dir = \"/d\"\nlogs = [\"/a.log\", \"/b.log\"]\ntimezone = \"Europe/Paris\"\n\
         server_name = \"mx1\"\n[scan]\ninvalid_mechanism_is_intrusion = true\n",
    )
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/d"));
    assert_eq!(c.logs.len(), 2);
    assert_eq!(c.timezone.iana_name(), Some("Europe/Paris"));
    assert_eq!(c.server_name, "mx1");
    assert!(c.scan.invalid_mechanism_is_intrusion);
}

#[test]
fn geo_and_dns_defaults_and_keys() {
    let c = parse("").unwrap();
    assert!(c.geo.enabled && c.dns.enabled);
    assert_eq!(c.dns.concurrency, 384);
    assert_eq!(c.dns.timeout_ms, 2000);
    assert_eq!(c.dns.cache_ttl.as_secs(), 86400);
    assert_eq!(
        c.geo.country_paths(Path::new("/d")),
        vec![PathBuf::from("/d/geo/country-ipv4.csv"), PathBuf::from("/d/geo/country-ipv6.csv")]
    );
    assert_eq!(c.geo.asn_urls().len(), 2);
    let c = parse(
        "[geo]\ncountry_db = \"/g/c.mmdb\"\nasn_db = [\"/g/a4.csv\", \"/g/a6.csv\"]\n\
         country_url = \"http://127.0.0.1:1/c.mmdb\"\n[dns]\nenabled = false\n\
         nameservers = [\"127.0.0.1:5353\", \"::1\"]\ntimeout_ms = 300\nconcurrency = 8\ncache_ttl = \"7d\"\n",
    )
    .unwrap();
    assert_eq!(c.geo.country_paths(Path::new("/d")), vec![PathBuf::from("/g/c.mmdb")]);
    assert_eq!(c.geo.asn_paths(Path::new("/d")).len(), 2);
    assert_eq!(c.geo.country_urls(), vec!["http://127.0.0.1:1/c.mmdb".to_string()]);
    assert!(!c.dns.enabled);
    assert_eq!(c.dns.nameservers, vec!["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    assert_eq!(c.dns.cache_ttl.as_secs(), 7 * 86400);
}

#[test]
fn the_example_file_parses_and_states_the_defaults() {
    let c = parse(include_str!("../../maillogsentinel.example.toml")).unwrap();
    let d = parse("").unwrap();
    assert_eq!(
        (c.dns.timeout_ms, c.dns.concurrency, &c.dns.cache_ttl),
        (d.dns.timeout_ms, d.dns.concurrency, &d.dns.cache_ttl)
    );
    assert_eq!((c.geo.min_rows, &c.geo.check_ips), (d.geo.min_rows, &d.geo.check_ips));
}

#[test]
fn bad_geo_and_dns_values_name_the_key() {
    let e = parse("[dns]\ncache_ttl = \"1 fortnight\"\n").unwrap_err().to_string();
    assert!(e.contains("dns.cache_ttl"), "{e}");
    let e = parse("[dns]\nnameservers = [\"localhost\"]\n").unwrap_err().to_string();
    assert!(e.contains("dns.nameservers") && e.contains("localhost"), "{e}");
    let e = parse("[dns]\nconcurrency = 0\n").unwrap_err().to_string();
    assert!(e.contains("dns.concurrency"), "{e}");
    let e = parse("[geo]\ncountry_dbs = \"x\"\n").unwrap_err().to_string();
    assert!(e.contains("country_dbs"), "{e}");
}

#[test]
fn unknown_keys_are_errors_naming_key_and_file() {
    let e = parse("data_dri = \"/d\"\n").unwrap_err().to_string();
    assert!(e.contains("/etc/test.toml") && e.contains("data_dri"), "{e}");
    let e = parse("[scan]\nfoo = 1\n").unwrap_err().to_string();
    assert!(e.contains("foo"), "{e}");
    let e = parse("[email]\nsmtp_hots = \"x\"\n").unwrap_err().to_string();
    assert!(e.contains("smtp_hots"), "{e}");
}

#[test]
fn email_and_report_sections_are_read_with_defaults() {
    let c = parse("").unwrap();
    assert!(c.email.to.is_empty());
    assert_eq!(c.email.subject_prefix, "[MailLogSentinel]");
    assert_eq!((c.email.transport, c.email.security, c.email.port()), (EmailTransport::Smtp, SmtpSecurity::None, 25));
    assert!(c.email.attach_csv && c.email.tls_verify);
    assert_eq!(c.report.top, 10);
    let c = parse(
        "[email]\nto = [\"a@example.org\"]\nsecurity = \"tls\"\ntransport = \"sendmail\"\n\
         username = \"u\"\npassword_file = \"/etc/p\"\n[report]\ntop = 3\n",
    )
    .unwrap();
    assert_eq!(c.email.to.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["a@example.org".to_string()]);
    assert_eq!((c.email.transport, c.email.port()), (EmailTransport::Sendmail, 465));
    assert_eq!(c.email.password_file.as_deref(), Some(Path::new("/etc/p")));
    assert_eq!(c.report.top, 3);
    let e = parse("[email]\nsecurity = \"ssl\"\n").unwrap_err().to_string();
    assert!(e.contains("ssl"), "{e}");
    let e = parse("[email]\npassword = \"a\"\npassword_file = \"/p\"\n").unwrap_err().to_string();
    assert!(e.contains("email.password_file"), "{e}");
}

#[test]
fn the_example_file_is_valid() {
    let c = Config::parse(include_str!("../../maillogsentinel.example.toml"), Path::new("example")).unwrap();
    assert_eq!(c.email.port(), 25);
}

#[test]
fn bad_values_are_errors_naming_key_and_file() {
    let e = parse("timezone = \"Mars/Olympus\"\n").unwrap_err().to_string();
    assert!(e.contains("/etc/test.toml") && e.contains("`timezone`") && e.contains("Mars/Olympus"), "{e}");
    let e = parse("logs = \"/var/log/mail.log\"\n").unwrap_err().to_string();
    assert!(e.contains("logs"), "{e}");
    let e = parse("logs = []\n").unwrap_err().to_string();
    assert!(e.contains("`logs`"), "{e}");
}

#[test]
fn durations_take_the_shared_grammar_and_bare_seconds() {
    for (text, secs) in
        [("90m", 5_400), ("1d12h", 129_600), ("2w", 1_209_600), ("30s", 30), ("7 d", 604_800), ("3600", 3600)]
    {
        let c = parse(&format!("[dns]\ncache_ttl = \"{text}\"\n")).unwrap();
        assert_eq!(c.dns.cache_ttl.as_secs(), secs, "{text}");
    }
}

#[test]
fn typed_values_are_errors_at_load_naming_file_line_and_key() {
    let e = parse("data_dir = \"/d\"\n[dns]\ncache_ttl = \"5x\"\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 3, key, .. } if key == "dns.cache_ttl"), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("/etc/test.toml")
            && e.contains("line 3")
            && e.contains("`dns.cache_ttl`")
            && e.contains("\"5x\" is not a duration")
            && e.contains("90m, 1d12h, 2w"),
        "{e}"
    );
    let e = parse("[dns]\ncache_ttl = \"\"\n").unwrap_err().to_string();
    assert!(e.contains("`dns.cache_ttl`") && e.contains("empty"), "{e}");
    let e = parse("[dns]\ncache_ttl = \"99999999999999999999d\"\n").unwrap_err().to_string();
    assert!(e.contains("`dns.cache_ttl`") && e.contains("too long"), "{e}");
    let e = parse("[dns]\ncache_ttl = 3600\n").unwrap_err().to_string();
    assert!(e.contains("`dns.cache_ttl`"), "{e}");
    let e = parse("\n\n[dns]\nnameservers = [\"192.0.2.1\", \"ns1.example\"]\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 4, key, .. } if key == "dns.nameservers"), "{e:?}");
    assert!(e.to_string().contains("\"ns1.example\" is not an address"), "{e}");
    let e = parse("timezone = \"Mars/Olympus\"\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 1, key, .. } if key == "timezone"), "{e:?}");
    let e = parse("[scan]\ncorrelation_window_secs = \"10\"\n").unwrap_err().to_string();
    assert!(e.contains("`scan.correlation_window_secs`") && e.contains("line 2"), "{e}");
    let e = parse("[scan]\nfoo = 1\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 2, key, .. } if key == "scan.foo"), "{e:?}");
    let e = parse("data_dri = \"/d\"\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 1, key, .. } if key == "data_dri"), "{e:?}");
}

#[test]
fn a_syntax_error_shows_the_line() {
    let e = parse("[dns\n").unwrap_err();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("/etc/test.toml") && e.contains("line 1"), "{e}");
}

#[test]
fn the_time_zone_is_typed_once() {
    let c = parse("timezone = \"UTC\"\n").unwrap();
    assert_eq!((c.timezone.iana_name(), c.timezone_name.as_str()), (Some("UTC"), "UTC"));
}

#[test]
fn email_addresses_are_parsed_at_load() {
    let c = parse("[email]\nto = [\"Admin <admin@example.org>\", \" b@example.org \"]\nfrom = \"s@mx1.example.org\"\n")
        .unwrap();
    assert_eq!(c.email.to[0].email.to_string(), "admin@example.org");
    assert_eq!(c.email.to[0].name.as_deref(), Some("Admin"));
    assert_eq!(c.email.to[1].email.to_string(), "b@example.org");
    assert_eq!(c.email.from.map(|m| m.email.to_string()).as_deref(), Some("s@mx1.example.org"));
    let e = parse("[email]\nto = [\"a@example.org\", \"not an address\"]\n").unwrap_err();
    assert!(matches!(&e, ConfigError::Key { line: 2, key, .. } if key == "email.to"), "{e:?}");
    assert!(e.to_string().contains("\"not an address\" is not an email address"), "{e}");
    let e = parse("[email]\nto = [\"\"]\n").unwrap_err().to_string();
    assert!(e.contains("`email.to`"), "{e}");
    let e = parse("[email]\nfrom = \"@\"\n").unwrap_err().to_string();
    assert!(e.contains("`email.from`"), "{e}");
}

#[test]
fn a_path_list_of_the_wrong_type_says_what_is_expected() {
    let e = parse("[geo]\ncountry_db = 3\n").unwrap_err().to_string();
    assert!(e.contains("`geo.country_db`") && e.contains("a string or a list of strings"), "{e}");
}

#[test]
fn out_of_range_numbers_and_empty_values_name_line_and_key() {
    for (text, key, line, says) in [
        ("\n[scan]\ncorrelation_window_secs = 3601\n", "scan.correlation_window_secs", 3, "at most 3600"),
        ("[report]\ntop = 0\n", "report.top", 2, "at least 1"),
        ("[dns]\nconcurrency = 0\n", "dns.concurrency", 2, "1 to 4096"),
        ("[dns]\nconcurrency = 4097\n", "dns.concurrency", 2, "1 to 4096"),
        ("[dns]\ntimeout_ms = 0\n", "dns.timeout_ms", 2, "at least 1"),
        ("logs = []\n", "logs", 1, "empty"),
        ("server_name = \" \"\n", "server_name", 1, "empty"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(matches!(&e, ConfigError::Key { line: l, key: k, .. } if *l == line && k == key), "{text}: {e:?}");
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
    let c = parse("[scan]\ncorrelation_window_secs = 3600\n[dns]\nconcurrency = 4096\n[report]\ntop = 1\n").unwrap();
    assert_eq!((c.scan.correlation_window_secs, c.dns.concurrency, c.report.top), (3600, 4096, 1));
}

#[test]
fn sending_needs_a_recipient_and_a_readable_password_file() {
    let err = parse("[email]\nto = []\n").unwrap().check_sending().unwrap_err().to_string();
    assert!(err.contains("/etc/test.toml") && err.contains("`email.to`"), "{err}");
    parse("[email]\nto = [\"a@example.org\"]\n").unwrap().check_sending().unwrap();
    let missing = "[email]\nto = [\"a@example.org\"]\nusername = \"u\"\npassword_file = \"/nonexistent/smtp.pass\"\n";
    let err = parse(missing).unwrap().check_sending().unwrap_err().to_string();
    assert!(
        err.contains("/etc/test.toml")
            && err.contains("`email.password_file`")
            && err.contains("/nonexistent/smtp.pass"),
        "{err}"
    );
    let no_password = "[email]\nto = [\"a@example.org\"]\nusername = \"u\"\n";
    let err = parse(no_password).unwrap().check_sending().unwrap_err().to_string();
    assert!(err.contains("`email.username`"), "{err}");
    // Without AUTH, or with the password in the file, there is nothing to read.
    let inline = "[email]\nto = [\"a@example.org\"]\nusername = \"u\"\npassword = \"p\"\n";
    parse(inline).unwrap().check_sending().unwrap();
}

#[test]
fn the_journal_section_is_read_and_checked() {
    let c = parse("[journal]\nenabled = true\ndirectory = \"/srv/j\"\nunits = [\"postfix@*.service\"]\n").unwrap();
    assert!(c.journal.enabled && !c.logs_set);
    assert_eq!(c.journal.directory, Some(PathBuf::from("/srv/j")));
    assert_eq!(c.journal.units, ["postfix@*.service"]);
    assert!(parse("logs = [\"/var/log/mail.log\"]").unwrap().logs_set);
    for (text, key) in [
        ("[journal]\nunit = []\n", "journal.unit"),
        ("[journal]\nunits = []\n", "journal.units"),
        ("[journal]\nunits = [\"a b\"]\n", "journal.units"),
    ] {
        match parse(text) {
            Err(ConfigError::Key { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn blocklist_allow_takes_addresses_and_networks() {
    let c = parse("[blocklist]\nallow = [\"192.0.2.7\", \"198.51.100.9/24\", \"2001:db8::/32\"]\n").unwrap();
    let shown: Vec<String> = c.blocklist.allow.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["192.0.2.7/32", "198.51.100.0/24", "2001:db8::/32"]);
    let e = parse("[blocklist]\nallow = [\"192.0.2.0/40\"]\n").unwrap_err().to_string();
    assert!(e.contains("blocklist.allow") && e.contains("192.0.2.0/40"), "{e}");
    let e = parse("[blocklist]\nalow = []\n").unwrap_err().to_string();
    assert!(e.contains("blocklist.alow"), "{e}");
}

#[test]
fn the_metrics_textfile_is_optional_and_its_section_refuses_unknown_keys() {
    assert_eq!(parse("").unwrap().metrics.textfile, None);
    let c = parse("[metrics]\ntextfile = \"/var/lib/prometheus/node-exporter/m.prom\"\n").unwrap();
    assert_eq!(c.metrics.textfile.as_deref(), Some(Path::new("/var/lib/prometheus/node-exporter/m.prom")));
    let e = parse("[metrics]\npath = \"/x.prom\"\n").unwrap_err().to_string();
    assert!(e.contains("metrics.path") && e.contains("line 2"), "{e}");
}

#[test]
fn the_example_alerts_parse_uncommented() {
    // The commented [[alerts.*]] blocks of the example, with their `# ` taken off.
    let example = include_str!("../../maillogsentinel.example.toml");
    let start = example.find("# [[alerts.channel]]").unwrap();
    let text: String = example[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(if l == "#" { "" } else { l }))
        .map(|l| format!("{l}\n"))
        .collect();
    let c = parse(&text).unwrap();
    assert_eq!(c.alerts.channels.len(), 2);
    assert_eq!(c.alerts.rules.len(), 4);
    assert_eq!(c.alerts.rules[0].count(), 20);
    assert_eq!(c.alerts.rules[3].count(), 1, "an outage fires on the first error");
    assert_eq!(c.alerts.quiet_period.as_secs(), 900);
}

#[test]
fn the_example_fleet_parses_uncommented_and_its_mistakes_name_the_key() {
    let example = include_str!("../../maillogsentinel.example.toml");
    let start = example.find("# [fleet]").unwrap();
    let text: String = example[start..]
        .lines()
        .take_while(|l| l.starts_with("# "))
        .map(|l| format!("{}\n", l.trim_start_matches("# ")))
        .collect();
    let c = parse(&text).unwrap();
    let url = c.fleet.url.as_ref().unwrap();
    assert_eq!(url.sslmode, crate::config::SslMode::VerifyFull);
    assert_eq!(url.redacted(), "postgresql://mls_ship@db.example.org:5432/mls?sslmode=verify-full");
    assert_eq!(c.fleet.batch, 50_000);
    assert!(c.fleet.password_file.is_some() && c.fleet.ca_file.is_some());
    let e = parse("[fleet]\nurl = \"postgresql://u@h/d?sslmode=sometimes\"\n").unwrap_err().to_string();
    assert!(e.contains("fleet.url") && e.contains("line 2") && e.contains("verify-full"), "{e}");
    let e = parse("[fleet]\nurl = \"postgresql://u:pw@h/d\"\npassword_file = \"/p\"\n").unwrap_err().to_string();
    assert!(e.contains("fleet.password_file") && !e.contains("pw@"), "{e}");
    let e = parse("[fleet]\nbatch = 0\n").unwrap_err().to_string();
    assert!(e.contains("fleet.batch"), "{e}");
}

#[test]
fn bad_alert_settings_name_the_key() {
    let hook = "[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/x\"\n";
    for (text, key, words) in [
        ("[[alerts.channel]]\nname = \"hook\"\nkind = \"webhook\"\n".to_string(), "alerts.channel.url", "https://"),
        (format!("{hook}{hook}"), "alerts.channel.name", "two channels"),
        (
            format!("{hook}[[alerts.rule]]\nname = \"r\"\nkind = \"threshold\"\nchannels = [\"nope\"]\n"),
            "alerts.rule.channels",
            "\"nope\"",
        ),
        (
            format!("{hook}[[alerts.rule]]\nname = \"r\"\nkind = \"honeypot\"\nchannels = [\"hook\"]\n"),
            "alerts.rule.usernames",
            "trap",
        ),
        (
            format!("{hook}[[alerts.rule]]\nname = \"r\"\nkind = \"threshold\"\ncount = 0\nchannels = [\"hook\"]\n"),
            "alerts.rule.count",
            "at least 1",
        ),
        (
            "[[alerts.channel]]\nname = \"m\"\nkind = \"email\"\nurl = \"https://x.example/\"\n".to_string(),
            "alerts.channel.url",
            "[email]",
        ),
    ] {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains(words), "{text}: {e}");
    }
    let e = parse("[[alerts.rule]]\nname = \"r\"\nkind = \"flood\"\nchannels = []\n").unwrap_err().to_string();
    assert!(e.contains("flood") && e.contains("line 3"), "{e}");
}
