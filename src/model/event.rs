//! The authentication event model that every pipeline stage shares.
//!
//! The parser produces [`Parsed`] (timestamp still as written, text borrowed from the line), the
//! scan resolves it into an [`Event`] (a UTC instant, a server name, texts interned as [`Sym`]s),
//! the correlator decides how many attempts it stands for, and the store keeps it under its
//! [`EventKey`]. [`OwnedEvent`] and [`Detail`] are the same facts as owned text, for tests,
//! fixtures and saved state.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::symbols::{Sym, Symbols};
use crate::text::{visible, visible_upper};

/// What a log line says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    /// A failed authentication attempt.
    Failure = 1,
    /// A successful login: stored, never written to `intrusions.csv`.
    Success = 2,
    /// The authentication backend failed (e.g. `Connection lost to authentication server`): an
    /// operational problem on our side, never counted as an attack.
    BackendError = 3,
}

impl Kind {
    /// The code the store keeps.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Kind::code`].
    pub fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Failure,
            2 => Kind::Success,
            3 => Kind::BackendError,
            _ => return None,
        })
    }

    /// Lower-case name for messages and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Failure => "failure",
            Kind::Success => "success",
            Kind::BackendError => "backend error",
        }
    }
}

/// A short class of why an attempt ended as it did.
///
/// The log's own reason text is never kept: Dovecot can log the password that was tried
/// (`(given password: ...)`), and Postfix logs server challenges, so only the class survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Reason {
    /// Generic failure: Postfix's `authentication failure`, a base64 challenge, an empty reason,
    /// `(reason unavailable)`, PAM's `authentication failure`, a Dovecot `auth failed` summary.
    AuthenticationFailure = 1,
    /// Dovecot `Password mismatch`, PAM `(password mismatch?)`.
    PasswordMismatch = 2,
    /// Dovecot `unknown user`, PAM `User not known to the underlying authentication module`.
    UnknownUser = 3,
    /// Postfix `Invalid authentication mechanism`: recorded, excluded from intrusion counts by
    /// default (a client probing mechanisms has not tried a password).
    MechanismInvalid = 4,
    /// Dovecot `tried to use disabled/disallowed plaintext auth`.
    PlaintextDisallowed = 5,
    /// Dovecot `tried to use disallowed X auth` for another mechanism.
    MechanismDisallowed = 6,
    /// Dovecot proxy: `proxy dest auth failed`.
    ProxyAuthFailed = 7,
    /// LDAP `invalid credentials`.
    InvalidCredentials = 8,
    /// PAM `Permission denied`.
    PermissionDenied = 9,
    /// The backend was unreachable (`Connection lost to authentication server`).
    BackendOutage = 10,
    /// A successful login.
    LoginOk = 11,
}

impl Reason {
    /// Every reason, for lookups by code and for documentation tests.
    pub const ALL: [Reason; 11] = [
        Reason::AuthenticationFailure,
        Reason::PasswordMismatch,
        Reason::UnknownUser,
        Reason::MechanismInvalid,
        Reason::PlaintextDisallowed,
        Reason::MechanismDisallowed,
        Reason::ProxyAuthFailed,
        Reason::InvalidCredentials,
        Reason::PermissionDenied,
        Reason::BackendOutage,
        Reason::LoginOk,
    ];

    /// The code the store keeps.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Reason::code`].
    pub fn from_code(code: u8) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The text written to the CSV `reason` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AuthenticationFailure => "authentication failure",
            Reason::PasswordMismatch => "password mismatch",
            Reason::UnknownUser => "unknown user",
            Reason::MechanismInvalid => "mechanism invalid",
            Reason::PlaintextDisallowed => "plaintext disallowed",
            Reason::MechanismDisallowed => "mechanism disallowed",
            Reason::ProxyAuthFailed => "proxy auth failed",
            Reason::InvalidCredentials => "invalid credentials",
            Reason::PermissionDenied => "permission denied",
            Reason::BackendOutage => "backend outage",
            Reason::LoginOk => "login",
        }
    }
}

/// Which program in the authentication chain wrote the line.
///
/// One attempt can be logged by several of them (Postfix asks Dovecot, Dovecot asks PAM); the
/// correlator uses the layer to count such an attempt once. See `correlate` for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Layer {
    /// Postfix smtpd: `warning: host[ip]: SASL ... authentication failed`, `client=..., sasl_method=`.
    SmtpFront,
    /// A Dovecot login process (`imap-login`, `pop3-login`, ...): one line per connection, with an
    /// attempt count and a session id.
    LoginFront,
    /// Dovecot's auth process or auth worker: one line per attempt (only with `auth_verbose`),
    /// with a session id when the client was a Dovecot login process, without one for Postfix.
    Backend,
    /// The PAM module (`pam_unix(dovecot:auth): authentication failure; ... rhost=ip`).
    Pam,
}

/// A timestamp as the log wrote it, before the year and zone are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawTime {
    /// The log gave an absolute instant (RFC 3339 with offset or `Z`, TAI64N).
    Instant(Timestamp),
    /// Date and time without zone (`2013-08-11 03:56:40`): read in the configured zone.
    Civil(jiff::civil::DateTime),
    /// Classic syslog `Mmm dd HH:MM:SS`: no year, no zone.
    YearLess {
        /// 1..=12
        month: i8,
        /// 1..=31
        day: i8,
        /// Time of day, with any fraction the log gave.
        time: jiff::civil::Time,
    },
}

/// The syslog name of the daemon as a line gives it: a fixed prefix the parser adds (Dovecot's
/// `dovecot/` before a login process name) and the name as logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service<'a> {
    /// Added by the parser; empty for names taken whole from the line.
    pub prefix: &'static [u8],
    /// As logged (pid stripped).
    pub name: &'a [u8],
}

impl Service<'_> {
    /// A service named entirely by the parser (`dovecot/auth`).
    pub const fn fixed(name: &'static [u8]) -> Service<'static> {
        Service { prefix: b"", name }
    }

    /// The whole name, made visible.
    pub fn visible(&self) -> String {
        if self.prefix.is_empty() {
            return visible(self.name);
        }
        visible(&[self.prefix, self.name].concat())
    }
}

/// What a line says, as the parser found it: fields borrowed from the line, raw (not yet made
/// visible), so that the scan's hot path allocates nothing. See [`Detail`] for the meaning of
/// each field and [`Fields::detail`] for the owned, visible form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields<'a> {
    /// Failure, success or backend error.
    pub kind: Kind,
    /// Short reason class.
    pub reason: Reason,
    /// The syslog name of the daemon.
    pub service: Service<'a>,
    /// The remote client (IPv4-mapped IPv6 already made IPv4).
    pub client_ip: IpAddr,
    /// The account tried; never empty when `Some`.
    pub username: Option<&'a [u8]>,
    /// SASL mechanism as logged (any case); never empty when `Some`.
    pub mechanism: Option<&'a [u8]>,
    /// The client name Postfix printed before `[ip]`.
    pub logged_hostname: Option<&'a [u8]>,
    /// Attempts the line stands for (at least 1).
    pub count: u32,
    /// Which program wrote it.
    pub layer: Layer,
    /// Dovecot session id; never empty when `Some`.
    pub session: Option<&'a [u8]>,
    /// Dovecot's connection duration.
    pub duration_secs: Option<u32>,
}

impl Fields<'_> {
    /// The owned form, every text made visible.
    pub fn detail(&self) -> Detail {
        Detail {
            kind: self.kind,
            reason: self.reason,
            service: self.service.visible(),
            client_ip: self.client_ip,
            username: self.username.map(visible),
            mechanism: self.mechanism.map(visible_upper),
            logged_hostname: self.logged_hostname.map(visible),
            count: self.count,
            layer: self.layer,
            session: self.session.map(visible),
            duration_secs: self.duration_secs,
        }
    }
}

/// What a line says, apart from its time and server, as owned visible text: the form tests,
/// fixtures and saved correlator state use (the scan itself works on [`Event`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// Failure, success or backend error.
    pub kind: Kind,
    /// Short reason class; never the log's text.
    pub reason: Reason,
    /// The syslog name of the daemon: `postfix/submission/smtpd`, `dovecot/imap-login`,
    /// `dovecot/auth`, ... (pid stripped; made visible with [`crate::text::visible`]).
    pub service: String,
    /// The remote client. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is stored as IPv4.
    pub client_ip: IpAddr,
    /// The account tried, made visible with [`crate::text::visible`]; `None` when the log has none.
    pub username: Option<String>,
    /// SASL mechanism, upper-cased (`LOGIN`, `PLAIN`, `CRAM-MD5`); `None` when not logged.
    pub mechanism: Option<String>,
    /// The client name Postfix printed before `[ip]` (`unknown` included).
    pub logged_hostname: Option<String>,
    /// How many attempts the line stands for: rsyslog's `message repeated N times`, Dovecot's
    /// `(auth failed, N attempts ...)`. At least 1.
    pub count: u32,
    /// Which program wrote it.
    pub layer: Layer,
    /// Dovecot session id (`session=<...>` or `,<...>)`), to join login and auth lines.
    pub session: Option<String>,
    /// Dovecot's connection duration (`in S secs`), bounding which earlier lines a login line covers.
    pub duration_secs: Option<u32>,
}

/// One detected line as the parser returns it, borrowing from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The timestamp as written.
    pub time: RawTime,
    /// The syslog host field, raw; `None` for lines without a syslog header (Dovecot's own log).
    pub host: Option<&'a [u8]>,
    /// Everything else.
    pub fields: Fields<'a>,
}

/// A detected event with owned text: what tests and fixtures build, and what [`Symbols`] turns
/// into an [`Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedEvent {
    /// When it happened, as a UTC instant.
    pub time: Timestamp,
    /// The syslog host field, or the configured `server_name` when the line had none.
    pub server: String,
    /// Everything else.
    pub detail: Detail,
}

/// A detected event with its instant and server resolved: what is correlated and stored.
///
/// Texts are [`Sym`]s of the scan's [`Symbols`], so an event is a small `Copy` value: a gigabyte
/// of log yields about a million of them, and strings per event would make allocation the
/// scan's main cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, as a UTC instant.
    pub time: Timestamp,
    /// The remote client.
    pub client_ip: IpAddr,
    /// The syslog host field, or the configured `server_name`.
    pub server: Sym,
    /// The syslog name of the daemon.
    pub service: Sym,
    /// The account tried.
    pub username: Option<Sym>,
    /// SASL mechanism, upper-cased.
    pub mechanism: Option<Sym>,
    /// The client name Postfix printed before `[ip]`.
    pub logged_hostname: Option<Sym>,
    /// A 64-bit hash of the Dovecot session id: only ever compared for equality, and ids are
    /// random, so a collision within the hour a session is remembered is not a practical concern.
    pub session: Option<u64>,
    /// Attempts the event stands for (at least 1).
    pub count: u32,
    /// Dovecot's connection duration.
    pub duration_secs: Option<u32>,
    /// Failure, success or backend error.
    pub kind: Kind,
    /// Short reason class.
    pub reason: Reason,
    /// Which program wrote it.
    pub layer: Layer,
}

impl Event {
    /// Applies `f` to every symbol of the event (to move it between symbol tables).
    pub fn map_syms(&mut self, mut f: impl FnMut(Sym) -> Sym) {
        self.server = f(self.server);
        self.service = f(self.service);
        for s in [&mut self.username, &mut self.mechanism, &mut self.logged_hostname].into_iter().flatten() {
            *s = f(*s);
        }
    }
}

/// The hash [`Event::session`] keeps of a session id.
pub fn session_hash(session: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(session)
}

impl OwnedEvent {
    /// The interned form of this event, its texts added to `symbols`.
    pub fn intern(&self, symbols: &mut Symbols) -> Event {
        let d = &self.detail;
        Event {
            time: self.time,
            client_ip: d.client_ip,
            server: symbols.text(&self.server),
            service: symbols.text(&d.service),
            username: d.username.as_deref().map(|s| symbols.text(s)),
            mechanism: d.mechanism.as_deref().map(|s| symbols.text(s)),
            logged_hostname: d.logged_hostname.as_deref().map(|s| symbols.text(s)),
            session: d.session.as_deref().map(|s| session_hash(s.as_bytes())),
            count: d.count,
            duration_secs: d.duration_secs,
            kind: d.kind,
            reason: d.reason,
            layer: d.layer,
        }
    }
}

impl Event {
    /// The owned form of this event, its texts looked up in `symbols`. Its session id is only a
    /// hash: the owned event has none.
    pub fn to_owned_event(&self, symbols: &Symbols) -> OwnedEvent {
        let text = |s: Option<u32>| s.map(|s| symbols.get(s).to_string());
        OwnedEvent {
            time: self.time,
            server: symbols.get(self.server).to_string(),
            detail: Detail {
                kind: self.kind,
                reason: self.reason,
                service: symbols.get(self.service).to_string(),
                client_ip: self.client_ip,
                username: text(self.username),
                mechanism: text(self.mechanism),
                logged_hostname: text(self.logged_hostname),
                count: self.count,
                layer: self.layer,
                session: None,
                duration_secs: self.duration_secs,
            },
        }
    }
}

/// Where an event came from: the file (its id in the store) and the byte offset of its line.
///
/// The key makes storing idempotent: a rescan (`--full`) or a replay after a crash produces the
/// same keys, and the store ignores keys it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventKey {
    /// The source file's id in the store.
    pub source: u32,
    /// Byte offset of the line's first byte in the (decompressed) file.
    pub offset: u64,
}

impl EventKey {
    /// Offsets up to 2^40 (1 TiB) per file; ids up to 2^23.
    const OFFSET_BITS: u32 = 40;

    /// The key packed into one SQLite rowid, so that the event table needs no extra index.
    pub fn rowid(self) -> i64 {
        ((self.source as i64) << Self::OFFSET_BITS) | (self.offset as i64 & ((1 << Self::OFFSET_BITS) - 1))
    }

    /// Inverse of [`EventKey::rowid`].
    pub fn from_rowid(rowid: i64) -> EventKey {
        EventKey {
            source: (rowid >> Self::OFFSET_BITS) as u32,
            offset: (rowid & ((1 << Self::OFFSET_BITS) - 1)) as u64,
        }
    }
}

/// An event ready for the store: the key of the line it came from, and how many attempts it
/// stands for after correlation (at least 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedEvent {
    /// The line the event is stored under.
    pub key: EventKey,
    /// The event.
    pub event: Event,
}
