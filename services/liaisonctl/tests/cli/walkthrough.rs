//! The walkthroughs of `docs/cli.md`, run as written against a development hub: every
//! `$ liaisonctl …` line of a `console` block is run, in order, and each line shown under
//! it must appear in what it prints (runs of spaces compared as one, `…` standing for any
//! text). `#> NAME` after a command keeps the first id it prints as `$NAME` for the
//! commands after it; a fenced block with `file=NAME` is written to the working directory
//! first. The documented profile points at `liaison-data` and `https://127.0.0.1:50051`,
//! which become the test hub's data directory and endpoint.

use std::path::Path;

use liaison_testkit::{Backend, TestHub, both};

use crate::support::{liaisonctl_command, stderr, stdout};

both!(the_documented_walkthroughs_finish);

const DOC: &str = include_str!("../../../../docs/cli.md");

/// One command of a walkthrough and the lines it must print.
#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    capture: Option<String>,
    expected: Vec<String>,
}

/// The files and the steps of the document, in order.
fn parse(doc: &str) -> (Vec<(String, String)>, Vec<Step>) {
    let (mut files, mut steps) = (Vec::new(), Vec::<Step>::new());
    let mut block: Option<(String, String)> = None;
    for (number, line) in doc.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            match block.take() {
                Some((kind, body)) => {
                    if let Some(name) = kind
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("file="))
                    {
                        files.push((name.to_owned(), body));
                    }
                }
                None => block = Some((info.to_owned(), String::new())),
            }
            continue;
        }
        let Some((kind, body)) = block.as_mut() else {
            continue;
        };
        if !kind.starts_with("console") {
            body.push_str(line);
            body.push('\n');
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            let (command, capture) = match command.split_once("#>") {
                Some((command, name)) => (command, Some(name.trim().to_owned())),
                None => (command, None),
            };
            steps.push(Step {
                line: number + 1,
                command: command.trim().to_owned(),
                capture,
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut()
            && !line.trim().is_empty()
        {
            step.expected.push(line.to_owned());
        }
    }
    (files, steps)
}

/// Shell words: spaces separate, double or single quotes keep text together.
fn words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in command.chars() {
        match (quote, c) {
            (None, '"' | '\'') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => (word, any) = (word + &c.to_string(), true),
        }
    }
    if any {
        words.push(word);
    }
    words
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `line` (with `…` for any text) is in `output`, spaces squeezed.
fn shows(output: &str, line: &str) -> bool {
    let wanted = squeeze(line);
    let anywhere = wanted.starts_with('…');
    let parts: Vec<&str> = wanted
        .split('…')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    output.lines().map(squeeze).any(|actual| {
        let mut rest = actual.as_str();
        parts
            .iter()
            .enumerate()
            .all(|(index, part)| match rest.find(part) {
                Some(at) if index > 0 || at == 0 || anywhere => {
                    rest = &rest[at + part.len()..];
                    true
                }
                _ => false,
            })
    })
}

/// The first id (`prefix_…`) a command printed.
fn first_id(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .find(|word| {
            word.split_once('_').is_some_and(|(prefix, rest)| {
                (2..=4).contains(&prefix.len())
                    && prefix.bytes().all(|b| b.is_ascii_lowercase())
                    && rest.len() >= 10
            })
        })
        .map(str::to_owned)
}

async fn run_step(
    hub: &TestHub,
    dir: &Path,
    step: &Step,
    vars: &[(String, String)],
) -> anyhow::Result<String> {
    let data_dir = hub.data_dir().to_string_lossy().into_owned();
    let mut argv = words(&step.command);
    anyhow::ensure!(
        argv.first().map(String::as_str) == Some("liaisonctl"),
        "line {}: not a liaisonctl command",
        step.line
    );
    argv.remove(0);
    for word in &mut argv {
        for (name, value) in vars {
            *word = word.replace(&format!("${name}"), value);
        }
        *word = word
            .replace("liaison-data", &data_dir)
            .replace("https://127.0.0.1:50051", hub.endpoint());
    }
    let mut command = liaisonctl_command(&hub.data_dir());
    command.args(&argv).current_dir(dir).kill_on_drop(true);
    let output =
        tokio::time::timeout(std::time::Duration::from_secs(30), command.output()).await??;
    let text = stdout(&output);
    anyhow::ensure!(
        output.status.success(),
        "docs/cli.md line {}: `{}` failed:\n{}{}",
        step.line,
        step.command,
        text,
        stderr(&output)
    );
    for line in &step.expected {
        let mut wanted = line.clone();
        for (name, value) in vars {
            wanted = wanted.replace(&format!("${name}"), value);
        }
        anyhow::ensure!(
            shows(&text, &wanted),
            "docs/cli.md line {}: `{}` did not print {wanted:?}; it printed:\n{text}",
            step.line,
            step.command
        );
    }
    Ok(text)
}

async fn the_documented_walkthroughs_finish(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let (files, steps) = parse(DOC);
    for (name, body) in &files {
        std::fs::write(dir.path().join(name), body)?;
    }
    assert!(
        steps.len() >= 25,
        "docs/cli.md has {} commands",
        steps.len()
    );
    let mut vars: Vec<(String, String)> = Vec::new();
    for step in &steps {
        let text = run_step(&hub, dir.path(), step, &vars).await?;
        if let Some(name) = &step.capture {
            let id = first_id(&text)
                .ok_or_else(|| anyhow::anyhow!("line {}: no id printed for ${name}", step.line))?;
            vars.push((name.clone(), id));
        }
    }
    hub.stop().await
}

#[test]
fn the_checker_can_fail() {
    assert!(shows("state    preserved\n", "state preserved"));
    assert!(shows(
        "preservation  preserved until 2027-03-07T12:00:00Z\n",
        "preservation preserved until …"
    ));
    assert!(!shows("state    draft\n", "state preserved"));
    assert!(!shows("the state preserved\n", "state preserved"));
    assert_eq!(
        words(r#"mla message "two words" 'and more' x"#),
        ["mla", "message", "two words", "and more", "x"]
    );
    assert_eq!(
        first_id("FIELD VALUE\nid mla_01jabcdefghijk\n").as_deref(),
        Some("mla_01jabcdefghijk")
    );
}
