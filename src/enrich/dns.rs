//! Reverse DNS of attacker addresses: PTR, then forward confirmation (FCrDNS).
//!
//! Many lookups run at once on a tokio runtime, each query bounded by the per-query timeout, so a
//! slow or dead server costs about `timeout × addresses / concurrency`, never
//! `timeout × addresses`. `concurrency` PTR queries may be in flight, and beside them as many
//! forward confirmations (one A or AAAA query each): an address's confirmation gives its PTR slot
//! to the next address, so a slow server's PTR round trips overlap the forward ones instead of
//! following them. At most `2 × concurrency` queries are in flight, each on its own UDP socket
//! (hickory picks a random source port per query, and one more per resend): see
//! `sockets_needed` for the open files this takes. Once a query has timed out before the
//! server answered any, the rest are not sent: a dead server costs one lookup's time limit (hickory sends a query again
//! within it, so up to two timeouts), not one per address or per `concurrency` addresses. (A
//! live server answers some of its first queries within the timeout: they go out together, up
//! to `concurrency` of them.) A server found dead is asked again [`RETRY_DEAD`] later, since
//! `watch` keeps one resolver for days and a resolver restarts within that.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::sync::Semaphore;

use crate::model::ipinfo::{DnsAnswer, RdnsStatus};

impl DnsAnswer {
    fn failed(status: RdnsStatus) -> DnsAnswer {
        DnsAnswer { hostname: None, status }
    }
}

/// How to resolve.
#[derive(Clone, Debug)]
pub struct DnsOptions {
    /// Servers to ask; empty means those of `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// Per-query time limit.
    pub timeout: Duration,
    /// PTR queries in flight at once; as many forward confirmations may be in flight beside them.
    pub concurrency: usize,
}

/// Why reverse DNS cannot be set up; the scan then goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// No name servers configured, and the system's cannot be read.
    #[error("cannot read /etc/resolv.conf ({0}); set dns.nameservers or use --no-dns")]
    SystemConf(#[source] NetError),
    /// The resolver refused its settings.
    #[error("cannot set up the DNS resolver: {0}")]
    Build(#[source] NetError),
}

/// How long a server that timed out before it answered anything is not asked; then one more
/// round of queries goes out.
pub const RETRY_DEAD: Duration = Duration::from_secs(30);

/// A reverse resolver.
pub struct ReverseResolver {
    resolver: TokioResolver,
    /// PTR queries in flight.
    slots: Semaphore,
    /// Forward confirmations in flight: apart, so that they do not hold up the next PTR queries.
    forward_slots: Semaphore,
    timeout: Duration,
    answered: AtomicBool,
    /// When it was last found dead, in milliseconds after `born` plus one (0: never).
    dead_at: AtomicU64,
    born: Instant,
    retry_dead: Duration,
}

impl ReverseResolver {
    /// Builds a resolver; fails when `/etc/resolv.conf` is needed and unreadable.
    pub fn new(opts: &DnsOptions) -> Result<Arc<ReverseResolver>, ResolverError> {
        let (config, mut ropts) = if opts.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf().map_err(ResolverError::SystemConf)?
        } else {
            let servers = opts
                .nameservers
                .iter()
                .map(|addr| {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    ns
                })
                .collect();
            (ResolverConfig::from_name_servers(servers), ResolverOpts::default())
        };
        ropts.timeout = opts.timeout;
        // One try: the deadline is what bounds a scan; a retry would double a dead server's cost.
        ropts.attempts = 1;
        ropts.use_hosts_file = ResolveHosts::Never;
        ropts.num_concurrent_reqs = 1;
        // hickory refuses requests beyond this per connection ("busy"); our semaphores are the
        // limit (PTR and forward slots), with room for a query hickory sends again.
        ropts.max_active_requests = opts.concurrency.saturating_mul(3).max(32);
        ropts.cache_size = 0;
        ropts.try_tcp_on_error = false;
        let open_files = crate::source::limits::raise_open_files(sockets_needed(opts.concurrency));
        let slots = slots_within(opts.concurrency, open_files);
        if slots < opts.concurrency {
            tracing::warn!(
                "reverse DNS: {slots} slots instead of `concurrency` {}, as only {open_files} files may be open",
                opts.concurrency
            );
        }
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(ropts)
            .build()
            .map_err(ResolverError::Build)?;
        Ok(Arc::new(ReverseResolver {
            resolver,
            slots: Semaphore::new(slots),
            forward_slots: Semaphore::new(slots),
            timeout: opts.timeout,
            answered: AtomicBool::new(false),
            dead_at: AtomicU64::new(0),
            born: Instant::now(),
            retry_dead: RETRY_DEAD,
        }))
    }

    /// Milliseconds since the resolver was built, plus one.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// Resolves `ip`'s PTR name and confirms it forward. Never takes much longer than two
    /// timeouts once a PTR slot is free, and two more per name once a forward slot is.
    pub async fn resolve(&self, ip: IpAddr) -> DnsAnswer {
        let ip = ip.to_canonical();
        // Hard bound in case the resolver's own timeout does not fire (e.g. a TCP fallback).
        let limit = self.timeout * 2 + Duration::from_millis(200);
        let names = {
            let Ok(_slot) = self.slots.acquire().await else { return DnsAnswer::failed(RdnsStatus::Error) };
            if self.is_dead() {
                return DnsAnswer::failed(RdnsStatus::Timeout);
            }
            let names = match tokio::time::timeout(limit, self.resolver.reverse_lookup(Name::from(ip))).await {
                Ok(Ok(lookup)) => Ok(ptr_names(&lookup)),
                Ok(Err(e)) => Err(classify(&e)),
                Err(_) => Err(RdnsStatus::Timeout),
            };
            if names == Err(RdnsStatus::Timeout) {
                self.dead_at.store(self.now_ms(), Ordering::Relaxed);
            } else {
                self.answered.store(true, Ordering::Relaxed);
            }
            match names {
                Ok(names) => names,
                Err(status) => return DnsAnswer::failed(status),
            }
        };
        // Answers without a PTR among them (a CNAME to a name without one): the name exists.
        let Some(first) = names.first() else { return DnsAnswer::failed(RdnsStatus::NoData) };
        let Ok(_slot) = self.forward_slots.acquire().await else { return DnsAnswer::failed(RdnsStatus::Error) };
        // Several PTR names: report the first that confirms, else the first.
        for name in &names {
            if tokio::time::timeout(limit, self.confirms(name, ip)).await == Ok(true) {
                return DnsAnswer { hostname: Some(show(name)), status: RdnsStatus::Ok };
            }
        }
        DnsAnswer { hostname: Some(show(first)), status: RdnsStatus::Unverified }
    }

    /// No answer yet, and a query timed out. (Waiting for 32 timeouts let the queries that took
    /// the first ones' slots go out: a dead server cost a time limit per wave of them, two to
    /// four in a scan of a gigabyte: 8.6 s instead of 4.7 s with the default 2 s timeout.)
    fn is_dead(&self) -> bool {
        let dead_at = self.dead_at.load(Ordering::Relaxed);
        !self.answered.load(Ordering::Relaxed)
            && dead_at > 0
            && self.now_ms() - dead_at < u64::try_from(self.retry_dead.as_millis()).unwrap_or(u64::MAX)
    }

    /// True when `name`'s A (for IPv4) or AAAA (for IPv6) records include `ip`: one query, of
    /// the only family that can match.
    async fn confirms(&self, name: &Name, ip: IpAddr) -> bool {
        let mut fqdn = name.clone();
        fqdn.set_fqdn(true);
        let rtype = if ip.is_ipv4() { RecordType::A } else { RecordType::AAAA };
        match self.resolver.lookup(fqdn, rtype).await {
            Ok(found) => found.answers().iter().any(|r| match &r.data {
                RData::A(a) => IpAddr::V4(a.0) == ip,
                RData::AAAA(a) => IpAddr::V6(a.0) == ip,
                _ => false,
            }),
            Err(_) => false,
        }
    }
}

/// Open files a resolver may need: each query in flight holds a UDP socket of its own, and
/// hickory sends a query again on a new socket (up to three in all) while a slow server has not
/// answered: PTR and forward slots, three sockets each, and some room for the rest of the scan.
fn sockets_needed(concurrency: usize) -> u64 {
    u64::try_from(concurrency).unwrap_or(u64::MAX).saturating_mul(6).saturating_add(256)
}

/// The slots that fit in `open_files`: fewer than configured when the limit cannot be raised
/// enough (a hard limit of 1,024), as a query without a socket costs its address an `error`
/// where waiting for a slot costs time.
fn slots_within(concurrency: usize, open_files: u64) -> usize {
    if open_files >= sockets_needed(concurrency) {
        return concurrency.max(1);
    }
    usize::try_from(open_files.saturating_sub(256) / 6).unwrap_or(usize::MAX).clamp(1, concurrency.max(1))
}

/// The PTR names of a reverse lookup's answers.
fn ptr_names(lookup: &Lookup) -> Vec<Name> {
    lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::PTR(ptr) => Some(ptr.0.clone()),
            _ => None,
        })
        .collect()
}

/// The name as text: labels joined by dots, without the root's dot, every byte made visible
/// (a PTR label may hold any byte, including escape sequences and commas).
fn show(name: &Name) -> String {
    let labels: Vec<&[u8]> = name.iter().collect();
    crate::text::visible(&labels.join(&b'.'))
}

fn classify(e: &NetError) -> RdnsStatus {
    match e {
        NetError::Timeout => RdnsStatus::Timeout,
        // hickory reports both NXDOMAIN and NOERROR-without-records as "no records"; only the
        // response code tells a name that does not exist from one that has no PTR.
        NetError::Dns(DnsError::NoRecordsFound(no)) if no.response_code == ResponseCode::NoError => RdnsStatus::NoData,
        NetError::Dns(DnsError::NoRecordsFound(_)) => RdnsStatus::Nxdomain,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => RdnsStatus::Servfail,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => RdnsStatus::Refused,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => RdnsStatus::Nxdomain,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => RdnsStatus::Timeout,
        other => {
            tracing::debug!("reverse DNS error: {other}");
            RdnsStatus::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback UDP socket that never answers, and how many queries reached it.
    fn silent_server() -> (SocketAddr, Arc<AtomicU64>) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&count);
        std::thread::spawn(move || {
            let mut buf = [0; 512];
            while socket.recv(&mut buf).is_ok() {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        });
        (addr, count)
    }

    fn open_files_limit() -> libc::rlimit {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct it is given.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        limit
    }

    #[test]
    fn the_open_files_limit_is_raised_for_the_sockets_of_the_queries_in_flight() {
        let before = open_files_limit();
        let wanted = sockets_needed(384);
        assert!(
            before.rlim_max >= wanted,
            "this test needs a hard limit of open files of {wanted} or more: {}",
            before.rlim_max
        );
        // systemd's default soft limit.
        let low = libc::rlimit { rlim_cur: 1024.min(before.rlim_cur), rlim_max: before.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given; lowering the soft limit is allowed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let opts = DnsOptions {
            nameservers: vec![([127, 0, 0, 1], 9).into()],
            timeout: Duration::from_secs(1),
            concurrency: 384,
        };
        let _resolver = runtime.block_on(async { ReverseResolver::new(&opts) }).unwrap();
        assert!(open_files_limit().rlim_cur >= wanted, "soft limit {}", open_files_limit().rlim_cur);
        assert_eq!(open_files_limit().rlim_max, before.rlim_max);
    }

    #[test]
    fn slots_shrink_to_what_the_open_files_limit_holds() {
        assert_eq!(slots_within(384, 524_288), 384);
        assert_eq!(slots_within(384, sockets_needed(384)), 384);
        assert_eq!(slots_within(384, 1024), 128);
        assert_eq!(slots_within(384, 100), 1);
        assert_eq!(slots_within(0, 1024), 1);
    }

    #[test]
    fn a_dead_server_is_asked_again_after_a_while() {
        let (addr, queries) = silent_server();
        let opts = DnsOptions { nameservers: vec![addr], timeout: Duration::from_millis(100), concurrency: 4 };
        let Ok(resolver) = ReverseResolver::new(&opts) else { panic!("resolver") };
        let mut resolver = Arc::into_inner(resolver).unwrap();
        resolver.retry_dead = Duration::from_millis(400);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(runtime.block_on(resolver.resolve(ip)).status, RdnsStatus::Timeout);
        let sent = queries.load(Ordering::Relaxed);
        assert!(sent >= 1, "the first lookup asked the server");
        // Found dead: the next lookups fail at once, without a query.
        let started = Instant::now();
        assert_eq!(runtime.block_on(resolver.resolve(ip)).status, RdnsStatus::Timeout);
        assert!(started.elapsed() < Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(queries.load(Ordering::Relaxed), sent);
        // Later it is asked again.
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(runtime.block_on(resolver.resolve(ip)).status, RdnsStatus::Timeout);
        std::thread::sleep(Duration::from_millis(50));
        assert!(queries.load(Ordering::Relaxed) > sent, "no query after the retry delay");
    }
}
