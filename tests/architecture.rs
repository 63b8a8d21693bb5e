//! Keeps the module graph one-way, as `ARCHITECTURE.md` draws it.
//!
//! The crate is a pipeline: `source → parse → correlate → enrich → store → report → export → deliver`,
//! with `scan` wiring the scan's stages, `watch` keeping a scan going, and `cli` at the edge. A module may use the modules
//! below it, never one above: an edge back up the list is how cycles start, and with them the
//! question "where does this change go?" loses its single answer. This test reads every
//! `crate::` path in `src/` (comments excluded) and fails on such an edge, naming the file and
//! line. It also fails on two files of one folder that use each other.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use its own layer's modules only if the pair is in
/// [`SAME_LAYER`], and any module of a lower layer.
const LAYERS: &[&[&str]] = &[
    // What every stage shares: the event model, making text safe to show, and the typed
    // settings (parsed once at the edge, read by the stages they configure).
    &["model", "text"],
    &["config"],
    &["source"],
    &["parse"],
    &["correlate"],
    &["enrich"],
    &["store"],
    &["report"],
    // Many servers, one PostgreSQL database: shipping from the store, the report across them.
    &["fleet"],
    // Files for other tools (the blocklist, the Prometheus textfile), from the store and the report's rules.
    &["export"],
    // Alert rules evaluated on the events of each commit, queued in the store's outbox.
    &["alert"],
    // Sends what the layers above made: reports by email, alerts by email and webhook.
    &["deliver"],
    // Wires the stages of a scan...
    &["scan"],
    // ...and keeps one going as the logs grow.
    &["watch"],
    // The command line: every command, `setup` included.
    &["cli"],
];

/// Uses within one layer that are allowed: (user, used).
const SAME_LAYER: &[(&str, &str)] = &[("model", "text")];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        fs::read_dir(dir).expect("src/ is readable").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/store/csv.rs` → `["store", "csv"]`, `src/store/mod.rs` →
/// `["store"]`, `src/lib.rs` → `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).expect("under src/");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// Code without comments: `//` to the end of the line (doc comments included) and `/* */`.
fn strip_comments(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let mut out = String::new();
        let mut rest = line;
        loop {
            if in_block {
                match rest.find("*/") {
                    Some(i) => {
                        rest = &rest[i + 2..];
                        in_block = false;
                    }
                    None => break,
                }
            } else {
                let line_comment = rest.find("//");
                let block = rest.find("/*");
                match (line_comment, block) {
                    (Some(l), b) if b.is_none_or(|b| l < b) => {
                        out.push_str(&rest[..l]);
                        break;
                    }
                    (_, Some(b)) => {
                        out.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block = true;
                    }
                    _ => {
                        out.push_str(rest);
                        break;
                    }
                }
            }
        }
        lines.push(out);
    }
    lines
}

/// The paths a line names from the crate root: `crate::a::b::{c, d}` gives `[a, b]` (the part
/// before any brace is enough to find the file), `super::x` is resolved against `module`.
fn crate_paths(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let (prefix_len, mut base) = if rest.starts_with("crate::") {
            (7, Vec::new())
        } else if rest.starts_with("super::") {
            // `super` of `a::b` is `a`, whether `a::b` is `a/b.rs` or `a/b/mod.rs`.
            let mut base = module.to_vec();
            base.pop();
            (7, base)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':') {
            i += prefix_len;
            continue;
        }
        let mut j = i + prefix_len;
        let mut grouped = false;
        loop {
            let start = j;
            while j < line.len() && ident(bytes[j]) {
                j += 1;
            }
            if j == start {
                // `crate::{a::X, b}`: each name of the group is a path of its own.
                if line[j..].starts_with('{') {
                    let group = &line[j + 1..line[j..].find('}').map_or(line.len(), |k| j + k)];
                    grouped = true;
                    for item in group.split(',') {
                        let name: String =
                            item.trim().chars().take_while(|&c| c.is_ascii_alphanumeric() || c == '_').collect();
                        if !name.is_empty() && name != "self" {
                            let mut path = base.clone();
                            path.push(name);
                            found.push(path);
                        }
                    }
                }
                break;
            }
            let segment = &line[start..j];
            if segment == "super" {
                base.pop();
            } else {
                base.push(segment.to_string());
            }
            if line[j..].starts_with("::") {
                j += 2;
            } else {
                break;
            }
        }
        if !base.is_empty() && !grouped {
            found.push(base);
        }
        i = j.max(i + 1);
    }
    found
}

/// The name of an inline module opened on this line: `mod tests {`, `pub(crate) mod x {`.
fn inline_module(line: &str) -> Option<String> {
    let rest = line.trim_start();
    let rest = rest.strip_prefix("pub(crate) ").or_else(|| rest.strip_prefix("pub ")).unwrap_or(rest);
    let rest = rest.strip_prefix("mod ")?;
    let name: String = rest.chars().take_while(|&c| c.is_ascii_alphanumeric() || c == '_').collect();
    rest[name.len()..].trim_start().starts_with('{').then_some(name)
}

struct Edge {
    from_file: PathBuf,
    line: usize,
    to_module: Vec<String>,
}

fn edges() -> (Vec<PathBuf>, Vec<Edge>) {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut edges = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source file is UTF-8");
        let file_module = module_of(file);
        // Inline modules (`mod tests { ... }`) open a module of their own inside the file, which
        // `super::` is relative to: (name, brace depth at which it closes).
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        for (n, line) in strip_comments(&text).iter().enumerate() {
            let mut module = file_module.clone();
            module.extend(inline.iter().map(|(name, _)| name.clone()));
            for path in crate_paths(line, &module) {
                edges.push(Edge { from_file: file.clone(), line: n + 1, to_module: path });
            }
            if let Some(name) = inline_module(line) {
                inline.push((name, depth));
            }
            for c in line.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth = depth.saturating_sub(1);
                        if inline.last().is_some_and(|&(_, d)| d == depth) {
                            inline.pop();
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (files, edges)
}

fn rel(file: &Path) -> String {
    file.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_or(file).display().to_string()
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let (files, edges) = edges();
    assert!(files.len() > 20, "found the sources");
    let mut problems = Vec::new();
    let mut unknown = BTreeSet::new();
    for e in &edges {
        let from = module_of(&e.from_file);
        let (Some(from_top), Some(to_top)) = (from.first(), e.to_module.first()) else { continue };
        if from_top == to_top || matches!(from_top.as_str(), "lib" | "main") {
            continue;
        }
        let (Some(a), Some(b)) = (rank(from_top), rank(to_top)) else {
            unknown.insert(if rank(from_top).is_none() { from_top.clone() } else { to_top.clone() });
            continue;
        };
        let allowed = b < a || (a == b && SAME_LAYER.contains(&(from_top.as_str(), to_top.as_str())));
        if !allowed {
            problems.push(format!(
                "{}:{}: `{from_top}` uses `crate::{}`, which is not below it",
                rel(&e.from_file),
                e.line,
                e.to_module.join("::")
            ));
        }
    }
    assert!(unknown.is_empty(), "modules missing from LAYERS in tests/architecture.rs: {unknown:?}");
    assert!(problems.is_empty(), "edges running back up the pipeline:\n{}", problems.join("\n"));
}

/// The file a module path ends in, if any: the longest prefix of `path` that is a file.
fn file_of(path: &[String], files: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let dir: PathBuf = path[..n].iter().fold(src_dir(), |d, p| d.join(p));
        let as_file = dir.with_extension("rs");
        let as_folder = dir.join("mod.rs");
        [as_file, as_folder].into_iter().find(|f| files.contains(f))
    })
}

#[test]
fn no_two_files_of_a_folder_use_each_other() {
    let (files, edges) = edges();
    let files: BTreeSet<PathBuf> = files.into_iter().collect();
    // (file, file it uses) → first line of such a use.
    let mut uses: BTreeMap<(PathBuf, PathBuf), usize> = BTreeMap::new();
    for e in &edges {
        if let Some(to) = file_of(&e.to_module, &files)
            && to != e.from_file
        {
            uses.entry((e.from_file.clone(), to)).or_insert(e.line);
        }
    }
    let mut problems = Vec::new();
    for ((a, b), line) in &uses {
        // Siblings only: a folder's `mod.rs` (or `foo.rs` beside `foo/`) and its children may
        // use each other, as a module and its private parts do.
        let siblings = a.parent() == b.parent()
            && a.file_name() != Some("mod.rs".as_ref())
            && b.file_name() != Some("mod.rs".as_ref());
        let parent_file = |x: &Path, y: &Path| y.parent().is_some_and(|p| p.with_extension("rs") == x);
        if a < b
            && siblings
            && !parent_file(a, b)
            && !parent_file(b, a)
            && let Some(back) = uses.get(&(b.clone(), a.clone()))
        {
            problems.push(format!("{}:{line} and {}:{back} use each other", rel(a), rel(b)));
        }
    }
    assert!(
        problems.is_empty(),
        "files that use each other (move what both need below them):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_path_reader_finds_crate_and_super_paths() {
    let module = vec!["store".to_string(), "csv".to_string()];
    assert_eq!(
        crate_paths("use crate::model::event::{Event, Kind}; let x = super::blocks::Row;", &module),
        vec![vec!["model", "event", "Event"], vec!["model", "event", "Kind"], vec!["store", "blocks", "Row"]]
    );
    assert_eq!(crate_paths("use crate::{report, cli::Cli};", &module), vec![vec!["report"], vec!["cli"]]);
    assert_eq!(crate_paths("use maillogsentinel::report; fn f() {}", &module), Vec::<Vec<String>>::new());
    assert_eq!(strip_comments("let a = 1; // crate::report\n/* crate::cli */ let b;"), vec!["let a = 1; ", " let b;"]);
}
