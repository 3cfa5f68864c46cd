//! Profiles: a session driven by `liaisonctl config` needs no connection flags; `--profile`
//! and `LIAISON_PROFILE` pick one; a profile may give one service an endpoint of its own.
//! Every run has its own HOME and XDG directories (`support::liaisonctl_command`).

use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;

use crate::support::{assert_success, liaisonctl_command, stderr, stdout};

both!(a_profile_driven_session_needs_no_connection_flags);

async fn run(
    hub: &TestHub,
    env: &[(&str, &str)],
    args: &[&str],
) -> anyhow::Result<std::process::Output> {
    let mut command = liaisonctl_command(&hub.data_dir());
    command.args(args).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    Ok(tokio::time::timeout(std::time::Duration::from_secs(30), command.output()).await??)
}

async fn a_profile_driven_session_needs_no_connection_flags(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let pki = hub.data_dir().join("pki");
    let principal = pki.join("principals/UA-CERT");
    let (ca, cert, key) = (
        pki.join("ca.pem"),
        principal.join("officer.pem"),
        principal.join("officer.key"),
    );
    // A profile of files, as an officer's real certificate would be.
    let saved = run(
        &hub,
        &[],
        &[
            "config",
            "set",
            "ua",
            "--endpoint",
            hub.endpoint(),
            "--ca",
            &ca.to_string_lossy(),
            "--cert",
            &cert.to_string_lossy(),
            "--key",
            &key.to_string_lossy(),
        ],
    )
    .await?;
    assert_success(&saved);
    let file = hub.data_dir().join("home/.config/liaisonctl/config.toml");
    assert!(
        stdout(&saved).contains(&file.display().to_string()),
        "{}",
        stdout(&saved)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file)?.permissions().mode() & 0o777,
            0o600
        );
    }
    // The first profile saved is the default: no flag at all.
    let whoami = run(&hub, &[], &["whoami"]).await?;
    assert_success(&whoami);
    assert!(
        stdout(&whoami).contains("UA-CERT/person/officer"),
        "{}",
        stdout(&whoami)
    );

    // An identity on the command line replaces the profile's whole: --dev is not paired
    // with the profile's certificate.
    let data_dir = hub.data_dir().to_string_lossy().into_owned();
    let flags = run(
        &hub,
        &[],
        &[
            "--dev",
            "--data-dir",
            &data_dir,
            "--as",
            "RS-MUP/officer",
            "whoami",
        ],
    )
    .await?;
    assert!(
        stdout(&flags).contains("RS-MUP/person/officer"),
        "{}",
        stdout(&flags)
    );

    // A second, on the development PKI, with JSON output by default.
    let rs = [
        "config",
        "set",
        "rs",
        "--dev",
        "--data-dir",
        &data_dir,
        "--as",
        "RS-MUP/officer",
        "--endpoint",
        hub.endpoint(),
        "--output",
        "json",
    ];
    assert_success(&run(&hub, &[], &rs).await?);
    let by_variable = run(&hub, &[("LIAISON_PROFILE", "rs")], &["whoami"]).await?;
    assert_success(&by_variable);
    let value: Value = serde_json::from_slice(&by_variable.stdout)?;
    assert_eq!(value["agency_id"], "RS-MUP");
    // The flag wins over the variable, and a flag over the profile's format.
    let by_flag = run(
        &hub,
        &[("LIAISON_PROFILE", "rs")],
        &["--profile", "ua", "whoami", "-o", "table"],
    )
    .await?;
    assert!(
        stdout(&by_flag).contains("UA-CERT/person/officer"),
        "{}",
        stdout(&by_flag)
    );
    assert_success(&run(&hub, &[], &["config", "use", "rs"]).await?);
    let listed = run(&hub, &[], &["config", "list", "-o", "table"]).await?;
    assert!(stdout(&listed).contains("*rs"), "{}", stdout(&listed));

    let unknown = run(&hub, &[], &["--profile", "nope", "whoami"]).await?;
    assert_eq!(unknown.status.code(), Some(64), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("no profile \"nope\""),
        "{}",
        stderr(&unknown)
    );

    // One service elsewhere: the directory answers at the hub, MLA is not there.
    let split = [
        "config",
        "set",
        "split",
        "--dev",
        "--data-dir",
        &data_dir,
        "--as",
        "RS-MUP/officer",
        "--endpoint",
        hub.endpoint(),
        "--service-endpoint",
        "mla=https://127.0.0.1:9",
    ];
    assert_success(&run(&hub, &[], &split).await?);
    assert_success(&run(&hub, &[], &["--profile", "split", "whoami"]).await?);
    let elsewhere = run(&hub, &[], &["--profile", "split", "mla", "list"]).await?;
    assert_eq!(elsewhere.status.code(), Some(69), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere).contains("127.0.0.1:9"),
        "{}",
        stderr(&elsewhere)
    );
    hub.stop().await
}
