//! STIX 2.1 over the wire: ExportStix sees exactly what GetIndicator sees, every exported
//! bundle passes the OASIS validator, and ImportStix stores bundles as the caller's
//! agency — idempotently, and refusing what it cannot read by STIX object id.

use std::{path::PathBuf, process::Command};

use liaison_client::Client;
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{PATIENCE, all_members, fraud_method, named, publish, purposeful, unique};

both!(
    exported_bundles_pass_the_oasis_validator,
    export_answers_only_those_who_may_see_the_item,
    an_import_is_stored_as_the_callers_agency_once,
    an_import_refuses_what_it_cannot_read_by_object_id,
);

/// One observable of every type, as a client would type them.
fn every_observable() -> Vec<v1::Observable> {
    use v1::ObservableType as T;
    [
        (T::Domain, "Приват-Безпека.укр"),
        (T::Url, "https://ngân-hàng.vn/đăng-nhập?ref='x'"),
        (T::Ipv4, "203.0.113.7"),
        (T::Ipv6, "2001:db8::7"),
        (T::Email, "o'brien@šveicarijas-banka.lv"),
        (T::Phone, "+380 44 123 45 67"),
        (T::Iban, "LV80BANK0000435195001"),
        (
            T::CryptoWallet,
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ),
        (
            T::Sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (T::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (T::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
        (T::CardBin, "45717360"),
        (T::MessengerHandle, r"telegram:@it's\me"),
    ]
    .into_iter()
    .map(|(kind, value)| v1::Observable {
        r#type: kind as i32,
        value: value.to_owned(),
    })
    .collect()
}

async fn export(client: &Client, id: &str) -> Result<String, tonic::Status> {
    Ok(client
        .indicators()
        .export_stix(purposeful(v1::ExportStixRequest {
            indicator_id: id.to_owned(),
        }))
        .await?
        .into_inner()
        .bundle_json)
}

/// The OASIS validator (PyPI `stix2-validator`) that `scripts/test` installs and names in
/// `LIAISON_STIX_VALIDATOR`; without it this test fails, it never skips.
fn validator() -> PathBuf {
    match std::env::var_os("LIAISON_STIX_VALIDATOR") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "LIAISON_STIX_VALIDATOR is not set: run the tests through scripts/test, which \
             installs stix2-validator in a virtualenv under target/tools"
        ),
    }
}

/// A file the validator read and the lines it printed about it.
type Findings = (String, Vec<String>);

/// Runs the validator on `files`: whether it exited 0, and per file its findings.
/// Options: `--strict` (warnings are errors), `--strict-properties` (no custom
/// properties), `--enforce-refs` (every referenced object is in the bundle); check 103
/// (`uuid-check`: SDO ids SHOULD be UUIDv4) is disabled because Liaison's ids are UUIDv5
/// by design, so that a re-export of an item keeps its ids.
fn validate(files: &[PathBuf]) -> anyhow::Result<(bool, Vec<Findings>)> {
    let output = Command::new(validator())
        .args(["--strict", "--strict-properties", "--enforce-refs"])
        .args(["--disable", "103"])
        .args(files)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.stderr.is_empty() || output.status.success(),
        "validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut results: Vec<Findings> = Vec::new();
    for line in stdout.lines() {
        if let Some(file) = line.strip_prefix("[-] Results for: ") {
            results.push((file.to_owned(), Vec::new()));
        } else if let Some((_, findings)) = results.last_mut() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('=') {
                findings.push(line.to_owned());
            }
        }
    }
    Ok((output.status.success(), results))
}

async fn exported_bundles_pass_the_oasis_validator(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let officer = hub.client("RS-MUP", "officer").await?;
    let directory = tempfile::tempdir()?;
    let mut files = Vec::new();
    // Every TLP, named and anonymous, a method and standalone observables.
    for tlp in [
        v1::Tlp::Clear,
        v1::Tlp::Green,
        v1::Tlp::Amber,
        v1::Tlp::AmberStrict,
        v1::Tlp::Red,
    ] {
        for anonymous in [false, true] {
            for standalone in [false, true] {
                let mut item = fraud_method("Шахрайські «інвестиції» з гарантованим прибутком");
                item.observables = every_observable();
                item.tlp = tlp as i32;
                item.anonymous = anonymous;
                item.valid_until_time = Some(prost_types::Timestamp {
                    seconds: 1_900_000_000,
                    nanos: 0,
                });
                if standalone {
                    item.fraud_method = None;
                }
                if tlp == v1::Tlp::Red {
                    item.scope = Some(named(&["RS-MUP", "UA-CERT"]));
                }
                let stored = officer
                    .indicators()
                    .publish(publish(item))
                    .await?
                    .into_inner()
                    .indicator
                    .unwrap_or_default();
                let bundle = export(&officer, &stored.id).await?;
                if anonymous {
                    assert!(!bundle.contains("RS-MUP"), "the source leaked: {bundle}");
                }
                let file = directory
                    .path()
                    .join(format!("{tlp:?}-{anonymous}-{standalone}.json"));
                std::fs::write(&file, bundle)?;
                files.push(file);
            }
        }
    }
    let mut item = fraud_method("Лажни позиви у име банке");
    item.language = "sr-Cyrl".into();
    let stored = officer
        .indicators()
        .publish(publish(item))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let file = directory.path().join("sr-Cyrl.json");
    std::fs::write(&file, export(&officer, &stored.id).await?)?;
    let serbian = vec![file];

    let (success, results) = validate(&files)?;
    assert_eq!(results.len(), files.len(), "{results:?}");
    for (file, findings) in &results {
        assert_eq!(
            findings,
            &["[+] STIX JSON: Valid".to_owned()],
            "{file} is not valid"
        );
    }
    assert!(success, "the validator exited with an error");

    // The validator checks `lang` against a fixed list of locale codes that lacks sr-Cyrl
    // (and plain sr), though RFC 5646 allows it; that is the only thing it may say here.
    let (success, results) = validate(&serbian)?;
    assert!(!success);
    let findings = &results[0].1;
    assert_eq!(findings[0], "[X] STIX JSON: Invalid");
    assert!(findings.len() > 1);
    for finding in &findings[1..] {
        assert!(
            finding.ends_with("'sr-Cyrl' is not a valid RFC 5646 language code."),
            "{finding}"
        );
    }
    hub.stop().await
}

async fn export_answers_only_those_who_may_see_the_item(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let mut amber = fraud_method("Лажни позиви у име банке");
    amber.tlp = v1::Tlp::Amber as i32;
    amber.scope = Some(named(&["UA-CERT"]));
    let amber = serbia
        .indicators()
        .publish(publish(amber))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let mut red = fraud_method("Crveno");
    red.tlp = v1::Tlp::Red as i32;
    red.scope = Some(named(&["UA-CERT"]));
    let red = serbia
        .indicators()
        .publish(publish(red))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();

    // The scope's agency sees it, through GetIndicator and ExportStix alike.
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let bundle: serde_json::Value = serde_json::from_str(&export(&ukraine, &amber.id).await?)?;
    assert_eq!(bundle["type"], "bundle");
    // A third agency, a system for RED, a made-up id: NOT_FOUND, as GetIndicator answers.
    let hungary = hub.client("HU-NNI", "officer").await?;
    let ukraine_feed = hub.client("UA-CERT", "feed").await?;
    let made_up = format!("ind_01j{}", "a".repeat(23));
    for (client, id) in [
        (&hungary, amber.id.as_str()),
        (&ukraine_feed, red.id.as_str()),
        (&ukraine, made_up.as_str()),
    ] {
        let get = client
            .indicators()
            .get_indicator(purposeful(v1::GetIndicatorRequest {
                indicator_id: id.to_owned(),
            }))
            .await
            .expect_err("visible");
        let status = export(client, id).await.expect_err("exported");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(get.code(), Code::NotFound);
        assert_eq!(status.message(), get.message());
    }
    // Personal data needs a purpose, as for GetIndicator.
    let status = ukraine
        .indicators()
        .export_stix(v1::ExportStixRequest {
            indicator_id: amber.id.clone(),
        })
        .await
        .expect_err("exported personal data without a purpose");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    hub.stop().await
}

async fn an_import_is_stored_as_the_callers_agency_once(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let mut item = fraud_method("Viltus investīciju platforma");
    item.language = "lv".into();
    item.observables = every_observable();
    let original = serbia
        .indicators()
        .publish(publish(item))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let bundle = export(&serbia, &original.id).await?;

    let ukraine = hub.client("UA-CERT", "feed").await?;
    let request = v1::ImportStixRequest {
        request_id: format!("import-{}", unique()),
        bundle_json: bundle,
        default_tlp: v1::Tlp::Unspecified as i32,
        scope: Some(all_members()),
    };
    let first = ukraine
        .indicators()
        .import_stix(request.clone())
        .await?
        .into_inner();
    assert!(!first.duplicate);
    let first = first.indicators;
    assert_eq!(first.len(), 1);
    let imported = &first[0];
    assert_ne!(imported.id, original.id);
    assert_eq!(imported.source_agency_id, "UA-CERT");
    assert_eq!(imported.fraud_method, original.fraud_method);
    assert_eq!(imported.observables, original.observables);
    assert_eq!(imported.language, "lv");
    assert_eq!(imported.tlp, original.tlp);
    assert_eq!(imported.confidence, original.confidence);
    assert_eq!(imported.evaluation, original.evaluation);

    // Audited like Publish: a write record of the new indicator, owned by UA-CERT.
    let written = audit_records_of(&hub, &imported.id).await?;
    assert!(
        written.iter().any(
            |record| record["method"] == "/liaison.v1.IndicatorService/ImportStix"
                && record["objects"][0]["id"] == imported.id.as_str()
                && record["objects"][0]["access"] == "write"
                && record["objects"][0]["owner"] == "UA-CERT"
        ),
        "{written:?}"
    );

    // A retry returns the first result and stores nothing, even with another bundle that
    // would make two items.
    let again = ukraine
        .indicators()
        .import_stix(request.clone())
        .await?
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.indicators, first);
    let mut bigger: serde_json::Value = serde_json::from_str(&request.bundle_json)?;
    if let Some(objects) = bigger["objects"].as_array_mut() {
        objects.push(serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--55555555-5555-4555-8555-555555555555",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": "[domain-name:value = 'another.example']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
        }));
    }
    let mut other = request;
    other.bundle_json = bigger.to_string();
    other.default_tlp = v1::Tlp::Green as i32;
    let again = ukraine.indicators().import_stix(other).await?.into_inner();
    assert!(again.duplicate);
    assert_eq!(again.indicators, first);
    let listed = ukraine
        .indicators()
        .list_indicators(purposeful(v1::ListIndicatorsRequest {
            source_agency_ids: vec!["UA-CERT".into()],
            ..v1::ListIndicatorsRequest::default()
        }))
        .await?
        .into_inner()
        .indicators;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, imported.id);
    hub.stop().await
}

/// The audit records that name `id`, once the sequencer has logged at least one.
async fn audit_records_of(hub: &TestHub, id: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut size = hub.store().watch_audit_size();
    loop {
        let mut found = Vec::new();
        for row in hub.store().audit_records(0, 10_000).await? {
            let record: serde_json::Value = serde_json::from_str(&row.record)?;
            if record.to_string().contains(id) {
                found.push(record);
            }
        }
        if !found.is_empty() {
            return Ok(found);
        }
        tokio::time::timeout(PATIENCE, size.changed())
            .await
            .map_err(|_| anyhow::anyhow!("no audit record of {id}"))??;
    }
}

async fn an_import_refuses_what_it_cannot_read_by_object_id(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "feed").await?;
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": "bundle--9b4e4f0a-3d5c-4d1e-8f2b-6a7c8d9e0f11",
        "objects": [
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--11111111-1111-4111-8111-111111111111",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[domain-name:value = 'good.example']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            },
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--22222222-2222-4222-8222-222222222222",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[ipv4-addr:value = '203.0.113.0/24'] AND [url:value = 'x']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            },
            {
                "type": "indicator", "spec_version": "2.1",
                "id": "indicator--33333333-3333-4333-8333-333333333333",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[x-liaison-phone-number:value = '0800 123']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
            }
        ]
    });
    let status = ukraine
        .indicators()
        .import_stix(v1::ImportStixRequest {
            request_id: format!("import-{}", unique()),
            bundle_json: bundle.to_string(),
            default_tlp: v1::Tlp::Green as i32,
            scope: Some(all_members()),
        })
        .await
        .expect_err("a bundle with unreadable objects was imported");
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = status
        .get_details_bad_request()
        .expect("field violations")
        .field_violations;
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "bundle_json.indicator--22222222-2222-4222-8222-222222222222",
            "bundle_json.indicator--33333333-3333-4333-8333-333333333333",
        ]
    );
    assert!(violations[0].description.contains("one comparison"));
    assert!(violations[1].description.contains("phone"));

    // Nothing was stored, not even the good indicator; bad JSON and a missing TLP are
    // refused too, and RED from a system is refused whatever the bundle says.
    let listed = ukraine
        .indicators()
        .list_indicators(purposeful(v1::ListIndicatorsRequest::default()))
        .await?
        .into_inner()
        .indicators;
    assert!(listed.is_empty());
    for (text, tlp, code) in [
        ("{not json", v1::Tlp::Green, Code::InvalidArgument),
        (
            r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#,
            v1::Tlp::Unspecified,
            Code::InvalidArgument,
        ),
    ] {
        let status = ukraine
            .indicators()
            .import_stix(v1::ImportStixRequest {
                request_id: format!("import-{}", unique()),
                bundle_json: text.to_owned(),
                default_tlp: tlp as i32,
                scope: Some(all_members()),
            })
            .await
            .expect_err("accepted");
        assert_eq!(status.code(), code, "{status:?}");
    }
    let red = ukraine
        .indicators()
        .import_stix(v1::ImportStixRequest {
            request_id: format!("import-{}", unique()),
            bundle_json: r#"{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}"#.into(),
            default_tlp: v1::Tlp::Red as i32,
            scope: Some(named(&["RS-MUP"])),
        })
        .await
        .expect_err("a system published RED");
    assert_eq!(red.code(), Code::PermissionDenied, "{red:?}");
    hub.stop().await
}
