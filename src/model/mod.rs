//! The model every stage shares, at the bottom of the module graph: it depends on no stage.
//!
//! [`event`] is what a log line says happened (parsed, interned, owned and keyed forms),
//! [`symbols`] interns the texts events refer to, and [`ipinfo`] is what enrichment learns about
//! an address; [`alert`] is what an alert rule found. Stages above pass these values along; none of them reaches back up.

pub mod alert;
pub mod event;
pub mod ipinfo;
pub mod symbols;
