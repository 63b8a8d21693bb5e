//! One HTTP POST of an alert to a webhook, with ureq (rustls), and what its answer means for
//! the outbox.
//!
//! - The channel's `timeout` bounds the whole request, from the name lookup to the last byte
//!   of the answer read.
//! - Headers: the format's own (ntfy's `Title`, `Priority`, `Tags`), `Content-Type`,
//!   `User-Agent: maillogsentinel/VERSION`, then the channel's `headers` (which replace any of
//!   those of the same name), the token of `token_file`, and always `Idempotency-Key` with the
//!   alert's key.
//! - Redirects are not followed: ureq turns a POST answered by 301, 302 or 303 into a GET
//!   without the body, so following one would report a message delivered that nobody received
//!   (and would carry it to a host the configuration never named). A redirect is a permanent
//!   failure that names the new location, to be written in `url`.
//! - The proxy of the environment (`HTTPS_PROXY`, `NO_PROXY`, ...) is used, as by `geo update`;
//!   nothing else is contacted.
//! - Errors name the scheme, host and port only, never the path: Slack, Mattermost and others
//!   put the secret of a webhook in it.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Outcome;
use super::render;
use crate::config::alerts::{ChannelConfig, WebhookFormat};
use crate::model::alert::Alert;

/// The longest `Retry-After` obeyed: a receiver asking for a day would otherwise hold an alert
/// past the outbox's `give_up_after`, and an hour is already long for an alert.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Bytes of an error answer's body quoted in the error.
const BODY_EXCERPT: usize = 200;

/// POSTs `alert` to `channel.url` in the channel's format; times in the text are shown in `tz`.
pub fn send(channel: &ChannelConfig, alert: &Alert, tz: &TimeZone) -> Outcome {
    let Some(url) = channel.url.as_deref() else {
        return Outcome::Failed { error: format!("channel {:?}: a webhook needs a url", channel.name) };
    };
    let origin = origin(url);
    let rendered = render::webhook(channel.format, alert, tz);
    let mut headers: Vec<(String, String)> = vec![
        ("Content-Type".into(), rendered.content_type.into()),
        ("User-Agent".into(), format!("maillogsentinel/{}", env!("CARGO_PKG_VERSION"))),
    ];
    for (name, value) in rendered.headers {
        set(&mut headers, name, value);
    }
    for (name, value) in &channel.headers {
        set(&mut headers, name, value.clone());
    }
    if let Some(path) = &channel.token_file {
        let token = match token(path) {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        match channel.format {
            WebhookFormat::Gotify => set(&mut headers, "X-Gotify-Key", token),
            _ => set(&mut headers, "Authorization", format!("Bearer {token}")),
        }
    }
    set(&mut headers, "Idempotency-Key", render::header_value(&alert.key));

    let timeout = Duration::from_secs(channel.timeout.as_secs().max(1));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut request = agent.post(url);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    match request.send(rendered.body.as_bytes()) {
        Ok(response) => answer(response, &origin, Timestamp::now()),
        Err(e) => failure(e, &origin, timeout),
    }
}

/// Sets header `name` to `value`, replacing one of the same name (names are case-insensitive).
fn set(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value));
}

/// The first line of `path`, trimmed. A file that cannot be read may be fixed before the next
/// try (a secret put in place late, its permissions corrected): the outcome is then a retry.
fn token(path: &Path) -> Result<String, Outcome> {
    let text = std::fs::read_to_string(path).map_err(|e| Outcome::Retry {
        after: None,
        error: format!("token_file {}: {e} (the service user must be able to read it)", path.display()),
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        return Err(Outcome::Retry {
            after: None,
            error: format!("token_file {}: the first line is empty", path.display()),
        });
    }
    if !token.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' ') {
        return Err(Outcome::Failed {
            error: format!("token_file {}: the token holds characters an HTTP header cannot carry", path.display()),
        });
    }
    Ok(token)
}

/// `https://host:port` of `url`, without user, path, query or fragment.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    render::guard(&format!("{scheme}://{host}"), false).into_owned()
}

/// What an HTTP answer means.
fn answer(mut response: ureq::http::Response<ureq::Body>, origin: &str, now: Timestamp) -> Outcome {
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let after = header("retry-after").and_then(|v| retry_after(&v, now));
    let location = header("location");
    let mut error = format!("{origin}: HTTP {}", status.as_u16());
    if let Some(reason) = status.canonical_reason() {
        error = format!("{error} {reason}");
    }
    if status.is_redirection() {
        let to = location.map_or_else(|| "elsewhere".to_string(), |l| excerpt(l.as_bytes()));
        return Outcome::Failed {
            error: format!("{error}: redirected to {to}, not followed (set url to the address the webhook moved to)"),
        };
    }
    let mut body = Vec::new();
    let _ = response.body_mut().as_reader().take(BODY_EXCERPT as u64 + 1).read_to_end(&mut body);
    if !body.is_empty() {
        error = format!("{error}: {}", excerpt(&body));
    }
    match status.as_u16() {
        408 | 429 | 500..=599 => Outcome::Retry { after, error },
        _ => Outcome::Failed { error },
    }
}

/// At most [`BODY_EXCERPT`] bytes of `bytes` as one line of safe text (a receiver's answer is
/// not ours: it may hold anything).
fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len() > BODY_EXCERPT;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_EXCERPT)]);
    let text = text.trim_end_matches('\u{fffd}').split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = render::guard(&text, false).into_owned();
    if cut {
        out.push('…');
    }
    out
}

/// `Retry-After` as a wait: delay-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00
/// GMT`, from `now`), at most [`MAX_RETRY_AFTER`]; a date past is no wait. The obsolete RFC 850
/// and asctime date forms, and anything else, are ignored (the outbox's backoff applies).
pub fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let secs = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        value.parse::<u64>().unwrap_or(u64::MAX)
    } else {
        static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
        let at = PARSER.parse_timestamp(value).ok()?;
        u64::try_from(at.as_second().saturating_sub(now.as_second())).unwrap_or(0)
    };
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// What a request that got no HTTP answer means.
fn failure(e: ureq::Error, origin: &str, timeout: Duration) -> Outcome {
    let retry = |error: String| Outcome::Retry { after: None, error: format!("{origin}: {error}") };
    let failed = |error: String| Outcome::Failed { error: format!("{origin}: {error}") };
    let timed_out = || retry(format!("no answer within {} s (the channel's timeout)", timeout.as_secs()));
    match e {
        ureq::Error::Timeout(_) => timed_out(),
        ureq::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
            timed_out()
        }
        ureq::Error::Io(io) => retry(format!("{io}")),
        ureq::Error::HostNotFound => retry("host not found (DNS)".into()),
        // The request itself is wrong: the same request would be refused again.
        e @ (ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::RequireHttpsOnly(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RedirectFailed
        | ureq::Error::TooManyRedirects) => failed(e.to_string()),
        // Connection failures, TLS, protocol errors: the network or the receiver, which may mend.
        e => retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("99999999999999999999999", now), Some(MAX_RETRY_AFTER));
        let date = |secs: i64| {
            let at = Timestamp::from_second(1_800_000_000 + secs).unwrap();
            jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&at).unwrap()
        };
        assert_eq!(retry_after(&date(30), now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&date(-30), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&date(7200), now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("", now), None);
    }

    #[test]
    fn origin_keeps_no_path_or_user() {
        assert_eq!(origin("https://hooks.slack.com/services/T0/B0/SECRET"), "https://hooks.slack.com");
        assert_eq!(origin("http://user:pw@127.0.0.1:8080/x?y#z"), "http://127.0.0.1:8080");
        assert_eq!(origin("https://[::1]:8443"), "https://[::1]:8443");
    }

    #[test]
    fn an_answer_body_is_quoted_short_and_safe() {
        assert_eq!(excerpt(b"not\r\n  found\x1b[31m"), "not found\\x1B[31m");
        let long = excerpt(&[b'a'; 500]);
        assert_eq!(long.len(), BODY_EXCERPT + '…'.len_utf8());
        // A multi-byte character cut at the limit is dropped, not shown as U+FFFD.
        let mut cut = vec![b'a'; BODY_EXCERPT - 1];
        cut.extend("é".as_bytes());
        assert_eq!(excerpt(&cut), format!("{}…", "a".repeat(BODY_EXCERPT - 1)));
    }

    #[test]
    fn headers_are_replaced_whatever_their_case() {
        let mut h = vec![("Content-Type".to_string(), "a".to_string())];
        set(&mut h, "content-type", "b".into());
        assert_eq!(h, vec![("content-type".to_string(), "b".to_string())]);
    }
}
