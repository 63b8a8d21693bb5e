//! What reports ask of the fleet database, answered as the local store's read API answers it
//! ([`EventRecord`]s with texts as [`TextId`]s, addresses as [`IpKey`]s, and the server's number
//! as the record's `key.source`), so that the report's own code builds the fleet's report, with
//! each server's numbers and the attackers several servers saw.
//!
//! A period's events are streamed in binary (`COPY (SELECT …) TO STDOUT`), found through the
//! time index of each month's partition, with only the columns reports read; the previous
//! period, of which a report only needs each address's attempts, is summed by the database. The
//! history questions are lookups in the small tables the insert trigger keeps (`mls_ip_history`,
//! `mls_logins`).

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

/// A server of the fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// The number its events carry (`key.source` of their records).
    pub id: u32,
    /// Its `server_name`.
    pub name: String,
    /// Its last shipment (Unix seconds).
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

/// The columns of [`EVENT_SELECT`].
const EVENT_COLUMNS: [Type; 8] =
    [Type::TIMESTAMPTZ, Type::INT2, Type::INT2, Type::INT4, Type::INET, Type::TEXT, Type::TEXT, Type::INT4];

/// The columns of an event that reports read (not the host, mechanism and client name: a month of
/// the fleet is millions of rows, each column a cost of the database's).
const EVENT_SELECT: &str = "SELECT ts, kind, reason, attempts, ip, service, username, server FROM mls_events";

/// A `timestamptz` as Unix seconds, decoded from its binary form (microseconds since
/// 2000-01-01 UTC) rather than computed by the database for every row.
struct PgSeconds(i64);

/// 2000-01-01T00:00:00Z in Unix seconds.
const PG_EPOCH: i64 = 946_684_800;

impl<'a> tokio_postgres::types::FromSql<'a> for PgSeconds {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<PgSeconds, Box<dyn std::error::Error + Sync + Send>> {
        let micros = i64::from_be_bytes(raw.try_into().map_err(|_| "a timestamp that is not 8 bytes")?);
        Ok(PgSeconds(micros.div_euclid(1_000_000).saturating_add(PG_EPOCH)))
    }
    tokio_postgres::types::accepts!(TIMESTAMPTZ);
}

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
    /// Calls `f` on every event of the fleet with `start <= ts < end` (Unix seconds). The
    /// records carry the server's number as `key.source`, and no host, mechanism or client name.
    pub fn events_in(&self, start: i64, end: i64, mut f: impl FnMut(&EventRecord)) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        // COPY takes no parameters; the bounds are numbers this program formats.
        let sql = format!(
            "COPY ({EVENT_SELECT} WHERE ts >= to_timestamp({start}) AND ts < to_timestamp({end})) TO STDOUT (FORMAT binary)"
        );
        self.copy_out(&sql, &EVENT_COLUMNS, "reading the period's events", |row| {
            // Not borrowed across `f`, which may ask for texts.
            let record = self.record(row, &mut self.texts.borrow_mut())?;
            f(&record);
            Ok(())
        })
    }

    /// The counted failures with `start <= ts < end` of each address: `f` is called once per
    /// address with their attempts, summed by the database.
    pub fn failures_per_ip(
        &self,
        start: i64,
        end: i64,
        probes_count: bool,
        mut f: impl FnMut(IpKey, u64),
    ) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let sql = format!(
            "COPY (SELECT ip, sum(attempts)::bigint FROM mls_events
                   WHERE ts >= to_timestamp({start}) AND ts < to_timestamp({end}) AND {c} GROUP BY ip)
             TO STDOUT (FORMAT binary)",
            c = counted_failure(probes_count)
        );
        let what = "reading the previous period's failures";
        let get = |e: tokio_postgres::Error| self.corrupt(what, format!("a row that cannot be read: {e}"));
        self.copy_out(&sql, &[Type::INET, Type::INT8], what, |row| {
            let ip: IpAddr = row.try_get(0).map_err(get)?;
            let attempts: i64 = row.try_get(1).map_err(get)?;
            f(IpKey::of(ip), u64::try_from(attempts).unwrap_or(0));
            Ok(())
        })
    }

    /// Streams the rows of `COPY (…) TO STDOUT (FORMAT binary)` of `types` to `f`.
    fn copy_out(
        &self,
        sql: &str,
        types: &[Type],
        what: &'static str,
        mut f: impl FnMut(&BinaryCopyOutRow) -> Result<()>,
    ) -> Result<()> {
        self.rt.block_on(async {
            let stream = self.client.copy_out(sql).await.map_err(|e| self.error(what, &e))?;
            let mut rows = pin!(BinaryCopyOutStream::new(stream, types));
            while let Some(row) = rows.next().await {
                f(&row.map_err(|e| self.error(what, &e))?)?;
            }
            Ok(())
        })
    }

    /// The error of a row the database sent that this build cannot use.
    fn corrupt(&self, what: &'static str, message: String) -> FleetError {
        FleetError::Query { url: self.url.clone(), what, message, transient: false }
    }

    /// The record of one streamed row.
    fn record(&self, row: &impl Columns, texts: &mut Texts) -> Result<EventRecord> {
        let what = "reading the period's events";
        let get = |e: tokio_postgres::Error| self.corrupt(what, format!("a row that cannot be read: {e}"));
        let (kind, reason): (i16, i16) = (row.col(1).map_err(get)?, row.col(2).map_err(get)?);
        let code = |c: i16| u8::try_from(c).ok();
        let (Some(kind), Some(reason)) =
            (code(kind).and_then(Kind::from_code), code(reason).and_then(Reason::from_code))
        else {
            return Err(self.corrupt(what, format!("an event of an unknown kind or reason ({kind}, {reason})")));
        };
        let mut text =
            |i: usize| -> Result<Option<TextId>> { Ok(row.col::<Option<&str>>(i).map_err(get)?.map(|t| texts.id(t))) };
        let server: i32 = row.col(7).map_err(get)?;
        Ok(EventRecord {
            key: EventKey { source: server as u32, offset: 0 },
            ts: row.col::<PgSeconds>(0).map_err(get)?.0,
            kind,
            reason,
            count: u32::try_from(row.col::<i32>(3).map_err(get)?).unwrap_or(0).max(1),
            ip: IpKey::of(row.col(4).map_err(get)?),
            server: TextId(0),
            service: text(5)?.unwrap_or(TextId(0)),
            username: text(6)?,
            mechanism: None,
            logged_hostname: None,
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
        let rows = self.query(
            "reading the failures of the shown addresses and accounts",
            &format!(
                "{EVENT_SELECT} WHERE ts >= to_timestamp($1) AND ts < to_timestamp($2) AND kind = 1
                   AND (ip = ANY($3) OR username = ANY($4))"
            ),
            &[&seconds(start), &seconds(end), &addrs, &names],
        )?;
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
        let rows = self.query("reading the enrichment", "SELECT EXISTS (SELECT 1 FROM mls_ip_info)", &[])?;
        Ok(rows.first().is_some_and(|r| r.get(0)))
    }

    /// When each of `ips` was first seen by any server (Unix seconds).
    pub fn first_seen(&self, ips: &[IpKey]) -> Result<Vec<Option<i64>>> {
        let addrs: Vec<IpAddr> = ips.iter().map(|k| k.addr()).collect();
        let rows = self.query(
            "reading when addresses were first seen",
            "SELECT ip, extract(epoch FROM first_seen)::bigint FROM mls_ip_history WHERE ip = ANY($1)",
            &[&addrs],
        )?;
        let found: HashMap<IpAddr, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(addrs.iter().map(|ip| found.get(ip).copied()).collect())
    }

    /// What the servers' enrichment found of each of `ips`.
    pub fn ip_infos(&self, ips: &[IpKey]) -> Result<Vec<Option<IpInfo>>> {
        let addrs: Vec<IpAddr> = ips.iter().map(|k| k.addr()).collect();
        let rows = self.query(
            "reading the enrichment",
            "SELECT ip, hostname, rdns_status, country_code, asn, aso FROM mls_ip_info WHERE ip = ANY($1)",
            &[&addrs],
        )?;
        let mut found: HashMap<IpAddr, IpInfo> = rows
            .iter()
            .map(|r| {
                let info = IpInfo {
                    hostname: r.get(1),
                    rdns_status: r.get::<_, Option<&str>>(2).and_then(RdnsStatus::parse),
                    country_code: r.get(3),
                    asn: r.get::<_, Option<i64>>(4).and_then(|a| u32::try_from(a).ok()),
                    aso: r.get(5),
                    resolved_at: None,
                };
                (r.get(0), info)
            })
            .collect();
        Ok(addrs.iter().map(|ip| found.remove(ip)).collect())
    }

    /// The addresses account `user` first logged in from before `before`, on any server.
    pub fn earlier_login_ips(&self, user: TextId, before: i64) -> Result<Vec<IpAddr>> {
        let rows = self.query(
            "reading the account's earlier logins",
            "SELECT ip FROM mls_logins WHERE username = $1 AND first_login < to_timestamp($2)",
            &[&self.text(user), &seconds(before)],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// What the database knows of server `name`; `None` before its first shipment.
    pub fn server_status(&self, name: &str) -> Result<Option<ServerStatus>> {
        let rows = self.query(
            "reading the server's shipments",
            "SELECT extract(epoch FROM first_shipment)::bigint, extract(epoch FROM last_shipment)::bigint,
                    shipped_events FROM mls_servers WHERE name = $1",
            &[&name],
        )?;
        Ok(rows.first().map(|r| ServerStatus {
            first_shipment: r.get(0),
            last_shipment: r.get(1),
            shipped_events: r.get::<_, i64>(2) as u64,
        }))
    }

    /// Every server that ever shipped, by name.
    pub fn servers(&self) -> Result<Vec<ServerInfo>> {
        let rows = self.query(
            "reading the servers",
            "SELECT id, name, extract(epoch FROM last_shipment)::bigint FROM mls_servers ORDER BY name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| ServerInfo { id: r.get::<_, i32>(0) as u32, name: r.get(1), last_shipment: r.get(2) })
            .collect())
    }

    /// Holds one read-only transaction on the connection while the guard lives, so that the
    /// reads of a report see one state of the database while servers ship.
    pub fn snapshot(&self) -> Result<FleetSnapshot<'_>> {
        if self.in_snapshot.replace(true) {
            return Ok(FleetSnapshot { db: None });
        }
        self.rt
            .block_on(async {
                self.client
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(|e| self.error("starting the report's transaction", &e))
            })
            .inspect_err(|_| self.in_snapshot.set(false))?;
        Ok(FleetSnapshot { db: Some(self) })
    }

    /// What the servers' enrichment found of `ip`.
    pub fn ip_info(&self, ip: IpAddr) -> Result<Option<IpInfo>> {
        Ok(self.ip_infos(&[IpKey::of(ip)])?.pop().flatten())
    }
}

/// A read-only transaction of the fleet database, ended when dropped ([`FleetDb::snapshot`]);
/// within one already held, nothing.
pub struct FleetSnapshot<'a> {
    db: Option<&'a FleetDb>,
}

impl Drop for FleetSnapshot<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.db {
            // It only read: its end cannot lose anything, and a broken connection fails the
            // next statement with its own message.
            let _ = db.rt.block_on(db.client.batch_execute("COMMIT"));
            db.in_snapshot.set(false);
        }
    }
}
