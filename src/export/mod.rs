//! What the store knows, written for other programs to collect: the Prometheus textfile
//! ([`metrics`]). Reads the store's typed API only; knows nothing of how a scan runs.

pub mod metrics;
