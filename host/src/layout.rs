//! The layout rules, checked on the source: no import cycle between the
//! top-level modules of `host/src`, the API reaching the domain only
//! through the core, and no source file over 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules the API must not import: it goes through `core`.
const BEHIND_THE_CORE: [&str; 5] = ["routing", "customers", "conversations", "store", "runtime"];

/// Longest source file, in lines.
const MAX_LINES: usize = 600;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("host/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`routing/dispatch.rs` →
/// `routing`, `config/mod.rs` → `config`, `lib.rs` → `lib`).
fn top_level(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under host/src");
    let first = relative.components().next().expect("a file");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Every top-level module a source names as `crate::<module>`, including
/// inside `use crate::{a, b::c}` groups.
fn imports(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Which top-level modules each one imports.
type Imports = BTreeMap<String, BTreeSet<String>>;

/// The import graph and every source file's length.
fn graph() -> (Imports, Vec<(PathBuf, usize)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut edges = Imports::new();
    let mut lengths = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        let from = top_level(&root, &file);
        let to = edges.entry(from.clone()).or_default();
        to.extend(imports(&source).into_iter().filter(|m| *m != from));
        lengths.push((file, source.lines().count()));
    }
    (edges, lengths)
}

/// A cycle through `start`, if any (depth-first).
fn cycle_from(
    start: &str,
    node: &str,
    edges: &Imports,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in edges.get(node).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if !path.contains(next) && edges.contains_key(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(start, next, edges, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let (edges, _) = graph();
    assert!(edges.contains_key("core") && edges.contains_key("api"));
    for start in edges.keys() {
        let mut path = vec![start.clone()];
        if let Some(cycle) = cycle_from(start, start, &edges, &mut path) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_api_goes_through_the_core() {
    let (edges, _) = graph();
    let reached: Vec<&str> = BEHIND_THE_CORE
        .into_iter()
        .filter(|m| edges["api"].contains(*m))
        .collect();
    assert!(
        reached.is_empty(),
        "api imports {reached:?}; go through core"
    );
}

#[test]
fn no_source_file_is_long() {
    let (_, lengths) = graph();
    let long: Vec<String> = lengths
        .iter()
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn imports_are_read_from_paths_and_groups() {
    let found = imports("use crate::{a::X, b};\nfn f() { crate::c::g(); }\n// crate::d\n");
    assert_eq!(found, ["a", "b", "c"].map(String::from).into());
}
