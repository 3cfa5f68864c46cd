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

/// The module path of a file under `src/` (`indicators::publish`); empty for `lib.rs`.
fn module_path(path: &Path) -> Option<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = path.strip_prefix(&src).ok()?.to_str()?;
    let relative = relative.strip_suffix(".rs")?;
    Some(if relative == "lib" {
        String::new()
    } else {
        relative.replace('/', "::")
    })
}

/// The first segments of the paths in a `use` group body (`a::{b, c}, d` → `a::b`,
/// `a::c`, `d`), to two levels.
fn group_paths(group: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => items.push(std::mem::take(&mut item)),
            _ => {}
        }
        if !(c == ',' && depth == 0) {
            item.push(c);
        }
    }
    items.push(item);
    for item in items {
        let item = item.trim();
        if let Some((head, rest)) = item.split_once("::") {
            let rest = rest.trim().trim_start_matches('{');
            for next in rest.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !next.is_empty() {
                    paths.push(format!("{head}::{next}"));
                }
            }
        } else if !item.is_empty() {
            paths.push(item.to_owned());
        }
    }
    paths
}

/// No module imports another that imports it back, at any depth: every `crate::…`,
/// `super::…` and child path in a file (grouped `use` included; a name the crate root
/// re-exports counts as its defining module) is an edge from the file's module to the
/// deepest module the path names. Unit tests may reach anywhere.
#[test]
fn no_module_import_cycle() {
    let files = sources();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(path, _)| module_path(path))
        .filter(|module| !module.is_empty())
        .collect();
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    for statement in lib.split(';') {
        let Some(rest) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, names) = match rest.split_once("::{") {
            Some((module, names)) => (module, names),
            None => rest.rsplit_once("::").unwrap_or((rest, "")),
        };
        for name in names.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if !name.is_empty() {
                exported.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    // The deepest module `path` (segments from the crate root) names.
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").collect();
        if let Some(module) = segments.first().and_then(|first| exported.get(*first)) {
            return Some(module.clone());
        }
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains(candidate))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let Some(from) = module_path(path).filter(|module| !module.is_empty()) else {
            continue;
        };
        let parent = from.rsplit_once("::").map(|(parent, _)| parent.to_owned());
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        let mut targets = Vec::new();
        for (prefix, base) in [
            ("crate::", Some(String::new())),
            ("super::", parent.clone()),
        ] {
            let Some(base) = base else { continue };
            for (at, _) in text.match_indices(prefix) {
                if prefix == "super::" && text[..at].ends_with("super::") {
                    continue;
                }
                let rest = &text[at + prefix.len()..];
                let paths = if let Some(group) = rest.strip_prefix('{') {
                    group_paths(&group[..group.find("};").unwrap_or(group.len())])
                } else {
                    let path: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    vec![path]
                };
                for path in paths {
                    let full = if base.is_empty() {
                        path
                    } else {
                        format!("{base}::{path}")
                    };
                    targets.extend(
                        resolve(&full).or_else(|| (!base.is_empty()).then(|| base.clone())),
                    );
                }
            }
        }
        // A parent's own paths to its children (`use leaf::Leaf;`, `write::X`).
        for module in &modules {
            if let Some(child) = module.strip_prefix(&format!("{from}::")) {
                let pattern = format!("{child}::");
                if text.match_indices(&pattern).any(|(at, _)| {
                    !text[..at].ends_with("::")
                        && !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                }) {
                    targets.push(module.clone());
                }
            }
        }
        for target in targets {
            if target != from && !target.is_empty() {
                edges.entry(from.clone()).or_default().insert(target);
            }
        }
    }
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
    // The check sees the edges that matter: a child imports its parent's items.
    assert!(
        edges
            .get("indicators::publish")
            .is_some_and(|to| to.contains("indicators::write")),
        "edges: {edges:#?}"
    );
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
