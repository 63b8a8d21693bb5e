//! The Prometheus textfile (`[metrics] textfile`): counters of the stored attempts and gauges of
//! the scan's state, in the text exposition format, for node_exporter's textfile collector.
//!
//! Counters come from the store's running totals ([`Store::totals`]), so they are true totals
//! that survive restarts and the hourly `scan` process, and cost one small read however many
//! events are stored. The file is replaced atomically (a temporary file in the same directory,
//! synced, then renamed over it): the collector reads it at any moment and must never see half
//! of it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::model::event::{Kind, Reason};
use crate::store::{Store, StoreError};

/// What the textfile shows, gathered after a pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Attempts stored since the store was created, by kind, reason and service.
    pub totals: Vec<crate::store::Total>,
    /// Addresses in the reverse DNS cache, by the status of their answer.
    pub dns: Vec<(String, u64)>,
    /// When the pass ended (Unix seconds).
    pub last_pass: i64,
    /// Per configured log (the file at its path, not its rotated copies): bytes after the last
    /// committed checkpoint.
    pub unread: Vec<(PathBuf, u64)>,
    /// Bytes of the store's database and write-ahead log.
    pub store_bytes: u64,
    /// The alerts' outbox, per channel.
    pub alerts: Vec<crate::store::alerts::ChannelCounts>,
    /// Shipping to the fleet database, when `[fleet]` names one.
    pub fleet: Option<FleetMetrics>,
}

/// Where shipping to the fleet database stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetMetrics {
    /// Events stored and not shipped yet.
    pub backlog_events: u64,
    /// When the database last held every stored event (Unix seconds), if ever.
    pub synced_at: Option<i64>,
}

/// Gathers the metrics of the store at `store_path` (open as `store`) and of `logs`, at `now`
/// (Unix seconds), with those of shipping when the store ships to a `fleet` database. A log
/// that cannot be examined (missing) is left out.
pub fn gather(
    store: &Store,
    store_path: &Path,
    logs: &[PathBuf],
    fleet: bool,
    now: i64,
) -> Result<Metrics, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let mut unread = Vec::new();
    for log in logs {
        let Ok(meta) = std::fs::metadata(log) else { continue };
        let read = store.offset_of(meta.dev(), meta.ino())?.unwrap_or(0);
        unread.push((log.clone(), meta.len().saturating_sub(read)));
    }
    let store_bytes = ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut name = store_path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).map_or(0, |m| m.len())
        })
        .sum();
    Ok(Metrics {
        totals: store.totals()?,
        dns: store.dns_statuses()?,
        last_pass: now,
        unread,
        store_bytes,
        alerts: store.alert_counts()?,
        fleet: if fleet {
            Some(FleetMetrics { backlog_events: store.ship_backlog()?.0, synced_at: store.synced_at()? })
        } else {
            None
        },
    })
}

/// One counter family: its name, help, and which stored attempts it counts.
struct Counter {
    name: &'static str,
    help: &'static str,
    counts: fn(Kind, Reason) -> bool,
}

const COUNTERS: &[Counter] = &[
    Counter {
        name: "maillogsentinel_failed_logins_total",
        help: "Failed login attempts stored, by service and reason (mechanism probes excluded).",
        counts: |k, r| k == Kind::Failure && r != Reason::MechanismInvalid,
    },
    Counter {
        name: "maillogsentinel_mechanism_probes_total",
        help: "Attempts with an invalid SASL mechanism (a client probing mechanisms), by service.",
        counts: |k, r| k == Kind::Failure && r == Reason::MechanismInvalid,
    },
    Counter {
        name: "maillogsentinel_successful_logins_total",
        help: "Successful logins stored, by service.",
        counts: |k, _| k == Kind::Success,
    },
    Counter {
        name: "maillogsentinel_backend_errors_total",
        help: "Authentication backend errors stored, by service.",
        counts: |k, _| k == Kind::BackendError,
    },
];

/// The metrics in the text exposition format (version 0.0.4).
pub fn render(m: &Metrics) -> String {
    let mut out = String::new();
    for c in COUNTERS {
        header(&mut out, c.name, c.help, "counter");
        // Several stored reasons can share one series (successes by service only).
        let mut series: Vec<(String, u64)> = Vec::new();
        for t in m.totals.iter().filter(|t| (c.counts)(t.kind, t.reason)) {
            let mut labels = format!("service=\"{}\"", escape(&t.service));
            if c.name == "maillogsentinel_failed_logins_total" {
                let _ = write!(labels, ",reason=\"{}\"", escape(t.reason.as_str()));
            }
            match series.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, n)) => *n += t.attempts,
                None => series.push((labels, t.attempts)),
            }
        }
        for (labels, n) in series {
            let _ = writeln!(out, "{}{{{labels}}} {n}", c.name);
        }
    }
    header(
        &mut out,
        "maillogsentinel_last_pass_timestamp_seconds",
        "When the last scan or watch pass ended (Unix seconds).",
        "gauge",
    );
    let _ = writeln!(out, "maillogsentinel_last_pass_timestamp_seconds {}", m.last_pass);
    header(
        &mut out,
        "maillogsentinel_log_unread_bytes",
        "Bytes of each configured log file (not its rotated copies) after the last committed checkpoint.",
        "gauge",
    );
    for (log, n) in &m.unread {
        let _ = writeln!(out, "maillogsentinel_log_unread_bytes{{log=\"{}\"}} {n}", escape(&log.to_string_lossy()));
    }
    header(
        &mut out,
        "maillogsentinel_dns_cached_addresses",
        "Addresses in the reverse DNS cache, by the status of their last answer.",
        "gauge",
    );
    for (status, n) in &m.dns {
        let _ = writeln!(out, "maillogsentinel_dns_cached_addresses{{status=\"{}\"}} {n}", escape(status));
    }
    header(&mut out, "maillogsentinel_store_size_bytes", "Bytes of the SQLite store and its write-ahead log.", "gauge");
    let _ = writeln!(out, "maillogsentinel_store_size_bytes {}", m.store_bytes);
    type Of = fn(&crate::store::alerts::ChannelCounts) -> u64;
    let families: [(&str, &str, &str, Of); 4] = [
        ("maillogsentinel_alerts_sent_total", "Alert messages delivered, by channel.", "counter", |c| c.sent),
        (
            "maillogsentinel_alerts_dropped_total",
            "Alert messages given up (not delivered within give_up_after), by channel.",
            "counter",
            |c| c.dropped,
        ),
        (
            "maillogsentinel_alert_delivery_failures_total",
            "Failed deliveries of alert messages (each retry counts), by channel.",
            "counter",
            |c| c.failed_tries,
        ),
        ("maillogsentinel_alerts_pending", "Alert messages waiting for a delivery, by channel.", "gauge", |c| {
            c.pending
        }),
    ];
    for (name, help, kind, of) in families {
        header(&mut out, name, help, kind);
        for c in &m.alerts {
            let _ = writeln!(out, "{name}{{channel=\"{}\"}} {}", escape(&c.channel), of(c));
        }
    }
    if let Some(fleet) = &m.fleet {
        header(
            &mut out,
            "maillogsentinel_fleet_backlog_events",
            "Events stored and not shipped to the fleet database yet.",
            "gauge",
        );
        let _ = writeln!(out, "maillogsentinel_fleet_backlog_events {}", fleet.backlog_events);
        // Absent until a first shipment ended with nothing left: 0 would read as 1970.
        if let Some(at) = fleet.synced_at {
            header(
                &mut out,
                "maillogsentinel_fleet_synced_timestamp_seconds",
                "When the fleet database last held every event stored here (Unix seconds).",
                "gauge",
            );
            let _ = writeln!(out, "maillogsentinel_fleet_synced_timestamp_seconds {at}");
        }
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the exposition format quotes it: backslash, double quote and line feed
/// escaped. Service names come from the logs, which an attacker can write into (a forged syslog
/// tag): whatever they hold must stay inside the quotes. Other control characters are replaced
/// (a carriage return is valid in a value, but splits the line for some readers).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The textfile could not be written. The scan itself succeeded.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot write the metrics textfile {path}: {source}; create its directory and let this user write \
     there (node_exporter's textfile directory, often /var/lib/prometheus/node-exporter), or change \
     `[metrics] textfile`; with the systemd units, run `maillogsentinel setup` again so that they may \
     write there (ReadWritePaths=)"
)]
pub struct WriteError {
    /// The textfile.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Replaces `path` by `text`: written to a temporary file beside it, synced, then renamed over
/// it, so that a reader sees the old file or the new one, never part of one. The temporary
/// name starts with a dot and does not end in `.prom`, so the textfile collector never reads it.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), WriteError> {
    let fail = |source| WriteError { path: path.to_path_buf(), source };
    let name = path.file_name().ok_or_else(|| fail(std::io::Error::other("not a file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        // Readable by node_exporter's user whatever the umask (the units set 0027): the file
        // holds counts and daemon names, no address and no account.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Total;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd\re"), "a\\\\b\\\"c\\nd\u{FFFD}e");
    }

    #[test]
    fn reasons_of_one_service_add_up_outside_failures() {
        let t = |kind, reason, attempts| Total { kind, reason, service: "dovecot".into(), attempts };
        let m = Metrics {
            totals: vec![
                t(Kind::Failure, Reason::PasswordMismatch, 3),
                t(Kind::Failure, Reason::MechanismInvalid, 2),
                t(Kind::BackendError, Reason::BackendOutage, 1),
                t(Kind::BackendError, Reason::AuthenticationFailure, 4),
            ],
            ..Metrics::default()
        };
        let text = render(&m);
        assert!(
            text.contains("maillogsentinel_failed_logins_total{service=\"dovecot\",reason=\"password mismatch\"} 3\n")
        );
        assert!(text.contains("maillogsentinel_mechanism_probes_total{service=\"dovecot\"} 2\n"));
        assert!(text.contains("maillogsentinel_backend_errors_total{service=\"dovecot\"} 5\n"));
    }

    #[test]
    fn shipping_shows_only_with_a_fleet_and_its_sync_once_there_was_one() {
        let text = |fleet| render(&Metrics { fleet, ..Metrics::default() });
        assert!(!text(None).contains("fleet"));
        let waiting = text(Some(FleetMetrics { backlog_events: 42, synced_at: None }));
        assert!(waiting.contains("\nmaillogsentinel_fleet_backlog_events 42\n"), "{waiting}");
        assert!(!waiting.contains("synced"), "{waiting}");
        let synced = text(Some(FleetMetrics { backlog_events: 0, synced_at: Some(1_765_000_000) }));
        assert!(synced.contains("\nmaillogsentinel_fleet_synced_timestamp_seconds 1765000000\n"), "{synced}");
    }

    #[test]
    fn write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        write_atomic(&path, "a 1\n").unwrap();
        write_atomic(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = write_atomic(&dir.path().join("missing/m.prom"), "").unwrap_err();
        assert!(err.to_string().contains("missing/m.prom"), "{err}");
    }
}
