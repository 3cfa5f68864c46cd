//! `indicators publish --file` (JSON, CSV, STIX) and `indicators export --stix`.

use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;

use crate::support::{liaisonctl, liaisonctl_ok, stderr, stdout};

both!(
    publish_a_json_file_once,
    publish_a_csv_file_with_bad_rows,
    export_stix_and_publish_the_bundle,
);

fn summary(output: &std::process::Output) -> anyhow::Result<Value> {
    serde_json::from_slice(&output.stdout)
        .map_err(|error| anyhow::anyhow!("{error}: {}{}", stdout(output), stderr(output)))
}

async fn publish_a_json_file_once(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let directory = tempfile::tempdir()?;
    let file = directory.path().join("items.json");
    std::fs::write(
        &file,
        serde_json::json!([
            {
                "title": "Giả mạo cuộc gọi ngân hàng",
                "description": "Kẻ lừa đảo xưng là nhân viên ngân hàng.",
                "countermeasures": "Ngân hàng không bao giờ hỏi mã OTP.",
                "category": "phishing",
                "language": "vi",
                "observables": [
                    {"type": "domain", "value": "Ngân-Hàng-Xác-Minh.example"},
                    {"type": "phone", "value": "+84 24 3826 9999"}
                ]
            },
            {"observables": [{"type": "ipv4", "value": "203.0.113.9"}], "tlp": "clear"}
        ])
        .to_string(),
    )?;
    let path = file.to_string_lossy().into_owned();
    let args = ["indicators", "publish", "--file", &path, "-o", "json"];
    let first = liaisonctl_ok(&hub, "VN-BCA/officer", &args).await?;
    let value = summary(&first)?;
    assert_eq!(value["accepted"], 2, "{value}");
    assert_eq!(value["rejected"], serde_json::json!([]));
    // The same file again stores nothing twice.
    let again = liaisonctl_ok(&hub, "VN-BCA/officer", &args).await?;
    let value = summary(&again)?;
    assert_eq!(
        (value["accepted"].clone(), value["duplicate"].clone()),
        (0.into(), 2.into())
    );

    let found = liaisonctl(
        &hub,
        "VN-BCA/officer",
        &["indicators", "search", "-o", "json"],
    )
    .await?;
    let list: Vec<Value> = serde_json::from_slice(&found.stdout)?;
    assert_eq!(list.len(), 2, "{}", stdout(&found));
    assert!(stdout(&found).contains("Giả mạo cuộc gọi ngân hàng"));
    hub.stop().await
}

async fn publish_a_csv_file_with_bad_rows(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let directory = tempfile::tempdir()?;
    let file = directory.path().join("observables.csv");
    std::fs::write(
        &file,
        "\u{feff}type,value,title,category,tlp,confidence\n\
         domain,kripto-profit.example,\"Lažni sajt, kripto\",crypto-asset-fraud,amber,80\n\
         iban,RS35 2600 0560 1001 6113 78,,,,\n\
         phone,+381 11 306 2000,,,,high\n\
         carrier-pigeon,coo,,,,\n\
         iban,LV80 BANK 0000 4351 9500 1,,,green,\n",
    )?;
    let path = file.to_string_lossy().into_owned();
    let output = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &["indicators", "publish", "--file", &path, "--tlp", "green"],
    )
    .await?;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("accepted 2, duplicate 0, rejected 3"),
        "{text}"
    );
    let rejected: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("line "))
        .collect();
    assert_eq!(rejected.len(), 3, "{text}");
    assert!(
        rejected[0].starts_with("line 3") && rejected[0].contains("IBAN"),
        "{text}"
    );
    assert!(
        rejected[1].starts_with("line 4") && rejected[1].contains("confidence"),
        "{text}"
    );
    assert!(
        rejected[2].starts_with("line 5") && rejected[2].contains("carrier-pigeon"),
        "{text}"
    );
    assert!(
        stderr(&output).contains("3 of 5 item(s) rejected"),
        "{}",
        stderr(&output)
    );
    hub.stop().await
}

async fn export_stix_and_publish_the_bundle(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let published = liaisonctl_ok(
        &hub,
        "UA-CERT/officer",
        &[
            "indicators",
            "publish",
            "--title",
            "Фейкові «виплати» від держави",
            "--category",
            "phishing",
            "--language",
            "uk",
            "--observable",
            "url=https://Виплати-Допомога.example/форма",
            "--observable",
            "messenger=telegram:@it's_me",
            "--tlp",
            "amber",
            "-o",
            "json",
        ],
    )
    .await?;
    let id = summary(&published)?["indicator"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let directory = tempfile::tempdir()?;
    let file = directory.path().join("bundle.json");
    let path = file.to_string_lossy().into_owned();
    liaisonctl_ok(
        &hub,
        "RS-MUP/officer",
        &["indicators", "export", &id, "--stix", "--out", &path],
    )
    .await?;
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
    assert_eq!(bundle["type"], "bundle");
    let to_stdout = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &["indicators", "export", &id, "--stix"],
    )
    .await?;
    assert_eq!(serde_json::from_slice::<Value>(&to_stdout.stdout)?, bundle);
    // Without --stix there is no format to export in.
    let no_format = liaisonctl(&hub, "RS-MUP/officer", &["indicators", "export", &id]).await?;
    assert_eq!(no_format.status.code(), Some(2));

    // Published again by another agency, with an object it cannot read added.
    let mut objects = bundle["objects"].as_array().cloned().unwrap_or_default();
    objects.push(serde_json::json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--44444444-4444-4444-8444-444444444444",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[process:name = 'evil.exe']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    }));
    let mut changed = bundle.clone();
    changed["objects"] = Value::Array(objects);
    std::fs::write(&file, changed.to_string())?;
    let output = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &["indicators", "publish", "--file", &path, "-o", "json"],
    )
    .await?;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let value = summary(&output)?;
    assert_eq!(value["accepted"], 1, "{value}");
    assert_eq!(
        value["rejected"][0]["item"],
        "indicator--44444444-4444-4444-8444-444444444444"
    );
    assert!(
        value["rejected"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("process:name")
    );

    let search = liaisonctl(
        &hub,
        "RS-MUP/officer",
        &["indicators", "search", "--source", "RS-MUP", "-o", "json"],
    )
    .await?;
    let list: Vec<Value> = serde_json::from_slice(&search.stdout)?;
    assert_eq!(list.len(), 1, "{}", stdout(&search));
    assert!(stdout(&search).contains("Фейкові «виплати» від держави"));
    assert!(stdout(&search).contains("telegram:@it's_me"));
    hub.stop().await
}
