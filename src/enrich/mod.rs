//! Enrichment of attacker addresses: reverse DNS ([`dns`]) and country / AS ([`geo`]).
//!
//! The scan uses one [`Enricher`]: the parsing thread [`submit`](Enricher::submit)s every failed
//! login's address as soon as it is parsed, which starts its reverse lookup on a background
//! runtime; the store thread asks for the result with [`info`](Enricher::info) when it formats the
//! CSV row, by which time the answer has usually arrived. Reverse DNS answers are cached in the
//! store (`ip_info`) for `dns.cache_ttl`, so a returning attacker costs no query.

pub mod dns;
pub mod geo;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use self::dns::{DnsOptions, ResolverError, ReverseResolver};
use self::geo::Geo;
use crate::config::Config;
use crate::model::ipinfo::{DnsAnswer, IpInfo, RdnsStatus};

/// What to enrich with, from the configuration and the command line.
#[derive(Clone, Debug, Default)]
pub struct EnrichOptions {
    /// Reverse DNS settings; `None` skips reverse DNS.
    pub dns: Option<DnsOptions>,
    /// How long a cached reverse DNS answer is reused (seconds).
    pub cache_ttl_secs: u64,
    /// Geolocation databases; `None` skips geolocation.
    pub geo: Option<GeoPaths>,
}

/// Where the geolocation databases are.
#[derive(Clone, Debug)]
pub struct GeoPaths {
    /// Country databases, in order.
    pub country: Vec<PathBuf>,
    /// ASN databases, in order.
    pub asn: Vec<PathBuf>,
    /// Where CSV indexes are cached.
    pub cache_dir: PathBuf,
}

impl GeoPaths {
    /// The configured paths, with `data_dir` defaults.
    pub fn from_config(config: &Config, data_dir: &Path) -> GeoPaths {
        GeoPaths {
            country: config.geo.country_paths(data_dir),
            asn: config.geo.asn_paths(data_dir),
            cache_dir: data_dir.join(geo::CACHE_DIR),
        }
    }
}

impl EnrichOptions {
    /// Options from the configuration, with `--no-dns` / `--no-geo` applied.
    pub fn from_config(config: &Config, data_dir: &Path, no_dns: bool, no_geo: bool) -> EnrichOptions {
        let dns = (config.dns.enabled && !no_dns).then(|| DnsOptions {
            nameservers: config.dns.nameservers.clone(),
            timeout: Duration::from_millis(config.dns.timeout_ms),
            concurrency: config.dns.concurrency,
        });
        EnrichOptions {
            dns,
            cache_ttl_secs: config.dns.cache_ttl.as_secs(),
            geo: (config.geo.enabled && !no_geo).then(|| GeoPaths::from_config(config, data_dir)),
        }
    }
}

/// Why reverse DNS is off for a scan (reported as a warning: the scan goes on without it).
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// The background runtime that runs the lookups could not start.
    #[error("cannot start the DNS runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The resolver could not be built.
    #[error(transparent)]
    Resolver(#[from] ResolverError),
}

enum Slot {
    Pending,
    Done(DnsAnswer, i64),
}

type Shared = Arc<(Mutex<HashMap<IpAddr, Slot>>, Condvar)>;

struct DnsSide {
    runtime: tokio::runtime::Runtime,
    resolver: Arc<ReverseResolver>,
    state: Shared,
    /// How long [`Enricher::info`] waits for one address.
    wait: Duration,
}

/// Enriches addresses for one scan. Shared by the parsing and store threads.
pub struct Enricher {
    geo: Option<Geo>,
    dns: Option<DnsSide>,
    /// The "no geolocation database" hint, see [`Enricher::geo_missing`].
    geo_missing: Option<String>,
}

impl Enricher {
    /// An enricher that adds nothing.
    pub fn disabled() -> Enricher {
        Enricher { geo: None, dns: None, geo_missing: None }
    }

    /// Sets up the resolver and opens the databases. `cached` holds the reverse DNS answers still
    /// fresh (address, answer, when it was resolved), which are not asked again: the caller reads
    /// them from wherever it keeps them (the scan, from the store). Returns warnings for the user
    /// (unusable database, resolver unusable): the scan goes on without that part. The hint
    /// that no geolocation database was found at all is not among them but in
    /// [`Enricher::geo_missing`], for the caller to say once.
    pub fn new(opts: &EnrichOptions, cached: Vec<(IpAddr, DnsAnswer, i64)>) -> (Enricher, Vec<String>) {
        let mut warnings = Vec::new();
        let mut geo_missing = None;
        let geo = opts.geo.as_ref().and_then(|paths| {
            let (geo, report) = Geo::open(&paths.country, &paths.asn, &paths.cache_dir);
            warnings.extend(report.warnings);
            geo_missing = report.missing;
            (!geo.is_empty()).then_some(geo)
        });
        let dns = opts.dns.as_ref().and_then(|dns_opts| match Enricher::dns_side(dns_opts, cached) {
            Ok(side) => Some(side),
            Err(e) => {
                warnings.push(format!("reverse DNS disabled for this scan: {e}"));
                None
            }
        });
        (Enricher { geo, dns, geo_missing }, warnings)
    }

    fn dns_side(dns_opts: &DnsOptions, cached: Vec<(IpAddr, DnsAnswer, i64)>) -> Result<DnsSide, DnsSetupError> {
        // Two workers: lookups are I/O-bound, and the machine is shared with the parser.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dns")
            .enable_all()
            .build()
            .map_err(DnsSetupError::Runtime)?;
        let resolver = {
            let _guard = runtime.enter();
            ReverseResolver::new(dns_opts)?
        };
        let mut map = HashMap::with_capacity(cached.len());
        for (ip, answer, at) in cached {
            map.insert(ip, Slot::Done(answer, at));
        }
        Ok(DnsSide {
            runtime,
            resolver,
            state: Arc::new((Mutex::new(map), Condvar::new())),
            wait: dns_opts.timeout * 2 + Duration::from_millis(500),
        })
    }

    /// True when this enricher resolves names.
    pub fn resolves(&self) -> bool {
        self.dns.is_some()
    }

    /// Starts the reverse lookup of `ip` unless it is cached or under way. Does not block.
    pub fn submit(&self, ip: IpAddr) {
        let Some(dns) = &self.dns else { return };
        let ip = ip.to_canonical();
        let (lock, cvar) = &*dns.state;
        {
            let mut map = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if map.contains_key(&ip) {
                return;
            }
            map.insert(ip, Slot::Pending);
        }
        let resolver = Arc::clone(&dns.resolver);
        let state = Arc::clone(&dns.state);
        let _ = cvar;
        dns.runtime.spawn(async move {
            let answer = resolver.resolve(ip).await;
            let (lock, cvar) = &*state;
            let mut map = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            map.insert(ip, Slot::Done(answer, jiff::Timestamp::now().as_second()));
            cvar.notify_all();
        });
    }

    /// Everything known about `ip`, waiting (boundedly) for its reverse lookup.
    pub fn info(&self, ip: IpAddr) -> IpInfo {
        let ip = ip.to_canonical();
        let mut info = IpInfo::default();
        if let Some(geo) = &self.geo {
            let a = geo.lookup(ip);
            (info.country_code, info.asn, info.aso) = (a.country_code, a.asn, a.aso);
        }
        if let Some(dns) = &self.dns {
            self.submit(ip);
            let (lock, cvar) = &*dns.state;
            let deadline = Instant::now() + dns.wait;
            let mut map = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            loop {
                if let Some(Slot::Done(answer, at)) = map.get(&ip) {
                    info.hostname = answer.hostname.clone();
                    info.rdns_status = Some(answer.status);
                    info.resolved_at = Some(*at);
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    info.rdns_status = Some(RdnsStatus::Timeout);
                    break;
                }
                map = match cvar.wait_timeout(map, deadline - now) {
                    Ok((m, _)) => m,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        }
        info
    }

    /// Looks up one address right away (for `geo lookup` and tests): submit and wait.
    pub fn lookup_now(&self, ip: IpAddr) -> IpInfo {
        self.submit(ip);
        self.info(ip)
    }

    /// The open geolocation databases, if any.
    pub fn geo(&self) -> Option<&Geo> {
        self.geo.as_ref()
    }

    /// The hint that geolocation is on but no database was found (where it looked, how to get
    /// one); `None` when a database is open or geolocation is off.
    pub fn geo_missing(&self) -> Option<&str> {
        self.geo_missing.as_deref()
    }
}

impl Drop for Enricher {
    fn drop(&mut self) {
        // Lookups still in flight are abandoned rather than awaited: the scan is over.
        if let Some(dns) = self.dns.take() {
            dns.runtime.shutdown_background();
        }
    }
}
