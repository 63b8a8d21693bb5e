//! Interned text: each distinct server, service, username, mechanism and hostname of a scan is
//! kept once, and events refer to it by number.
//!
//! A gigabyte of log holds about a million events but only thousands of distinct texts, so the
//! parser thread turns each text into a [`Sym`] (one hash lookup, usually on the raw bytes of the
//! line, so that a known text is neither copied nor escaped again) and events stay small `Copy`
//! values. The store thread receives each new text once, with the batch that first uses it.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::text::{visible, visible_upper};

/// A text's number in its [`Symbols`] table.
pub type Sym = u32;

/// A table of interned texts. Texts are stored made visible ([`crate::text::visible`]).
#[derive(Debug, Default)]
pub struct Symbols {
    strings: Vec<Arc<str>>,
    by_text: HashMap<Arc<str>, Sym, RandomState>,
    /// Raw bytes as logged → the symbol of their visible form.
    raw: RawSyms,
    /// Raw bytes as logged → the symbol of their visible, upper-cased form (mechanisms).
    raw_upper: RawSyms,
    /// Service names with a parser-added prefix: prefix → name as logged → symbol, so that a
    /// known name is found without building the whole name.
    prefixed: HashMap<&'static [u8], RawSyms, RandomState>,
}

/// Raw bytes as logged → a symbol.
type RawSyms = HashMap<Box<[u8]>, Sym, RandomState>;

impl Symbols {
    /// An empty table.
    pub fn new() -> Symbols {
        Symbols::default()
    }

    /// The symbol of `text`, which is already visible (configuration, saved state).
    pub fn text(&mut self, text: &str) -> Sym {
        if let Some(&sym) = self.by_text.get(text) {
            return sym;
        }
        let sym = Sym::try_from(self.strings.len()).unwrap_or(Sym::MAX);
        let text: Arc<str> = Arc::from(text);
        self.strings.push(Arc::clone(&text));
        self.by_text.insert(text, sym);
        sym
    }

    /// The symbol of `raw` as logged, made visible.
    pub fn visible(&mut self, raw: &[u8]) -> Sym {
        self.intern_raw(raw, false)
    }

    /// The symbol of `raw` as logged, made visible and upper-cased (SASL mechanisms).
    pub fn visible_upper(&mut self, raw: &[u8]) -> Sym {
        self.intern_raw(raw, true)
    }

    /// A known raw text costs one lookup; a new one is made visible once.
    fn intern_raw(&mut self, raw: &[u8], upper: bool) -> Sym {
        let cache = if upper { &self.raw_upper } else { &self.raw };
        if let Some(&sym) = cache.get(raw) {
            return sym;
        }
        let sym = self.text(&if upper { visible_upper(raw) } else { visible(raw) });
        let cache = if upper { &mut self.raw_upper } else { &mut self.raw };
        cache.insert(raw.into(), sym);
        sym
    }

    /// The symbol of a name made of a fixed prefix the parser adds (`dovecot/`) and a name as
    /// logged, so that a known name is found without building the whole name.
    pub fn prefixed(&mut self, prefix: &'static [u8], name: &[u8]) -> Sym {
        if prefix.is_empty() {
            return self.visible(name);
        }
        if let Some(&sym) = self.prefixed.get(prefix).and_then(|names| names.get(name)) {
            return sym;
        }
        let sym = self.text(&visible(&[prefix, name].concat()));
        self.prefixed.entry(prefix).or_default().insert(name.into(), sym);
        sym
    }

    /// The text of `sym` (empty for a number this table never gave out).
    pub fn get(&self, sym: Sym) -> &str {
        self.strings.get(sym as usize).map_or("", |s| s)
    }

    /// How many texts the table holds; symbols are `0..len`.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// The texts of symbols `start..`, in order: what a batch sends to the store.
    pub fn since(&self, start: usize) -> &[Arc<str>] {
        self.strings.get(start..).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_visible_texts_share_symbols() {
        let mut s = Symbols::new();
        let a = s.visible(b"bob");
        assert_eq!(s.visible(b"bob"), a);
        assert_eq!(s.text("bob"), a);
        let esc = s.visible(b"e\x1bvil");
        assert_eq!(s.get(esc), "e\\x1Bvil");
        // The visible text of a raw escape is not the same symbol as that text typed literally.
        assert_ne!(s.visible(b"e\\x1Bvil"), esc);
        let login = s.visible_upper(b"login");
        assert_eq!(s.visible_upper(b"LOGIN"), login);
        assert_eq!(s.get(login), "LOGIN");
        assert_eq!(s.len(), 4);
        assert_eq!(s.since(2).len(), 2);
        let imap = s.prefixed(b"dovecot/", b"imap-login");
        assert_eq!(imap, s.text("dovecot/imap-login"));
        assert_eq!(s.prefixed(b"dovecot/", b"imap-login"), imap, "found again without building the name");
        assert_ne!(s.prefixed(b"dovecot/", b"pop3-login"), imap);
    }
}
