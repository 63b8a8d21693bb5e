//! Which names are siblings, and in which order they come.

use super::*;

/// Creates `files` in `dir` and returns the family of `dir/mail.log` by file name.
fn names(dir: &Path, files: &[&str]) -> Vec<String> {
    for f in files {
        std::fs::write(dir.join(f), b"x\n").unwrap();
    }
    rotated_family(&dir.join("mail.log"))
        .unwrap()
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn numbered_siblings_come_oldest_first_then_the_live_file() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(
        dir.path(),
        &["mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.xz", "mail.log.3.zst", "mail.log.4.bz2"],
    );
    assert_eq!(got, ["mail.log.10.xz", "mail.log.4.bz2", "mail.log.3.zst", "mail.log.2.gz", "mail.log.1", "mail.log"]);
}

#[test]
fn dated_siblings_come_by_date() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(dir.path(), &["mail.log", "mail.log-20261124", "mail.log-20261110.gz", "mail.log-20261117"]);
    assert_eq!(got, ["mail.log-20261110.gz", "mail.log-20261117", "mail.log-20261124", "mail.log"]);
}

#[test]
fn unrelated_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(
        dir.path(),
        &["mail.log", "mail.log.old", "mail.err", "mail.log.1.tmp", "mail.logger", "mail.log-x", "xmail.log"],
    );
    assert_eq!(got, ["mail.log"]);
}

#[test]
fn a_missing_live_file_still_yields_its_archives() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(dir.path(), &["mail.log.1"]);
    assert_eq!(got, ["mail.log.1"]);
}

#[test]
fn postfix_logrotate_archives_come_by_date_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(
        dir.path(),
        &["mail.log", "mail.log.20261207-101500.gz", "mail.log.20261207-091500.gz", "mail.log.20261130-235959"],
    );
    assert_eq!(
        got,
        ["mail.log.20261130-235959", "mail.log.20261207-091500.gz", "mail.log.20261207-101500.gz", "mail.log"]
    );
}

#[test]
fn every_dateformat_variant_sorts_chronologically_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(
        dir.path(),
        &[
            "mail.log",
            "mail.log-2026112410.gz",
            "mail.log-2026-11-23",
            "mail.log.20261125.xz",
            "mail.log-20261124",
            "mail.log.20261124-093000",
            "mail.log-2026112409",
        ],
    );
    assert_eq!(
        got,
        [
            "mail.log-2026-11-23",
            "mail.log-20261124",
            "mail.log-2026112409",
            "mail.log.20261124-093000",
            "mail.log-2026112410.gz",
            "mail.log.20261125.xz",
            "mail.log",
        ]
    );
}

#[test]
fn an_eight_digit_dot_suffix_is_a_date_only_when_plausible() {
    for (suffix, dated) in [
        ("20261207", true),
        ("19900101", true),
        ("29991231", true),
        ("20240229", true),
        ("20250229", false),
        ("21000229", false),
        ("20000229", true),
        ("19891231", false),
        ("30000101", false),
        ("20261301", false),
        ("20261100", false),
        ("20260431", false),
        ("12345678", false),
        ("2026120", false),
        ("202612070", false),
    ] {
        let age = sibling_age("mail.log", &format!("mail.log.{suffix}"));
        assert_eq!(matches!(age, Some(Age::Dated(_))), dated, "{suffix}");
        if !dated {
            assert!(matches!(age, Some(Age::Numbered(_))), "{suffix}: {age:?}");
        }
    }
}

#[test]
fn a_postfix_suffix_needs_a_plausible_date_and_time() {
    for (suffix, dated) in [
        ("20261207-101500", true),
        ("20261207-000000", true),
        ("20261207-235960", true),
        ("20261207-240000", false),
        ("20261207-106000", false),
        ("20261207-10150", false),
        ("20261207-1015000", false),
        ("20261332-101500", false),
        ("20261207-", false),
        ("20261207-10x500", false),
    ] {
        let age = sibling_age("mail.log", &format!("mail.log.{suffix}.gz"));
        assert_eq!(matches!(age, Some(Age::Dated(_))), dated, "{suffix}: {age:?}");
        if !dated {
            assert_eq!(age, None, "{suffix}");
        }
    }
}

#[test]
fn dated_dot_siblings_are_older_than_numbered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let got = names(dir.path(), &["mail.log", "mail.log.1", "mail.log.20261207", "mail.log.99999999.gz"]);
    assert_eq!(got, ["mail.log.20261207", "mail.log.99999999.gz", "mail.log.1", "mail.log"]);
}
