//! The JSON report: the [`Report`] value as is, for scripts and dashboards.

use super::Report;

/// Renders the report as pretty-printed JSON.
pub fn render(r: &Report) -> String {
    // Serialising plain structs of strings and numbers cannot fail; keep a message just in case.
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise report: {e}\"}}"))
}
