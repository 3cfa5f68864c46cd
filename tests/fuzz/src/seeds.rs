//! The seeds that are made rather than found: checkpoints signed with the seeds' key (a
//! mutation of a found note could never carry a valid signature), and request messages in
//! the `request` target's encoding. `tests/fuzz.rs` (`write_made_seeds`) writes them to
//! the corpus.

use liaison_audit::{Checkpoint, Sealed, Viewer};
use liaison_proto::v1;
use prost::Message;

use crate::{COMMITTED_RECORD, note_key, request_types};

fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.into(),
        language: language.into(),
    })
}

/// A `request` input: the selector byte of `name`, then `message` encoded.
fn request(name: &str, message: &impl Message) -> Vec<u8> {
    let index = request_types()
        .position(|(type_name, _)| *type_name == name)
        .unwrap_or_else(|| panic!("no request type {name}"));
    let mut data = vec![u8::try_from(index).expect("fewer than 256 request types")];
    data.extend(message.encode_to_vec());
    data
}

/// (target, file name, content) of every made seed.
pub fn made() -> Vec<(&'static str, String, Vec<u8>)> {
    let key = note_key();
    let mut seeds = Vec::new();
    let root = [0x5a; 32];
    let checkpoints = [
        (
            "checkpoint-empty",
            Checkpoint::new("liaison.example/audit-log", 0, [0; 32]),
        ),
        (
            "checkpoint",
            Checkpoint::new("liaison.example/audit-log", 1234, root),
        ),
        (
            "checkpoint-extension",
            Checkpoint::new(
                "liaison.example/audit-log",
                18_446_744_073_709_551_615,
                root,
            )
            .and_then(|checkpoint| checkpoint.with_extension("Київ — Hà Nội — Rīga")),
        ),
    ];
    for (name, checkpoint) in checkpoints {
        let checkpoint = checkpoint.expect("a valid checkpoint");
        seeds.push((
            "signed_note",
            format!("{name}.note"),
            checkpoint.sign(&key).into_bytes(),
        ));
    }
    seeds.push((
        "signed_note",
        "verifier-key.txt".into(),
        format!("{}\n", key.verifier_key()).into_bytes(),
    ));

    let indicator = v1::Indicator {
        fraud_method: Some(v1::FraudMethod {
            title: "Фішинг «Нова пошта»".into(),
            description: "SMS про посилку з посиланням на підроблений сайт".into(),
            countermeasures: "Blokēt domēnu".into(),
            category: 1,
        }),
        observables: vec![
            v1::Observable {
                r#type: 1,
                value: "нова-пошта.укр".into(),
            },
            v1::Observable {
                r#type: 5,
                value: "+380 44 123 45 67".into(),
            },
            v1::Observable {
                r#type: 7,
                value: "LV80BANK0000435195001".into(),
            },
        ],
        language: "uk".into(),
        confidence: 80,
        tlp: 2,
        scope: Some(v1::Scope {
            target: Some(v1::scope::Target::AllMembers(v1::AllMembers {})),
        }),
        ..v1::Indicator::default()
    };
    let requests = [
        (
            "publish",
            request(
                "PublishRequest",
                &v1::PublishRequest {
                    request_id: "req-001".into(),
                    indicator: Some(indicator.clone()),
                },
            ),
        ),
        (
            "publish-many",
            request(
                "PublishManyRequest",
                &v1::PublishManyRequest {
                    request_id: "file-0001".into(),
                    indicator: Some(indicator),
                },
            ),
        ),
        (
            "import-stix",
            request(
                "ImportStixRequest",
                &v1::ImportStixRequest {
                    request_id: "stix-1".into(),
                    bundle_json: include_str!("../corpus/stix_bundle/vietnamese.json").into(),
                    default_tlp: 2,
                    ..v1::ImportStixRequest::default()
                },
            ),
        ),
        (
            "notify",
            request(
                "NotifyRequest",
                &v1::NotifyRequest {
                    request_id: "n-1".into(),
                    notification: Some(v1::CbmNotification {
                        kind: 1,
                        severity: 2,
                        title: text("Cảnh báo lừa đảo đầu tư", "vi"),
                        body: text("Các trang web giả mạo sàn giao dịch tiền điện tử", "vi"),
                        tlp: 2,
                        affected_sectors: vec![1, 2],
                        ..v1::CbmNotification::default()
                    }),
                },
            ),
        ),
        (
            "set-point-of-contact",
            request(
                "SetPointOfContactRequest",
                &v1::SetPointOfContactRequest {
                    request_id: "poc-1".into(),
                    point_of_contact: Some(v1::PointOfContact {
                        level: 1,
                        function: "Dežurais virsnieks".into(),
                        channels: vec![v1::ContactChannel {
                            kind: 2,
                            address: "dezurais@cert.lv".into(),
                        }],
                        languages: vec!["lv".into(), "en".into()],
                        hours: "24/7".into(),
                        around_the_clock: true,
                        ..v1::PointOfContact::default()
                    }),
                },
            ),
        ),
        (
            "create-draft",
            request(
                "CreateDraftRequest",
                &v1::CreateDraftRequest {
                    request_id: "mla-1".into(),
                    content: Some(v1::MlaRequestContent {
                        requested_agency_id: "RS-MUP".into(),
                        legal_basis: 1,
                        urgency: 1,
                        case_reference: "12/2024-К".into(),
                        requesting_authority: text("Кіберполіція України", "uk"),
                        summary_of_facts: text("Шахрайство з інвестиціями", "uk"),
                        preservation_requested: true,
                        preservation_necessity: text("Дані зберігаються 30 днів", "uk"),
                        ..v1::MlaRequestContent::default()
                    }),
                },
            ),
        ),
        (
            "lookup",
            request(
                "LookupRequest",
                &v1::LookupRequest {
                    observable: Some(v1::Observable {
                        r#type: 4,
                        value: "Ivan.Petrov@пример.рф".into(),
                    }),
                },
            ),
        ),
        (
            "list-indicators",
            request(
                "ListIndicatorsRequest",
                &v1::ListIndicatorsRequest {
                    page_size: 20,
                    page_token: "40".into(),
                    ..v1::ListIndicatorsRequest::default()
                },
            ),
        ),
        (
            "get-agency",
            request(
                "GetAgencyRequest",
                &v1::GetAgencyRequest {
                    agency_id: "LV-CERT".into(),
                },
            ),
        ),
    ];
    for (name, data) in requests {
        seeds.push(("request", format!("{name}.bin"), data));
    }

    let sealed = Sealed::parse(COMMITTED_RECORD.as_bytes());
    seeds.push((
        "audit_disclosure",
        "committed-record.json".into(),
        COMMITTED_RECORD.as_bytes().to_vec(),
    ));
    seeds.push((
        "audit_disclosure",
        "legacy-record.json".into(),
        r#"{"time_us":1,"actor":{"agency":"RS-MUP","kind":"system","name":"сервис"},"method":"/liaison.v1.MlaService/SubmitRequest","objects":[{"id":"mla_01","access":"write","owner":"RS-MUP"}],"outcome":1,"deny_reason":"nije dozvoljeno","trace_id":""}"#.as_bytes().to_vec(),
    ));
    for (name, viewer) in [
        ("oversight", Viewer::Oversight),
        ("actor", Viewer::Agency("UA-CERT")),
        ("owner", Viewer::Agency("LV-CERT")),
    ] {
        let opening = sealed
            .disclose(viewer)
            .opening
            .expect("a committed record opens");
        seeds.push((
            "audit_disclosure",
            format!("opening-{name}.json"),
            opening.to_json(),
        ));
    }
    seeds
}
