//! `liaisonctl inbox`: what waits on the officer's agency, each line with the command
//! that acts on it; `--watch` redraws when a watch stream reports a change.

use std::{process::Stdio, time::Duration};

use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    mla::submitted_request,
    support::{liaisonctl_command, liaisonctl_ok, stderr, stdout},
};

both!(the_inbox_lists_what_waits_with_its_command);

async fn the_inbox_lists_what_waits_with_its_command(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let empty = liaisonctl_ok(&hub, "RS-MUP/officer", &["inbox"]).await?;
    assert!(
        stdout(&empty).contains("nothing waits on your agency"),
        "{}",
        stdout(&empty)
    );

    let request = submitted_request(&hub, dir.path()).await?;
    liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "cbm",
            "notify",
            "--kind",
            "incident",
            "--title",
            "Фішинг від імені банку",
            "--body",
            "Деталі в запиті",
            "--scope",
            "agencies:RS-MUP",
            "--ack-within",
            "1h",
        ],
    )
    .await?;
    liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "cbm",
            "consult",
            "request",
            "--agency",
            "RS-MUP",
            "--subject",
            "Кампанія",
        ],
    )
    .await?;
    let started = liaisonctl_ok(
        &hub,
        "INT-HUB/operator",
        &[
            "cbm",
            "check",
            "start",
            "--window",
            "1h",
            "--scope",
            "agencies:RS-MUP",
            "-o",
            "json",
        ],
    )
    .await?;
    let check: Value = serde_json::from_slice(&started.stdout)?;
    let check_id = check["id"].as_str().expect("a check id").to_owned();

    let inbox = liaisonctl_ok(&hub, "RS-MUP/officer", &["inbox"]).await?;
    let text = stdout(&inbox);
    for wanted in [
        format!("liaisonctl mla show {request} --purpose TEXT"),
        "read and acknowledge (КП-2026/0042)".to_owned(),
        "acknowledge: Фішинг від імені банку".to_owned(),
        format!("liaisonctl cbm check answer {check_id} --challenge CODE"),
        "acknowledge: Кампанія".to_owned(),
    ] {
        assert!(text.contains(&wanted), "{wanted:?} not in:\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("mla"), "MLA steps come first:\n{text}");
    // The requester's side: nothing to do on a submitted request.
    let theirs = liaisonctl_ok(&hub, "UA-CERT/officer", &["inbox", "-o", "json"]).await?;
    let items: Vec<Value> = serde_json::from_slice(&theirs.stdout)?;
    assert!(
        items.iter().all(|item| item["id"] != request.as_str()),
        "{items:?}"
    );

    // --watch: the first screen, then another once the requested agency acts (one step,
    // so one burst of events).
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "show", &request]).await?;
    let mut child = liaisonctl_command(&hub.data_dir())
        .args(["--endpoint", hub.endpoint(), "--dev", "--data-dir"])
        .arg(hub.data_dir())
        .args(["--as", "RS-MUP/officer", "inbox", "--watch", "--limit", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), out.next_line()).await??;
    assert!(first.is_some_and(|line| line.starts_with("WHAT")));
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "ack", &request]).await?;
    let ended = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await??;
    assert!(ended.status.success(), "{}", stderr(&ended));
    let mut rest = Vec::new();
    while let Some(line) = out.next_line().await? {
        rest.push(line);
    }
    let redrawn = rest.join("\n");
    assert!(
        redrawn.contains(&format!("liaisonctl mla assess {request}")),
        "{redrawn}"
    );
    hub.stop().await
}
