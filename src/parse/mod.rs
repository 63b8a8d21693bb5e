//! Turning one log line into a [`Parsed`] event, or nothing.
//!
//! [`syslog`] splits the header (timestamp, host, tag) from the message; [`postfix`] and
//! [`dovecot`] read the messages they own; [`time`] later resolves year-less timestamps.
//! Every parser works on bytes and is linear in the line length: log text is attacker-controlled.

pub mod dovecot;
pub mod postfix;
pub mod syslog;
pub mod time;

use crate::event::Parsed;

/// Substrings of which every line that [`parse_line`] can accept contains at least one.
///
/// The scanner searches whole buffers for these (one multi-pattern pass) and parses only the
/// lines that contain one, so the 90% of a mail log that is deliveries and connects costs a
/// substring search, not a parse.
pub const NEEDLES: &[&str] = &[];

/// Parses one line (without its trailing newline). Returns `None` for lines that are not
/// authentication events.
pub fn parse_line(_line: &[u8]) -> Option<Parsed> {
    None
}
