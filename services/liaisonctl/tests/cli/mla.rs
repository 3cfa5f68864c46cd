//! `liaisonctl mla` beyond the workflow steps: the watch (deadlines on the hub's clock,
//! Ctrl-C, resuming), receipts verified offline from saved files, and new requests from
//! TOML files and prompts.

use std::{process::Stdio, time::Duration};

use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};

use crate::support::{assert_success, liaisonctl, liaisonctl_ok, liaisonctl_raw, stderr, stdout};

both!(
    mla_watch_follows_deadlines_stops_on_ctrl_c_and_resumes,
    saved_receipts_verify_offline_and_any_changed_byte_fails,
    receipts_lists_and_saves_every_page,
    mla_new_from_toml_from_prompts_and_not_from_nothing,
);

/// A complete emergency preservation request from UA-CERT to RS-MUP, as a `mla new` JSON
/// file's contents.
pub(crate) fn preservation_json() -> Value {
    serde_json::json!({
        "requested_agency": "RS-MUP",
        "legal_basis": "BUDAPEST_ART_29_PRESERVATION",
        "urgency": "EMERGENCY",
        "case_reference": "КП-2026/0042",
        "language": "uk",
        "requesting_authority": "Офіс Генерального прокурора України",
        "offence": "Шахрайство з використанням комп'ютерних систем",
        "summary_of_facts": "Фішингова кампанія; кошти виведено до Сербії",
        "emergency_justification": "Загроза життю свідка",
        "preservation_requested": true,
        "preservation_necessity": "Журнали зберігаються лише 30 днів",
        "full_request_to_follow": true,
        "data_sought": [{
            "category": "TRAFFIC",
            "description": "Журнали входу",
            "relation_to_offence": "Керування фішинговими сторінками",
            "provider": "Хостинг д.о.о.",
            "identifiers": [{"type": "IP_ADDRESS", "value": "203.0.113.7:51234",
                             "time": "2025-10-09T08:53:20Z", "time_zone": "Europe/Kyiv"}]
        }]
    })
}

/// Creates and submits the preservation request as UA-CERT; returns its id.
pub(crate) async fn submitted_request(
    hub: &TestHub,
    dir: &std::path::Path,
) -> anyhow::Result<String> {
    let file = dir.join("request.json");
    std::fs::write(&file, preservation_json().to_string())?;
    let created = liaisonctl_ok(
        hub,
        "UA-CERT/officer",
        &[
            "mla",
            "new",
            "--file",
            &file.to_string_lossy(),
            "-o",
            "json",
        ],
    )
    .await?;
    let id = serde_json::from_slice::<Value>(&created.stdout)?["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    liaisonctl_ok(hub, "UA-CERT/officer", &["mla", "submit", &id]).await?;
    Ok(id)
}

/// The next JSON line of a running `mla watch -o json`.
async fn next_line(
    lines: &mut Lines<BufReader<tokio::process::ChildStdout>>,
) -> anyhow::Result<Value> {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("no event line within 20 s"))??
        .ok_or_else(|| anyhow::anyhow!("the watch ended"))?;
    Ok(serde_json::from_str(&line)?)
}

/// Reads event lines until one of `kind` arrives; returns it.
async fn until_kind(
    lines: &mut Lines<BufReader<tokio::process::ChildStdout>>,
    kind: &str,
) -> anyhow::Result<Value> {
    loop {
        let event = next_line(lines).await?;
        if event["kind"] == kind {
            return Ok(event);
        }
    }
}

async fn mla_watch_follows_deadlines_stops_on_ctrl_c_and_resumes(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let id = submitted_request(&hub, dir.path()).await?;

    let mut child = crate::support::liaisonctl_command(&hub.data_dir())
        .arg("--endpoint")
        .arg(hub.endpoint())
        .args(["--dev", "--data-dir"])
        .arg(hub.data_dir())
        .args(["--as", "RS-MUP/officer", "mla", "watch", "-o", "json"])
        .env_remove("LIAISON_OUTPUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let submitted = until_kind(&mut lines, "submitted").await?;
    assert_eq!(submitted["mla_request_id"], id.as_str());
    assert_eq!(submitted["detail"]["action"], "submit");
    assert_eq!(submitted["detail"]["to"], "submitted");
    assert_eq!(submitted["detail"]["by"], "UA-CERT/officer");
    let receipt = until_kind(&mut lines, "receipt_issued").await?;
    assert!(
        receipt["detail"]["receipt"]
            .as_str()
            .is_some_and(|id| id.starts_with("rct_")),
        "{receipt}"
    );
    assert_eq!(receipt["detail"]["attests"], "submission_accepted");

    // An emergency must be acknowledged within 4 hours: 3½ hours on, the deadline
    // approaches; 4 hours on, it has passed. The hub's clock moves; nobody sleeps.
    hub.clock().advance(Duration::from_secs(3 * 3600 + 1800));
    let approaching = until_kind(&mut lines, "deadline_approaching").await?;
    assert_eq!(approaching["mla_request_id"], id.as_str());
    assert_eq!(approaching["detail"]["deadline"], "acknowledgement");
    assert_eq!(approaching["detail"]["party"], "requested");
    hub.clock().advance(Duration::from_secs(3600));
    let passed = until_kind(&mut lines, "deadline_passed").await?;
    assert_eq!(passed["detail"]["deadline"], "acknowledgement");
    let last = passed["cursor"].as_u64().expect("a cursor");
    assert!(last > approaching["cursor"].as_u64().expect("a cursor"));

    // Ctrl-C ends the watch cleanly and says where to resume.
    let pid = child.id().expect("running").to_string();
    let interrupted = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await?;
    assert!(interrupted.success());
    let ended = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await??;
    assert!(ended.status.success(), "{ended:?}");
    let said = String::from_utf8_lossy(&ended.stderr);
    assert!(said.contains("resume with --after"), "{said}");

    // Meanwhile RS-MUP reads the request (delivery) and acknowledges it, late; resuming
    // after the last event seen shows the steps and nothing from before.
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "show", &id]).await?;
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "ack", &id]).await?;
    let after = last.to_string();
    let resumed = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &[
            "mla",
            "watch",
            "--after",
            &after,
            "--limit",
            "2",
            "--kind",
            "state_changed",
            "-o",
            "json",
        ],
    )
    .await?;
    let events = stdout(&resumed)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0]["cursor"].as_u64().expect("a cursor") > last);
    assert_eq!(events[0]["detail"]["action"], "deliver", "{events:?}");
    let event = &events[1];
    assert_eq!(event["detail"]["action"], "acknowledge");
    assert_eq!(event["detail"]["to"], "acknowledged");
    assert_eq!(event["detail"]["by"], "RS-MUP/officer");

    // A message names its id and sender.
    let posted =
        liaisonctl_ok(&hub, "UA-CERT/officer", &["mla", "message", &id, "Дякуємо"]).await?;
    let message_id = stdout(&posted).trim().to_owned();
    let message = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &[
            "mla",
            "watch",
            "--kind",
            "message_posted",
            "--limit",
            "1",
            "-o",
            "json",
        ],
    )
    .await?;
    let message: Value = serde_json::from_str(stdout(&message).trim())?;
    assert_eq!(message["detail"]["message"], message_id.as_str());
    assert_eq!(message["detail"]["from"], "UA-CERT/officer");

    // The table for people, and a kind that does not exist.
    let table = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "mla",
            "watch",
            "--request",
            &id,
            "--kind",
            "deadline_passed",
            "--limit",
            "1",
        ],
    )
    .await?;
    let text = stdout(&table);
    assert!(text.starts_with("CURSOR"), "{text}");
    assert!(
        text.contains("deadline_passed") && text.contains("deadline acknowledgement"),
        "{text}"
    );
    let unknown = liaisonctl(
        &hub,
        "UA-CERT/officer",
        &["mla", "watch", "--kind", "exploded"],
    )
    .await?;
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("--kind"), "{}", stderr(&unknown));
    hub.stop().await
}

/// `mla receipts ID --out DIR/receipts -o json` as UA-CERT: the directory and the listed
/// receipts.
async fn saved_receipts(
    hub: &TestHub,
    id: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(std::path::PathBuf, Vec<Value>)> {
    let saved = dir.join("receipts");
    let saved_path = saved.to_string_lossy().into_owned();
    let listed = liaisonctl_ok(
        hub,
        "UA-CERT/officer",
        &["mla", "receipts", id, "--out", &saved_path, "-o", "json"],
    )
    .await?;
    Ok((saved, serde_json::from_slice(&listed.stdout)?))
}

/// More receipts than the hub returns in one page (100 by default): `mla receipts` lists
/// and saves every one of them, not only the first page.
async fn receipts_lists_and_saves_every_page(backend: Backend) -> anyhow::Result<()> {
    use liaison_proto::v1;
    use sha2::{Digest, Sha256};
    const FILES: usize = 101;
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let id = submitted_request(&hub, dir.path()).await?;
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "show", &id]).await?;
    let mut mla = hub.client("RS-MUP", "officer").await?.mla();
    for file in 0..FILES {
        let bytes = format!("2025-10-09T08:53:20Z;203.0.113.7;prijava {file}\n").into_bytes();
        let messages = vec![
            v1::UploadEvidenceRequest {
                request_id: format!("izvod-{file}"),
                payload: Some(v1::upload_evidence_request::Payload::Metadata(
                    v1::MlaEvidenceUploadMetadata {
                        mla_request_id: id.clone(),
                        file_name: format!("izvod-{file}.csv"),
                        media_type: "text/csv".into(),
                        size_bytes: i64::try_from(bytes.len())?,
                        expected_sha256: hex::encode(Sha256::digest(&bytes)),
                        ..v1::MlaEvidenceUploadMetadata::default()
                    },
                )),
            },
            v1::UploadEvidenceRequest {
                request_id: String::new(),
                payload: Some(v1::upload_evidence_request::Payload::Chunk(bytes)),
            },
        ];
        mla.upload_evidence(tokio_stream::iter(messages)).await?;
    }

    let (saved, listed) = saved_receipts(&hub, &id, dir.path()).await?;
    let submissions = listed
        .iter()
        .filter(|receipt| receipt["kind"] == "evidence_submission")
        .count();
    assert_eq!(submissions, FILES, "{listed:?}");
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|receipt| receipt["id"].as_str().unwrap_or_default())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), listed.len(), "a receipt listed twice");
    let files = std::fs::read_dir(&saved)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != "receipt-keys.json")
        .count();
    assert_eq!(files, listed.len());
    hub.stop().await
}

async fn saved_receipts_verify_offline_and_any_changed_byte_fails(
    backend: Backend,
) -> anyhow::Result<()> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;
    let id = submitted_request(&hub, dir.path()).await?;
    liaisonctl_ok(&hub, "RS-MUP/officer", &["mla", "show", &id]).await?;
    let evidence = dir.path().join("izvod.csv");
    std::fs::write(
        &evidence,
        "2025-10-09T08:53:20Z;203.0.113.7;prijava\n".repeat(1000),
    )?;
    let evidence_path = evidence.to_string_lossy().into_owned();
    let uploaded = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &["mla", "upload", &id, &evidence_path, "-o", "json"],
    )
    .await?;
    let uploaded: Value = serde_json::from_slice(&uploaded.stdout)?;

    // UA-CERT saves the request's receipts and the hub's keys.
    let (saved, listed) = saved_receipts(&hub, &id, dir.path()).await?;
    let file_of = |kind: &str| {
        let receipt = listed
            .iter()
            .find(|receipt| receipt["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} receipt in {listed:?}"));
        saved
            .join(format!(
                "{}.json",
                receipt["id"].as_str().unwrap_or_default()
            ))
            .to_string_lossy()
            .into_owned()
    };
    let keys = saved
        .join("receipt-keys.json")
        .to_string_lossy()
        .into_owned();

    // Offline: the endpoint is unreachable (port 1), and it does not matter.
    let offline = |args: Vec<String>| {
        let data_dir = hub.data_dir();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            liaisonctl_raw("https://127.0.0.1:1", &data_dir, "UA-CERT/officer", &args).await
        }
    };
    let submission = file_of("evidence_submission");
    let verified = offline(vec![
        "mla".into(),
        "verify-receipt".into(),
        submission.clone(),
        "--keys".into(),
        keys.clone(),
        "--evidence".into(),
        evidence_path.clone(),
    ])
    .await?;
    assert_success(&verified);
    let text = stdout(&verified);
    assert!(text.contains(&format!("{id} (UA-CERT → RS-MUP)")), "{text}");
    assert!(text.contains("evidence_submission"), "{text}");
    assert!(text.contains("SHA-256 matches"), "{text}");
    assert!(
        text.contains(uploaded["sha256"].as_str().unwrap_or("?")),
        "{text}"
    );
    assert!(
        text.contains("VERIFIED: at ") && text.contains("RS-MUP/officer delivered"),
        "{text}"
    );

    // The same check as JSON, and against the keys the hub publishes.
    let accepted = file_of("submission_accepted");
    let online = liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &["mla", "verify-receipt", &accepted, "-o", "json"],
    )
    .await?;
    let report: Value = serde_json::from_slice(&online.stdout)?;
    assert_eq!(report["verified"], true);
    assert_eq!(report["kind"], "submission_accepted");
    assert_eq!(report["mla_request_id"], id.as_str());
    assert_eq!(report["state"], "submitted");
    assert_eq!(report["actor"], "UA-CERT/officer");
    assert_eq!(report["keys_from"], "fetched from the hub");
    assert_eq!(report["content_sha256"].as_str().map(str::len), Some(64));

    // One byte of the signed statement changed: refused, exit 1, nothing shown as proven.
    let mut receipt: Value = serde_json::from_str(&std::fs::read_to_string(&submission)?)?;
    let mut statement = STANDARD.decode(receipt["statement"].as_str().unwrap_or_default())?;
    let last = statement.len() - 1;
    statement[last] ^= 0x01;
    receipt["statement"] = STANDARD.encode(&statement).into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, receipt.to_string())?;
    let tampered_path = tampered.to_string_lossy().into_owned();
    let refused = offline(vec![
        "mla".into(),
        "verify-receipt".into(),
        tampered_path,
        "--keys".into(),
        keys.clone(),
    ])
    .await?;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("NOT VERIFIED"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !stdout(&refused).contains("VERIFIED"),
        "{}",
        stdout(&refused)
    );

    // One byte of the evidence file changed: the receipt verifies, the file is not its.
    let mut bytes = std::fs::read(&evidence)?;
    bytes[100] ^= 0x01;
    std::fs::write(&evidence, &bytes)?;
    let altered = offline(vec![
        "mla".into(),
        "verify-receipt".into(),
        submission.clone(),
        "--keys".into(),
        keys.clone(),
        "--evidence".into(),
        evidence_path,
    ])
    .await?;
    assert_eq!(altered.status.code(), Some(1), "{}", stderr(&altered));
    assert!(
        stderr(&altered).contains("is not a file it attests"),
        "{}",
        stderr(&altered)
    );

    // One byte of the key changed: nothing verifies.
    let mut keys_value: Value = serde_json::from_str(&std::fs::read_to_string(&keys)?)?;
    let mut public_key = STANDARD.decode(
        keys_value["keys"][0]["public_key"]
            .as_str()
            .unwrap_or_default(),
    )?;
    public_key[0] ^= 0x01;
    keys_value["keys"][0]["public_key"] = STANDARD.encode(&public_key).into();
    let other_keys = dir.path().join("other-keys.json");
    std::fs::write(&other_keys, keys_value.to_string())?;
    let wrong_key = offline(vec![
        "mla".into(),
        "verify-receipt".into(),
        accepted,
        "--keys".into(),
        other_keys.to_string_lossy().into_owned(),
    ])
    .await?;
    assert_eq!(wrong_key.status.code(), Some(1), "{}", stderr(&wrong_key));
    assert!(
        stderr(&wrong_key).contains("does not verify"),
        "{}",
        stderr(&wrong_key)
    );
    hub.stop().await
}

/// Runs `liaisonctl mla new` as UA-CERT/officer with `input` on its standard input.
async fn new_with_input(
    hub: &TestHub,
    args: &[&str],
    input: &str,
) -> anyhow::Result<std::process::Output> {
    use tokio::io::AsyncWriteExt;
    let mut child = crate::support::liaisonctl_command(&hub.data_dir())
        .arg("--endpoint")
        .arg(hub.endpoint())
        .args(["--dev", "--data-dir"])
        .arg(hub.data_dir())
        .args(["--as", "UA-CERT/officer", "mla", "new"])
        .args(args)
        .env_remove("LIAISON_OUTPUT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).await?;
    drop(stdin);
    Ok(tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await??)
}

/// Submits draft `id` as UA-CERT: the hub accepts only a complete request.
async fn submits(hub: &TestHub, id: &str) -> anyhow::Result<Value> {
    let submitted =
        liaisonctl(hub, "UA-CERT/officer", &["mla", "submit", id, "-o", "json"]).await?;
    assert_success(&submitted);
    Ok(serde_json::from_slice(&submitted.stdout)?)
}

async fn mla_new_from_toml_from_prompts_and_not_from_nothing(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let dir = tempfile::tempdir()?;

    // TOML, with a TOML date-time for the identifier's time.
    let file = dir.path().join("request.toml");
    std::fs::write(
        &file,
        r#"
requested_agency = "HU-NNI"
legal_basis = "BUDAPEST_ART_31_ACCESS_TO_STORED_DATA"
urgency = "URGENT"
case_reference = "UA-2026-2201"
language = "uk"
requesting_authority = "Кіберполіція України"
offence = "Шахрайство з використанням комп'ютерних систем"
summary_of_facts = "Кошти виведено через угорський платіжний сервіс"

[[data_sought]]
category = "SUBSCRIBER"
description = "Власник облікового запису"
relation_to_offence = "Отримувач коштів"
provider = "Példa Fizetés Kft."
identifiers = [{ type = "EMAIL", value = "mule@example.hu", time = 2026-11-20T08:53:20Z, time_zone = "Europe/Budapest" }]
"#,
    )?;
    let created = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "mla",
            "new",
            "--file",
            &file.to_string_lossy(),
            "-o",
            "json",
        ],
    )
    .await?;
    let draft: Value = serde_json::from_slice(&created.stdout)?;
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["requested_agency_id"], "HU-NNI");
    assert_eq!(draft["case_reference"], "UA-2026-2201");
    let submitted = submits(&hub, draft["id"].as_str().expect("an id")).await?;
    assert_eq!(submitted["state"], "submitted");

    // Neither TOML nor JSON by its name, and broken TOML: usage errors naming the file.
    let text = dir.path().join("request.txt");
    std::fs::write(&text, "")?;
    let refused = liaisonctl(
        &hub,
        "UA-CERT/officer",
        &["mla", "new", "--file", &text.to_string_lossy()],
    )
    .await?;
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("must end in .toml or .json"),
        "{}",
        stderr(&refused)
    );
    std::fs::write(&file, "requested_agency = \"HU-NNI")?;
    let broken = liaisonctl(
        &hub,
        "UA-CERT/officer",
        &["mla", "new", "--file", &file.to_string_lossy()],
    )
    .await?;
    assert_eq!(broken.status.code(), Some(2), "{}", stderr(&broken));
    assert!(
        stderr(&broken).contains("not valid TOML"),
        "{}",
        stderr(&broken)
    );

    // No file and no terminal: a usage error that says what to do.
    let nothing = new_with_input(&hub, &[], "").await?;
    assert_eq!(nothing.status.code(), Some(2), "{}", stderr(&nothing));
    assert!(
        stderr(&nothing).contains("--file REQUEST.toml"),
        "{}",
        stderr(&nothing)
    );
    assert!(
        stderr(&nothing).contains("--interactive"),
        "{}",
        stderr(&nothing)
    );

    // Prompts, answered one line each: choices by number and by name, a wrong choice
    // asked again, an empty answer taking the default.
    let answers = [
        "RS-MUP",
        "1",                    // legal basis: Art. 29 preservation
        "emergency",            // urgency, by name
        "Загроза життю свідка", // emergency justification
        "КП-2026/0077",
        "", // language: en
        "Cyber Police of Ukraine",
        "Fraud",
        "Phishing in the name of a bank",
        "", // preservation requested: yes (the default for Art. 29)
        "Logs are kept for 7 days",
        "y", // a full request will follow
        "7", // category: not a choice, asked again
        "2", // TRAFFIC
        "Connection logs",
        "Control of the phishing pages",
        "Example Hosting d.o.o.",
        "ip_address",
        "203.0.113.7",
        "2025-10-09T08:53:20Z",
        "Europe/Kyiv",
        "n", // no further item
    ];
    let prompted = new_with_input(
        &hub,
        &["--interactive", "-o", "json"],
        &(answers.join("\n") + "\n"),
    )
    .await?;
    assert_success(&prompted);
    let asked = stderr(&prompted);
    assert!(asked.contains("8) BILATERAL_TREATY"), "{asked}");
    assert!(asked.contains("\"7\" is not one of the choices"), "{asked}");
    let draft: Value = serde_json::from_slice(&prompted.stdout)?;
    assert_eq!(draft["case_reference"], "КП-2026/0077");
    let submitted = submits(&hub, draft["id"].as_str().expect("an id")).await?;
    assert_eq!(submitted["state"], "submitted");

    // Answers that stop early: nothing is created.
    let short = new_with_input(&hub, &["--interactive"], "RS-MUP\n1\n").await?;
    assert_eq!(short.status.code(), Some(2), "{}", stderr(&short));
    assert!(stderr(&short).contains("input ended"), "{}", stderr(&short));
    let listed = liaisonctl(&hub, "UA-CERT/officer", &["mla", "list", "-o", "json"]).await?;
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&listed.stdout)?.len(),
        2
    );
    hub.stop().await
}
