//! The quick-start example log: what an accurate scan must find (see examples/README.md).

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

#[test]
fn the_example_log_gives_the_documented_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mail.log");
    let out = scan_ok(&data, &[&log], &[]);
    assert!(
        out.contains(
            "24 new failed logins, 5 successful logins, 1 auth backend error, 1 mechanism probe (not counted)"
        ),
        "{out}"
    );
    let mut per_ip = BTreeMap::new();
    for row in csv_rows(&data) {
        *per_ip.entry(row[3].clone()).or_insert(0) += 1;
    }
    let want: BTreeMap<String, i32> = [
        ("198.51.100.23", 9),
        ("203.0.113.77", 5),
        ("192.0.2.200", 4),
        ("198.51.100.140", 3),
        ("2001:db8:dead:beef::17", 2),
        ("203.0.113.9", 1),
    ]
    .into_iter()
    .map(|(ip, n)| (ip.to_string(), n))
    .collect();
    assert_eq!(per_ip, want);
    // The Postfix + Dovecot pair is one row, with Postfix's service and Dovecot's user name.
    let pair: Vec<_> = csv_rows(&data).into_iter().filter(|r| r[3] == "203.0.113.9").collect();
    assert!(pair[0][2].starts_with("postfix/"), "{pair:?}");
    assert!(!pair[0][4].is_empty(), "{pair:?}");
}
