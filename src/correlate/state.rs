//! The correlator's state kept across scans: saved as JSON with the checkpoints, so that a scan
//! stopped between two lines of one attempt still counts it once (rule 8).

use serde::{Deserialize, Serialize};

use super::Correlator;
use super::records::due;
use crate::model::symbols::{Sym, Symbols};

/// What [`Correlator::snapshot`] saves: the state, with the symbols of its pending events
/// renumbered into `strings` (symbol numbers only mean something within one scan).
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Saved {
    state: Correlator,
    strings: Vec<String>,
}

impl Correlator {
    /// Restores the state saved by [`Correlator::snapshot`], interning its texts in `symbols`.
    pub fn restore(state: &[u8], symbols: &mut Symbols) -> Result<Correlator, serde_json::Error> {
        let saved: Saved = serde_json::from_slice(state)?;
        let mut c = saved.state;
        let syms: Vec<Sym> = saved.strings.iter().map(|s| symbols.text(s)).collect();
        // A number outside the saved table (a corrupt state) reads as the first symbol rather
        // than failing the scan; the state is our own file.
        let remap = |s: Sym| syms.get(s as usize).copied().unwrap_or(0);
        for (ip, records) in &mut c.ips {
            for e in records.iter_mut().filter_map(|r| r.pending.as_mut()) {
                e.map_syms(remap);
            }
            records.sort_by_key(|r| (r.time, r.seq));
            for r in records.iter().filter(|r| r.pending.is_some()) {
                c.pending.insert((due(r.origin, r.time, c.window_ms), r.seq), (*ip, r.time));
            }
            if let Some(last) = records.last() {
                c.next_seq = c.next_seq.max(last.seq + 1);
            }
        }
        Ok(c)
    }

    /// The state to save with the checkpoints; `symbols` holds the texts of pending events.
    pub fn snapshot(&self, symbols: &Symbols) -> Vec<u8> {
        let mut state = self.clone();
        // Texts in sorted order, so that equal states give equal snapshots whatever the symbol
        // numbers and the map order.
        let mut texts = std::collections::BTreeMap::new();
        for e in state.ips.values().flatten().filter_map(|r| r.pending.as_ref()) {
            let mut e = *e;
            e.map_syms(|s| {
                texts.insert(symbols.get(s), 0);
                s
            });
        }
        for (i, n) in texts.values_mut().enumerate() {
            *n = i as Sym;
        }
        for e in state.ips.values_mut().flatten().filter_map(|r| r.pending.as_mut()) {
            e.map_syms(|s| texts.get(symbols.get(s)).copied().unwrap_or(0));
        }
        let strings = texts.into_keys().map(str::to_string).collect();
        serde_json::to_vec(&Saved { state, strings }).expect("correlator state serializes")
    }
}
