//! Alerts as attacks happen: the rules of `[[alerts.rule]]`, evaluated on the events of each
//! commit, queue messages in the store's outbox in the same transaction (`deliver::outbox`
//! sends them once it is committed).
//!
//! - **threshold**: `count` counted failures from one subject (address, /24 or /64 network, AS,
//!   account) within `window` of log time;
//! - **honeypot**: any attempt (failed or not) on one of the trap accounts, per address;
//! - **outage**: `count` authentication backend errors within `window`, per server;
//! - **compromise**: a successful login from an address with a counted failure in the 7 days
//!   before, or from a country the account never logged in from before (the report's rules);
//!   once per (account, address), at once, never held back.
//!
//! **No floods.** A subject fires once per quiet period (wall clock). A rule speaks at most once
//! per quiet period on each channel: the first subjects to fire go out at once, in one message;
//! what fires meanwhile, and what the subjects already told go on doing, is gathered in a digest
//! sent when the quiet period ends, which opens the next one ([`Engine::flush_due`]). With
//! `scan`, that is the first scan after its end; with `watch`, within a poll of it.
//!
//! Events older than `ignore_older_than` when they are stored raise nothing: reading last month's
//! archives pages nobody. Memory is bounded per subject (see `subject`); subjects that hold
//! nothing are dropped after each batch once their window and quiet period are over, and the
//! compromise rule's map of failing addresses holds the 7 days it looks back over.

mod subject;

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;

use self::subject::{Hit, KEEP, SubjectKey, SubjectState};
use crate::config::alerts::{AlertsConfig, Per, RuleConfig, RuleKindConfig};
use crate::model::alert::{Alert, RuleKind, Subject};
use crate::model::event::Kind;
use crate::model::ipinfo::IpInfo;
use crate::store::alerts::RuleState;
use crate::store::{EventRecord, IpKey, Result, Store, TextId};

/// How far back a login's address is looked at for failures (the report's rule).
pub const LOOK_BACK_SECS: i64 = 7 * 86_400;

/// How long delivered and dropped messages are kept for `alerts` and the reports.
pub const KEEP_SECS: i64 = 90 * 86_400;

/// Subjects a digest lists in full; beyond, they are only counted.
const DIGEST_KEEP: usize = 1000;

type Map<K, V> = HashMap<K, V, RandomState>;

/// The rules, with what they remember between commits.
pub struct Engine {
    cfg: AlertsConfig,
    server: String,
    probes_count: bool,
    rules: Vec<Rule>,
    /// The last counted failure of each address in the look-back, for compromise rules: read
    /// from the store when the first login is looked at, then kept up to date.
    failures: Option<Map<IpKey, i64>>,
    /// Whether an account is one of a honeypot rule's traps, by rule and account id.
    traps: Map<(usize, TextId), bool>,
    /// Messages queued by [`Engine::evaluate`] since [`Engine::take_queued`].
    queued: u64,
}

struct Rule {
    cfg: RuleConfig,
    state: RuleState,
    subjects: Map<SubjectKey, SubjectState>,
    /// Subjects that fired in the batch being evaluated, in order.
    fired: Vec<SubjectKey>,
    /// Subjects quiet since an earlier message that counted attempts in the batch.
    again: Vec<SubjectKey>,
    /// Compromises found in the batch.
    logins: Vec<Subject>,
}

/// What the rules did with a commit's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Messages queued: one per alert and channel.
    pub queued: u64,
}

impl Engine {
    /// The rules of `cfg`, with their state as the store saved it. `server` names the server in
    /// messages; `probes_count` is `[scan] invalid_mechanism_is_intrusion`.
    pub fn open(cfg: &AlertsConfig, server: &str, probes_count: bool, store: &Store, now: i64) -> Result<Engine> {
        store.prune_alerts(now - KEEP_SECS)?;
        let saved: Map<String, RuleState> = store.alert_rule_states()?.into_iter().collect();
        let quiet = cfg.quiet_period.as_secs_i64();
        let mut rules = Vec::new();
        for r in &cfg.rules {
            let mut subjects: Map<SubjectKey, SubjectState> = Map::default();
            if r.kind != RuleKindConfig::Compromise {
                for (stored, fired) in store.alert_subjects(&r.name, now - quiet)? {
                    if let Some(key) = SubjectKey::from_stored(&stored, TextId::from_number) {
                        subjects.entry(key).or_default().fired = Some(fired);
                    }
                }
            }
            rules.push(Rule {
                cfg: r.clone(),
                state: saved.get(&r.name).cloned().unwrap_or_default(),
                subjects,
                fired: Vec::new(),
                again: Vec::new(),
                logins: Vec::new(),
            });
        }
        let mut engine = Engine {
            cfg: cfg.clone(),
            server: server.to_string(),
            probes_count,
            rules,
            failures: None,
            traps: Map::default(),
            queued: 0,
        };
        engine.prime(store, now)?;
        Ok(engine)
    }

    /// Fills the windows of threshold and outage rules with the events already stored, so that a
    /// restart (or the next hourly scan) goes on counting where the last run stopped, and the
    /// message of a subject that fires later counts them. Nothing fires here: those events were
    /// looked at when they were stored.
    fn prime(&mut self, store: &Store, now: i64) -> Result<()> {
        let oldest = self
            .rules
            .iter()
            .filter(|r| matches!(r.cfg.kind, RuleKindConfig::Threshold | RuleKindConfig::Outage))
            .map(|r| r.cfg.window().as_secs_i64())
            .max();
        let Some(window) = oldest else { return Ok(()) };
        // A window ends at a subject's newest event, not at now: logs lag behind the clock, so
        // read up to one more window back (at most what still alerts at all).
        let since = now - window.max(0) - self.cfg.ignore_older_than.as_secs_i64().min(window);
        let mut events = Vec::new();
        store.events_in(since, i64::MAX, |e| events.push(*e))?;
        events.sort_by_key(|e| e.ts);
        for e in &events {
            for r in &mut self.rules {
                if let Some((key, hit)) = threshold_hit(&r.cfg, e, self.probes_count, &mut |_| IpInfo::default()) {
                    let window = r.cfg.window().as_secs_i64();
                    r.subjects.entry(key).or_default().count(key, hit, window, r.cfg.count());
                }
            }
        }
        // What a quiet subject did was told, or is in the digest; what the others did is told
        // when they fire.
        for r in &mut self.rules {
            for s in r.subjects.values_mut() {
                if s.fired.is_some() {
                    s.pending = Default::default();
                }
            }
        }
        Ok(())
    }

    /// Evaluates the events a commit just stored (in its open transaction), queueing what fires
    /// in the outbox with them. `info` gives an address's country, AS and name.
    pub fn evaluate(
        &mut self,
        store: &Store,
        events: &[EventRecord],
        info: &mut dyn FnMut(IpAddr) -> IpInfo,
        now: i64,
    ) -> Result<Fired> {
        let oldest = now - self.cfg.ignore_older_than.as_secs_i64();
        let quiet = self.cfg.quiet_period.as_secs_i64();
        let has_compromise = self.rules.iter().any(|r| r.cfg.kind == RuleKindConfig::Compromise);
        if has_compromise && self.failures.is_none() && events.iter().any(|e| e.kind == Kind::Success) {
            self.failures = Some(self.read_failures(store, events, now)?);
        }
        for e in events {
            let counted = e.is_counted_failure(self.probes_count);
            if e.ts < oldest {
                if counted && let Some(f) = &mut self.failures {
                    note_failure(f, e);
                }
                continue;
            }
            for i in 0..self.rules.len() {
                match self.rules[i].cfg.kind {
                    RuleKindConfig::Threshold | RuleKindConfig::Outage => {
                        let r = &mut self.rules[i];
                        if let Some((key, hit)) = threshold_hit(&r.cfg, e, self.probes_count, info) {
                            count_hit(r, key, hit, now, quiet);
                        }
                    }
                    RuleKindConfig::Honeypot => {
                        let trapped = match e.username {
                            Some(u) => self.is_trap(store, i, u)?,
                            None => false,
                        };
                        if trapped {
                            count_hit(&mut self.rules[i], SubjectKey::Ip(e.ip), hit(e), now, quiet);
                        }
                    }
                    RuleKindConfig::Compromise => {
                        if e.kind == Kind::Success {
                            self.check_login(store, i, e, info, now)?;
                        }
                    }
                }
            }
            if counted && let Some(f) = &mut self.failures {
                note_failure(f, e);
            }
        }
        let mut fired = Fired::default();
        for i in 0..self.rules.len() {
            fired.queued += self.finish_rule(store, i, info, now)?;
        }
        if let Some(f) = &mut self.failures {
            f.retain(|_, &mut ts| ts >= now - LOOK_BACK_SECS - self.cfg.ignore_older_than.as_secs_i64());
        }
        self.queued += fired.queued;
        Ok(fired)
    }

    /// The messages [`Engine::evaluate`] queued since the last call.
    pub fn take_queued(&mut self) -> u64 {
        std::mem::take(&mut self.queued)
    }

    /// Sends the digests whose quiet period is over (each opens the next one); forgets the
    /// subjects whose quiet period is over. Runs in a transaction of its own, or the one open.
    pub fn flush_due(&mut self, store: &Store, now: i64) -> Result<Fired> {
        let quiet = self.cfg.quiet_period.as_secs_i64();
        let due: Vec<usize> = (0..self.rules.len())
            .filter(|&i| self.rules[i].state.quiet_until <= now && self.rules[i].state.digest.is_some())
            .collect();
        let mut fired = Fired::default();
        if due.is_empty() {
            return Ok(fired);
        }
        store.in_transaction(|store| {
            for &i in &due {
                let r = &mut self.rules[i];
                if let Some(mut digest) = r.state.digest.take() {
                    digest.created = now;
                    fired.queued += queue(store, &r.cfg, digest, now)?;
                    r.state.quiet_until = now + quiet;
                }
                store.save_alert_rule(&r.cfg.name, &r.state)?;
                store.forget_alert_subjects(&r.cfg.name, now - quiet)?;
            }
            Ok(())
        })?;
        Ok(fired)
    }

    /// When the next digest is due, if one is gathering.
    pub fn next_flush(&self) -> Option<i64> {
        self.rules.iter().filter(|r| r.state.digest.is_some()).map(|r| r.state.quiet_until).min()
    }

    fn is_trap(&mut self, store: &Store, rule: usize, user: TextId) -> Result<bool> {
        if let Some(&known) = self.traps.get(&(rule, user)) {
            return Ok(known);
        }
        let name = store.text(user)?;
        let trap = self.rules[rule].cfg.usernames.iter().any(|u| u.eq_ignore_ascii_case(&name));
        self.traps.insert((rule, user), trap);
        Ok(trap)
    }

    /// The last counted failure of each address over the look-back, from the store, without the
    /// events of the batch being evaluated (they are counted in order, as they are looked at).
    fn read_failures(&self, store: &Store, batch: &[EventRecord], now: i64) -> Result<Map<IpKey, i64>> {
        let keys: std::collections::HashSet<_, RandomState> = batch.iter().map(|e| e.key).collect();
        let since = now - LOOK_BACK_SECS - self.cfg.ignore_older_than.as_secs_i64();
        let mut map = Map::default();
        store.events_in(since, i64::MAX, |e| {
            if e.is_counted_failure(self.probes_count) && !keys.contains(&e.key) {
                note_failure(&mut map, e);
            }
        })?;
        Ok(map)
    }

    /// The compromise rule on one login.
    fn check_login(
        &mut self,
        store: &Store,
        rule: usize,
        e: &EventRecord,
        info: &mut dyn FnMut(IpAddr) -> IpInfo,
        now: i64,
    ) -> Result<()> {
        let name = self.rules[rule].cfg.name.clone();
        let pair = format!("login:{}|{}", e.username.map_or(-1, TextId::number), e.ip.addr());
        if store.alert_subject_fired(&name, &pair)?.is_some() {
            return Ok(());
        }
        let ip = e.ip.addr();
        let mut why = Vec::new();
        if self.failures.as_ref().and_then(|f| f.get(&e.ip)).is_some_and(|&ts| ts >= e.ts - LOOK_BACK_SECS) {
            why.push("failed before".to_string());
        }
        let here = info(ip);
        if let (Some(user), Some(country)) = (e.username, here.country_code.as_ref()) {
            let mut seen = std::collections::BTreeSet::new();
            for earlier in store.earlier_login_ips(user, e.ts)? {
                if let Some(c) = store.ip_info(earlier)?.and_then(|i| i.country_code) {
                    seen.insert(c);
                }
            }
            if !seen.is_empty() && !seen.contains(country) {
                why.push("new country".to_string());
            }
        }
        if why.is_empty() {
            return Ok(());
        }
        store.set_alert_subject(&name, &pair, now)?;
        let account = e.username.map(|u| store.text(u)).transpose()?;
        let mut s = subject_info(ip.to_string(), &here);
        s.attempts = u64::from(e.count);
        s.first_seen = e.ts;
        s.last_seen = e.ts;
        s.ips = vec![ip.to_string()];
        s.account_count = u64::from(account.is_some());
        s.accounts = account.into_iter().collect();
        s.service = Some(store.text(e.service)?);
        s.why = why;
        self.rules[rule].logins.push(s);
        Ok(())
    }

    /// Ends a rule's batch: queues the first alert or adds to the digest.
    fn finish_rule(
        &mut self,
        store: &Store,
        i: usize,
        info: &mut dyn FnMut(IpAddr) -> IpInfo,
        now: i64,
    ) -> Result<u64> {
        let quiet = self.cfg.quiet_period.as_secs_i64();
        let server = self.server.clone();
        let r = &mut self.rules[i];
        let mut queued = 0;
        if !r.logins.is_empty() {
            let mut alert = new_alert(&r.cfg, &server, now, false);
            alert.subjects = std::mem::take(&mut r.logins);
            sum_up(&mut alert);
            queued += queue(store, &r.cfg, alert, now)?;
        }
        if r.fired.is_empty() && r.again.is_empty() {
            prune(r, now, quiet);
            return Ok(queued);
        }
        let fired = std::mem::take(&mut r.fired);
        let again = std::mem::take(&mut r.again);
        let mut shown = Vec::new();
        for key in fired.iter().map(|k| (k, false)).chain(again.iter().map(|k| (k, true))) {
            let Some(s) = r.subjects.get_mut(key.0) else { continue };
            let pending = std::mem::take(&mut s.pending);
            if pending.attempts == 0 {
                continue;
            }
            shown.push((*key.0, key.1, pending));
        }
        let mut subjects = Vec::with_capacity(shown.len());
        for (key, again, p) in shown {
            let mut s = describe(store, key, &p, info)?;
            s.again = again;
            subjects.push(s);
        }
        for key in &fired {
            store.set_alert_subject(&r.cfg.name, &key.stored(), now)?;
        }
        let first = !fired.is_empty() && r.state.quiet_until <= now && r.state.digest.is_none();
        if first {
            let (new, old): (Vec<Subject>, Vec<Subject>) = subjects.into_iter().partition(|s| !s.again);
            let mut alert = new_alert(&r.cfg, &server, now, false);
            alert.subjects = new;
            sum_up(&mut alert);
            queued += queue(store, &r.cfg, alert, now)?;
            r.state.quiet_until = now + quiet;
            subjects = old;
        }
        if !subjects.is_empty() {
            let digest = r.state.digest.get_or_insert_with(|| new_alert(&r.cfg, &server, now, true));
            for s in subjects {
                merge(digest, s);
            }
            if r.state.quiet_until <= now {
                // Nothing was sent in this quiet period yet: the digest goes at its end.
                r.state.quiet_until = now + quiet;
            }
        }
        store.save_alert_rule(&r.cfg.name, &r.state)?;
        prune(r, now, quiet);
        Ok(queued)
    }
}

/// Counts one hit of `key` for rule `r`: fires it, or adds it to what a quiet subject did.
fn count_hit(r: &mut Rule, key: SubjectKey, hit: Hit, now: i64, quiet: i64) {
    let window = r.cfg.window().as_secs_i64();
    let count = if r.cfg.kind == RuleKindConfig::Honeypot { 1 } else { r.cfg.count() };
    let s = r.subjects.entry(key).or_default();
    let was_quiet = s.quiet(now, quiet);
    let reached = s.count(key, hit, window, count);
    if was_quiet {
        if !r.again.contains(&key) && !r.fired.contains(&key) {
            r.again.push(key);
        }
    } else if reached {
        s.fire(now);
        r.fired.push(key);
    }
}

/// The subject and the hit an event is for a threshold or outage rule, if it counts for it.
fn threshold_hit(
    rule: &RuleConfig,
    e: &EventRecord,
    probes_count: bool,
    info: &mut dyn FnMut(IpAddr) -> IpInfo,
) -> Option<(SubjectKey, Hit)> {
    let hit = hit(e);
    match rule.kind {
        RuleKindConfig::Threshold if e.is_counted_failure(probes_count) => {
            let key = match rule.per {
                Per::Ip => SubjectKey::Ip(e.ip),
                Per::Network => SubjectKey::Net(e.ip.network()),
                Per::Asn => SubjectKey::Asn(info(e.ip.addr()).asn?),
                Per::Account => SubjectKey::Account(e.username?),
            };
            Some((key, hit))
        }
        RuleKindConfig::Outage if e.kind == Kind::BackendError => Some((SubjectKey::Server(e.server), hit)),
        _ => None,
    }
}

/// An event as a rule counts it.
fn hit(e: &EventRecord) -> Hit {
    Hit { ts: e.ts, attempts: u64::from(e.count), account: e.username, ip: e.ip, service: e.service }
}

fn note_failure(map: &mut Map<IpKey, i64>, e: &EventRecord) {
    let last = map.entry(e.ip).or_insert(e.ts);
    *last = (*last).max(e.ts);
}

/// Drops the subjects that hold nothing any more.
fn prune(r: &mut Rule, now: i64, quiet: i64) {
    let window = r.cfg.window().as_secs_i64();
    if r.subjects.len() > 64 {
        r.subjects.retain(|_, s| !s.idle(now, quiet, window));
    }
}

fn new_alert(rule: &RuleConfig, server: &str, now: i64, digest: bool) -> Alert {
    let threshold = matches!(rule.kind, RuleKindConfig::Threshold | RuleKindConfig::Outage);
    Alert {
        rule: rule.name.clone(),
        kind: Some(match rule.kind {
            RuleKindConfig::Threshold => RuleKind::Threshold,
            RuleKindConfig::Compromise => RuleKind::Compromise,
            RuleKindConfig::Honeypot => RuleKind::Honeypot,
            RuleKindConfig::Outage => RuleKind::Outage,
        }),
        server: server.to_string(),
        created: now,
        digest,
        per: (rule.kind == RuleKindConfig::Threshold).then(|| rule.per.as_str().to_string()),
        threshold: threshold.then(|| rule.count()),
        window_secs: threshold.then(|| rule.window().as_secs()),
        ..Alert::default()
    }
}

/// A subject as a message shows it.
fn describe(
    store: &Store,
    key: SubjectKey,
    p: &subject::Pending,
    info: &mut dyn FnMut(IpAddr) -> IpInfo,
) -> Result<Subject> {
    let first_ip = p.ips.first().map(|ip| ip.addr());
    let name = match key {
        SubjectKey::Ip(ip) => ip.addr().to_string(),
        SubjectKey::Net(net) => crate::report::stats::network_of(net.addr()),
        SubjectKey::Asn(asn) => format!("AS{asn}"),
        SubjectKey::Account(id) | SubjectKey::Server(id) => store.text(id)?,
    };
    let here = match (key, first_ip) {
        (SubjectKey::Ip(ip), _) => info(ip.addr()),
        (SubjectKey::Asn(_), Some(ip)) => IpInfo { hostname: None, ..info(ip) },
        _ => IpInfo::default(),
    };
    let mut s = subject_info(name, &here);
    s.attempts = p.attempts;
    s.first_seen = p.first;
    s.last_seen = p.last;
    s.account_count = p.accounts.len() as u64;
    for &a in p.accounts.iter().take(5) {
        s.accounts.push(store.text(a)?);
    }
    if !matches!(key, SubjectKey::Ip(_)) {
        s.ips = p.ips.iter().take(5).map(|ip| ip.addr().to_string()).collect();
    }
    s.service = p.service.map(|id| store.text(id)).transpose()?;
    Ok(s)
}

fn subject_info(name: String, info: &IpInfo) -> Subject {
    Subject {
        name,
        country: info.country_code.clone(),
        asn: info.asn,
        aso: info.aso.clone(),
        hostname: info.hostname.clone(),
        ..Subject::default()
    }
}

/// Sets an alert's totals from its subjects.
fn sum_up(alert: &mut Alert) {
    alert.attempts = alert.subjects.iter().map(|s| s.attempts).sum();
    alert.first_seen = alert.subjects.iter().map(|s| s.first_seen).min().unwrap_or(0);
    alert.last_seen = alert.subjects.iter().map(|s| s.last_seen).max().unwrap_or(0);
}

/// Adds a subject to a digest: to its entry when it is there, else as a new one (counted only,
/// once the digest lists [`DIGEST_KEEP`]).
fn merge(digest: &mut Alert, s: Subject) {
    if digest.attempts == 0 && digest.subjects.is_empty() && digest.more_subjects == 0 {
        digest.first_seen = s.first_seen;
        digest.last_seen = s.last_seen;
    }
    digest.attempts += s.attempts;
    digest.first_seen = digest.first_seen.min(s.first_seen);
    digest.last_seen = digest.last_seen.max(s.last_seen);
    if let Some(d) = digest.subjects.iter_mut().find(|d| d.name == s.name) {
        d.attempts += s.attempts;
        d.first_seen = d.first_seen.min(s.first_seen);
        d.last_seen = d.last_seen.max(s.last_seen);
        for a in s.accounts {
            if d.accounts.len() < 5 && !d.accounts.contains(&a) {
                d.accounts.push(a);
            }
        }
        d.account_count = d.account_count.max(s.account_count).min(KEEP as u64);
        d.again &= s.again;
        return;
    }
    if digest.subjects.len() < DIGEST_KEEP {
        digest.subjects.push(s);
    } else {
        digest.more_subjects += 1;
    }
}

/// Queues `alert` for the rule's channels, its subjects ordered, most attempts first, and cut to
/// [`Alert::SHOWN`] (the rest counted in `more_subjects`). Returns the messages queued.
fn queue(store: &Store, rule: &RuleConfig, mut alert: Alert, now: i64) -> Result<u64> {
    alert.subjects.sort_by(|a, b| b.attempts.cmp(&a.attempts).then_with(|| a.name.cmp(&b.name)));
    if alert.subjects.len() > Alert::SHOWN {
        alert.more_subjects += (alert.subjects.len() - Alert::SHOWN) as u64;
        alert.subjects.truncate(Alert::SHOWN);
    }
    store.queue_alert(&alert, &rule.channels, now)?;
    Ok(rule.channels.len() as u64)
}

#[cfg(test)]
mod tests;
