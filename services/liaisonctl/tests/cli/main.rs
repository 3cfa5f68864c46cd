//! `liaisonctl` end to end: the real binary against a real hub over mutual TLS, the way a
//! liaison officer uses it (`--dev --as AGENCY/name` against the hub's data directory).

use std::{process::Output, time::Duration};

use liaison_testkit::{Backend, TestHub, both};

mod files;
mod generated;
mod hostile;
mod inbox;
mod mla;
mod profiles;
mod support;
mod walkthrough;

use support::{
    assert_success, liaisonctl, liaisonctl_ok, liaisonctl_raw, stderr, stdout, wait_for_checkpoint,
};

both!(
    whoami_and_agencies,
    publish_get_and_watch,
    errors_a_person_understands,
    operator_administers_the_federation,
    search_lookup_sight_and_revoke,
    mla_requests_from_the_command_line,
    cbm_notify_inbox_ack_and_show,
);

async fn whoami_and_agencies(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let table = liaisonctl_ok(&hub, "UA-CERT/officer", &["whoami"]).await?;
    let text = stdout(&table);
    assert!(text.starts_with("FIELD "), "{text}");
    assert!(text.contains("UA-CERT/person/officer"), "{text}");
    assert!(text.contains("officer"), "{text}");

    let json = liaisonctl(&hub, "VN-BCA/feed", &["whoami", "--output", "json"]).await?;
    let value: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(value["agency_id"], "VN-BCA");
    assert_eq!(value["kind"], "system");
    assert_eq!(value["roles"], serde_json::json!(["system"]));

    // Output into a pipe nobody reads any more (`liaisonctl … | head`): a quiet end with
    // the SIGPIPE status, not a panic.
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    // (`output()` would replace the pipe with its own; the command, and with it this
    // process's copy of the write end, is dropped once the child runs.)
    let child = crate::support::liaisonctl_command(&hub.data_dir())
        .args(["--endpoint", hub.endpoint(), "--dev", "--data-dir"])
        .arg(hub.data_dir())
        .args(["--as", "RS-MUP/feed", "agencies", "list"])
        .env_remove("LIAISON_OUTPUT")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let cut_off = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await??;
    assert_eq!(cut_off.status.code(), Some(141), "{}", stderr(&cut_off));
    assert!(stderr(&cut_off).is_empty(), "{}", stderr(&cut_off));

    let agencies = liaisonctl(&hub, "RS-MUP/feed", &["agencies", "list", "-o", "json"]).await?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&agencies.stdout)?;
    assert_eq!(list.len(), 22);
    let vietnam = list
        .iter()
        .find(|agency| agency["id"] == "VN-BCA")
        .expect("VN-BCA listed");
    assert_eq!(vietnam["native_name"], "Bộ Công an");
    assert_eq!(vietnam["state"]["budapest_convention_party"], false);
    hub.stop().await
}

async fn publish_get_and_watch(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let published = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "indicators",
            "publish",
            "--title",
            "Lažni investicioni sajt sa kriptovalutama",
            "--category",
            "crypto-asset-fraud",
            "--language",
            "sr-Latn",
            "--observable",
            "url=HTTPS://Kripto-Profit.example/prijava",
            "--observable",
            "wallet=0x52908400098527886E0F7030069857D2E4169EE7",
            "--tlp",
            "amber",
            "--scope",
            "agencies:RS-MUP,ME-UP",
            "--evaluation",
            "B2",
            "--output",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&published.stdout)?;
    let id = value["indicator"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        value["indicator"]["observables"][0]["value"],
        "https://kripto-profit.example/prijava"
    );
    assert_eq!(value["indicator"]["tlp"], "AMBER");

    let shown = liaisonctl_ok(&hub, "ME-UP/officer", &["indicators", "get", &id]).await?;
    assert!(stdout(&shown).contains("Lažni investicioni sajt sa kriptovalutama"));

    let hidden = liaisonctl(&hub, "HU-NNI/officer", &["indicators", "get", &id]).await?;
    assert_eq!(hidden.status.code(), Some(1));
    assert!(stderr(&hidden).contains("not found"), "{}", stderr(&hidden));

    let watched = liaisonctl_ok(
        &hub,
        "ME-UP/feed",
        &["indicators", "watch", "--limit", "1", "-o", "json"],
    )
    .await?;
    let line: serde_json::Value =
        serde_json::from_str(stdout(&watched).lines().next().unwrap_or_default())?;
    assert_eq!(line["indicator"]["id"], id.as_str());
    assert_eq!(line["event"], "published");
    assert!(line["cursor"].as_u64().unwrap_or(0) > 0);
    hub.stop().await
}

async fn errors_a_person_understands(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;

    let invalid = liaisonctl(
        &hub,
        "UA-CERT/officer",
        &[
            "indicators",
            "publish",
            "--title",
            "Шахрайство",
            "--observable",
            "iban=UA00 1234",
        ],
    )
    .await?;
    assert_eq!(invalid.status.code(), Some(1));
    assert!(
        stderr(&invalid).contains("indicator.observables[0].value: not a valid IBAN"),
        "{}",
        stderr(&invalid)
    );

    let unknown = liaisonctl(&hub, "UA-CERT/nobody", &["whoami"]).await?;
    assert_eq!(unknown.status.code(), Some(64));
    assert!(
        stderr(&unknown).contains("nobody.pem"),
        "{}",
        stderr(&unknown)
    );

    let not_listening = liaisonctl_raw(
        "https://127.0.0.1:9",
        &hub.data_dir(),
        "UA-CERT/officer",
        &["whoami"],
    )
    .await?;
    assert_eq!(not_listening.status.code(), Some(69));
    assert!(
        stderr(&not_listening).contains("nothing is listening"),
        "{}",
        stderr(&not_listening)
    );

    // A certificate from another CA: the hub refuses it.
    let elsewhere = tempfile::tempdir()?;
    let elsewhere = elsewhere.path();
    let federation = liaison_core_example()?;
    liaison_pki::dev_init(&elsewhere.join("pki"), &federation)?;
    std::fs::copy(&hub.pki().ca_cert, elsewhere.join("pki/ca.pem"))?;
    let refused = liaisonctl_raw(hub.endpoint(), elsewhere, "UA-CERT/officer", &["whoami"]).await?;
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("refused the client certificate"),
        "{}",
        stderr(&refused)
    );
    hub.stop().await
}

both!(a_hub_closing_before_the_handshake_is_not_blamed_on_the_certificate);

async fn a_hub_closing_before_the_handshake_is_not_blamed_on_the_certificate(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    // A hub that is busy or refusing connections: it closes each one as soon as it is
    // accepted, before any TLS handshake.
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let busy_endpoint = format!("https://{}", busy.local_addr()?);
    let closer = tokio::spawn(async move {
        while let Ok((connection, _)) = busy.accept().await {
            drop(connection);
        }
    });
    let closed = liaisonctl_raw(
        &busy_endpoint,
        &hub.data_dir(),
        "UA-CERT/officer",
        &["whoami"],
    )
    .await?;
    closer.abort();
    let text = stderr(&closed);
    assert_eq!(closed.status.code(), Some(69), "{text}");
    assert!(
        text.contains("before the TLS handshake completed")
            && text.contains("busy or refusing connections"),
        "{text}"
    );
    assert!(!text.contains("refused the client certificate"), "{text}");

    // A certificate the hub refuses (from another CA, at the handshake): the certificate
    // message, not the busy one.
    let elsewhere = tempfile::tempdir()?;
    let elsewhere = elsewhere.path();
    liaison_pki::dev_init(&elsewhere.join("pki"), &liaison_core_example()?)?;
    std::fs::copy(&hub.pki().ca_cert, elsewhere.join("pki/ca.pem"))?;
    let refused = liaisonctl_raw(hub.endpoint(), elsewhere, "UA-CERT/officer", &["whoami"]).await?;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(77), "{text}");
    assert!(text.contains("refused the client certificate"), "{text}");
    assert!(!text.contains("busy or refusing"), "{text}");
    hub.stop().await
}

fn liaison_core_example() -> anyhow::Result<liaison_core::Federation> {
    Ok(liaison_core::Federation::from_toml(include_str!(
        "../../../../deploy/federation.example.toml"
    ))?)
}

both!(audit_query_export_and_verify);

/// `liaisonctl audit verify FILE` as the hub's oversight auditor, with a witness state.
async fn verify_file(hub: &TestHub, file: &str, state_dir: &str) -> anyhow::Result<Output> {
    liaisonctl(
        hub,
        "INT-HUB/auditor",
        &["audit", "verify", file, "--state-dir", state_dir],
    )
    .await
}

/// `audit verify` of the hub's live log as the hub's auditor, with its state in `state_dir`.
async fn verify_live(hub: &TestHub, state_dir: &str) -> anyhow::Result<Output> {
    liaisonctl(
        hub,
        "INT-HUB/auditor",
        &["audit", "verify", "--state-dir", state_dir],
    )
    .await
}

/// Publishes a fraud method per title as `principal` (in Latvian), then waits until a
/// checkpoint covers at least `titles.len()` records after those of the hub's start.
async fn publish_and_sign(hub: &TestHub, principal: &str, titles: &[&str]) -> anyhow::Result<()> {
    for title in titles {
        liaisonctl_ok(
            hub,
            principal,
            &[
                "indicators",
                "publish",
                "--title",
                title,
                "--language",
                "lv",
            ],
        )
        .await?;
    }
    wait_for_checkpoint(hub, hub.start_audit_size() + titles.len() as u64).await
}

async fn audit_query_export_and_verify(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let state = tempfile::tempdir()?;
    let state_dir = state.path().to_str().unwrap_or_default().to_owned();
    for title in ["Rēķinu krāpšana", "Viltus investīciju platforma"] {
        liaisonctl_ok(
            &hub,
            "UA-CERT/officer",
            &[
                "indicators",
                "publish",
                "--title",
                title,
                "--language",
                "lv",
                "--observable",
                "domain=ieguldijumi.example",
            ],
        )
        .await?;
    }
    wait_for_checkpoint(&hub, hub.start_audit_size() + 2).await?;

    let query = liaisonctl_ok(
        &hub,
        "INT-HUB/auditor",
        &[
            "audit",
            "query",
            "--method",
            "/liaison.v1.IndicatorService/Publish",
            "-o",
            "json",
        ],
    )
    .await?;
    let records: Vec<serde_json::Value> = serde_json::from_slice(&query.stdout)?;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["principal"], "UA-CERT/person/officer");
    assert_eq!(records[0]["objects"][0]["access"], "write");

    // First live verification pins the hub's key and remembers the checkpoint.
    let live = verify_live(&hub, &state_dir).await?;
    assert_success(&live);
    assert!(
        stdout(&live).contains("pinned the hub's key"),
        "{}",
        stdout(&live)
    );

    let file = state.path().join("export.jsonl");
    let file_arg = file.to_str().unwrap_or_default().to_owned();
    liaisonctl_ok(
        &hub,
        "INT-HUB/auditor",
        &["audit", "export", "-f", &file_arg],
    )
    .await?;
    let verified = verify_file(&hub, &file_arg, &state_dir).await?;
    assert_success(&verified);

    // Tampering with the file is caught and the record named.
    let text = std::fs::read_to_string(&file)?;
    let lines: Vec<&str> = text.lines().collect();
    let altered = text
        .replacen("UA-CERT/officer", "UA-CERT/0fficer", 1)
        .replacen("\\\"officer\\\"", "\\\"0fficer\\\"", 1);
    let tampered = state.path().join("tampered.jsonl");
    std::fs::write(&tampered, &altered)?;
    let caught = verify_file(&hub, tampered.to_str().unwrap_or_default(), &state_dir).await?;
    assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
    assert!(
        stderr(&caught).contains("was altered"),
        "{}",
        stderr(&caught)
    );

    let mut without_one = lines.clone();
    without_one.remove(1);
    std::fs::write(&tampered, without_one.join("\n"))?;
    let caught = verify_file(&hub, tampered.to_str().unwrap_or_default(), &state_dir).await?;
    assert_eq!(caught.status.code(), Some(1));
    assert!(
        stderr(&caught).contains("record 1 is missing"),
        "{}",
        stderr(&caught)
    );

    // The log grows; the live log verifies as an extension; the old export is now stale.
    let more = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &[
            "indicators",
            "publish",
            "--title",
            "Нова превара",
            "--language",
            "sr-Cyrl",
        ],
    )
    .await?;
    assert!(more.status.success());
    let witness_file = state
        .path()
        .join("witness")
        .read_dir()?
        .next()
        .unwrap()?
        .path();
    let before: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&witness_file)?)?;
    let old_size = before["size"].as_u64().unwrap_or(0);
    wait_for_checkpoint(&hub, old_size + 1).await?;
    let again = verify_live(&hub, &state_dir).await?;
    assert_success(&again);
    assert!(
        stdout(&again).contains("consistent with the checkpoint"),
        "{}",
        stdout(&again)
    );
    // A hub that publishes another key than the one pinned is refused, and the message
    // names the state file to remove once the new key is confirmed.
    let remembered = std::fs::read_to_string(&witness_file)?;
    let mut forged: serde_json::Value = serde_json::from_str(&remembered)?;
    let (other, _) = liaison_audit::SigningKey::generate("liaison.example/audit")?;
    forged["key"] = other.verifier_key().to_string().into();
    std::fs::write(&witness_file, forged.to_string())?;
    let rotated = verify_live(&hub, &state_dir).await?;
    assert_eq!(rotated.status.code(), Some(1), "{}", stdout(&rotated));
    assert!(
        stderr(&rotated).contains("refusing")
            && stderr(&rotated).contains(&format!("remove {}", witness_file.display())),
        "{}",
        stderr(&rotated)
    );
    std::fs::write(&witness_file, remembered)?;

    let stale = verify_file(&hub, &file_arg, &state_dir).await?;
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("older than one already verified"),
        "{}",
        stderr(&stale)
    );

    // Only auditors.
    let refused = liaisonctl(&hub, "UA-CERT/feed", &["audit", "query"]).await?;
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    hub.stop().await
}

both!(verify_names_the_record_tampered_with_in_the_database);

/// An attacker with database access alters, swaps or deletes stored audit records; a live
/// `audit verify` names the first record that breaks the log.
async fn verify_names_the_record_tampered_with_in_the_database(
    backend: Backend,
) -> anyhow::Result<()> {
    // Leaf indexes after the records of the hub's start (the federation file's seeding).
    for (attack, second, expected) in [
        ("alter", 2, "was altered"),
        ("swap", 1, "was altered"),
        ("delete", 2, "is missing"),
    ] {
        let hub = TestHub::start(backend).await?;
        publish_and_sign(
            &hub,
            "NL-NCSC/officer",
            &["Krāpšana ar SMS", "Viltus banka", "Romāna krāpšana"],
        )
        .await?;
        let base = hub.start_audit_size();
        let expected = format!("record {} {expected}", base + second);
        let records = hub.store().audit_records(base, 10).await?;
        let quote = |text: &str| text.replace('\'', "''");
        let sql = match attack {
            "alter" => format!(
                "UPDATE audit_log SET record = replace(record, 'NL-NCSC', 'NL-NCSD') WHERE leaf_index = {}",
                base + 2
            ),
            "swap" => format!(
                "UPDATE audit_log SET record = '{}' WHERE leaf_index = {}; UPDATE audit_log SET record = '{}' WHERE leaf_index = {}",
                quote(&records[2].record),
                base + 1,
                quote(&records[1].record),
                base + 2
            ),
            _ => format!("DELETE FROM audit_log WHERE leaf_index = {}", base + 2),
        };
        hub.store().execute_for_tests(&sql).await?;
        let state = tempfile::tempdir()?;
        let verified = liaisonctl(
            &hub,
            "INT-HUB/auditor",
            &[
                "audit",
                "verify",
                "--state-dir",
                state.path().to_str().unwrap_or_default(),
            ],
        )
        .await?;
        assert_eq!(
            verified.status.code(),
            Some(1),
            "{attack}: {}",
            stdout(&verified)
        );
        assert!(
            stderr(&verified).contains(&expected),
            "{attack}: {}",
            stderr(&verified)
        );
        hub.stop().await?;
    }
    Ok(())
}

both!(a_hub_that_rewrote_its_history_is_caught_by_a_witness);

/// A witness verified the log once. The hub then rewrites a past record — consistently,
/// with its leaf hash — and, restarted, signs checkpoints of the rewritten tree with its
/// real key. The witness's next verification fails.
async fn a_hub_that_rewrote_its_history_is_caught_by_a_witness(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    publish_and_sign(
        &hub,
        "SI-POLICIJA/officer",
        &["Pirmā krāpšana", "Otrā krāpšana", "Trešā krāpšana"],
    )
    .await?;
    let state = tempfile::tempdir()?;
    let state_dir = state.path().to_str().unwrap_or_default().to_owned();
    let first = verify_live(&hub, &state_dir).await?;
    assert_success(&first);

    // The second record of the test, after those of the hub's start.
    let base = hub.start_audit_size();
    let records = hub.store().audit_records(base, 10).await?;
    let rewritten = records[1].record.replace("SI-POLICIJA", "SI-POLICIJB");
    let leaf = liaison_audit::Sealed::parse(rewritten.as_bytes()).leaf_data();
    let hash = hex::encode(liaison_audit::leaf_hash(&leaf));
    hub.store()
        .execute_for_tests(&format!(
            "UPDATE audit_log SET record = '{}', leaf_hash = '{hash}' WHERE leaf_index = {}",
            rewritten.replace('\'', "''"),
            base + 1
        ))
        .await?;
    // The tree's tiles are derived from the leaf hashes: a rewriter drops them too, and
    // the hub tiles the rewritten leaves anew.
    hub.store()
        .execute_for_tests("DELETE FROM audit_tiles")
        .await?;
    let hub = hub.restart().await?;
    let size = hub.store().audit_size().await?;
    wait_for_checkpoint(&hub, size).await?;

    let second = verify_live(&hub, &state_dir).await?;
    assert_eq!(second.status.code(), Some(1), "{}", stdout(&second));
    assert!(
        stderr(&second).contains("history was rewritten or forked"),
        "{}",
        stderr(&second)
    );
    // A witness that never looked before cannot tell: the rewritten log is self-consistent.
    let fresh = tempfile::tempdir()?;
    liaisonctl_ok(
        &hub,
        "INT-HUB/auditor",
        &[
            "audit",
            "verify",
            "--state-dir",
            fresh.path().to_str().unwrap_or_default(),
        ],
    )
    .await?;
    hub.stop().await
}

async fn operator_administers_the_federation(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let operator = "INT-HUB/operator";
    let registered = liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "agency",
            "register",
            "INT-CYBERLAB",
            "--name",
            "Cyber lab",
            "--kind",
            "international",
            "-o",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&registered.stdout)?;
    assert_eq!(value["status"], "active");

    // A new person of the new agency: certificate issued by the CA, registered by the
    // operator, then used.
    let principal = liaison_core::PrincipalId::new(
        liaison_core::AgencyId::parse("INT-CYBERLAB")?,
        liaison_core::PrincipalKind::Person,
        liaison_core::PrincipalName::parse("analyst")?,
    );
    let issued = hub.ca()?.issue_client(
        &principal,
        "liaison.example",
        liaison_pki::Validity::days(30),
    )?;
    let (cert_path, key_path) = hub.pki().principal("INT-CYBERLAB", "analyst");
    liaison_pki::write_file(&cert_path, &issued.cert_pem, false)?;
    liaison_pki::write_file(&key_path, &issued.key_pem, true)?;
    let cert = cert_path.to_string_lossy().into_owned();
    let registered = liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "certificate",
            "register",
            &cert,
            "--role",
            "officer",
        ],
    )
    .await?;
    assert!(stdout(&registered).contains("INT-CYBERLAB/person/analyst"));
    let me = liaisonctl(&hub, "INT-CYBERLAB/analyst", &["whoami", "-o", "json"]).await?;
    let value: serde_json::Value = serde_json::from_slice(&me.stdout)?;
    assert_eq!(value["roles"], serde_json::json!(["officer"]));

    liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "roles",
            "INT-CYBERLAB/person/analyst",
            "--role",
            "officer",
            "--role",
            "auditor",
        ],
    )
    .await?;

    let group = liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "group",
            "create",
            "--name",
            "Baltic and Balkan fraud desk",
            "--member",
            "RS-MUP",
            "--member",
            "INT-CYBERLAB",
            "-o",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&group.stdout)?;
    assert_eq!(
        value["members"],
        serde_json::json!(["INT-CYBERLAB", "RS-MUP"])
    );

    // Suspension: the agency's principals are refused (exit 77), then served again.
    liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "agency",
            "suspend",
            "INT-CYBERLAB",
            "--reason",
            "Audit finding 2026-14",
        ],
    )
    .await?;
    let refused = liaisonctl(&hub, "INT-CYBERLAB/analyst", &["whoami"]).await?;
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "agency",
            "reinstate",
            "INT-CYBERLAB",
            "--reason",
            "Finding closed",
        ],
    )
    .await?;

    // Revocation by the certificate's file: the certificate is refused from then on.
    liaisonctl_ok(
        &hub,
        operator,
        &[
            "admin",
            "certificate",
            "revoke",
            &cert,
            "--reason",
            "Laptop stolen",
        ],
    )
    .await?;
    let refused = liaisonctl(&hub, "INT-CYBERLAB/analyst", &["whoami"]).await?;
    assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));

    // A member trying an operator command is told it is not allowed.
    let denied = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &["admin", "agency", "suspend", "HU-NNI", "--reason", "Проба"],
    )
    .await?;
    assert_eq!(denied.status.code(), Some(77), "{}", stderr(&denied));
    assert!(
        stderr(&denied).contains("not allowed"),
        "{}",
        stderr(&denied)
    );
    let bad_role = liaisonctl(
        &hub,
        operator,
        &["admin", "roles", "RS-MUP/person/officer", "--role", "king"],
    )
    .await?;
    assert_eq!(bad_role.status.code(), Some(2), "{}", stderr(&bad_role));
    hub.stop().await
}

async fn search_lookup_sight_and_revoke(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let published = liaisonctl_ok(
        &hub,
        "SI-POLICIJA/officer",
        &[
            "indicators",
            "publish",
            "--title",
            "Lažna investicijska platforma",
            "--language",
            "sl",
            "--category",
            "investment-fraud",
            "--observable",
            "domain=Hiter-Dobiček.example",
            "-o",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&published.stdout)?;
    let id = value["indicator"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let found = liaisonctl_ok(
        &hub,
        "HU-NNI/officer",
        &["indicators", "search", "investicijska", "-o", "json"],
    )
    .await?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&found.stdout)?;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    liaisonctl_ok(
        &hub,
        "HU-NNI/officer",
        &[
            "indicators",
            "sight",
            "domain=hiter-dobiček.example",
            "--count",
            "3",
        ],
    )
    .await?;
    let lookup = liaisonctl_ok(
        &hub,
        "RS-MUP/feed",
        &[
            "indicators",
            "lookup",
            "domain=HITER-DOBIČEK.example",
            "-o",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&lookup.stdout)?;
    assert_eq!(value["reporting_agencies"], 1);
    assert_eq!(value["sightings"], 3);
    assert!(
        value["value"]
            .as_str()
            .unwrap_or_default()
            .starts_with("xn--")
    );

    let not_mine = liaisonctl(
        &hub,
        "HU-NNI/officer",
        &["indicators", "revoke", &id, "--reason", "x"],
    )
    .await?;
    assert_eq!(not_mine.status.code(), Some(77), "{}", stderr(&not_mine));
    let revoked = liaisonctl_ok(
        &hub,
        "SI-POLICIJA/officer",
        &[
            "indicators",
            "revoke",
            &id,
            "--reason",
            "Platforma je zakonita",
        ],
    )
    .await?;
    assert!(stdout(&revoked).contains("revoked"));
    let gone = liaisonctl(
        &hub,
        "HU-NNI/officer",
        &["indicators", "search", "-o", "json"],
    )
    .await?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&gone.stdout)?;
    assert!(list.is_empty(), "{list:?}");
    hub.stop().await
}

async fn mla_requests_from_the_command_line(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("request.json");
    std::fs::write(&file, mla::preservation_json().to_string())?;
    let path = file.to_string_lossy().into_owned();
    let created = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &["mla", "new", "--file", &path, "-o", "json"],
    )
    .await?;
    let draft: serde_json::Value = serde_json::from_slice(&created.stdout)?;
    assert_eq!(draft["state"], "draft");
    let id = draft["id"].as_str().expect("an id").to_owned();

    liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &["mla", "submit", &id, "-o", "json"],
    )
    .await?;
    let shown = liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "show", &id]).await?;
    let text = stdout(&shown);
    assert!(text.contains("delivered"), "{text}");
    assert!(text.contains("КП-2026/0042"), "{text}");
    let acked = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "mla",
            "ack",
            &id,
            "--comment",
            "Примљено",
            "--lang",
            "sr-Cyrl",
        ],
    )
    .await?;
    assert!(
        stdout(&acked).contains("acknowledged"),
        "{}",
        stdout(&acked)
    );

    // Evidence travels both ways with its digest checked.
    let evidence_file = dir.path().join("izvod.csv");
    let contents = "2025-10-09T08:53:20Z;203.0.113.7;prijava\n".repeat(50_000);
    std::fs::write(&evidence_file, &contents)?;
    let evidence_path = evidence_file.to_string_lossy().into_owned();
    let uploaded = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "mla",
            "upload",
            &id,
            &evidence_path,
            "--media-type",
            "text/csv",
            "-o",
            "json",
        ],
    )
    .await?;
    let evidence: serde_json::Value = serde_json::from_slice(&uploaded.stdout)?;
    let evidence_id = evidence["id"].as_str().expect("an evidence id").to_owned();
    let out = dir.path().join("received.csv");
    let out_path = out.to_string_lossy().into_owned();
    let downloaded = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "mla",
            "download",
            &evidence_id,
            "--out",
            &out_path,
            "-o",
            "json",
        ],
    )
    .await?;
    assert_eq!(std::fs::read_to_string(&out)?, contents);
    let report: serde_json::Value = serde_json::from_slice(&downloaded.stdout)?;
    assert_eq!(report["sha256"], evidence["sha256"]);
    assert!(
        report["receipt"]
            .as_str()
            .is_some_and(|id| id.starts_with("rct_"))
    );

    let listed = liaisonctl(&hub, "UA-CERT/officer", &["mla", "list", "-o", "json"]).await?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout)?;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    let overdue = liaisonctl(
        &hub,
        "UA-CERT/officer",
        &["mla", "list", "--overdue", "-o", "json"],
    )
    .await?;
    assert_eq!(
        serde_json::from_slice::<Vec<serde_json::Value>>(&overdue.stdout)?.len(),
        0
    );

    let receipts = liaisonctl_ok(&hub, "UA-CERT/officer", &["mla", "receipts", &id]).await?;
    let text = stdout(&receipts);
    assert_eq!(text.matches("verified").count(), 5, "{text}");
    assert!(
        text.contains("submission_accepted") && text.contains("acknowledgement"),
        "{text}"
    );

    let refused = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "mla",
            "refuse",
            &id,
            "--grounds",
            "ESSENTIAL_INTERESTS",
            "--reasons",
            "Угрожава безбедност",
        ],
    )
    .await?;
    assert!(stdout(&refused).contains("refused"), "{}", stdout(&refused));
    let close = liaisonctl(&hub, "UA-CERT/officer", &["mla", "close", &id]).await?;
    assert_eq!(close.status.code(), Some(1));
    assert!(
        stderr(&close).contains("cannot close a request that is refused"),
        "{}",
        stderr(&close)
    );
    let third = liaisonctl(&hub, "HU-NNI/officer", &["mla", "show", &id]).await?;
    assert_eq!(third.status.code(), Some(1));
    assert!(stderr(&third).contains("not found"), "{}", stderr(&third));
    hub.stop().await
}

async fn cbm_notify_inbox_ack_and_show(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let sent = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "cbm",
            "notify",
            "--kind",
            "incident",
            "--severity",
            "high",
            "--title",
            "Напад на енергетски систем",
            "--body",
            "Детаљи у прилогу.",
            "--language",
            "sr-Cyrl",
            "--sector",
            "energy",
            "--scope",
            "agencies:HU-NNI,UA-CERT",
            "--ack-within",
            "24h",
            "-o",
            "json",
        ],
    )
    .await?;
    let value: serde_json::Value = serde_json::from_slice(&sent.stdout)?;
    let id = value["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("cbm_"), "{value}");
    assert_eq!(value["acknowledgements"].as_array().map(Vec::len), Some(2));

    let inbox = liaisonctl_ok(
        &hub,
        "HU-NNI/officer",
        &["cbm", "inbox", "--unacknowledged"],
    )
    .await?;
    assert!(stdout(&inbox).contains(&id), "{}", stdout(&inbox));
    liaisonctl_ok(&hub, "HU-NNI/officer", &["cbm", "ack", &id]).await?;

    let show = liaisonctl_ok(&hub, "RS-MUP/officer", &["cbm", "show", &id]).await?;
    let table = stdout(&show);
    let line = |agency: &str| {
        table
            .lines()
            .find(|line| line.starts_with(agency))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("HU-NNI").contains("received"), "{table}");
    assert!(line("UA-CERT").contains("pending"), "{table}");

    // Others are told it does not exist; bad arguments are usage errors.
    let hidden = liaisonctl(&hub, "VN-BCA/officer", &["cbm", "show", &id]).await?;
    assert_eq!(hidden.status.code(), Some(1), "{}", stderr(&hidden));
    let bad = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &[
            "cbm", "notify", "--kind", "gossip", "--title", "x", "--body", "y",
        ],
    )
    .await?;
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    let poc = liaisonctl_ok(
        &hub,
        "HU-NNI/officer",
        &[
            "cbm",
            "poc",
            "set",
            "--level",
            "technical",
            "--function",
            "24/7 ügyeletes tiszt",
            "--channel",
            "phone=+36 1 443 5000",
            "--language",
            "hu",
            "--around-the-clock",
        ],
    )
    .await?;
    let poc_id = stdout(&poc).trim().to_owned();
    assert!(poc_id.starts_with("poc_"), "{poc_id}");
    let listed = liaisonctl(
        &hub,
        "RS-MUP/feed",
        &["cbm", "poc", "list", "--agency", "HU-NNI"],
    )
    .await?;
    assert!(
        stdout(&listed).contains("24/7 ügyeletes tiszt"),
        "{}",
        stdout(&listed)
    );

    // The operator starts a communication check; its report lists the agency as pending.
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
            "agencies:HU-NNI",
            "--level",
            "technical",
            "-o",
            "json",
        ],
    )
    .await?;
    let check: serde_json::Value = serde_json::from_slice(&started.stdout)?;
    let check_id = check["id"].as_str().unwrap_or_default().to_owned();
    assert!(check_id.starts_with("chk_"), "{check}");
    let report = liaisonctl_ok(
        &hub,
        "INT-HUB/operator",
        &["cbm", "check", "report", &check_id],
    )
    .await?;
    let table = stdout(&report);
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("HU-NNI") && line.contains("pending")),
        "{table}"
    );

    // HU-NNI answers with the challenge: a check of technical contacts needs the
    // technical point of contact who answers.
    let challenge = check["challenge"].as_str().unwrap_or_default().to_owned();
    let answer = |poc: Option<&str>| {
        let mut args = vec![
            "cbm".to_owned(),
            "check".into(),
            "answer".into(),
            check_id.clone(),
            "--challenge".into(),
            challenge.clone(),
            "--comment".into(),
            "Elérhetők vagyunk".into(),
            "--language".into(),
            "hu".into(),
        ];
        if let Some(poc) = poc {
            args.extend(["--poc".to_owned(), poc.to_owned()]);
        }
        let hub = &hub;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            liaisonctl(hub, "HU-NNI/officer", &args).await
        }
    };
    let without = answer(None).await?;
    assert_eq!(without.status.code(), Some(1), "{}", stderr(&without));
    assert!(
        stderr(&without).contains("point_of_contact_id") && stderr(&without).contains("technical"),
        "{}",
        stderr(&without)
    );
    let answered = answer(Some(&poc_id)).await?;
    assert_success(&answered);
    assert!(
        stdout(&answered).contains("HU-NNI answered"),
        "{}",
        stdout(&answered)
    );
    let report = liaisonctl(
        &hub,
        "INT-HUB/operator",
        &["cbm", "check", "report", &check_id],
    )
    .await?;
    let table = stdout(&report);
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("HU-NNI") && line.contains("answered")),
        "{table}"
    );
    let bad_level = liaisonctl(
        &hub,
        "INT-HUB/operator",
        &[
            "cbm",
            "check",
            "start",
            "--window",
            "1h",
            "--level",
            "strategic",
        ],
    )
    .await?;
    assert_eq!(bad_level.status.code(), Some(2), "{}", stderr(&bad_level));
    hub.stop().await
}

both!(an_agency_auditors_redacted_export_verifies_and_a_forged_opening_does_not);

/// C1. An agency's auditor is given a redacted export (other agencies' objects and
/// details withheld as salted hashes). `audit verify` still checks every leaf against
/// the signed tree and every opening against its leaf; an opening edited to name another
/// owner is caught.
async fn an_agency_auditors_redacted_export_verifies_and_a_forged_opening_does_not(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    publish_and_sign(
        &hub,
        "UA-CERT/officer",
        &["Фішинг «Дія»", "Шахрайство з OLX"],
    )
    .await?;
    liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "indicators",
            "search",
            "--purpose",
            "Predmet 5/2026",
            "-o",
            "json",
        ],
    )
    .await?;
    let size = hub.store().audit_size().await?;
    wait_for_checkpoint(&hub, size).await?;
    let state = tempfile::tempdir()?;
    let state_dir = state.path().to_str().unwrap_or_default().to_owned();
    liaisonctl_ok(
        &hub,
        "UA-CERT/auditor",
        &["audit", "verify", "--state-dir", &state_dir],
    )
    .await?;
    let file = state.path().join("export.jsonl");
    let file_arg = file.to_str().unwrap_or_default().to_owned();
    liaisonctl_ok(
        &hub,
        "UA-CERT/auditor",
        &["audit", "export", "-f", &file_arg],
    )
    .await?;
    let text = std::fs::read_to_string(&file)?;
    assert!(text.contains("\"opening\""), "no openings in {text}");
    assert!(
        !text.contains("Predmet 5/2026"),
        "RS-MUP's purpose leaked: {text}"
    );
    liaisonctl_ok(
        &hub,
        "UA-CERT/auditor",
        &["audit", "verify", &file_arg, "--state-dir", &state_dir],
    )
    .await?;
    // The reader edits an opening to claim another owner for its own object.
    let forged = text.replacen(
        "\\\"owner\\\":\\\"UA-CERT\\\"",
        "\\\"owner\\\":\\\"RS-MUP\\\"",
        1,
    );
    assert_ne!(forged, text, "no owner to forge in {text}");
    std::fs::write(&file, forged)?;
    let caught = liaisonctl(
        &hub,
        "UA-CERT/auditor",
        &["audit", "verify", &file_arg, "--state-dir", &state_dir],
    )
    .await?;
    assert_eq!(caught.status.code(), Some(1), "{}", stdout(&caught));
    assert!(
        stderr(&caught).contains("was altered"),
        "{}",
        stderr(&caught)
    );
    hub.stop().await
}

both!(a_log_under_another_origin_is_not_taken_for_the_hubs);

/// M8. A witness remembers the hub it verified by the host it reaches it at, with the
/// log's origin. A log presented later under another origin — with a key of its own —
/// is refused, rather than trusted afresh as a new log.
async fn a_log_under_another_origin_is_not_taken_for_the_hubs(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    publish_and_sign(&hub, "SI-POLICIJA/officer", &["Lažna bančna stran"]).await?;
    let state = tempfile::tempdir()?;
    let state_dir = state.path().to_str().unwrap_or_default().to_owned();
    let first = verify_live(&hub, &state_dir).await?;
    assert_success(&first);

    let (key, _) = liaison_audit::SigningKey::generate("elsewhere.example/audit")?;
    let leaf = liaison_audit::leaf_hash(b"an empty history");
    let note = liaison_audit::Checkpoint::new("elsewhere.example/audit", 1, leaf)?.sign(&key);
    let file = state.path().join("other.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            serde_json::json!({"leaf_index": 0, "leaf_hash": hex::encode(leaf)}),
            serde_json::json!({"checkpoint": note})
        ),
    )?;
    let verified = liaisonctl(
        &hub,
        "INT-HUB/auditor",
        &[
            "audit",
            "verify",
            file.to_str().unwrap_or_default(),
            "--log-key",
            &key.verifier_key().to_string(),
            "--state-dir",
            &state_dir,
        ],
    )
    .await?;
    assert_eq!(verified.status.code(), Some(1), "{}", stdout(&verified));
    assert!(
        stderr(&verified).contains("now signs its log as"),
        "{}",
        stderr(&verified)
    );
    hub.stop().await
}
