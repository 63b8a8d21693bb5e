//! The period's intrusion rows, for the report email's attachment.
//!
//! The attachment is `reports/intrusions.csv` restricted to a period: the same header, and rows
//! made by the same [`RowFormatter`], so that there is one CSV dialect (columns, quoting, formula
//! neutralising, time format) for intrusion rows, whoever reads them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::fast::RandomState;
use jiff::tz::TimeZone;

use super::csv::{HEADER, RowFormatter, WRITE_BYTES};
use super::{EventRecord, IpKey, Result, Store, StoreError, TextId};
use crate::model::event::{Event, Layer};
use crate::model::ipinfo::IpInfo;
use crate::model::symbols::Sym;

impl Store {
    /// The counted failures of `[start, end)` (mechanism probes only when `probes_count`) as
    /// `intrusions.csv` does: its header, then one row per attempt, in time order, with times in
    /// `tz` and each address's enrichment as the store holds it now.
    pub fn intrusion_rows(&self, start: i64, end: i64, tz: &TimeZone, probes_count: bool) -> Result<Vec<u8>> {
        let _snapshot = self.snapshot()?;
        let mut found: Vec<EventRecord> = Vec::new();
        self.events_in(start, end, |e| {
            if e.is_counted_failure(probes_count) {
                found.push(*e);
            }
        })?;
        // Blocks interleave in time (two log files cover the same hours); within a block rows
        // come in line order, nearly time order, so the sort mostly merges runs.
        found.sort_by_key(|e| (e.ts, e.key));

        // The formatter knows texts as symbols: each text used gets one, numbered in order of
        // first use, and is read and encoded once.
        let mut syms: HashMap<TextId, Sym, RandomState> = HashMap::default();
        let mut texts: Vec<Arc<str>> = Vec::new();
        let mut infos: HashMap<IpAddr, IpInfo, RandomState> = HashMap::default();
        let mut ips: Vec<IpKey> = Vec::new();
        for e in &found {
            for id in
                [Some(e.server), Some(e.service), e.username, e.mechanism, e.logged_hostname].into_iter().flatten()
            {
                if let std::collections::hash_map::Entry::Vacant(slot) = syms.entry(id) {
                    slot.insert(texts.len() as Sym);
                    texts.push(self.text(id)?.into());
                }
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = infos.entry(e.ip.addr()) {
                slot.insert(IpInfo::default());
                ips.push(e.ip);
            }
        }
        for (ip, info) in ips.iter().zip(self.ip_infos(&ips)?) {
            infos.insert(ip.addr(), info.unwrap_or_default());
        }
        let mut rows = RowFormatter::new(tz.clone());
        rows.learn(0, &texts);
        let mut out = HEADER.as_bytes().to_vec();
        let none = IpInfo::default();
        let sym = |id: TextId| syms.get(&id).copied().unwrap_or(Sym::MAX);
        for e in &found {
            let time = jiff::Timestamp::from_second(e.ts)
                .map_err(|err| StoreError::Corrupt(format!("event {:?} has no valid time: {err}", e.key)))?;
            let event = Event {
                time,
                client_ip: e.ip.addr(),
                server: sym(e.server),
                service: sym(e.service),
                username: e.username.map(sym),
                mechanism: e.mechanism.map(sym),
                logged_hostname: e.logged_hostname.map(sym),
                session: None,
                count: e.count,
                duration_secs: None,
                kind: e.kind,
                reason: e.reason,
                // Not part of a row.
                layer: Layer::SmtpFront,
            };
            rows.push(&event, |ip| infos.get(&ip).unwrap_or(&none));
            if rows.rows().len() >= WRITE_BYTES {
                out.extend_from_slice(rows.rows());
                rows.take_rows();
            }
        }
        out.extend_from_slice(rows.rows());
        Ok(out)
    }
}
