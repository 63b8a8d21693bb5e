//! One shipment, in one transaction: the months' partitions made sure of, the events copied in
//! binary into a temporary table and inserted from it with `ON CONFLICT DO NOTHING` (a shipment
//! repeated after a crash, or two shipments of one server at once, store each event once), what
//! enrichment knows of the addresses, and the server's shipment count.

use std::net::IpAddr;
use std::pin::pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{FleetDb, FleetError, Result};
use crate::store::Shipment;

/// What a shipment did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shipped {
    /// Events sent.
    pub sent: u64,
    /// Of those, events the database did not hold yet.
    pub inserted: u64,
}

/// The temporary table a shipment is copied into, made once per connection.
const INCOMING: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS mls_incoming (
    source bigint, \"offset\" bigint, ts bigint, kind smallint, reason smallint, attempts integer, ip inet,
    host text, service text, username text, mechanism text, logged_hostname text
) ON COMMIT DELETE ROWS";

const COLUMNS: [Type; 12] = [
    Type::INT8,
    Type::INT8,
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
];

/// Times of a month, for its partition: one per distinct month (UTC) of the events.
fn months(shipment: &Shipment) -> Vec<std::time::SystemTime> {
    let mut months: Vec<i64> = shipment.events.iter().map(|e| month_of(e.ts)).collect();
    months.sort_unstable();
    months.dedup();
    months
        .into_iter()
        .map(|ts| {
            if ts >= 0 {
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(ts as u64)
            } else {
                std::time::UNIX_EPOCH - std::time::Duration::from_secs(ts.unsigned_abs())
            }
        })
        .collect()
}

/// The first second of the UTC month of `ts`.
fn month_of(ts: i64) -> i64 {
    let Ok(t) = jiff::Timestamp::from_second(ts) else { return ts };
    let date = jiff::tz::TimeZone::UTC.to_datetime(t).date();
    date.first_of_month().to_zoned_datetime(jiff::tz::TimeZone::UTC).map_or(ts, |z| z.timestamp().as_second())
}

/// PostgreSQL's text cannot hold NUL: an attacker's NUL in a user name becomes U+FFFD.
fn pg_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') { std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { std::borrow::Cow::Borrowed(s) }
}

impl FleetDb {
    /// Stores `shipment` as server `server`'s, once; tries again (up to three times) when the
    /// database reports a deadlock with another server's shipment.
    pub fn ship(&mut self, server: &str, shipment: &Shipment) -> Result<Shipped> {
        let mut tries = 0;
        loop {
            match self.ship_once(server, shipment) {
                Err(FleetError::Query { transient: true, .. }) if tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    fn ship_once(&mut self, server: &str, shipment: &Shipment) -> Result<Shipped> {
        let url = self.url.clone();
        let err = |what, e: &tokio_postgres::Error| super::query_error(&url, what, e);
        let texts: Vec<std::borrow::Cow<'_, str>> = shipment.texts.iter().map(|t| pg_text(t)).collect();
        let text = |i: u32| texts.get(i as usize).map_or("", |t| t.as_ref());
        let months = months(shipment);
        self.rt.block_on(async {
            self.client.batch_execute(INCOMING).await.map_err(|e| err("creating the temporary table", &e))?;
            let tx = self.client.transaction().await.map_err(|e| err("starting a shipment", &e))?;
            let row = tx
                .query_one("SELECT mls_ship_begin($1, $2)", &[&pg_text(server).as_ref(), &months])
                .await
                .map_err(|e| err("registering the server and its month partitions", &e))?;
            let server_id: i32 = row.get(0);
            let sink = tx
                .copy_in("COPY mls_incoming FROM STDIN (FORMAT binary)")
                .await
                .map_err(|e| err("starting the copy of the events", &e))?;
            let mut writer = pin!(BinaryCopyInWriter::new(sink, &COLUMNS));
            for e in &shipment.events {
                let kind = i16::from(e.kind);
                let reason = i16::from(e.reason);
                let count = i32::try_from(e.count).unwrap_or(i32::MAX);
                let (host, service) = (text(e.host), text(e.service));
                let (username, mechanism, logged) =
                    (e.username.map(text), e.mechanism.map(text), e.logged_hostname.map(text));
                let row: [&(dyn ToSql + Sync); 12] = [
                    &e.source, &e.offset, &e.ts, &kind, &reason, &count, &e.ip, &host, &service, &username, &mechanism,
                    &logged,
                ];
                writer.as_mut().write(&row).await.map_err(|e| err("copying the events", &e))?;
            }
            let sent = writer.finish().await.map_err(|e| err("copying the events", &e))?;
            let inserted = tx
                .execute(
                    "INSERT INTO mls_events (server, source, \"offset\", ts, kind, reason, attempts, ip, host, service,
                                             username, mechanism, logged_hostname)
                     SELECT $1, source, \"offset\", to_timestamp(ts), kind, reason, attempts, ip, host, service,
                            username, mechanism, logged_hostname
                     FROM mls_incoming
                     ON CONFLICT DO NOTHING",
                    &[&server_id],
                )
                .await
                .map_err(|e| err("inserting the events", &e))?;
            let infos: Vec<_> = shipment.ips.iter().filter_map(|(ip, info)| Some((*ip, info.as_ref()?))).collect();
            if !infos.is_empty() {
                let ips: Vec<IpAddr> = infos.iter().map(|(ip, _)| *ip).collect();
                let owned = |f: &dyn Fn(&crate::model::ipinfo::IpInfo) -> Option<String>| -> Vec<Option<String>> {
                    infos.iter().map(|(_, i)| f(i).map(|s| pg_text(&s).into_owned())).collect()
                };
                let hostnames = owned(&|i| i.hostname.clone());
                let statuses = owned(&|i| i.rdns_status.map(|s| s.as_str().to_string()));
                let countries = owned(&|i| i.country_code.clone());
                let asns: Vec<Option<i64>> = infos.iter().map(|(_, i)| i.asn.map(i64::from)).collect();
                let asos = owned(&|i| i.aso.clone());
                tx.execute(
                    "SELECT mls_put_ip_info($1, $2, $3, $4, $5, $6)",
                    &[&ips, &hostnames, &statuses, &countries, &asns, &asos],
                )
                .await
                .map_err(|e| err("storing what enrichment knows of the addresses", &e))?;
            }
            tx.execute("SELECT mls_ship_end($1, $2)", &[&server_id, &(inserted as i64)])
                .await
                .map_err(|e| err("recording the shipment", &e))?;
            tx.commit().await.map_err(|e| err("committing the shipment", &e))?;
            Ok(Shipped { sent, inserted })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        // 2026-12-07T19:54:06Z
        assert_eq!(month_of(1_796_673_246), 1_796_083_200);
        assert_eq!(month_of(0), 0);
        assert_eq!(pg_text("a\0b"), "a\u{FFFD}b");
    }
}
