//! Checks on the store's source tree: its statements' limits, its module graph and its
//! file sizes. They read `src/`, so that a change that breaks a rule fails here.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Every `.rs` and `.sql` file under `src/`, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "rs" || extension == "sql")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    assert!(out.len() > 20, "the source tree was not found");
    out
}

/// The top-level module (`src/NAME.rs` or a file under `src/NAME/`) a file belongs to;
/// `None` for `lib.rs`.
fn top_module(path: &Path) -> Option<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = path.strip_prefix(&src).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// SQLite plans with the value of a bound `LIMIT` and so marks the statement expired
/// whenever that parameter is bound again: it is re-prepared on every run. Limits are
/// server-chosen integers, written into the text.
#[test]
fn no_limit_is_a_bound_parameter() {
    let mut found = Vec::new();
    for (path, text) in sources() {
        for (number, line) in text.lines().enumerate() {
            let squeezed: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
            if squeezed.contains(&["LIMIT", " $"].concat())
                || squeezed.contains(&["LIMIT", " \").push_bind"].concat())
            {
                found.push(format!("{}:{}", path.display(), number + 1));
            }
        }
    }
    assert!(found.is_empty(), "bound LIMIT at {found:?}");
}

/// The top-level modules form no cycle: a reference `crate::m…` (or `$crate::m…`, or a
/// name in a grouped `use crate::{…}`) from module `a` to module `m`, or to a name the
/// crate root re-exports from `m`, is an edge a → m.
#[test]
fn no_module_import_cycle() {
    let files = sources();
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(path, _)| top_module(path))
        .collect();
    // Names the root re-exports: `pub use m::{A, B};` or `pub use m::A;`.
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    for line in lib.split(';') {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if !name.is_empty() {
                exported.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let Some(from) = top_module(path) else {
            continue;
        };
        // Unit tests may reach anywhere.
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        let mut names = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // A grouped use: every first path segment inside the braces.
                let group = &group[..group.find("};").unwrap_or(group.len())];
                for item in group.split(',') {
                    let item = item.trim().trim_start_matches('{');
                    names.push(item.split("::").next().unwrap_or("").trim().to_owned());
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
        for name in names {
            let target = if modules.contains(&name) {
                Some(name)
            } else {
                exported.get(&name).cloned()
            };
            if let Some(target) = target.filter(|target| *target != from) {
                edges.entry(from.clone()).or_default().insert(target);
            }
        }
    }
    // A cycle shows as a module that reaches itself.
    for start in &modules {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges.get(start).into_iter().flatten().collect();
        while let Some(next) = stack.pop() {
            assert!(
                next != start,
                "module {start} reaches itself; edges: {edges:#?}"
            );
            if seen.insert(next) {
                stack.extend(edges.get(next).into_iter().flatten());
            }
        }
    }
}

/// No source file over 600 lines (unit tests included), and no `mod.rs`.
#[test]
fn files_are_small_and_named_by_feature() {
    for (path, text) in sources() {
        assert!(
            path.file_name().is_none_or(|name| name != "mod.rs"),
            "{} : use foo.rs with foo/",
            path.display()
        );
        let lines = text.lines().count();
        assert!(lines <= 600, "{} has {lines} lines", path.display());
    }
}
