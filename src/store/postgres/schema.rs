//! The fleet database's tables, as versioned migrations: `migrations/NNNN_*.sql`, applied in
//! order by `fleet init`, each once, in one transaction with the version they bring the database
//! to. A database of a newer version is refused; shipping and reports need the version of their
//! build.

use super::{FleetDb, FleetError, Result};

/// The migrations, in order: the database is at version `n` when the first `n` are applied.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_events", include_str!("migrations/0001_events.sql")),
    ("0002_names", include_str!("migrations/0002_names.sql")),
];

/// A migration's SQL for `schema`, with the tables of names this build knows filled in.
fn sql(migration: &str, schema: &str) -> String {
    let reasons: Vec<String> = crate::model::event::Reason::ALL
        .iter()
        .map(|r| format!("({}, '{}')", r.code(), r.as_str().replace('\'', "''")))
        .collect();
    migration.replace("@SCHEMA@", schema).replace("@REASONS@", &reasons.join(", "))
}

/// The schema version this build writes and reads.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// What `fleet init` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The version found (0: an empty database).
    pub from: i64,
    /// The version now.
    pub to: i64,
}

/// The version recorded in `mls_meta`, 0 without the table.
async fn version(client: &impl tokio_postgres::GenericClient) -> std::result::Result<i64, tokio_postgres::Error> {
    let exists: bool = client.query_one("SELECT to_regclass('mls_meta') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT value FROM mls_meta WHERE key = 'schema_version'", &[]).await?;
    Ok(row.and_then(|r| r.get::<_, String>(0).parse().ok()).unwrap_or(0))
}

impl FleetDb {
    /// The database's schema version (0 when it has no MailLogSentinel tables).
    pub fn schema_version(&self) -> Result<i64> {
        self.rt
            .block_on(async { version(&self.client).await.map_err(|e| self.error("reading the schema version", &e)) })
    }

    /// Refuses a database whose schema is not this build's, saying what to run.
    pub fn check_version(&self) -> Result<()> {
        let found = self.schema_version()?;
        let message = match found {
            v if v == VERSION => return Ok(()),
            0 => "has no MailLogSentinel tables: run `maillogsentinel fleet init` once, as the role that is to own \
                  them (README, \"A fleet of servers\")"
                .to_string(),
            v if v < VERSION => format!(
                "is at schema version {v}, this build needs {VERSION}: run `maillogsentinel fleet init` (as the \
                 tables' owner) to migrate it"
            ),
            v => format!(
                "is at schema version {v}, newer than this build's {VERSION}: upgrade maillogsentinel on this server"
            ),
        };
        Err(FleetError::Schema { url: self.url.clone(), message })
    }

    /// Creates the tables, or brings them up to [`VERSION`].
    pub fn migrate(&mut self) -> Result<Migrated> {
        self.rt.block_on(async {
            let url = self.url.clone();
            let err = |what, e: &tokio_postgres::Error| super::query_error(&url, what, e);
            let tx = self.client.transaction().await.map_err(|e| err("starting the migration", &e))?;
            // Two `fleet init` at once: the second waits, then finds the work done.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('mls_events migrations'))", &[])
                .await
                .map_err(|e| err("locking the schema", &e))?;
            let row = tx
                .query_one("SELECT quote_ident(current_schema())", &[])
                .await
                .map_err(|e| err("reading the schema", &e))?;
            let schema: Option<String> = row.get(0);
            let Some(schema) = schema else {
                return Err(FleetError::Schema {
                    url: url.clone(),
                    message: "no schema to create the tables in: the role's search_path names none that exists".into(),
                });
            };
            let from = version(&tx).await.map_err(|e| err("reading the schema version", &e))?;
            if from > VERSION {
                return Err(FleetError::Schema {
                    url: url.clone(),
                    message: format!(
                        "is at schema version {from}, newer than this build's {VERSION}: use a newer maillogsentinel"
                    ),
                });
            }
            for (_, migration) in MIGRATIONS.iter().skip(from as usize) {
                tx.batch_execute(&sql(migration, &schema)).await.map_err(|e| err("applying a migration", &e))?;
            }
            tx.execute(
                "INSERT INTO mls_meta (key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&VERSION.to_string()],
            )
            .await
            .map_err(|e| err("recording the schema version", &e))?;
            tx.commit().await.map_err(|e| err("committing the migration", &e))?;
            Ok(Migrated { from, to: VERSION })
        })
    }
}

impl FleetDb {
    /// Drops the month partitions of events that end at or before `before` (Unix seconds): whole
    /// months, so that nothing is deleted row by row. Returns the partitions' names.
    pub fn prune(&mut self, before: i64) -> Result<Vec<String>> {
        let rows = self.query("dropping old partitions", "SELECT mls_prune(to_timestamp($1))", &[&(before as f64)])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// The SQL of migration `version` (from 1), with the schema it is applied into: for tests that
/// build a database of an older version.
pub fn migration_sql(version: usize, schema: &str) -> Option<String> {
    MIGRATIONS.get(version.checked_sub(1)?).map(|(_, migration)| sql(migration, schema))
}
