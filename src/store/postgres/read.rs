//! What reports ask of the fleet database, answered as the local store's read API answers it
//! ([`EventRecord`]s with texts as [`TextId`]s, addresses as [`IpKey`]s), so that the report's
//! own code builds the fleet's report; and the two questions only a fleet has: each server's
//! numbers, and the attackers several servers saw.
//!
//! A period's events are streamed in binary (`COPY (SELECT …) TO STDOUT`), found through the
//! time index of each month's partition; the history questions are lookups in the small tables
//! the insert trigger keeps (`mls_ip_history`, `mls_logins`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::pin;

use futures_util::StreamExt;
use serde::Serialize;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;

use super::{FleetDb, FleetError, Result};
use crate::model::event::{EventKey, Kind, Reason};
use crate::model::ipinfo::{IpInfo, RdnsStatus};
use crate::store::{EventRecord, IpKey, TextId};

/// Texts met in the fleet's events, numbered from 1 in order of first sight.
#[derive(Debug, Default)]
pub(super) struct Texts {
    ids: HashMap<String, i64>,
    list: Vec<String>,
}

impl Texts {
    fn id(&mut self, text: &str) -> TextId {
        if let Some(&id) = self.ids.get(text) {
            return TextId(id);
        }
        self.list.push(text.to_string());
        let id = self.list.len() as i64;
        self.ids.insert(text.to_string(), id);
        TextId(id)
    }
}

/// One server's numbers over a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FleetServerRow {
    /// Its `server_name`.
    pub server: String,
    /// Counted failed attempts.
    pub failed_attempts: u64,
    /// Distinct addresses with counted failures.
    pub unique_ips: u64,
    /// Successful logins.
    pub successful_logins: u64,
    /// Authentication backend errors.
    pub backend_errors: u64,
    /// Its last shipment (Unix seconds), whatever the period.
    pub last_shipment: Option<i64>,
}

/// What the fleet database knows of one server, whatever the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    /// When it shipped first (Unix seconds).
    pub first_shipment: i64,
    /// When it shipped last.
    pub last_shipment: Option<i64>,
    /// Events it shipped that the database did not hold yet.
    pub shipped_events: u64,
}

/// An address with counted failures on several servers in a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SharedAttacker {
    /// The address.
    pub ip: IpAddr,
    /// The servers, by name.
    pub servers: Vec<String>,
    /// Counted failed attempts on all of them.
    pub attempts: u64,
    /// Distinct accounts tried.
    pub accounts: u64,
}

/// A row of events, streamed in binary or returned by a query.
trait Columns {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        i: usize,
    ) -> std::result::Result<T, tokio_postgres::Error>;
}

impl Columns for BinaryCopyOutRow {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        i: usize,
    ) -> std::result::Result<T, tokio_postgres::Error> {
        self.try_get(i)
    }
}

impl Columns for tokio_postgres::Row {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        i: usize,
    ) -> std::result::Result<T, tokio_postgres::Error> {
        self.try_get(i)
    }
}

/// The columns of [`EVENTS`].
const EVENT_COLUMNS: [Type; 11] = [
    Type::INT8,
    Type::INT2,
    Type::INT2,
    Type::INT4,
    Type::INET,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT4,
];

/// The events of a period; `{start}` and `{end}` are replaced by Unix seconds (COPY takes no
/// parameters; they are numbers this program formats).
const EVENTS: &str = "COPY (SELECT extract(epoch FROM ts)::bigint, kind, reason, attempts, ip, host, service, username,
                              mechanism, logged_hostname, server
                       FROM mls_events WHERE ts >= to_timestamp({start}) AND ts < to_timestamp({end}))
                  TO STDOUT (FORMAT binary)";

/// The condition on an event of `mls_events` that it is a counted failure.
fn counted_failure(probes_count: bool) -> String {
    if probes_count {
        "kind = 1".to_string()
    } else {
        format!("kind = 1 AND reason <> {}", Reason::MechanismInvalid.code())
    }
}

fn seconds(ts: i64) -> f64 {
    ts as f64
}

impl FleetDb {
    /// Calls `f` on every event of the fleet with `start <= ts < end` (Unix seconds).
    pub fn events_in(&self, start: i64, end: i64, mut f: impl FnMut(&EventRecord)) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let sql = EVENTS.replace("{start}", &start.to_string()).replace("{end}", &end.to_string());
        let url = self.url.clone();
        let bad = |e: tokio_postgres::Error| super::query_error(&url, "reading the period's events", &e);
        self.rt.block_on(async {
            let stream = self.client.copy_out(sql.as_str()).await.map_err(bad)?;
            let mut rows = pin!(BinaryCopyOutStream::new(stream, &EVENT_COLUMNS));
            while let Some(row) = rows.next().await {
                let row = row.map_err(bad)?;
                // Not borrowed across `f`, which may ask for texts.
                let record = self.record(&row, &mut self.texts.borrow_mut())?;
                f(&record);
            }
            Ok(())
        })
    }

    /// The record of one streamed row.
    fn record(&self, row: &impl Columns, texts: &mut Texts) -> Result<EventRecord> {
        let corrupt = |what: String| FleetError::Query {
            url: self.url.clone(),
            what: "reading the period's events",
            message: what,
            transient: false,
        };
        let get = |e: tokio_postgres::Error| corrupt(format!("a row that cannot be read: {e}"));
        let (kind, reason): (i16, i16) = (row.col(1).map_err(get)?, row.col(2).map_err(get)?);
        let code = |c: i16| u8::try_from(c).ok();
        let (Some(kind), Some(reason)) =
            (code(kind).and_then(Kind::from_code), code(reason).and_then(Reason::from_code))
        else {
            return Err(corrupt(format!("an event of an unknown kind or reason ({kind}, {reason})")));
        };
        let mut text =
            |i: usize| -> Result<Option<TextId>> { Ok(row.col::<Option<&str>>(i).map_err(get)?.map(|t| texts.id(t))) };
        let server: i32 = row.col(10).map_err(get)?;
        Ok(EventRecord {
            key: EventKey { source: server as u32, offset: 0 },
            ts: row.col(0).map_err(get)?,
            kind,
            reason,
            count: u32::try_from(row.col::<i32>(3).map_err(get)?).unwrap_or(0).max(1),
            ip: IpKey::of(row.col(4).map_err(get)?),
            server: text(5)?.unwrap_or(TextId(0)),
            service: text(6)?.unwrap_or(TextId(0)),
            username: text(7)?,
            mechanism: text(8)?,
            logged_hostname: text(9)?,
        })
    }

    /// Calls `f` on the failures with `start <= ts < end` from one of `ips` or for one of `users`.
    pub fn failures_of(
        &self,
        start: i64,
        end: i64,
        ips: &[IpKey],
        users: &[TextId],
        mut f: impl FnMut(&EventRecord),
    ) -> Result<()> {
        if start >= end || (ips.is_empty() && users.is_empty()) {
            return Ok(());
        }
        let addrs: Vec<IpAddr> = ips.iter().map(|k| k.addr()).collect();
        let names: Vec<String> = users.iter().map(|&u| self.text(u)).collect();
        let rows = self.rt.block_on(async {
            self.client
                .query(
                    "SELECT extract(epoch FROM ts)::bigint, kind, reason, attempts, ip, host, service, username,
                            mechanism, logged_hostname, server
                     FROM mls_events
                     WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2) AND kind = 1
                       AND (ip = ANY($3) OR username = ANY($4))",
                    &[&seconds(start), &seconds(end), &addrs, &names],
                )
                .await
                .map_err(|e| self.error("reading the failures of the shown addresses and accounts", &e))
        })?;
        for row in &rows {
            let record = self.record(row, &mut self.texts.borrow_mut())?;
            f(&record);
        }
        Ok(())
    }

    /// The text of an id handed out by [`FleetDb::events_in`].
    pub fn text(&self, id: TextId) -> String {
        let texts = self.texts.borrow();
        usize::try_from(id.0 - 1).ok().and_then(|i| texts.list.get(i)).cloned().unwrap_or_default()
    }

    /// Whether any server shipped enrichment.
    pub fn has_enrichment(&self) -> Result<bool> {
        self.rt.block_on(async {
            let row = self
                .client
                .query_one("SELECT EXISTS (SELECT 1 FROM mls_ip_info)", &[])
                .await
                .map_err(|e| self.error("reading the enrichment", &e))?;
            Ok(row.get(0))
        })
    }

    /// When each of `ips` was first seen by any server (Unix seconds).
    pub fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>> {
        let addrs: Vec<IpAddr> = ips.iter().map(|k| k.addr()).collect();
        let found: HashMap<IpAddr, i64> = self.rt.block_on(async {
            let rows = self
                .client
                .query(
                    "SELECT ip, extract(epoch FROM first_seen)::bigint FROM mls_ip_history WHERE ip = ANY($1)",
                    &[&addrs],
                )
                .await
                .map_err(|e| self.error("reading when addresses were first seen", &e))?;
            Ok::<_, FleetError>(rows.iter().map(|r| (r.get::<_, IpAddr>(0), r.get::<_, i64>(1))).collect())
        })?;
        Ok(addrs.iter().map(|ip| found.get(ip).copied()).collect())
    }

    /// What the servers' enrichment found of each of `ips`.
    pub fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>> {
        let addrs: Vec<IpAddr> = ips.iter().map(|k| k.addr()).collect();
        let mut found: HashMap<IpAddr, IpInfo> = self.rt.block_on(async {
            let rows = self
                .client
                .query(
                    "SELECT ip, hostname, rdns_status, country_code, asn, aso FROM mls_ip_info WHERE ip = ANY($1)",
                    &[&addrs],
                )
                .await
                .map_err(|e| self.error("reading the enrichment", &e))?;
            Ok::<_, FleetError>(
                rows.iter()
                    .map(|r| {
                        let info = IpInfo {
                            hostname: r.get(1),
                            rdns_status: r.get::<_, Option<&str>>(2).and_then(RdnsStatus::parse),
                            country_code: r.get(3),
                            asn: r.get::<_, Option<i64>>(4).and_then(|a| u32::try_from(a).ok()),
                            aso: r.get(5),
                            resolved_at: None,
                        };
                        (r.get::<_, IpAddr>(0), info)
                    })
                    .collect(),
            )
        })?;
        Ok(addrs.iter().map(|ip| found.remove(ip)).collect())
    }

    /// The addresses account `user` first logged in from before `before`, on any server.
    pub fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>> {
        let name = self.text(user);
        self.rt.block_on(async {
            let rows = self
                .client
                .query(
                    "SELECT ip FROM mls_logins WHERE username = $1 AND first_login < to_timestamp($2)",
                    &[&name, &seconds(before)],
                )
                .await
                .map_err(|e| self.error("reading the account's earlier logins", &e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// What the database knows of server `name`; `None` before its first shipment.
    pub fn server_status(&self, name: &str) -> Result<Option<ServerStatus>> {
        self.rt.block_on(async {
            let row = self
                .client
                .query_opt(
                    "SELECT extract(epoch FROM first_shipment)::bigint, extract(epoch FROM last_shipment)::bigint,
                            shipped_events FROM mls_servers WHERE name = $1",
                    &[&name],
                )
                .await
                .map_err(|e| self.error("reading the server's shipments", &e))?;
            Ok(row.map(|r| ServerStatus {
                first_shipment: r.get(0),
                last_shipment: r.get(1),
                shipped_events: r.get::<_, i64>(2) as u64,
            }))
        })
    }

    /// Each server's numbers over `[start, end)`; every server that ever shipped has a row.
    pub fn server_rows(&self, start: i64, end: i64, probes_count: bool) -> Result<Vec<FleetServerRow>> {
        let sql = format!(
            "SELECT s.name,
                    coalesce(e.failed, 0)::bigint, coalesce(e.ips, 0)::bigint, coalesce(e.logins, 0)::bigint,
                    coalesce(e.backend, 0)::bigint, extract(epoch FROM s.last_shipment)::bigint
             FROM mls_servers s LEFT JOIN (
                 SELECT server,
                        sum(attempts) FILTER (WHERE {c}) AS failed,
                        count(DISTINCT ip) FILTER (WHERE {c}) AS ips,
                        sum(attempts) FILTER (WHERE kind = 2) AS logins,
                        sum(attempts) FILTER (WHERE kind = 3) AS backend
                 FROM mls_events WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2) GROUP BY server
             ) e ON e.server = s.id
             ORDER BY s.name",
            c = counted_failure(probes_count)
        );
        self.rt.block_on(async {
            let rows = self
                .client
                .query(&sql, &[&seconds(start), &seconds(end)])
                .await
                .map_err(|e| self.error("reading the servers' numbers", &e))?;
            Ok(rows
                .iter()
                .map(|r| FleetServerRow {
                    server: r.get(0),
                    failed_attempts: r.get::<_, i64>(1) as u64,
                    unique_ips: r.get::<_, i64>(2) as u64,
                    successful_logins: r.get::<_, i64>(3) as u64,
                    backend_errors: r.get::<_, i64>(4) as u64,
                    last_shipment: r.get(5),
                })
                .collect())
        })
    }

    /// The addresses with counted failures on two servers or more in `[start, end)`: how many
    /// there are, and the `top` with the most attempts.
    pub fn shared_attackers(
        &self,
        start: i64,
        end: i64,
        probes_count: bool,
        top: usize,
    ) -> Result<(u64, Vec<SharedAttacker>)> {
        let sql = format!(
            "WITH shared AS (
                 SELECT ip, array_agg(DISTINCT s.name ORDER BY s.name) AS servers, sum(attempts)::bigint AS attempts,
                        count(DISTINCT username)::bigint AS accounts
                 FROM mls_events e JOIN mls_servers s ON s.id = e.server
                 WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2) AND {c}
                 GROUP BY ip HAVING count(DISTINCT e.server) > 1
             )
             SELECT ip, servers, attempts, accounts, count(*) OVER ()
             FROM shared ORDER BY attempts DESC, ip LIMIT $3",
            c = counted_failure(probes_count)
        );
        self.rt.block_on(async {
            let rows = self
                .client
                .query(&sql, &[&seconds(start), &seconds(end), &(top.min(i64::MAX as usize) as i64)])
                .await
                .map_err(|e| self.error("reading the attackers seen on several servers", &e))?;
            let total = rows.first().map_or(0, |r| r.get::<_, i64>(4) as u64);
            Ok((
                total,
                rows.iter()
                    .map(|r| SharedAttacker {
                        ip: r.get(0),
                        servers: r.get(1),
                        attempts: r.get::<_, i64>(2) as u64,
                        accounts: r.get::<_, i64>(3) as u64,
                    })
                    .collect(),
            ))
        })
    }

    /// What the servers' enrichment found of `ip`.
    pub fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>> {
        Ok(self.ip_infos(&[IpKey::of(ip)])?.pop().flatten())
    }
}
