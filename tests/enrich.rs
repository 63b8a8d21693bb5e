//! Enrichment against real components on loopback: a DNS server (UDP, hickory-proto messages)
//! answering, failing, stalling and sending hostile names; an HTTP server serving database
//! fixtures, truncated bodies and HTML error pages; the real store and the real binary.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use maillogsentinel::enrich::dns::{DnsOptions, ReverseResolver};
use maillogsentinel::enrich::{EnrichOptions, Enricher};
use maillogsentinel::model::ipinfo::RdnsStatus;
use maillogsentinel::store::Store;

// ---------------------------------------------------------------------------------------------
// A loopback DNS server.

/// What the test server does for a reverse name.
fn reverse_behaviour(ip: IpAddr) -> Reply {
    let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
    match ip {
        ip if ip == v4("192.0.2.1") => Reply::Ptr(vec![b"mail".to_vec(), b"example".to_vec(), b"org".to_vec()]),
        ip if ip == v4("192.0.2.2") => Reply::Ptr(vec![b"forged".to_vec(), b"example".to_vec(), b"org".to_vec()]),
        ip if ip == v4("192.0.2.3") => Reply::Code(ResponseCode::NXDomain),
        ip if ip == v4("192.0.2.4") => Reply::Code(ResponseCode::ServFail),
        ip if ip == v4("192.0.2.5") => Reply::Code(ResponseCode::Refused),
        ip if ip == v4("192.0.2.6") => Reply::Silence,
        // NOERROR with an empty answer section: the name exists, without a PTR record (NODATA).
        ip if ip == v4("192.0.2.9") => Reply::Code(ResponseCode::NoError),
        ip if ip == v4("192.0.2.7") => Reply::Ptr(hostile_labels()),
        ip if ip == v4("192.0.2.8") => Reply::Slow(
            Duration::from_millis(800),
            Box::new(Reply::Ptr(vec![b"slow".to_vec(), b"example".to_vec(), b"org".to_vec()])),
        ),
        IpAddr::V4(v) if v.octets()[0] == 10 => {
            let [_, a, b, c] = v.octets();
            Reply::Slow(
                Duration::from_secs(1),
                Box::new(Reply::Ptr(vec![
                    format!("h-{a}-{b}-{c}").into_bytes(),
                    b"bulk".to_vec(),
                    b"example".to_vec(),
                ])),
            )
        }
        IpAddr::V4(v) if v.octets()[0] == 100 => {
            let [_, a, b, c] = v.octets();
            Reply::Ptr(vec![format!("h-{a}-{b}-{c}").into_bytes(), b"pipe".to_vec(), b"example".to_vec()])
        }
        IpAddr::V6(v) if v == "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap() => {
            Reply::Ptr(vec![b"v6".to_vec(), b"example".to_vec(), b"org".to_vec()])
        }
        _ => Reply::Code(ResponseCode::NXDomain),
    }
}

/// Forward answers, for the confirmation step.
fn forward(name: &str, rtype: RecordType) -> Option<RData> {
    let name = name.trim_end_matches('.');
    let a = |s: &str| Some(RData::A(A(s.parse().unwrap())));
    match (name, rtype) {
        ("mail.example.org", RecordType::A) => a("192.0.2.1"),
        ("slow.example.org", RecordType::A) => a("192.0.2.8"),
        ("forged.example.org", RecordType::A) => a("198.51.100.99"),
        ("v6.example.org", RecordType::AAAA) => Some(RData::AAAA(AAAA("2001:db8::1".parse().unwrap()))),
        (n, RecordType::A) if n.ends_with(".bulk.example") || n.ends_with(".pipe.example") => {
            let parts: Vec<u8> =
                n.trim_start_matches("h-").split(['-', '.']).take(3).filter_map(|p| p.parse().ok()).collect();
            let [a, b, c] = parts[..] else { return None };
            let first = if n.ends_with(".bulk.example") { 10 } else { 100 };
            Some(RData::A(A(Ipv4Addr::new(first, a, b, c))))
        }
        _ => None,
    }
}

/// A PTR name of exactly 255 bytes on the wire, with an escape sequence and a comma.
fn hostile_labels() -> Vec<Vec<u8>> {
    vec![b"\x1b[31mevil".to_vec(), b"a,b".to_vec(), vec![b'x'; 63], vec![b'y'; 63], vec![b'z'; 63], vec![b'w'; 47]]
}

#[derive(Clone)]
enum Reply {
    Ptr(Vec<Vec<u8>>),
    Code(ResponseCode),
    Silence,
    Slow(Duration, Box<Reply>),
}

struct DnsServer {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn arpa_to_ip(name: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = name.iter().map(|l| String::from_utf8_lossy(l).to_ascii_lowercase()).collect();
    let n = labels.len();
    if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
        let o: Vec<u8> = labels[..4].iter().rev().filter_map(|l| l.parse().ok()).collect();
        return Some(IpAddr::V4(Ipv4Addr::new(*o.first()?, *o.get(1)?, *o.get(2)?, *o.get(3)?)));
    }
    if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
        let hex: String = labels[..32].iter().rev().map(String::as_str).collect();
        return Some(IpAddr::V6(u128::from_str_radix(&hex, 16).ok()?.into()));
    }
    None
}

fn start_dns() -> DnsServer {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    socket.set_nonblocking(true).unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queries);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let socket = Arc::new(tokio::net::UdpSocket::from_std(socket).unwrap());
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
                counter.fetch_add(1, Ordering::Relaxed);
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let socket = Arc::clone(&socket);
                tokio::spawn(async move {
                    if let Some(bytes) = answer(&query).await {
                        let _ = socket.send_to(&bytes, peer).await;
                    }
                });
            }
        });
    });
    DnsServer { addr, queries }
}

async fn answer(query: &Message) -> Option<Vec<u8>> {
    let q = query.queries.first()?.clone();
    let mut reply = if q.query_type == RecordType::PTR {
        let mut behaviour = arpa_to_ip(&q.name).map_or(Reply::Code(ResponseCode::NXDomain), reverse_behaviour);
        while let Reply::Slow(delay, inner) = behaviour {
            tokio::time::sleep(delay).await;
            behaviour = *inner;
        }
        behaviour
    } else {
        match forward(&q.name.to_ascii(), q.query_type) {
            Some(rdata) => {
                let mut m = Message::response(query.metadata.id, OpCode::Query);
                m.add_query(q.clone());
                m.add_answer(Record::from_rdata(q.name.clone(), 60, rdata));
                m.metadata.recursion_desired = query.metadata.recursion_desired;
                m.metadata.recursion_available = true;
                return m.to_vec().ok();
            }
            None => Reply::Code(ResponseCode::NoError),
        }
    };
    let mut m = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    m.add_query(q.clone());
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    match std::mem::replace(&mut reply, Reply::Silence) {
        Reply::Ptr(labels) => {
            let name = Name::from_labels(labels.iter().map(|l| l.as_slice())).ok()?;
            m.add_answer(Record::from_rdata(q.name.clone(), 60, RData::PTR(PTR(name))));
        }
        Reply::Code(code) => m.metadata.response_code = code,
        Reply::Silence | Reply::Slow(..) => return None,
    }
    m.to_vec().ok()
}

fn resolver(server: &DnsServer, timeout_ms: u64, concurrency: usize) -> Arc<ReverseResolver> {
    ReverseResolver::new(&DnsOptions {
        nameservers: vec![server.addr],
        timeout: Duration::from_millis(timeout_ms),
        concurrency,
    })
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn reverse_dns_statuses_forward_confirmation_and_hostile_names() {
    let server = start_dns();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(async { resolver(&server, 400, 16) });
    let resolve = |s: &str| rt.block_on(r.resolve(ip(s)));

    let a = resolve("192.0.2.1");
    assert_eq!((a.hostname.as_deref(), a.status), (Some("mail.example.org"), RdnsStatus::Ok));
    let a = resolve("::ffff:192.0.2.1");
    assert_eq!(a.status, RdnsStatus::Ok, "IPv4-mapped addresses are resolved as IPv4");
    let a = resolve("192.0.2.2");
    assert_eq!((a.hostname.as_deref(), a.status), (Some("forged.example.org"), RdnsStatus::Unverified));
    assert_eq!(resolve("192.0.2.3").status, RdnsStatus::Nxdomain);
    let a = resolve("192.0.2.9");
    assert_eq!((a.hostname, a.status), (None, RdnsStatus::NoData), "NOERROR without a PTR is not NXDOMAIN");
    assert_eq!(resolve("192.0.2.4").status, RdnsStatus::Servfail);
    assert_eq!(resolve("192.0.2.5").status, RdnsStatus::Refused);
    let started = Instant::now();
    assert_eq!(resolve("192.0.2.6").status, RdnsStatus::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1500), "timeout took {:?}", started.elapsed());
    let a = resolve("2001:db8::1");
    assert_eq!((a.hostname.as_deref(), a.status), (Some("v6.example.org"), RdnsStatus::Ok));

    let a = resolve("192.0.2.7");
    let name = a.hostname.expect("hostile PTR name is kept, escaped");
    assert!(name.starts_with("\\x1B[31mevil.a,b.xxx"), "{name}");
    assert!(!name.bytes().any(|b| b < 0x20), "no control bytes survive: {name:?}");
    assert_eq!(a.status, RdnsStatus::Unverified);
}

#[test]
fn a_server_answering_garbage_is_an_error_or_a_timeout_never_a_name() {
    // Each query gets, in turn: bytes that are no DNS message; the query sent back as a reply
    // but cut short; a reply header that announces an answer it does not hold; and a well-formed
    // reply with the query's id to another question, naming a host.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let turn = count.fetch_add(1, Ordering::Relaxed);
            let query = &buf[..n];
            let reply: Vec<u8> = match turn % 4 {
                0 => (0..64u32).map(|i| (i * 37 + turn as u32) as u8).collect(),
                1 => {
                    let mut r = query.to_vec();
                    r[2] |= 0x80;
                    r.truncate(n.saturating_sub(5));
                    r
                }
                2 => {
                    let mut r = query.to_vec();
                    r[2] |= 0x80;
                    r[7] = 1;
                    r
                }
                _ => {
                    let Ok(q) = Message::from_vec(query) else { continue };
                    let other = Name::from_ascii("9.9.9.9.in-addr.arpa.").unwrap();
                    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                    m.add_query(hickory_proto::op::Query::query(other.clone(), RecordType::PTR));
                    let host = Name::from_ascii("injected.example.org.").unwrap();
                    m.add_answer(Record::from_rdata(other, 60, RData::PTR(PTR(host))));
                    m.to_vec().unwrap()
                }
            };
            let _ = socket.send_to(&reply, peer);
        }
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(async {
        ReverseResolver::new(&DnsOptions {
            nameservers: vec![addr],
            timeout: Duration::from_millis(300),
            concurrency: 4,
        })
        .unwrap()
    });
    for (i, address) in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "2001:db8::1"].iter().enumerate() {
        let started = Instant::now();
        let a = rt.block_on(r.resolve(ip(address)));
        assert_eq!(a.hostname, None, "{address}: a garbage answer gave a name: {a:?}");
        assert!(matches!(a.status, RdnsStatus::Timeout | RdnsStatus::Error), "{address} (turn {i}): {:?}", a.status);
        // Bounded as any answer is: twice the timeout and half a second at most.
        assert!(started.elapsed() < Duration::from_millis(1100 + 200), "{address}: {:?}", started.elapsed());
    }
    assert!(served.load(Ordering::Relaxed) >= 5);
}

#[test]
fn a_slow_answer_within_the_timeout_is_waited_for() {
    let server = start_dns();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(async { resolver(&server, 2000, 4) });
    let a = rt.block_on(r.resolve(ip("192.0.2.8")));
    assert_eq!((a.hostname.as_deref(), a.status), (Some("slow.example.org"), RdnsStatus::Ok));
}

fn enricher_with(server: &DnsServer, store: &Store, timeout_ms: u64, concurrency: usize) -> Enricher {
    let opts = EnrichOptions {
        dns: Some(DnsOptions {
            nameservers: vec![server.addr],
            timeout: Duration::from_millis(timeout_ms),
            concurrency,
        }),
        cache_ttl_secs: 86400,
        geo: None,
    };
    let cached = store.dns_cache(jiff::Timestamp::now().as_second() - 86400).expect("DNS cache");
    let (e, warnings) = Enricher::new(&opts, cached);
    assert!(warnings.is_empty(), "{warnings:?}");
    e
}

/// 1,000 new addresses against a server that answers each PTR after one second: concurrent
/// lookups finish in a few seconds (a serial resolver would need 17 minutes).
#[test]
fn a_thousand_slow_lookups_finish_in_under_five_seconds() {
    let server = start_dns();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    // 500 PTR queries in flight: two rounds of one-second answers (the default, 384, needs three).
    let enricher = enricher_with(&server, &store, 2000, 500);
    let ips: Vec<IpAddr> = (0..1000u32).map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i + 1))).collect();
    let started = Instant::now();
    for &ip in &ips {
        enricher.submit(ip);
    }
    let mut ok = 0;
    for &ip in &ips {
        let info = enricher.info(ip);
        if info.rdns_status == Some(RdnsStatus::Ok) {
            ok += 1;
        }
    }
    let took = started.elapsed();
    eprintln!("1,000 lookups with one-second answers, 500 in flight: {took:?}");
    assert_eq!(ok, 1000, "every slow answer arrived and was confirmed");
    assert!(took < Duration::from_secs(5), "1000 lookups took {took:?}");
}

/// A server that answers every query after `delay` and records the most addresses it held
/// questions about unanswered at once (an address's PTR and its name's A and AAAA count once:
/// hickory may ask A and AAAA together, and send a question again).
fn start_delaying_dns(delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    socket.set_nonblocking(true).unwrap();
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&most);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let socket = Arc::new(tokio::net::UdpSocket::from_std(socket).unwrap());
            let pending: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>> = Arc::default();
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let Some(q) = query.queries.first() else { continue };
                let about = match q.query_type {
                    RecordType::PTR => arpa_to_ip(&q.name),
                    _ => match forward(&q.name.to_ascii(), RecordType::A) {
                        Some(RData::A(a)) => Some(IpAddr::V4(a.0)),
                        _ => None,
                    },
                };
                let Some(about) = about else { continue };
                {
                    let mut p = pending.lock().unwrap();
                    *p.entry(about).or_default() += 1;
                    seen.fetch_max(p.len(), Ordering::Relaxed);
                }
                let (socket, pending) = (Arc::clone(&socket), Arc::clone(&pending));
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let bytes = answer(&query).await;
                    {
                        let mut p = pending.lock().unwrap();
                        if let Some(n) = p.get_mut(&about) {
                            *n -= 1;
                            if *n == 0 {
                                p.remove(&about);
                            }
                        }
                    }
                    if let Some(bytes) = bytes {
                        let _ = socket.send_to(&bytes, peer).await;
                    }
                });
            }
        });
    });
    (addr, most)
}

/// The forward confirmation does not hold a PTR slot: while the first addresses' A queries wait
/// for their answers, the next addresses' PTR queries are already out, so more addresses have
/// questions outstanding than `concurrency` (at most twice as many: PTR and forward slots).
#[test]
fn forward_confirmations_overlap_the_next_ptr_queries() {
    let (addr, most) = start_delaying_dns(Duration::from_millis(200));
    let server = DnsServer { addr, queries: Arc::new(AtomicUsize::new(0)) };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let enricher = enricher_with(&server, &store, 2000, 4);
    let ips: Vec<IpAddr> = (1..=16u8).map(|i| IpAddr::V4(Ipv4Addr::new(100, 64, 0, i))).collect();
    ips.iter().for_each(|&ip| enricher.submit(ip));
    for &ip in &ips {
        let info = enricher.info(ip);
        assert_eq!(info.rdns_status, Some(RdnsStatus::Ok), "{ip}: {:?}", info.hostname);
    }
    let most = most.load(Ordering::Relaxed);
    assert!(most > 4, "at most {most} addresses outstanding with 4 PTR slots: no pipelining");
    assert!(most <= 8, "{most} addresses outstanding, more than 4 PTR + 4 forward slots");
}

#[test]
fn a_dead_server_does_not_stall_and_answers_are_cached_in_the_store() {
    let server = start_dns();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let enricher = enricher_with(&server, &store, 300, 64);
    // Commit a batch of failures through the real store; ip_info gets the answers.
    let batch = batch_for(&["192.0.2.1", "192.0.2.3", "192.0.2.6", "192.0.2.9"]);
    let csv_path = dir.path().join("i.csv");
    let (mut csv, _) = maillogsentinel::store::csv::IntrusionCsv::open(&csv_path, None).unwrap();
    let mut rows = maillogsentinel::store::csv::RowFormatter::new(jiff::tz::TimeZone::UTC);
    let mut info = |ip| enricher.info(ip);
    store.commit_batch(&batch, &mut csv, &mut rows, false, &mut info).unwrap();
    drop(enricher);
    let stored = store.ip_info(ip("192.0.2.1")).unwrap().unwrap();
    assert_eq!((stored.hostname.as_deref(), stored.rdns_status), (Some("mail.example.org"), Some(RdnsStatus::Ok)));
    assert_eq!(store.ip_info(ip("192.0.2.3")).unwrap().unwrap().rdns_status, Some(RdnsStatus::Nxdomain));
    assert_eq!(store.ip_info(ip("192.0.2.9")).unwrap().unwrap().rdns_status, Some(RdnsStatus::NoData));
    let csv_text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv_text.contains(",mail.example.org,ok,,,\n"), "{csv_text}");
    assert!(csv_text.contains(",192.0.2.6,") && csv_text.contains(",,timeout,,,\n"), "{csv_text}");
    assert!(csv_text.contains(",192.0.2.9,") && csv_text.contains(",,nodata,,,\n"), "{csv_text}");

    // A second scan: definite answers come from the cache (no query), the timeout is retried.
    let before = server.queries.load(Ordering::Relaxed);
    let enricher = enricher_with(&server, &store, 300, 64);
    assert_eq!(enricher.info(ip("192.0.2.1")).hostname.as_deref(), Some("mail.example.org"));
    assert_eq!(enricher.info(ip("192.0.2.3")).rdns_status, Some(RdnsStatus::Nxdomain));
    assert_eq!(enricher.info(ip("192.0.2.9")).rdns_status, Some(RdnsStatus::NoData));
    assert_eq!(server.queries.load(Ordering::Relaxed), before, "cached answers cost no query");
    assert_eq!(enricher.info(ip("192.0.2.6")).rdns_status, Some(RdnsStatus::Timeout));
    assert!(server.queries.load(Ordering::Relaxed) > before, "a timeout is not cached");
}

#[test]
fn a_dead_server_costs_one_timeout_not_one_per_address() {
    // A UDP socket that reads every query and answers none; it counts the names asked about
    // (hickory sends a query again within its timeout, under the same name).
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = DnsServer { addr: dead.local_addr().unwrap(), queries: Arc::new(AtomicUsize::new(0)) };
    let queries = Arc::clone(&server.queries);
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut names = std::collections::HashSet::new();
        while let Ok(n) = dead.recv(&mut buf) {
            // The question's name follows the 12-byte header.
            if n > 12 && names.insert(buf[12..n].to_vec()) {
                queries.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let enricher = enricher_with(&server, &store, 300, 64);
    let ips: Vec<IpAddr> = (0..2000u32).map(|i| IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i))).collect();
    let started = Instant::now();
    ips.iter().for_each(|&ip| enricher.submit(ip));
    let timeouts = ips.iter().filter(|&&ip| enricher.info(ip).rdns_status == Some(RdnsStatus::Timeout)).count();
    assert_eq!(timeouts, 2000);
    // The first 64 (the concurrency) time out together; no other address is asked about.
    let asked = server.queries.load(Ordering::Relaxed);
    assert!((1..=64).contains(&asked), "{asked} addresses asked about");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

fn batch_for(ips: &[&str]) -> maillogsentinel::store::Batch {
    use maillogsentinel::model::event::{Detail, EventKey, Kind, Layer, OwnedEvent, Reason};
    let events = ips.iter().enumerate().map(|(i, s)| {
        (
            EventKey { source: 1, offset: i as u64 * 100 },
            OwnedEvent {
                time: "2026-11-24T10:00:00Z".parse().unwrap(),
                server: "mx1".into(),
                detail: Detail {
                    kind: Kind::Failure,
                    reason: Reason::AuthenticationFailure,
                    service: "postfix/smtpd".into(),
                    client_ip: ip(s),
                    username: None,
                    mechanism: Some("LOGIN".into()),
                    logged_hostname: Some("unknown".into()),
                    count: 1,
                    layer: Layer::SmtpFront,
                    session: None,
                    duration_secs: None,
                },
            },
        )
    });
    maillogsentinel::store::Batch::of(events)
}

// ---------------------------------------------------------------------------------------------
// Geolocation fixtures: ip-location-db CSVs in both forms, and MMDB files written here.

const COUNTRY_V4: &str = "ip_range_start,ip_range_end,country_code\n1.0.0.0,1.0.0.255,AU\n\
                          8.8.8.0,8.8.8.255,US\n192.0.2.0,192.0.2.255,FR\n";
/// IPv6 country rows in integer form, no header: 2001:db8::/32 is NL.
fn country_v6_num() -> String {
    let start = u128::from("2001:db8::".parse::<std::net::Ipv6Addr>().unwrap());
    let end = start | ((1u128 << 96) - 1);
    format!("{start},{end},NL\n")
}
const ASN_V4: &str = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n8.8.8.0,8.8.8.255,15169,Google LLC\n\
                      192.0.2.0,192.0.2.255,64496,\"Example, \"\"Docs\"\" Net\"\n";
const ASN_V6: &str = "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64497,Doc6 Networks\n";

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    write_config_checking(dir, r#"["8.8.8.8", "2001:db8::1"]"#, extra)
}

fn write_config_checking(dir: &Path, check_ips: &str, extra: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    let cfg = dir.join("config.toml");
    let d = data.display();
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{d}\"\ntimezone = \"UTC\"\n[geo]\ncountry_db = [\"{d}/geo/c4.csv\", \"{d}/geo/c6.csv\"]\n\
             asn_db = [\"{d}/geo/a4.csv\", \"{d}/geo/a6.csv\"]\nmin_rows = 1\n\
             check_ips = {check_ips}\ndownload_timeout_secs = 5\n{extra}"
        ),
    )
    .unwrap();
    cfg
}

fn run(cfg: &Path, args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = run_code(cfg, args);
    (code == Some(0), out, err)
}

fn run_code(cfg: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::command()
        .arg("--config")
        .arg(cfg)
        .args(args)
        // Downloads go to loopback, never through a proxy.
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn install_csv_fixtures(dir: &Path) {
    let geo = dir.join("data/geo");
    std::fs::create_dir_all(&geo).unwrap();
    std::fs::write(geo.join("c4.csv"), COUNTRY_V4).unwrap();
    std::fs::write(geo.join("c6.csv"), country_v6_num()).unwrap();
    std::fs::write(geo.join("a4.csv"), ASN_V4).unwrap();
    std::fs::write(geo.join("a6.csv"), ASN_V6).unwrap();
}

#[test]
fn geo_lookup_reads_csv_in_both_forms_and_says_which_database_answered() {
    let dir = tempfile::tempdir().unwrap();
    install_csv_fixtures(dir.path());
    let cfg = write_config(dir.path(), "");
    let (ok, out, err) =
        run(&cfg, &["geo", "lookup", "1.0.0.1", "::ffff:8.8.8.8", "2001:db8::1", "192.0.2.9", "9.9.9.9"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("country=AU\tasn=13335\taso=Cloudflare, Inc.") && lines[0].contains("c4.csv"), "{out}");
    assert!(lines[1].contains("country=US\tasn=15169\taso=Google LLC"), "{out}");
    assert!(lines[2].contains("country=NL\tasn=64497\taso=Doc6 Networks") && lines[2].contains("c6.csv"), "{out}");
    assert!(lines[3].contains("aso=Example, \"Docs\" Net"), "{out}");
    assert!(lines[4].contains("country=-\tasn=-\taso=-"), "{out}");
    // The index was cached in the data directory, and is reused.
    let cached = std::fs::read_dir(dir.path().join("data/cache/geo")).unwrap().count();
    assert_eq!(cached, 4);
}

#[test]
fn without_a_database_a_scan_works_and_warns_once_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[dns]\nenabled = false\n");
    let log = dir.path().join("mail.log");
    std::fs::write(&log, "Nov 24 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n").unwrap();
    let (ok, _, err) = run(&cfg, &["scan", "--log", log.to_str().unwrap(), "--year", "2026"]);
    assert!(ok, "{err}");
    assert_eq!(err.matches("geo update").count(), 1, "{err}");
    assert!(err.contains("no geolocation database"), "{err}");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--log", log.to_str().unwrap(), "--year", "2026", "--quiet"];
        args.extend_from_slice(extra);
        let (ok, _, err) = run(&cfg, &args);
        assert!(ok, "{err}");
        err
    };
    // Said once: the next scans (a timer's, every hour) do not repeat it, quiet or not.
    let err = scan(&[]);
    assert!(!err.contains("geo"), "{err}");
    let err = scan(&["--full"]);
    assert!(!err.contains("geo"), "{err}");
    // Reports say it, in every format.
    for format in ["text", "json", "html"] {
        let (ok, out, err) = run(&cfg, &["report", "--since", "3650d", "--format", format]);
        assert!(ok, "{err}");
        assert!(out.contains("o geolocation database: countries and AS are unknown"), "{format}: {out}");
    }
    // --no-geo: nothing to warn about.
    let err = scan(&["--no-geo", "--full"]);
    assert!(!err.contains("geo"), "{err}");
    // Databases appear: nothing missing, nothing said, and reports no longer say it ...
    install_csv_fixtures(dir.path());
    let err = scan(&[]);
    assert!(!err.contains("geo"), "{err}");
    let (ok, out, err) = run(&cfg, &["report", "--since", "3650d"]);
    assert!(ok && !out.contains("geolocation database"), "{err}{out}");
    // ... and when they disappear again, it is news again, said once.
    std::fs::remove_dir_all(dir.path().join("data/geo")).unwrap();
    let err = scan(&[]);
    assert_eq!(err.matches("no geolocation database").count(), 1, "{err}");
    let err = scan(&[]);
    assert!(!err.contains("geo"), "{err}");
}

// --- A minimal MMDB writer (IPv6 tree, 24-bit records), enough for lookups by the real reader.

enum Val {
    Str(&'static str),
    U32(u32),
    Map(Vec<(&'static str, Val)>),
}

fn encode(v: &Val, out: &mut Vec<u8>) {
    match v {
        Val::Str(s) => {
            // Sizes from 29 take one extra byte (size - 29).
            if s.len() < 29 {
                out.push((2 << 5) | s.len() as u8);
            } else {
                out.extend_from_slice(&[(2 << 5) | 29, (s.len() - 29) as u8]);
            }
            out.extend_from_slice(s.as_bytes());
        }
        Val::U32(n) => {
            out.push((6 << 5) | 4);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Val::Map(entries) => {
            out.push((7 << 5) | entries.len() as u8);
            for (k, v) in entries {
                encode(&Val::Str(k), out);
                encode(v, out);
            }
        }
    }
}

fn mmdb(networks: &[(&str, u8, Val)]) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum R {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut nodes: Vec<[R; 2]> = vec![[R::Empty, R::Empty]];
    let mut data = Vec::new();
    for (net, len, val) in networks {
        let (bits, len) = match net.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + *len as u32),
            IpAddr::V6(v6) => (u128::from(v6), *len as u32),
        };
        let offset = data.len();
        encode(val, &mut data);
        let mut cur = 0;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth == len - 1 {
                nodes[cur][bit] = R::Data(offset);
            } else {
                cur = match nodes[cur][bit] {
                    R::Node(i) => i,
                    _ => {
                        nodes.push([R::Empty, R::Empty]);
                        let i = nodes.len() - 1;
                        nodes[cur][bit] = R::Node(i);
                        i
                    }
                };
            }
        }
    }
    let n = nodes.len();
    let mut out = Vec::new();
    for node in &nodes {
        for r in node {
            let v = match *r {
                R::Empty => n,
                R::Node(i) => i,
                R::Data(o) => n + 16 + o,
            } as u32;
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    // Metadata: a map of 9 entries.
    out.push((7 << 5) | 9);
    let kv_u16 = |out: &mut Vec<u8>, k: &'static str, v: u16| {
        encode(&Val::Str(k), out);
        out.push((5 << 5) | 2);
        out.extend_from_slice(&v.to_be_bytes());
    };
    encode(&Val::Str("node_count"), &mut out);
    encode(&Val::U32(n as u32), &mut out);
    kv_u16(&mut out, "record_size", 24);
    kv_u16(&mut out, "ip_version", 6);
    kv_u16(&mut out, "binary_format_major_version", 2);
    kv_u16(&mut out, "binary_format_minor_version", 0);
    encode(&Val::Str("database_type"), &mut out);
    encode(&Val::Str("test"), &mut out);
    encode(&Val::Str("build_epoch"), &mut out);
    out.extend_from_slice(&[8, 2, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]); // uint64, 8 bytes
    encode(&Val::Str("languages"), &mut out);
    out.extend_from_slice(&[0, 4]); // empty array
    encode(&Val::Str("description"), &mut out);
    out.push(7 << 5); // empty map
    out
}

#[test]
fn geo_lookup_reads_mmdb_in_the_geolite2_and_ipinfo_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("data/geo");
    std::fs::create_dir_all(&geo).unwrap();
    let geolite = mmdb(&[
        ("1.0.0.0", 24, Val::Map(vec![("country", Val::Map(vec![("iso_code", Val::Str("AU"))]))])),
        ("2001:db8::", 32, Val::Map(vec![("country", Val::Map(vec![("iso_code", Val::Str("NL"))]))])),
    ]);
    let geolite_asn = mmdb(&[(
        "1.0.0.0",
        24,
        Val::Map(vec![
            ("autonomous_system_number", Val::U32(13335)),
            ("autonomous_system_organization", Val::Str("Cloudflare, Inc.")),
        ]),
    )]);
    let ipinfo = mmdb(&[(
        "8.8.8.0",
        24,
        Val::Map(vec![
            ("country", Val::Str("United States")),
            ("country_code", Val::Str("US")),
            ("asn", Val::Str("AS15169")),
            ("as_name", Val::Str("Google LLC")),
        ]),
    )]);
    std::fs::write(geo.join("country.mmdb"), geolite).unwrap();
    std::fs::write(geo.join("asn.mmdb"), geolite_asn).unwrap();
    // Content decides the format, not the name.
    std::fs::write(geo.join("ipinfo_lite.dat"), ipinfo).unwrap();
    let d = dir.path().join("data").display().to_string();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{d}\"\n[geo]\ncountry_db = [\"{d}/geo/country.mmdb\", \"{d}/geo/ipinfo_lite.dat\"]\n\
             asn_db = [\"{d}/geo/asn.mmdb\", \"{d}/geo/ipinfo_lite.dat\"]\n"
        ),
    )
    .unwrap();
    let (ok, out, err) = run(&cfg, &["geo", "lookup", "1.0.0.9", "::ffff:8.8.8.8", "2001:db8::5", "9.9.9.9"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("country=AU\tasn=13335\taso=Cloudflare, Inc.") && lines[0].contains("asn.mmdb"), "{out}");
    assert!(
        lines[1].contains("country=US\tasn=15169\taso=Google LLC") && lines[1].contains("ipinfo_lite.dat"),
        "{out}"
    );
    assert!(lines[2].contains("country=NL\tasn=-"), "{out}");
    assert!(lines[3].contains("country=-\tasn=-"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// A loopback HTTP server for `geo update`.

#[derive(Clone)]
struct Route {
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
    /// Announce the full length but send only this many bytes, then close.
    cut_at: Option<usize>,
    /// After the bytes sent, keep the connection open (for a minute) instead of closing it.
    hang: bool,
}

fn ok_route(body: impl Into<Vec<u8>>) -> Route {
    Route { status: "200 OK", content_type: "text/csv", body: body.into(), cut_at: None, hang: false }
}

fn start_http(routes: HashMap<&'static str, Route>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let route = routes.get(path).cloned().unwrap_or(Route {
                status: "404 Not Found",
                content_type: "text/html",
                body: b"<html><body>Not Found</body></html>".to_vec(),
                cut_at: None,
                hang: false,
            });
            let head = format!(
                "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                route.status,
                route.content_type,
                route.body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let body = &route.body[..route.cut_at.unwrap_or(route.body.len())];
            let _ = stream.write_all(body);
            let _ = stream.flush();
            if route.hang {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(60));
                    drop(stream);
                });
            }
        }
    });
    addr
}

fn update_config(dir: &Path, addr: SocketAddr, asn_v4_path: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "country_url = [\"http://{addr}/c4.csv\", \"http://{addr}/c6.csv\"]\n\
             asn_url = [\"http://{addr}{asn_v4_path}\", \"http://{addr}/a6.csv\"]\n"
        ),
    )
}

fn fixture_routes() -> HashMap<&'static str, Route> {
    let mut routes = HashMap::new();
    routes.insert("/c4.csv", ok_route(COUNTRY_V4));
    routes.insert("/c6.csv", ok_route(country_v6_num()));
    routes.insert("/a4.csv", ok_route(ASN_V4));
    routes.insert("/a6.csv", ok_route(ASN_V6));
    routes.insert("/a4-new.csv", ok_route(ASN_V4.replace("Google LLC", "Google Updated")));
    routes.insert("/truncated.csv", Route { cut_at: Some(40), ..ok_route(ASN_V4) });
    routes.insert("/html.csv", Route { content_type: "text/html; charset=utf-8", ..ok_route("<html>Moved</html>") });
    routes.insert("/html-as-csv.csv", ok_route("<!DOCTYPE html>\n<html>\n<body>Error 500</body>\n</html>\n"));
    routes
}

#[test]
fn geo_update_installs_checked_downloads_and_keeps_the_old_files_on_any_failure() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_http(fixture_routes());
    // First install from nothing.
    let (ok, out, err) = run(&update_config(dir.path(), addr, "/a4.csv"), &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("a4.csv") && out.contains("indexed"), "{out}");
    let a4 = dir.path().join("data/geo/a4.csv");
    assert_eq!(std::fs::read_to_string(&a4).unwrap(), ASN_V4);
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!((mode(&a4), mode(a4.parent().unwrap())), (0o640, 0o750));
    let cfg = update_config(dir.path(), addr, "/a4.csv");
    let (_, out, _) = run(&cfg, &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("aso=Google LLC"), "{out}");

    // Every kind of bad download leaves the installed database in place and working.
    for (path, why) in [
        ("/truncated.csv", "incomplete"),
        ("/html.csv", "HTML"),
        ("/html-as-csv.csv", "rejected"),
        ("/missing.csv", "404"),
    ] {
        let (ok, out, err) = run(&update_config(dir.path(), addr, path), &["geo", "update"]);
        assert!(!ok, "{path}: {out}");
        assert!(err.contains(path) && err.contains(why) && err.contains("kept"), "{path}: {err}");
        assert_eq!(std::fs::read_to_string(&a4).unwrap(), ASN_V4, "{path}");
        let (_, out, _) = run(&cfg, &["geo", "lookup", "8.8.8.8"]);
        assert!(out.contains("aso=Google LLC"), "{path}: {out}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data/geo"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("download"))
            .collect();
        assert!(leftovers.is_empty(), "{path}: temporary files left");
    }

    // A good update replaces the file and the cached index follows.
    let (ok, _, err) = run(&update_config(dir.path(), addr, "/a4-new.csv"), &["geo", "update"]);
    assert!(ok, "{err}");
    let (_, out, _) = run(&cfg, &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("aso=Google Updated"), "{out}");
}

/// An ASN file of `n` rows (8.8.8.0/24 first, then 10.x.y.0/24), as a cut download looks like
/// its whole: complete rows, a correct length, only fewer of them.
fn asn_v4_rows(n: usize) -> String {
    let mut csv = String::from("8.8.8.0,8.8.8.255,15169,Google LLC\n");
    for i in 1..n {
        csv.push_str(&format!("10.{}.{}.0,10.{}.{}.255,64500,Filler Net\n", i / 256, i % 256, i / 256, i % 256));
    }
    csv
}

#[test]
fn geo_update_killed_mid_download_keeps_the_databases_and_the_next_one_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = fixture_routes();
    routes.insert("/hang.csv", Route { cut_at: Some(60), hang: true, ..ok_route(ASN_V4) });
    let addr = start_http(routes);
    let cfg = update_config(dir.path(), addr, "/a4.csv");
    let (ok, out, err) = run(&cfg, &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    let geo = dir.path().join("data/geo");
    let snapshot = || {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&geo)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    // An update whose download stalls half-way is killed: its partial file stays behind.
    let mut child = common::command()
        .arg("--config")
        .arg(update_config(dir.path(), addr, "/hang.csv"))
        .args(["geo", "update"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let partial = loop {
        let found = std::fs::read_dir(&geo).unwrap().flatten().find(|e| {
            e.file_name().to_string_lossy().starts_with(".a4.csv.download") && e.metadata().is_ok_and(|m| m.len() > 0)
        });
        if let Some(e) = found {
            break e.path();
        }
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(partial.exists());
    // The configuration file is shared: back to the good URLs.
    let cfg = update_config(dir.path(), addr, "/a4.csv");
    // The installed databases are untouched and answer.
    let after: Vec<(String, Vec<u8>)> = snapshot().into_iter().filter(|(n, _)| !n.contains(".download")).collect();
    assert_eq!(after, before);
    let (_, out, _) = run(&cfg, &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("aso=Google LLC"), "{out}");
    // The next update succeeds and removes the dead process's partial file.
    let (ok, out, err) = run(&cfg, &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    assert!(!partial.exists(), "the partial download of the killed update is left behind");
    assert!(snapshot().iter().all(|(n, _)| !n.contains(".download")));
}

#[test]
fn geo_update_refuses_a_download_under_half_the_rows_it_replaces_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = fixture_routes();
    routes.insert("/a4-whole.csv", ok_route(asn_v4_rows(1000)));
    routes.insert("/a4-cut.csv", ok_route(asn_v4_rows(60)));
    routes.insert("/a4-slimmer.csv", ok_route(asn_v4_rows(600)));
    let addr = start_http(routes);
    let (ok, out, err) = run(&update_config(dir.path(), addr, "/a4-whole.csv"), &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    let a4 = dir.path().join("data/geo/a4.csv");
    let whole = std::fs::read(&a4).unwrap();
    assert_eq!(whole, asn_v4_rows(1000).as_bytes());

    // Served complete, parses, passes min_rows and knows the check address: only its size
    // next to the installed file gives it away.
    // Every config is written to the same file: `cut()` rewrites it.
    let cut = || update_config(dir.path(), addr, "/a4-cut.csv");
    let (code, out, err) = run_code(&cut(), &["geo", "update"]);
    assert_eq!(code, Some(4), "{out}\n{err}");
    let line = format!("60 rows where {} has 1,000 (under half)", a4.display());
    assert!(err.contains("/a4-cut.csv") && err.contains(&line), "{err}");
    assert!(err.contains("geo update --force") && err.contains("kept"), "{err}");
    assert_eq!(std::fs::read(&a4).unwrap(), whole, "the old database must stay byte-identical");
    let others = ["c4.csv", "c6.csv", "a6.csv"].map(|f| std::fs::read(dir.path().join("data/geo").join(f)).unwrap());
    assert!(!out.contains("geo update:"), "nothing may be reported installed: {out}");

    // A smaller file that is not under half is an ordinary update.
    let (ok, _, err) = run(&update_config(dir.path(), addr, "/a4-slimmer.csv"), &["geo", "update"]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&a4).unwrap(), asn_v4_rows(600));
    let (code, _, err) = run_code(&cut(), &["geo", "update"]);
    assert_eq!(code, Some(4), "60 of 600 is under half too: {err}");

    // --force installs it, and says what it overrode.
    let (code, out, err) = run_code(&cut(), &["geo", "update", "--force"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("installed with --force although 60 rows where"), "{err}");
    assert_eq!(std::fs::read_to_string(&a4).unwrap(), asn_v4_rows(60));
    let (_, out, _) = run(&cut(), &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("asn=15169"), "{out}");
    // The files that were not in doubt were replaced by the same content.
    let now = ["c4.csv", "c6.csv", "a6.csv"].map(|f| std::fs::read(dir.path().join("data/geo").join(f)).unwrap());
    assert_eq!(now, others);
}

#[test]
fn geo_update_refuses_a_download_missing_a_check_address_of_its_family_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let mut routes = fixture_routes();
    // Knows 8.8.8.8 but not 1.0.0.1: today's check needed only one of them.
    routes.insert("/a4-no-1.csv", ok_route(ASN_V4.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>()));
    let addr = start_http(routes);
    let cfg = |asn_v4: &str| {
        write_config_checking(
            dir.path(),
            r#"["8.8.8.8", "1.0.0.1", "2001:db8::1"]"#,
            &format!(
                "country_url = [\"http://{addr}/c4.csv\", \"http://{addr}/c6.csv\"]\n\
                 asn_url = [\"http://{addr}{asn_v4}\", \"http://{addr}/a6.csv\"]\n"
            ),
        )
    };
    // The IPv6 files know none of the IPv4 check addresses, and need not.
    let (ok, out, err) = run(&cfg("/a4.csv"), &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    let a4 = dir.path().join("data/geo/a4.csv");

    let (code, out, err) = run_code(&cfg("/a4-no-1.csv"), &["geo", "update"]);
    assert_eq!(code, Some(4), "{out}\n{err}");
    let line = format!(
        "the download for {} does not know 1.0.0.1 of geo.check_ips, though it holds IPv4 ranges",
        a4.display()
    );
    assert!(err.contains("/a4-no-1.csv") && err.contains(&line), "{err}");
    assert!(err.contains("geo update --force") && err.contains("kept"), "{err}");
    assert_eq!(std::fs::read_to_string(&a4).unwrap(), ASN_V4);

    let (code, _, err) = run_code(&cfg("/a4-no-1.csv"), &["geo", "update", "--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("installed with --force although the download for"), "{err}");
    let (_, out, _) = run(&cfg("/a4.csv"), &["geo", "lookup", "1.0.0.1", "8.8.8.8"]);
    assert!(out.lines().next().is_some_and(|l| l.contains("asn=-")) && out.contains("asn=15169"), "{out}");
}

#[test]
fn geo_update_accepts_mmdb_downloads_and_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let ipinfo = mmdb(&[(
        "8.8.8.0",
        24,
        Val::Map(vec![
            ("country_code", Val::Str("US")),
            ("asn", Val::Str("AS15169")),
            ("as_name", Val::Str("Google LLC")),
        ]),
    )]);
    let unrelated = mmdb(&[("1.0.0.0", 24, Val::Map(vec![("country_code", Val::Str("AU"))]))]);
    let mut routes = HashMap::new();
    routes.insert("/lite.mmdb", Route { content_type: "application/octet-stream", ..ok_route(ipinfo) });
    routes.insert("/other.mmdb", Route { content_type: "application/octet-stream", ..ok_route(unrelated) });
    let addr = start_http(routes);
    let d = dir.path().join("data").display().to_string();
    let cfg = |path: &str| {
        let cfg = dir.path().join("m.toml");
        std::fs::write(
            &cfg,
            format!(
                "data_dir = \"{d}\"\n[geo]\ncountry_db = \"{d}/geo/lite.mmdb\"\nasn_db = \"{d}/geo/lite-asn.mmdb\"\n\
                 country_url = \"http://{addr}{path}\"\nasn_url = \"http://{addr}{path}\"\ncheck_ips = [\"8.8.8.8\"]\n"
            ),
        )
        .unwrap();
        cfg
    };
    let (ok, out, err) = run(&cfg("/lite.mmdb"), &["geo", "update"]);
    assert!(ok, "{out}\n{err}");
    let (_, out, _) = run(&cfg("/lite.mmdb"), &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("country=US\tasn=15169\taso=Google LLC"), "{out}");
    // A valid MMDB that does not know the check address is refused; the old one stays.
    let (ok, _, err) = run(&cfg("/other.mmdb"), &["geo", "update"]);
    assert!(!ok && err.contains("8.8.8.8") && err.contains("kept"), "{err}");
    let (_, out, _) = run(&cfg("/lite.mmdb"), &["geo", "lookup", "8.8.8.8"]);
    assert!(out.contains("country=US"), "{out}");
}

/// End to end through `scan`: detection, geolocation and reverse DNS fill every column.
#[test]
fn a_scan_fills_every_enrichment_column() {
    let server = start_dns();
    let dir = tempfile::tempdir().unwrap();
    install_csv_fixtures(dir.path());
    let cfg = write_config(dir.path(), &format!("[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 1000\n", server.addr));
    let log = dir.path().join("mail.log");
    std::fs::write(
        &log,
        "Nov 24 10:00:00 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n\
         Nov 24 10:00:05 mx1 postfix/smtpd[1]: warning: unknown[2001:db8::1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
    )
    .unwrap();
    let (ok, out, err) = run(&cfg, &["scan", "--log", log.to_str().unwrap(), "--year", "2026"]);
    assert!(ok, "{out}\n{err}");
    let rows = common::csv_rows(&dir.path().join("data"));
    assert_eq!(rows.len(), 2, "two failed logins expected in the CSV: {out}\n{err}");
    assert_eq!(&rows[0][8..], ["mail.example.org", "ok", "FR", "64496", "Example, \"Docs\" Net"]);
    assert_eq!(&rows[1][8..], ["v6.example.org", "ok", "NL", "64497", "Doc6 Networks"]);
    let store = Store::open(&dir.path().join("data").join(maillogsentinel::store::STORE_FILE)).unwrap();
    let info = store.ip_info(ip("192.0.2.1")).unwrap().unwrap();
    assert_eq!((info.country_code.as_deref(), info.asn), (Some("FR"), Some(64496)));
}

/// The issue's "done when": a scan of the repository's example log fills every enrichment
/// column where the data exists (here: databases covering the documentation ranges it uses, and
/// a name server that knows none of its addresses, so the lookup status is filled but no name).
#[test]
fn the_example_log_gets_its_enrichment_columns_filled() {
    let server = start_dns();
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("data/geo");
    std::fs::create_dir_all(&geo).unwrap();
    std::fs::write(
        geo.join("c4.csv"),
        "192.0.2.0,192.0.2.255,FR\n198.51.100.0,198.51.100.255,DE\n203.0.113.0,203.0.113.255,NL\n",
    )
    .unwrap();
    std::fs::write(geo.join("c6.csv"), "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,JP\n").unwrap();
    std::fs::write(
        geo.join("a4.csv"),
        "192.0.2.0,192.0.2.255,64496,Doc Net One\n198.51.100.0,198.51.100.255,64497,\"Doc Net, Two\"\n\
         203.0.113.0,203.0.113.255,64498,Doc Net Three\n",
    )
    .unwrap();
    std::fs::write(geo.join("a6.csv"), "2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64499,Doc Six\n").unwrap();
    let cfg = write_config(dir.path(), &format!("[dns]\nnameservers = [\"{}\"]\ntimeout_ms = 1000\n", server.addr));
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mail.log");
    let (ok, out, err) = run(&cfg, &["scan", "--log", log.to_str().unwrap(), "--year", "2026"]);
    assert!(ok, "{out}\n{err}");
    let rows = common::csv_rows(&dir.path().join("data"));
    assert_eq!(rows.len(), 24, "{out}");
    for row in &rows {
        assert!(!row[9].is_empty(), "reverse_dns_status empty: {row:?}");
        assert!(row[8].is_empty() == (row[9] != "ok" && row[9] != "unverified"), "{row:?}");
        assert!(!row[10].is_empty() && !row[11].is_empty() && !row[12].is_empty(), "geo columns empty: {row:?}");
    }
    let v6: Vec<_> = rows.iter().filter(|r| r[3] == "2001:db8:dead:beef::17").collect();
    assert_eq!(&v6[0][10..], ["JP", "64499", "Doc Six"]);
}
