//! A scripted HTTP/1.1 server on loopback, for tests of webhooks: it answers each request with
//! the next reply of a script, and records every request it received.
//!
//! ```ignore
//! #[path = "support/http_server.rs"]
//! mod http_server;
//! use http_server::{HttpServer, Replied, Reply};
//!
//! let server = HttpServer::start([
//!     Reply::status(500),
//!     Reply::hang(Duration::from_secs(30)),               // past the client's timeout
//!     Reply::status(429).header("Retry-After", "7"),
//!     Reply::close(),                                     // close without a word
//! ]);                                                     // then: 200 OK for every request
//! let url = server.url("/hook");
//! // ... POST to url ...
//! let requests = server.wait_for(5, Duration::from_secs(10));
//! assert_eq!(requests[0].header("idempotency-key"), Some("k1"));
//! assert_eq!(server.delivered().len(), 1);              // the requests answered 2xx
//! ```
//!
//! - One request per connection: every reply carries `Connection: close` and the connection is
//!   closed after it, so the script's n-th reply answers the n-th request received.
//! - When the script is used up, every request gets the default reply: `200 OK` with body `ok`
//!   unless [`HttpServer::set_default`] says otherwise. [`HttpServer::push`] adds to the script.
//! - Every request is recorded once fully read, before it is answered, with the reply it got:
//!   a request that hangs or is closed is recorded too.
//! - Each connection is served on a thread of its own, so a hanging request does not hold up
//!   the next. Dropping the server stops it and ends the hangs.
//! - Bodies are read by `Content-Length` or `Transfer-Encoding: chunked`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Clone, Debug)]
pub struct Reply {
    action: Action,
}

#[derive(Clone, Debug)]
enum Action {
    Respond { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    Hang(Duration),
    Close,
}

impl Reply {
    /// Answer with `code` and an empty body (add to it with [`Reply::header`], [`Reply::body`]).
    pub fn status(code: u16) -> Reply {
        Reply { action: Action::Respond { status: code, headers: Vec::new(), body: Vec::new() } }
    }

    /// `200 OK` with the body `ok`.
    pub fn ok() -> Reply {
        Reply::status(200).body("ok")
    }

    /// Read the request, then answer nothing and keep the connection open for `d` (or until the
    /// server is dropped).
    pub fn hang(d: Duration) -> Reply {
        Reply { action: Action::Hang(d) }
    }

    /// Read the request, then close the connection without answering.
    pub fn close() -> Reply {
        Reply { action: Action::Close }
    }

    /// Adds a header to an answer.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Action::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Sets an answer's body.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Reply {
        if let Action::Respond { body, .. } = &mut self.action {
            *body = bytes.into();
        }
        self
    }
}

/// What a request got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replied {
    /// An answer with this status.
    Status(u16),
    /// Nothing: the connection was held open.
    Hung,
    /// Nothing: the connection was closed.
    Closed,
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Request {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The request target: `/hook?x=1`.
    pub path: String,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (chunked bodies decoded).
    pub body: Vec<u8>,
    /// When it was fully read.
    pub at: Instant,
    /// What it got.
    pub replied: Replied,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

struct State {
    script: VecDeque<Reply>,
    default: Reply,
    requests: Vec<Request>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a request is recorded, and when the server stops.
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The server; stopped when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HttpServer {
    /// Listens on `127.0.0.1` (a free port) and answers with `script`, then with the default.
    pub fn start(script: impl IntoIterator<Item = Reply>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: script.into_iter().collect(),
                default: Reply::ok(),
                requests: Vec::new(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(stream, &s));
            }
        });
        HttpServer { addr, shared }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Adds `reply` at the end of the script.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().script.push_back(reply);
    }

    /// The reply once the script is used up (initially [`Reply::ok`]).
    pub fn set_default(&self, reply: Reply) {
        self.shared.lock().default = reply;
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// The requests received so far that were answered with a 2xx status.
    pub fn delivered(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| matches!(r.replied, Replied::Status(200..=299))).collect()
    }

    /// The requests received, once there are `n` of them or `timeout` has passed.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.requests.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        state.requests.clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wakes the accept loop so that it sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Reads one request from `stream`, records it and carries out the next reply.
fn serve(mut stream: TcpStream, shared: &Shared) {
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((method, path, headers, body)) = read_request(&stream) else { return };
    let reply = {
        let mut state = shared.lock();
        let reply = state.script.pop_front().unwrap_or_else(|| state.default.clone());
        let replied = match &reply.action {
            Action::Respond { status, .. } => Replied::Status(*status),
            Action::Hang(_) => Replied::Hung,
            Action::Close => Replied::Closed,
        };
        state.requests.push(Request { method, path, headers, body, at: Instant::now(), replied });
        reply
    };
    shared.changed.notify_all();
    match reply.action {
        Action::Respond { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
        }
        Action::Hang(d) => {
            let deadline = Instant::now() + d;
            let mut state = shared.lock();
            while !shared.stop.load(Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = shared.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        Action::Close => {}
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

type Parsed = (String, String, Vec<(String, String)>, Vec<u8>);

fn read_request(stream: &TcpStream) -> Option<Parsed> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, headers, body))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
