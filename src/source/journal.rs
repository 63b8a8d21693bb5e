//! The systemd journal, read through `journalctl -o json` run as a child process.
//!
//! `journalctl` is on every systemd system and knows every journal file format, compression and
//! rotation there is; linking libsystemd would tie the binary to the build host's library, and a
//! reader of our own would chase each new format. So the journal is read the way Vector reads it:
//! a child `journalctl --no-pager -o json --all`, narrowed by `-u UNIT` to the mail daemons'
//! units, its lines parsed with serde_json on a thread of its own.
//!
//! `-u` also matches systemd's own messages about a unit (and a glob only the units the journal
//! knows when it starts), so every entry is checked again here: its `_SYSTEMD_UNIT` must match a
//! configured unit and its `SYSLOG_IDENTIFIER` must be Postfix's (`postfix/...`,
//! `postfix-<instance>/...`) or Dovecot's (`dovecot`). Another unit that logs Postfix-looking text
//! never counts.
//!
//! Each entry kept becomes one syslog line, `2026-12-07T10:00:00.123456Z HOST IDENT[PID]: MESSAGE`,
//! dated by `__REALTIME_TIMESTAMP` (exact, no year to guess), so that the parsers of log files
//! read it; newlines in the message become spaces, and a message that is not UTF-8 (an array of
//! bytes in journalctl's JSON) keeps its bytes. The lines come in [`Entries`], each line with the
//! cursor of its entry, so that reading can resume right after any of them (`--after-cursor`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError, bounded};
use serde::Deserialize;

/// The units read when the configuration names none: Postfix's (the `postfix.service` wrapper
/// and the `postfix@INSTANCE.service` that runs each instance) and Dovecot's.
pub const DEFAULT_UNITS: [&str; 3] = ["postfix.service", "postfix@*.service", "dovecot.service"];

/// The groups whose members may read the whole system journal.
pub const JOURNAL_GROUPS: &str = "`systemd-journal` or `adm`";

/// A JSON line longer than this (an entry with a huge field) is skipped: no mail daemon logs such
/// a message, and it must not take the memory of the scan.
const MAX_JSON_LINE: usize = 4 << 20;
/// A message longer than this is skipped (as a log file's overlong line is).
const MAX_MESSAGE: usize = 64 << 10;
/// Entries per piece at most; a piece is also handed over whenever `journalctl` has nothing more
/// written yet (so that a follower sees an entry as soon as it is written).
const PIECE_ENTRIES: usize = 4096;
/// Pieces read ahead of the consumer.
const AHEAD: usize = 8;

/// Which journal to read, and from where.
#[derive(Clone, Debug, Default)]
pub struct JournalQuery {
    /// The journal files of this directory (`journalctl -D`); `None`: the local system journal.
    pub directory: Option<PathBuf>,
    /// Unit patterns (`*` matches any text); empty: [`DEFAULT_UNITS`].
    pub units: Vec<String>,
    /// Read the entries after this cursor only.
    pub after_cursor: Option<String>,
    /// Keep reading as entries are written (`journalctl -f`), from the start or the cursor.
    pub follow: bool,
    /// The `journalctl` to run (default: `journalctl` from `PATH`).
    pub journalctl: Option<PathBuf>,
}

impl JournalQuery {
    /// The unit patterns read.
    pub fn unit_patterns(&self) -> Vec<String> {
        if self.units.is_empty() { DEFAULT_UNITS.iter().map(|u| u.to_string()).collect() } else { self.units.clone() }
    }

    /// The journal's name in messages and records: `journal` or `journal:DIR`.
    pub fn location(&self) -> String {
        match &self.directory {
            Some(dir) => format!("journal:{}", dir.display()),
            None => "journal".to_string(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(self.journalctl.as_deref().unwrap_or(Path::new("journalctl")));
        c.args(["--no-pager", "--quiet", "--all", "-o", "json"]);
        if let Some(dir) = &self.directory {
            c.arg("-D").arg(dir);
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }
}

/// Lines made of journal entries, in journal order.
#[derive(Debug, Default)]
pub struct Entries {
    /// One syslog line per entry kept, each ending in `\n`.
    pub lines: Vec<u8>,
    /// The cursor of each line's entry.
    pub cursors: Vec<String>,
    /// The cursor of the last entry read (kept or not): where reading resumes after this piece.
    pub last_cursor: Option<String>,
    /// Entries read, kept or not.
    pub read: u64,
    /// Entries skipped for a message over the size limit.
    pub overlong: u64,
}

/// What the reader hands over.
#[derive(Debug)]
pub enum JournalPiece {
    /// Entries were read.
    Entries(Entries),
    /// `journalctl` ended; an error when it failed.
    End(Result<(), JournalError>),
}

/// Why the journal cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// `journalctl` is not installed.
    #[error(
        "cannot run journalctl ({0}): reading the journal needs systemd's journalctl (package `systemd`); \
         install it, or scan log files with --log instead"
    )]
    NotInstalled(std::io::Error),
    /// This user may not read the journal.
    #[error(
        "{location}: permission denied: this user may not read the system journal ({detail}); add it to the group \
         {JOURNAL_GROUPS} (`usermod -aG systemd-journal USER`, then log in again) or run the scan as root"
    )]
    Permission {
        /// The journal.
        location: String,
        /// What journalctl or the file system said.
        detail: String,
    },
    /// `journalctl` failed.
    #[error("{location}: journalctl failed ({status}): {stderr}")]
    Failed {
        /// The journal.
        location: String,
        /// Its exit status.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// Its output could not be read.
    #[error("{location}: cannot read journalctl's output: {source}")]
    Io {
        /// The journal.
        location: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running `journalctl` and the thread that reads it.
pub struct JournalReader {
    pieces: Option<Receiver<JournalPiece>>,
    child: Arc<Mutex<Child>>,
    thread: Option<JoinHandle<()>>,
}

impl JournalReader {
    /// Starts `journalctl` for `query`. Permission problems found before it starts (journal files
    /// this user cannot open) are reported here; those `journalctl` reports, at the end.
    pub fn spawn(query: &JournalQuery) -> Result<JournalReader, JournalError> {
        check_access(query)?;
        let mut cmd = query.command();
        cmd.arg(format!("--output-fields={}", FIELDS.join(",")));
        for unit in query.unit_patterns() {
            cmd.arg("-u").arg(unit);
        }
        // Not `--after-cursor`: journalctl 252 skips the entry after the cursor's position
        // whether or not it is the cursor's, so when the cursor's entry was vacuumed the oldest
        // entry left would be lost. From `--cursor`, the cursor's entry is skipped here instead,
        // when it is still there.
        if let Some(cursor) = &query.after_cursor {
            cmd.arg(format!("--cursor={cursor}"));
        }
        if query.follow {
            cmd.args(["--follow", "--no-tail"]);
        }
        let mut child = cmd.spawn().map_err(JournalError::NotInstalled)?;
        let location = query.location();
        let io = |source| JournalError::Io { location: location.clone(), source };
        let stdout = child.stdout.take().ok_or_else(|| io(std::io::Error::other("no stdout pipe")))?;
        let stderr = child.stderr.take().ok_or_else(|| io(std::io::Error::other("no stderr pipe")))?;
        let child = Arc::new(Mutex::new(child));
        let (tx, pieces) = bounded(AHEAD);
        let reading = Reading {
            units: query.unit_patterns(),
            skip_cursor: query.after_cursor.clone(),
            follow: query.follow,
            location: location.clone(),
        };
        let waited = Arc::clone(&child);
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let errors = std::thread::spawn(move || read_stderr(stderr));
                let mut end = reading.read(stdout, |piece| tx.send(JournalPiece::Entries(piece)).is_ok());
                let status = waited.lock().map_err(|_| ()).and_then(|mut c| c.wait().map_err(|_| ()));
                let stderr = errors.join().unwrap_or_default();
                if end.is_ok()
                    && let Ok(status) = status
                {
                    end = reading.verdict(status, &stderr);
                }
                let _ = tx.send(JournalPiece::End(end));
            })
            .map_err(io)?;
        Ok(JournalReader { pieces: Some(pieces), child, thread: Some(thread) })
    }

    /// The next piece, waiting for it; `None` after [`JournalPiece::End`].
    pub fn next(&self) -> Option<JournalPiece> {
        self.pieces.as_ref()?.recv().ok()
    }

    /// The next piece if one is ready; `Ok(None)` when none is yet, `Err(())` after the end.
    #[allow(clippy::result_unit_err)]
    pub fn try_next(&self) -> Result<Option<JournalPiece>, ()> {
        match self.pieces.as_ref().ok_or(())?.try_recv() {
            Ok(piece) => Ok(Some(piece)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }
}

impl Drop for JournalReader {
    fn drop(&mut self) {
        // A follower never ends by itself: its child is killed, which ends the reading thread.
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
        }
        drop(self.pieces.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The fields asked of `journalctl` (besides the `__CURSOR` and timestamps it always gives).
const FIELDS: [&str; 6] = ["_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_HOSTNAME", "_PID", "SYSLOG_PID", "MESSAGE"];

/// A field as journalctl's JSON gives it: text, bytes (when not UTF-8), or something else
/// (several values, or `null` for a value left out).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Field {
    Text(String),
    Bytes(Vec<u8>),
    Other(serde::de::IgnoredAny),
}

impl Field {
    /// The bytes of a single value; `None` for several values (an entry that sets a field twice
    /// is not one a daemon wrote through syslog) or a value journalctl left out.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Field::Text(s) => Some(s.as_bytes()),
            Field::Bytes(b) => Some(b),
            Field::Other(_) => None,
        }
    }
}

/// The fields of an entry that are used.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "__CURSOR")]
    cursor: Option<String>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<Field>,
    #[serde(rename = "_SYSTEMD_UNIT")]
    unit: Option<Field>,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<Field>,
    #[serde(rename = "_HOSTNAME")]
    hostname: Option<Field>,
    #[serde(rename = "_PID")]
    pid: Option<Field>,
    #[serde(rename = "SYSLOG_PID")]
    syslog_pid: Option<Field>,
    #[serde(rename = "MESSAGE")]
    message: Option<Field>,
}

/// The reading thread's settings.
struct Reading {
    units: Vec<String>,
    /// The cursor reading starts at: its entry, when still there, comes first and is skipped.
    skip_cursor: Option<String>,
    follow: bool,
    location: String,
}

impl Reading {
    /// Reads `out` to its end, handing each piece to `send` until it refuses one.
    fn read(&self, out: impl Read, mut send: impl FnMut(Entries) -> bool) -> Result<(), JournalError> {
        let mut out = BufReader::with_capacity(1 << 20, out);
        let mut json = Vec::new();
        let mut piece = Entries::default();
        let mut first = true;
        loop {
            json.clear();
            let complete = read_line(&mut out, &mut json, MAX_JSON_LINE)
                .map_err(|source| JournalError::Io { location: self.location.clone(), source })?;
            let Some(complete) = complete else { break };
            if complete && let Ok(entry) = serde_json::from_slice::<Entry>(&json) {
                let again = first && entry.cursor.is_some() && entry.cursor == self.skip_cursor;
                first = false;
                if !again {
                    piece.read += 1;
                    self.add(entry, &mut piece);
                }
            }
            let idle = out.buffer().is_empty();
            let full = piece.cursors.len() >= PIECE_ENTRIES;
            if (full || (idle && piece.read > 0 && (self.follow || piece.read >= 256)))
                && !send(std::mem::take(&mut piece))
            {
                return Ok(());
            }
        }
        if piece.read > 0 {
            send(piece);
        }
        Ok(())
    }

    /// Adds the line of `entry` to `piece` if it is a mail daemon's.
    fn add(&self, entry: Entry, piece: &mut Entries) {
        let Some(cursor) = entry.cursor else { return };
        piece.last_cursor = Some(cursor.clone());
        let unit = text(&entry.unit).and_then(|u| std::str::from_utf8(u).ok());
        if !unit.is_some_and(|u| self.units.iter().any(|p| glob_matches(p, u))) {
            return;
        }
        let Some(ident) = text(&entry.identifier).filter(|i| is_mail_identifier(i)) else { return };
        let Some(message) = text(&entry.message) else { return };
        if message.len() > MAX_MESSAGE {
            piece.overlong += 1;
            return;
        }
        let Some(micros) = text(&entry.realtime).and_then(|t| std::str::from_utf8(t).ok()?.parse::<i64>().ok()) else {
            return;
        };
        let Ok(time) = jiff::Timestamp::from_microsecond(micros) else { return };
        if time.to_zoned_datetime(jiff::tz::TimeZone::UTC).year() < 1000 {
            return;
        }
        let line = &mut piece.lines;
        let stamp = format!("{}.{:06}Z ", time.strftime("%Y-%m-%dT%H:%M:%S"), micros.rem_euclid(1_000_000));
        line.extend_from_slice(stamp.as_bytes());
        // A host name with a space (or none) would shift the fields the parser reads.
        match text(&entry.hostname).filter(|h| !h.is_empty()) {
            Some(host) => line.extend(host.iter().map(|&b| if b.is_ascii_whitespace() || b == 0 { b'_' } else { b })),
            None => line.push(b'-'),
        }
        line.push(b' ');
        line.extend_from_slice(ident);
        let pid = text(&entry.pid).or(text(&entry.syslog_pid)).filter(|p| p.iter().all(u8::is_ascii_digit));
        if let Some(pid) = pid.filter(|p| !p.is_empty()) {
            line.push(b'[');
            line.extend_from_slice(pid);
            line.push(b']');
        }
        line.extend_from_slice(b": ");
        // One entry, one line.
        line.extend(message.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
        line.push(b'\n');
        piece.cursors.push(cursor);
    }

    /// What `journalctl`'s exit and its messages say about a read that reached the end.
    fn verdict(&self, status: std::process::ExitStatus, stderr: &str) -> Result<(), JournalError> {
        let permission = ["insufficient permissions", "Permission denied", "not seeing messages from other users"];
        if let Some(said) = permission.iter().find(|p| stderr.contains(*p)) {
            return Err(JournalError::Permission { location: self.location.clone(), detail: (*said).to_string() });
        }
        // A unit glob that matches no unit the journal knows: nothing to read.
        if status.success() || stderr.contains("Failed to add filter for units: No data available") {
            return Ok(());
        }
        // Killed on purpose (a follower dropped, or a consumer that stopped early).
        if status.code().is_none() {
            return Ok(());
        }
        Err(JournalError::Failed {
            location: self.location.clone(),
            status: status.to_string(),
            stderr: crate::text::visible(stderr.trim().as_bytes()),
        })
    }
}

/// Reads `journalctl -o json` output from `output` as the reading thread of a [`JournalReader`]
/// reads its child's: the entries of a unit matching one of `units` (globs, as `journalctl -u`
/// takes them) and of a mail daemon become syslog lines, the first entry is skipped when its
/// cursor is `skip_cursor`, and `send` gets each piece of [`Entries`] until it returns `false`.
/// Text that is not a JSON entry is skipped; the only error is a failed read.
pub fn read_output(
    output: impl Read,
    units: &[String],
    skip_cursor: Option<&str>,
    send: impl FnMut(Entries) -> bool,
) -> Result<(), JournalError> {
    let reading = Reading {
        units: units.to_vec(),
        skip_cursor: skip_cursor.map(str::to_string),
        follow: false,
        location: "journalctl output".into(),
    };
    reading.read(output, send)
}

/// Reads one line into `buf` (without its newline), at most `max` bytes of it: `Some(true)` for
/// a whole line, `Some(false)` for one cut at `max` (the rest is skipped), `None` at the end.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Option<bool>> {
    let mut whole = true;
    let mut any = false;
    loop {
        let data = r.fill_buf()?;
        if data.is_empty() {
            return Ok(any.then_some(whole && !buf.is_empty()));
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', data) {
            Some(i) => (i, true),
            None => (data.len(), false),
        };
        if whole && buf.len() + take <= max {
            buf.extend_from_slice(&data[..take]);
        } else {
            whole = false;
            buf.clear();
        }
        r.consume(take + usize::from(done));
        if done {
            return Ok(Some(whole));
        }
    }
}

/// The first 64 KiB of what `journalctl` writes on stderr.
fn read_stderr(stderr: impl Read) -> String {
    let mut text = Vec::new();
    let mut stderr = stderr;
    let _ = (&mut stderr).take(64 << 10).read_to_end(&mut text);
    // Whatever comes after is drained, so that journalctl never blocks on a full pipe.
    let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    String::from_utf8_lossy(&text).into_owned()
}

/// The bytes of a field's single value.
fn text(f: &Option<Field>) -> Option<&[u8]> {
    f.as_ref().and_then(Field::bytes)
}

/// Whether `ident` is a `SYSLOG_IDENTIFIER` of Postfix (`postfix/smtpd`,
/// `postfix-out/smtpd`, `postfix/submission/smtpd`) or Dovecot (`dovecot`).
pub fn is_mail_identifier(ident: &[u8]) -> bool {
    let clean = |s: &[u8]| !s.is_empty() && s.iter().all(|&b| b.is_ascii_graphic() && !b"[]:".contains(&b));
    if ident == b"dovecot" {
        return true;
    }
    let Some(slash) = memchr::memchr(b'/', ident) else { return false };
    let (name, program) = (&ident[..slash], &ident[slash + 1..]);
    let instance = match name.strip_prefix(b"postfix") {
        Some(b"") => true,
        Some(rest) => rest.strip_prefix(b"-").is_some_and(clean),
        None => false,
    };
    instance && clean(program)
}

/// Whether `unit` matches `pattern`, in which `*` stands for any text (as in `journalctl -u`).
pub fn glob_matches(pattern: &str, unit: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = unit.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The directories whose journal files `query` reads: DIR and its subdirectories (as
/// `journalctl -D DIR` reads them), or the local journal's (`/var/log/journal/MACHINE-ID`,
/// `/run/log/journal/MACHINE-ID`). Those that cannot be listed are left out.
pub fn journal_dirs(query: &JournalQuery) -> Vec<PathBuf> {
    let subdirs = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|list| list.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default()
    };
    match &query.directory {
        Some(dir) => std::iter::once(dir.clone()).chain(subdirs(dir)).collect(),
        None => ["/var/log/journal", "/run/log/journal"].iter().flat_map(|d| subdirs(Path::new(d))).collect(),
    }
}

/// Fails when this user cannot open the journal's files: a user outside the journal's groups
/// sees only its own entries in the local journal (journalctl says so in a hint, and succeeds),
/// so this is looked at before reading rather than after.
pub fn check_access(query: &JournalQuery) -> Result<(), JournalError> {
    let location = query.location();
    let denied = |detail: String| JournalError::Permission { location: location.clone(), detail };
    if let Some(dir) = &query.directory
        && let Err(e) = std::fs::read_dir(dir)
        && e.kind() == std::io::ErrorKind::PermissionDenied
    {
        return Err(denied(format!("cannot list {}", dir.display())));
    }
    let dirs = journal_dirs(query);
    for dir in dirs {
        let Ok(list) = std::fs::read_dir(&dir) else { continue };
        for file in list.flatten() {
            let path = file.path();
            let name = file.file_name();
            let name = name.to_string_lossy();
            // The local journal's user-*.journal files are each user's own; the system's are not.
            let relevant = name.ends_with(".journal") && (query.directory.is_some() || name.starts_with("system"));
            if relevant
                && let Err(e) = std::fs::File::open(&path)
                && e.kind() == std::io::ErrorKind::PermissionDenied
            {
                return Err(denied(format!("cannot open {}", path.display())));
            }
        }
    }
    Ok(())
}

/// Whether the entry of `cursor` is still in the journal (not vacuumed or rotated away):
/// `journalctl --cursor` starts at the entry nearest to a cursor that is gone.
pub fn cursor_exists(query: &JournalQuery, cursor: &str) -> Result<bool, JournalError> {
    check_access(query)?;
    let mut cmd = query.command();
    cmd.args(["--output-fields=_BOOT_ID", "-n", "all"]).arg(format!("--cursor={cursor}"));
    let mut child = cmd.spawn().map_err(JournalError::NotInstalled)?;
    let location = query.location();
    let first = match child.stdout.take() {
        Some(out) => {
            let mut line = Vec::new();
            let read = read_line(&mut BufReader::new(out), &mut line, MAX_JSON_LINE);
            read.map_err(|source| JournalError::Io { location: location.clone(), source })?;
            serde_json::from_slice::<Entry>(&line).ok().and_then(|e| e.cursor)
        }
        None => None,
    };
    let _ = child.kill();
    let stderr = child.stderr.take().map(read_stderr).unwrap_or_default();
    let status = child.wait().map_err(|source| JournalError::Io { location: location.clone(), source })?;
    if first.is_none() {
        let reading = Reading { units: Vec::new(), skip_cursor: None, follow: false, location };
        reading.verdict(status, &stderr)?;
    }
    Ok(first.as_deref() == Some(cursor))
}

/// The time a cursor names (its `t=` part, microseconds since the epoch), if it is well formed.
pub fn cursor_time(cursor: &str) -> Option<jiff::Timestamp> {
    let hex = cursor.split(';').find_map(|part| part.strip_prefix("t="))?;
    jiff::Timestamp::from_microsecond(i64::from_str_radix(hex, 16).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_identifiers() {
        for ok in ["postfix/smtpd", "postfix/submission/smtpd", "postfix-out/smtpd", "dovecot"] {
            assert!(is_mail_identifier(ok.as_bytes()), "{ok}");
        }
        for bad in ["postfix", "postfixx/smtpd", "postfix-/smtpd", "postfix/", "dovecot-x", "sshd", "postfix/a b"] {
            assert!(!is_mail_identifier(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_matches("postfix@*.service", "postfix@-.service"));
        assert!(glob_matches("postfix@*.service", "postfix@out.service"));
        assert!(!glob_matches("postfix@*.service", "postfix.service"));
        assert!(glob_matches("dovecot.service", "dovecot.service"));
        assert!(!glob_matches("dovecot.service", "dovecot.service2"));
        assert!(glob_matches("*", "x"));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXc"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn entries_become_syslog_lines() {
        let reading =
            Reading { units: vec!["postfix@*.service".into()], skip_cursor: None, follow: false, location: "j".into() };
        let json = br#"{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1796637600123456","_SYSTEMD_UNIT":"postfix@-.service","SYSLOG_IDENTIFIER":"postfix/smtpd","_HOSTNAME":"mx 1","_PID":"42","MESSAGE":[97,10,255]}"#;
        let mut piece = Entries::default();
        reading.add(serde_json::from_slice(json).unwrap(), &mut piece);
        assert_eq!(piece.lines, b"2026-12-07T10:00:00.123456Z mx_1 postfix/smtpd[42]: a \xff\n");
        assert_eq!(piece.cursors, ["c1"]);
        let foreign = br#"{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"evil.service","SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"x"}"#;
        reading.add(serde_json::from_slice(foreign).unwrap(), &mut piece);
        assert_eq!(piece.cursors.len(), 1);
        assert_eq!(piece.last_cursor.as_deref(), Some("c2"));
    }

    #[test]
    fn long_lines_are_cut() {
        let mut r = BufReader::new(&b"abc\nabcdefgh\nxy"[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 4).unwrap(), Some(true));
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf, 4).unwrap(), Some(false));
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf, 4).unwrap(), Some(true));
        assert_eq!(buf, b"xy");
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf, 4).unwrap(), None);
    }

    #[test]
    fn cursor_times() {
        let c = "s=1f;i=1;b=01;m=23c52840;t=6620849f20a40;x=2a";
        assert_eq!(cursor_time(c).map(|t| t.as_microsecond()), Some(0x6620849f20a40));
    }
}
