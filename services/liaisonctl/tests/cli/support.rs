//! What every CLI test uses: the real binary run as a principal of the hub's development
//! PKI, its output as text, a success assertion that shows standard error, and a wait for
//! the audit log's checkpoint.

use std::{path::Path, process::Output, time::Duration};

use liaison_testkit::TestHub;

/// Runs liaisonctl as `principal` (AGENCY/name) of the hub's development PKI.
pub async fn liaisonctl(hub: &TestHub, principal: &str, args: &[&str]) -> anyhow::Result<Output> {
    liaisonctl_raw(hub.endpoint(), &hub.data_dir(), principal, args).await
}

pub async fn liaisonctl_raw(
    endpoint: &str,
    data_dir: &Path,
    principal: &str,
    args: &[&str],
) -> anyhow::Result<Output> {
    let output = liaisonctl_command(data_dir)
        .arg("--endpoint")
        .arg(endpoint)
        .arg("--dev")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--as")
        .arg(principal)
        .args(args)
        .env("LIAISON_PURPOSE", "Lieta Nr. 7/2026 (CLI test)")
        .kill_on_drop(true)
        .output();
    Ok(tokio::time::timeout(Duration::from_secs(30), output).await??)
}

/// The variables a run may read from its environment, cleared for each test run.
const LIAISON_VARIABLES: [&str; 13] = [
    "COLUMNS",
    "LIAISON_PROFILE",
    "LIAISON_ENDPOINT",
    "LIAISON_CA",
    "LIAISON_CERT",
    "LIAISON_KEY",
    "LIAISON_DEV",
    "LIAISON_AS",
    "LIAISON_DATA_DIR",
    "LIAISON_OUTPUT",
    "LIAISON_PURPOSE",
    "LIAISON_STATE_DIR",
    "XDG_RUNTIME_DIR",
];

/// The binary with an environment of its own: no `LIAISON_*` variable of the caller, and
/// a home, configuration and state directory under `data_dir/home` rather than the
/// user's, so that no test reads or writes a real profile or witness state.
pub fn liaisonctl_command(data_dir: &Path) -> tokio::process::Command {
    let home = data_dir.join("home");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_liaisonctl"));
    for variable in LIAISON_VARIABLES {
        command.env_remove(variable);
    }
    command
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".local/state"));
    command
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs liaisonctl as `principal` and asserts that it succeeded, showing its standard
/// error when it did not.
pub async fn liaisonctl_ok(
    hub: &TestHub,
    principal: &str,
    args: &[&str],
) -> anyhow::Result<Output> {
    let output = liaisonctl(hub, principal, args).await?;
    assert_success(&output);
    Ok(output)
}

/// Asserts that a run succeeded, showing its standard error when it did not.
#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// Waits until the hub has signed a checkpoint covering `size` records.
pub async fn wait_for_checkpoint(hub: &TestHub, size: u64) -> anyhow::Result<()> {
    let mut watch = hub.store().watch_checkpoint_size();
    tokio::time::timeout(
        Duration::from_secs(20),
        watch.wait_for(|current| *current >= size),
    )
    .await??;
    Ok(())
}
