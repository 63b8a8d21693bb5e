//! Exports for other tools: the blocklist of a period's attackers, for a firewall to load, and the
//! Prometheus textfile.
//!
//! [`blocklist`] chooses the addresses (from the store's read API, with the report's rule for
//! possible compromises) and [`formats`] writes them for `nft -f`, `ipset restore`, as plain lines
//! or as JSON. Nothing here touches a firewall: the files are loaded by the admin's own units.
//! [`metrics`] renders what the store knows for node_exporter's textfile collector.

pub mod blocklist;
pub mod formats;
pub mod metrics;
