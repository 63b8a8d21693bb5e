//! MailLogSentinel finds password-guessing attacks in Postfix and Dovecot logs.
//!
//! The crate is a pipeline, and its modules follow it:
//! [`source`] (files, rotation, decompression) → [`parse`] (syslog header, Postfix, Dovecot) →
//! [`correlate`] (one attempt logged by several daemons counts once) → [`store`] (SQLite, CSV,
//! checkpoints), with [`cli`] and [`config`] at the edge. [`scan`] wires the stages together.

pub mod cli;
pub mod config;
pub mod correlate;
pub mod deliver;
pub mod enrich;
pub mod event;
pub mod parse;
pub mod report;
pub mod scan;
pub mod source;
pub mod store;
pub mod text;
