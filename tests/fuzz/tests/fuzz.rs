//! The stable fuzz harness: every target of `liaison_fuzz` runs on each file of its corpus
//! (`corpus/<target>/`, seeds and past crashes alike), then on `LIAISON_FUZZ_CASES`
//! (default 2000) inputs from proptest: arbitrary bytes, arbitrary text, and the seeds
//! mutated (bytes flipped, inserted, deleted, duplicated, truncated; tokens inserted; two
//! seeds spliced). A panic fails the test, with the shrunk input to commit to the corpus.

use std::path::PathBuf;

use proptest::{
    collection::vec,
    prelude::*,
    sample::{Index, select},
    test_runner::{Config, TestCaseError, TestError, TestRunner},
};

const DEFAULT_CASES: u32 = 2000;

fn cases() -> u32 {
    match std::env::var("LIAISON_FUZZ_CASES") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("LIAISON_FUZZ_CASES={value:?}: expected a number")),
        Err(_) => DEFAULT_CASES,
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The files of a target's corpus, by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a corpus file"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no seeds", dir.display());
    files
}

/// Bytes that often change what a parser does.
const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\n",
    "\r\n",
    "\n\n",
    ",",
    "=",
    "+",
    ":",
    ";",
    "{",
    "}",
    "[",
    "]",
    "'",
    "@",
    ".",
    "/",
    "%",
    "0",
    "-1",
    "\u{0}",
    "\u{feff}",
    "\u{200d}",
    "\u{10ffff}",
    "đ",
    "ā",
    "Ж",
    "ё",
    "ệ",
    "ß",
    "İ",
    "xn--",
    "1e999",
    "18446744073709551616",
    "9223372036854775808",
    "null",
    "true",
    "[[",
    "]]",
    "\"\"\"",
    "'''",
    "−— ",
    "\u{301}",
    "\u{fffd}",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Token(Index, Index),
    Delete(Index, usize),
    Duplicate(Index, usize, Index),
    Truncate(Index),
    Splice(Index, Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip(at, bits)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Token(at, token)),
        (any::<Index>(), 1..64usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<Index>(), 1..64usize, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Duplicate(from, len, to)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(seed, from, at)| Mutation::Splice(seed, from, at)),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation], seeds: &[Vec<u8>]) -> Vec<u8> {
    // Positions index 0..=len, so that an empty input can still grow.
    let at = |index: &Index, len: usize| index.index(len + 1);
    for mutation in mutations {
        let len = data.len();
        match mutation {
            Mutation::Flip(index, bits) if len > 0 => data[index.index(len)] ^= bits,
            Mutation::Flip(..) => {}
            Mutation::Insert(index, byte) => data.insert(at(index, len), *byte),
            Mutation::Token(index, token) => {
                let position = at(index, len);
                let token = TOKENS[token.index(TOKENS.len())].as_bytes();
                data.splice(position..position, token.iter().copied());
            }
            Mutation::Delete(index, count) => {
                let start = at(index, len);
                data.drain(start..(start + count).min(len));
            }
            Mutation::Duplicate(from, count, to) => {
                let start = at(from, len);
                let chunk = data[start..(start + count).min(len)].to_vec();
                let position = at(to, len);
                data.splice(position..position, chunk);
            }
            Mutation::Truncate(index) => data.truncate(at(index, len)),
            Mutation::Splice(seed, from, index) => {
                let other = &seeds[seed.index(seeds.len())];
                let tail = &other[at(from, other.len())..];
                let position = at(index, len);
                data.truncate(position);
                data.extend_from_slice(tail);
            }
        }
    }
    data
}

fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (select(seeds.clone()), vec(mutation(), 1..8))
        .prop_map(move |(seed, mutations)| apply(seed, &mutations, &seeds));
    prop_oneof![
        1 => vec(any::<u8>(), 0..4096),
        1 => any::<String>().prop_map(String::into_bytes),
        6 => mutated,
    ]
}

fn escaped(data: &[u8]) -> String {
    data.escape_ascii().to_string()
}

/// Runs `target` on its corpus, then on `cases()` generated inputs; panics (fails the
/// test) when it panics on any, naming the input.
fn fuzz(name: &str) {
    let (_, target) = liaison_fuzz::TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let files = corpus(name);
    for (file, data) in &files {
        eprintln!("{name}: corpus/{name}/{file}");
        target(data);
    }
    let seeds: Vec<Vec<u8>> = files.into_iter().map(|(_, data)| data).collect();
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&input(seeds), |data| {
        std::panic::catch_unwind(|| target(&data)).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            TestCaseError::fail(message.to_owned())
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, data)) => panic!(
            "target {name} panicked ({reason}) on {} bytes:\n  b\"{}\"\n\
             Save them as tests/fuzz/corpus/{name}/crash-<what> (e.g. with printf '%b'), \
             fix the parser, and add a regression test beside it.",
            data.len(),
            escaped(&data),
        ),
        Err(error) => panic!("target {name}: {error}"),
    }
}

#[test]
fn observable() {
    fuzz("observable");
}

#[test]
fn stix_bundle() {
    fuzz("stix_bundle");
}

#[test]
fn publish_json() {
    fuzz("publish_json");
}

#[test]
fn publish_csv() {
    fuzz("publish_csv");
}

#[test]
fn federation_toml() {
    fuzz("federation_toml");
}

#[test]
fn hub_config_toml() {
    fuzz("hub_config_toml");
}

#[test]
fn signed_note() {
    fuzz("signed_note");
}

#[test]
fn audit_disclosure() {
    fuzz("audit_disclosure");
}

#[test]
fn request() {
    fuzz("request");
}

/// Every target has a test above and a corpus.
#[test]
fn every_target_runs() {
    let source = include_str!("fuzz.rs");
    for (name, _) in liaison_fuzz::TARGETS {
        assert!(
            source.contains(&format!("fn {name}() {{\n    fuzz(\"{name}\");")),
            "target {name} has no test"
        );
        assert!(corpus_dir(name).is_dir(), "target {name} has no corpus");
    }
}

/// The seeds that are made rather than found (checkpoints signed with the seeds' key,
/// request messages, openings) are committed as `seeds::made` makes them. With
/// `LIAISON_FUZZ_WRITE_SEEDS=1` the test writes them instead, after changing them.
#[test]
fn made_seeds_are_committed() {
    let write = std::env::var_os("LIAISON_FUZZ_WRITE_SEEDS").is_some();
    for (target, file, data) in liaison_fuzz::seeds::made() {
        let dir = corpus_dir(target);
        let path = dir.join(file);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &data).unwrap();
        } else {
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == data,
                "{} is not what seeds::made makes: run with LIAISON_FUZZ_WRITE_SEEDS=1",
                path.display()
            );
        }
    }
}
