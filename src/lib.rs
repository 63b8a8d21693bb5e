//! MailLogSentinel finds password-guessing attacks in Postfix and Dovecot logs.
//!
//! The crate is a pipeline, and its modules follow it:
//! [`source`] (files, rotation, decompression) → [`parse`] (syslog header, Postfix, Dovecot) →
//! [`correlate`] (one attempt logged by several daemons counts once) → [`enrich`] (country, AS,
//! reverse DNS) → [`store`] (SQLite, CSV, checkpoints, history) → [`report`] (statistics, text,
//! HTML, JSON), [`fleet`] (shipping to one PostgreSQL database for many servers, and its
//! report) → [`export`] (blocklists for nftables and ipset, the Prometheus textfile) → [`alert`] (rules
//! evaluated as events are stored, queued in the store's outbox) → [`deliver`] (SMTP, sendmail,
//! webhooks), with [`cli`] and [`config`] at the edge.
//! [`scan`] wires the scan stages together and [`watch`] keeps a scan going as the logs grow; [`model`] holds the types they share and [`text`] makes
//! attacker-controlled text safe to show.

// Unit tests link the dev-dependencies, which only the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod alert;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod deliver;
pub mod enrich;
pub mod export;
pub mod fleet;
pub mod model;
pub mod parse;
pub mod report;
pub mod scan;
pub mod source;
pub mod store;
pub mod text;
pub mod watch;
