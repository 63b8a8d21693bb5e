//! `maillogsentinel fleet`: the shared PostgreSQL database of many servers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::scan::counted;
use super::{EXIT_CONFIG, EXIT_FLEET, EXIT_STORE, thousands};
use crate::config::{Config, Duration};
use crate::fleet::{self, ShipError};
use crate::store::postgres::{FleetDb, FleetError, schema};
use crate::store::{STORE_FILE, Store};

/// Options of `fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// Output formats of `fleet status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for a person.
    Text,
    /// One object.
    Json,
}

/// `fleet` subcommands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Create the fleet database's tables, or migrate them to this build's schema (run as the
    /// role that is to own them).
    Init,
    /// Ship the events this server stored and the fleet database does not hold yet (`scan` and
    /// `watch` also do it).
    Ship {
        /// Directory holding the store. Default: `data_dir` from the config.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// This server's backlog, its last shipment and the database's schema version.
    Status {
        /// Directory holding the store. Default: `data_dir` from the config.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Drop the months of events older than DURATION (whole monthly partitions), e.g. 400d.
    Prune {
        /// Age of the oldest events kept (a month is dropped once all of it is older).
        #[arg(long, value_name = "DURATION", value_parser = super::report::parse_since)]
        older_than: Duration,
    },
}

/// Runs `fleet` and returns the exit code.
pub fn run(args: FleetArgs, config: &Config) -> ExitCode {
    let result = match args.command {
        FleetCommand::Init => init(config),
        FleetCommand::Ship { data_dir } => ship(config, data_dir),
        FleetCommand::Status { data_dir, format } => status(config, data_dir, format),
        FleetCommand::Prune { older_than } => prune(config, older_than),
    };
    match result {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("maillogsentinel: error: {message}");
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<ExitCode, (u8, String)>;

/// The exit code of a fleet database error: 3 for `[fleet]` itself, 8 for the database.
fn fleet_failed(e: FleetError) -> (u8, String) {
    let code = if matches!(e, FleetError::Config(_)) { EXIT_CONFIG } else { EXIT_FLEET };
    (code, e.to_string())
}

fn connect(config: &Config) -> Result<FleetDb, (u8, String)> {
    FleetDb::connect(&config.fleet).map_err(fleet_failed)
}

fn init(config: &Config) -> Outcome {
    let mut db = connect(config)?;
    let done = db.migrate().map_err(fleet_failed)?;
    if done.from == done.to {
        println!("fleet: {} is at schema version {}: nothing to do", db.url(), done.to);
    } else if done.from == 0 {
        println!("fleet: created the tables of schema version {} in {}", done.to, db.url());
    } else {
        println!("fleet: migrated {} from schema version {} to {}", db.url(), done.from, done.to);
    }
    Ok(ExitCode::SUCCESS)
}

fn open_store(config: &Config, data_dir: Option<PathBuf>) -> Result<Store, (u8, String)> {
    let path = data_dir.unwrap_or_else(|| config.data_dir.clone()).join(STORE_FILE);
    Store::open(&path).map_err(|e| (EXIT_STORE, format!("cannot open the store {}: {e}", path.display())))
}

fn ship(config: &Config, data_dir: Option<PathBuf>) -> Outcome {
    let store = open_store(config, data_dir)?;
    let mut db = connect(config)?;
    match fleet::ship(&store, &mut db, &config.server_name, config.fleet.batch) {
        Ok(shipped) => {
            println!(
                "fleet: shipped {} as {} ({} new to the database) in {}",
                counted(shipped.sent, "event"),
                config.server_name,
                thousands(shipped.inserted),
                counted(shipped.shipments, "shipment")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ShipError::Store(e)) => Err((EXIT_STORE, format!("cannot read the store: {e}"))),
        Err(e @ ShipError::Fleet(_)) => Err((EXIT_FLEET, fleet::warning(&store, &e))),
    }
}

/// `fleet status` as JSON.
#[derive(Serialize)]
struct Status {
    server: String,
    database: String,
    backlog_events: u64,
    backlog_blocks: u64,
    reachable: bool,
    error: Option<String>,
    schema_version: Option<i64>,
    build_schema_version: i64,
    first_shipment: Option<String>,
    last_shipment: Option<String>,
    shipped_events: Option<u64>,
}

fn status(config: &Config, data_dir: Option<PathBuf>, format: Format) -> Outcome {
    let store = open_store(config, data_dir)?;
    let (events, blocks) = store.ship_backlog().map_err(|e| (EXIT_STORE, format!("cannot read the store: {e}")))?;
    let Some(url) = &config.fleet.url else {
        return Err((EXIT_CONFIG, FleetError::Config("no [fleet] url in the configuration".into()).to_string()));
    };
    let mut s = Status {
        server: config.server_name.clone(),
        database: url.redacted().to_string(),
        backlog_events: events,
        backlog_blocks: blocks,
        reachable: false,
        error: None,
        schema_version: None,
        build_schema_version: schema::VERSION,
        first_shipment: None,
        last_shipment: None,
        shipped_events: None,
    };
    let when = |t: i64| jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default();
    match FleetDb::connect(&config.fleet).and_then(|db| Ok((db.schema_version()?, db))) {
        Ok((version, db)) => {
            s.reachable = true;
            s.schema_version = Some(version);
            if version == schema::VERSION {
                match db.server_status(&config.server_name) {
                    Ok(Some(st)) => {
                        s.first_shipment = Some(when(st.first_shipment));
                        s.last_shipment = st.last_shipment.map(when);
                        s.shipped_events = Some(st.shipped_events);
                    }
                    Ok(None) => {}
                    Err(e) => s.error = Some(e.to_string()),
                }
            } else if let Err(e) = db.check_version() {
                s.error = Some(e.to_string());
            }
        }
        Err(e) => s.error = Some(e.to_string()),
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default()),
        Format::Text => {
            println!("server:          {}", s.server);
            println!("database:        {}", s.database);
            println!(
                "backlog:         {} in {} not shipped",
                counted(s.backlog_events, "event"),
                counted(blocks, "block")
            );
            match s.schema_version {
                Some(v) => println!("schema version:  {v} (this build: {})", s.build_schema_version),
                None => println!("schema version:  unknown (unreachable)"),
            }
            if s.reachable && s.error.is_none() {
                println!("last shipment:   {}", s.last_shipment.clone().unwrap_or_else(|| "never".into()));
                if let Some(n) = s.shipped_events {
                    println!("shipped events:  {}", thousands(n));
                }
            }
        }
    }
    match s.error {
        Some(e) => Err((EXIT_FLEET, e)),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn prune(config: &Config, older_than: Duration) -> Outcome {
    let mut db = connect(config)?;
    db.check_version().map_err(fleet_failed)?;
    let before = jiff::Timestamp::now().as_second().saturating_sub(older_than.as_secs() as i64);
    let dropped = db.prune(before).map_err(fleet_failed)?;
    if dropped.is_empty() {
        println!("fleet: no month of events is entirely older than {older_than}");
    } else {
        println!("fleet: dropped {} ({})", counted(dropped.len() as u64, "month partition"), dropped.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
